"""Machine-readable attribution exports: ``attributions.npz`` and ``attributions.tsv``.

``attributions.npz`` (numpy, compressed; ``numpy.load(path)``) holds, for n attributed
samples, T target slots, per branch ``b`` with C channels and L positions:

==================  ================  ====================================================
key                 shape             meaning
==================  ================  ====================================================
``row``             (n,)              0-based data row of ``predictions.tsv`` (header not
                                      counted) that the sample belongs to
``classes``         (K,)              class names (output order)
``branches``        (B,)              branch names (input order)
``targets``         (n, T)            attributed class index per sample and slot
``attr_<b>``        (n, T, C, L)      attributions of branch b
``input_<b>``       (n, C, L)         the network input of branch b
``score``           (n, T)            target log-odds at the input
``baseline_score``  (n, T)            target log-odds at the baseline
``delta``           (n, T)            completeness error (captum's convergence delta)
``sequence``        (n,)              the window's letters (when there is a sequence
                                      branch)
==================  ================  ====================================================

``attributions.tsv`` has one line per sample and target slot: ``row``, the identity
columns of ``predictions.tsv``, ``target``, ``score``, ``baseline_score``,
``attribution_sum``, ``completeness_error``, ``relative_error`` and one
``sum_<branch>`` column per branch (that branch's share of the total).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gennie.attribution.attributions import Attributions, one_hot_letters
from gennie.runs import ATTRIBUTIONS_FILE

NPZ_FILE = "attributions.npz"


def sequences_of(
    attributions: Attributions, sequence: str | None, alphabet: str = "dna"
) -> list[str] | None:
    """The letters of each sample's sequence branch.

    Args:
        attributions: The attributions (their inputs are read).
        sequence: The branch holding the one-hot sequence (see
            :func:`~gennie.attribution.attributions.sequence_branch`), or None.
        alphabet: ``dna`` or ``rna``.

    Returns:
        n strings, or None without a sequence branch.
    """
    if sequence is None or sequence not in attributions.inputs:
        return None
    return one_hot_letters(attributions.inputs[sequence], alphabet)


def write_npz(
    path: Path,
    attributions: Attributions,
    rows: np.ndarray,
    alphabet: str = "dna",
    sequence: str | None = None,
) -> Path:
    """Write ``attributions.npz`` (see the module docstring).

    Args:
        path: The file to write.
        attributions: The attributions, one sample per entry of ``rows``.
        rows: shape=(n,), 0-based predictions.tsv data row of each sample.
        alphabet: For the ``sequence`` letters.
        sequence: The branch holding the one-hot sequence, whose letters are saved.

    Returns:
        ``path``.
    """
    arrays: dict[str, np.ndarray] = {
        "row": np.asarray(rows, dtype=np.int64),
        "classes": np.asarray(attributions.classes),
        "branches": np.asarray(attributions.branches),
        "targets": attributions.targets,
        "score": attributions.scores.astype(np.float32),
        "baseline_score": attributions.baseline_scores.astype(np.float32),
        "delta": attributions.delta.astype(np.float32),
    }
    for branch in attributions.branches:
        arrays[f"attr_{branch}"] = attributions.values[branch].astype(np.float32)
        arrays[f"input_{branch}"] = attributions.inputs[branch].astype(np.float32)
    letters = sequences_of(attributions, sequence, alphabet)
    if letters is not None:
        arrays["sequence"] = np.asarray(letters)
    np.savez_compressed(path, **arrays)
    return Path(path)


def summary_table(
    attributions: Attributions, rows: np.ndarray, identity: pd.DataFrame
) -> pd.DataFrame:
    """One line per sample and target slot (the ``attributions.tsv`` table).

    Args:
        attributions: The attributions.
        rows: shape=(n,), predictions.tsv data row of each sample.
        identity: The identity columns of those rows (n rows, same order).

    Returns:
        The table, sorted by row then target slot.
    """
    n, slots = attributions.targets.shape
    totals = attributions.totals()
    relative = attributions.relative_error()
    frames = []
    for t in range(slots):
        frame = identity.reset_index(drop=True).copy()
        frame.insert(0, "row", np.asarray(rows, dtype=np.int64))
        frame["target"] = np.asarray(attributions.classes)[attributions.targets[:, t]]
        frame["score"] = np.round(attributions.scores[:, t], 6)
        frame["baseline_score"] = np.round(attributions.baseline_scores[:, t], 6)
        frame["attribution_sum"] = np.round(totals[:, t], 6)
        frame["completeness_error"] = np.round(attributions.delta[:, t], 8)
        frame["relative_error"] = np.round(relative[:, t], 8)
        for branch in attributions.branches:
            frame[f"sum_{branch}"] = np.round(attributions.values[branch][:, t].sum(axis=(1, 2)), 6)
        frame["_slot"] = t
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True).sort_values(["row", "_slot"], kind="stable")
    return table.drop(columns="_slot").reset_index(drop=True)


def write_exports(
    run_dir: Path,
    attributions: Attributions,
    rows: np.ndarray,
    identity: pd.DataFrame,
    alphabet: str = "dna",
    sequence: str | None = None,
) -> dict[str, Path]:
    """Write ``attributions.npz`` and ``attributions.tsv`` into ``run_dir``.

    Args:
        run_dir: The run folder.
        attributions: The attributions, one sample per entry of ``rows``.
        rows: shape=(n,), 0-based predictions.tsv data row of each sample.
        identity: The identity columns of those rows (n rows, same order).
        alphabet: For the ``sequence`` letters.
        sequence: The branch holding the one-hot sequence (see
            :func:`~gennie.attribution.attributions.sequence_branch`), or None.

    Returns:
        ``{"npz": path, "tsv": path}``.
    """
    run_dir = Path(run_dir)
    npz = write_npz(run_dir / NPZ_FILE, attributions, rows, alphabet, sequence)
    tsv = run_dir / ATTRIBUTIONS_FILE
    summary_table(attributions, rows, identity).to_csv(tsv, sep="\t", index=False)
    return {"npz": npz, "tsv": tsv}
