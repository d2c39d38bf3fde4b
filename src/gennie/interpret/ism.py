"""In-silico mutagenesis (ISM): every position × every base → change in score.

The sequence is first cut or padded to the model's window exactly as for prediction.
Then each of the ``3 × window`` single-base substitutions is scored by the model and
compared with the unchanged window. The score is the same as for Integrated Gradients
(:mod:`gennie.attribution.attributions`): the log-odds of the target class. All mutants
go through the model's own preprocessing, so a ``fold`` branch is re-folded for every
mutant; branches that need genomic coordinates (``cons``) cannot be mutated in
sequence and are refused.

As a cross-check of IG, the run also computes IG (with the default baseline of
evaluate and predict, :data:`IG_BASELINE`) for the unchanged window and reports the
Pearson correlation between the IG attribution of each position (summed over the seq
channels) and the ISM importance of the reference base there (the mean drop in score
over its three substitutions).

Outputs of the ``ism`` stage: ``ism.tsv`` (one line per position: ``position``,
``reference``, one column per base with the change in score when that base is put
there (0 for the reference base), ``importance``, and ``ig``), and ``ism.png`` /
``ism.svg`` (the heat map, reference bases marked with a dot, above the IG logo).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import logomaker
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from gennie.attribution.attributions import (
    SCORE_NAME,
    LogOddsModel,
    attribute,
    resolve_target,
    sequence_branch,
)
from gennie.config import AttributionOptions, IsmConfig, PredictConfig
from gennie.dataset.inputs import InputMapper
from gennie.encode.alphabet import LETTERS, decode
from gennie.errors import UserError
from gennie.model.bundle import BundleSpec
from gennie.model.inference import pick_device
from gennie.model.loading import LoadedModel, load_model, model_problems
from gennie.runs import ISM_FILE, ISM_PICTURE, StageResult, run_folder

IG_BASELINE = {
    name: AttributionOptions.model_fields[name].default for name in ("baseline", "shuffles")
}
"""The Integrated Gradients baseline of the cross-check: evaluate's and predict's default."""

log = logging.getLogger("gennie.interpret")

FIGURE_STEM = Path(ISM_PICTURE).stem
"""The heat map is written as ``<stem>.png`` and ``<stem>.svg``."""


def substitutions(window: str, alphabet: str = "dna") -> list[tuple[int, str, str]]:
    """All single-base substitutions of a window, position by position.

    Args:
        window: The sequence.
        alphabet: ``dna`` (ACGT) or ``rna`` (ACGU).

    Returns:
        ``(0-based position, base, mutated sequence)`` for every position and every
        base other than the one there (``3 × len`` entries; 4 at an N).
    """
    letters = LETTERS[alphabet]
    window = window.upper()
    out = []
    for i, reference in enumerate(window):
        for base in letters:
            if base != reference and not (reference in "TU" and base in "TU"):
                out.append((i, base, window[:i] + base + window[i + 1 :]))
    return out


@torch.no_grad()
def score_sequences(
    model: torch.nn.Module,
    encode: Callable[[list[str]], list[np.ndarray]],
    sequences: list[str],
    target: int,
    batch_size: int,
    device: torch.device,
) -> np.ndarray:
    """The target log-odds of sequences.

    Args:
        model: Returns log-odds per class (:class:`LogOddsModel`).
        encode: Network inputs of sequences: one float32 array (m, C, L) per branch.
        sequences: Sequences of the window length.
        target: Class index.
        batch_size: Sequences per forward pass.
        device: Where to compute.

    Returns:
        shape=(len(sequences),), float64.
    """
    scores = []
    for lo in range(0, len(sequences), batch_size):
        xs = [torch.from_numpy(a).to(device) for a in encode(sequences[lo : lo + batch_size])]
        scores.append(model(*xs)[:, target].double().cpu().numpy())
    return np.concatenate(scores) if scores else np.zeros(0)


def mutagenesis(
    model: torch.nn.Module,
    encode: Callable[[list[str]], list[np.ndarray]],
    window: str,
    target: int,
    alphabet: str = "dna",
    batch_size: int = 256,
    device: torch.device | str = "cpu",
) -> tuple[float, np.ndarray]:
    """ISM of one window.

    Args:
        model: Returns log-odds per class (:class:`LogOddsModel`).
        encode: Network inputs of sequences (see :func:`score_sequences`).
        window: The window sequence.
        target: Class index.
        alphabet: ``dna`` or ``rna``.
        batch_size: Sequences per forward pass.
        device: Where to compute.

    Returns:
        The window's score and the changes, shape=(len(window), 4): entry (i, b) is
        score(window with base b at i) - score(window); 0 for the reference base.
    """
    device = torch.device(device)
    subs = substitutions(window, alphabet)
    scores = score_sequences(
        model, encode, [window] + [s for _, _, s in subs], target, batch_size, device
    )
    letters = LETTERS[alphabet]
    delta = np.zeros((len(window), 4))
    for (i, base, _), score in zip(subs, scores[1:], strict=True):
        delta[i, letters.index(base)] = score - scores[0]
    return float(scores[0]), delta


def reference_importance(window: str, delta: np.ndarray) -> np.ndarray:
    """Mean drop in score when the base at each position is replaced, shape=(L,)."""
    known = np.array([c in "ACGTU" for c in window.upper()])
    mean = delta.sum(axis=1) / np.where(known, 3.0, 4.0)
    return -mean


def ism_figure(
    window: str,
    delta: np.ndarray,
    ig: np.ndarray | None,
    alphabet: str = "dna",
    title: str = "",
) -> Figure:
    """Heat map of ISM changes (rows = bases) above an IG logo of the window.

    Args:
        window: The window sequence.
        delta: shape=(L, 4), ISM changes.
        ig: shape=(4, L), IG attributions of the sequence branch (or None).
        alphabet: ``dna`` or ``rna``.
        title: Figure title.

    Returns:
        The matplotlib figure.
    """
    letters = list(LETTERS[alphabet])
    length = len(window)
    panels = 2 if ig is not None else 1
    # A bare Figure, not pyplot: no global backend or figure list in the caller's process.
    fig = Figure(
        figsize=(min(max(6.0, length / 7), 40.0), 1.9 * panels + 0.6), layout="constrained"
    )
    axes = fig.subplots(
        panels,
        1,
        squeeze=False,
        sharex=True,
        gridspec_kw={"height_ratios": [1.2] + [1.0] * (panels - 1)},
    )
    ax = axes[0, 0]
    scale = float(np.abs(delta).max()) or 1.0
    image = ax.imshow(
        delta.T,
        aspect="auto",
        cmap="RdBu_r",
        vmin=-scale,
        vmax=scale,
        interpolation="nearest",
        extent=(0.5, length + 0.5, 3.5, -0.5),
    )
    codes = {"A": 0, "C": 1, "G": 2, "T": 3, "U": 3}
    reference = [codes.get(c) for c in window.upper()]
    xs = [i + 1 for i, r in enumerate(reference) if r is not None]
    ys = [r for r in reference if r is not None]
    ax.scatter(xs, ys, s=6, c="black", marker="o", linewidths=0)
    ax.set_yticks(range(4), letters)
    ax.set_xlim(0.5, length + 0.5)
    ax.set_ylabel("mutated to")
    ax.set_title(title, fontsize=9, loc="left")
    # One colour bar beside both panels keeps their position axes aligned.
    fig.colorbar(image, ax=list(axes[:, 0]), label=f"Δ {SCORE_NAME}", fraction=0.02, pad=0.01)
    if ig is not None:
        ax2 = axes[1, 0]
        frame = pd.DataFrame(ig.T, columns=letters, index=np.arange(1, length + 1))
        logomaker.Logo(frame, ax=ax2, color_scheme="classic")
        ax2.axhline(0, color="#888", linewidth=0.5)
        ax2.set_xlim(0.5, length + 0.5)
        ax2.set_ylabel("IG")
        ax2.set_xlabel("position")
        ax2.spines[["top", "right"]].set_visible(False)
    else:
        ax.set_xlabel("position")
    return fig


def check(config: IsmConfig) -> list[UserError]:
    """The problems of an ism configuration that show before the model is loaded.

    Args:
        config: The ism configuration.

    Returns:
        Field-tagged user errors, in the order :func:`ism` meets them (it raises the
        first): no model or no sequence given, target ``all``, and the model's (see
        :func:`~gennie.model.loading.model_problems`).
    """
    problems = []
    if config.model is None:
        problems.append(UserError("no model given", field="model", hint="give --model RUN_DIR"))
    if not config.sequence:
        problems.append(
            UserError("no sequence given", field="sequence", hint="give --sequence SEQ")
        )
    if config.target == "all":
        problems.append(
            UserError("ISM scores one class at a time", field="target", hint="name one class")
        )
    if config.model is not None:
        problems += model_problems(_model_config(config))
    return problems


def _model_config(config: IsmConfig) -> PredictConfig:
    """The model of an ism run, as the model loader reads it."""
    return PredictConfig(model=config.model, device=config.device)


def reference_window(mapper: InputMapper, spec: BundleSpec, sequence: str) -> str:
    """The window of a sequence as the model sees it: cut or padded like for prediction.

    Args:
        mapper: Maps sequences with the model's spec.
        spec: The model's spec.
        sequence: The sequence given.

    Returns:
        The window's letters.

    Raises:
        UserError: An invalid sequence, or one that does not have the window's length
            for a model without a seq branch.
    """
    reference = mapper.from_sequences([sequence], field="sequence")
    branch = sequence_branch(reference.encoders)
    if branch is not None:
        return decode(np.asarray(reference.arrays[branch][0]), spec.preprocessing.alphabet)
    if len(sequence) == spec.window:
        return sequence.upper()
    raise UserError(
        f"the model has no seq branch; give a sequence of exactly its window "
        f"length ({spec.window})",
        field="sequence",
    )


def ism_table(
    window: str, delta: np.ndarray, ig: np.ndarray | None, alphabet: str = "dna"
) -> tuple[pd.DataFrame, float | None]:
    """The ``ism.tsv`` table and the IG/ISM correlation.

    Args:
        window: The window sequence.
        delta: shape=(L, 4), ISM changes.
        ig: shape=(4, L), IG attributions of the sequence branch (or None).
        alphabet: ``dna`` or ``rna``.

    Returns:
        The table (see the module docstring) and the Pearson correlation between the
        IG of each position and its ISM importance (None without IG or variation).
    """
    importance = reference_importance(window, delta)
    letters = list(LETTERS[alphabet])
    table = pd.DataFrame({"position": np.arange(1, len(window) + 1)})
    table["reference"] = list(window)
    for b, letter in enumerate(letters):
        table[letter] = np.round(delta[:, b], 6)
    table["importance"] = np.round(importance, 6) + 0.0  # no "-0.0"
    correlation = None
    if ig is not None:
        per_position = ig.sum(axis=0)
        table["ig"] = np.round(per_position, 6)
        if np.std(per_position) > 0 and np.std(importance) > 0:
            correlation = float(np.corrcoef(per_position, importance)[0, 1])
    return table, correlation


def _load_scorer(config: IsmConfig) -> tuple[LoadedModel, list[int] | None]:
    """The model (it must be a PyTorch one) and the named target, if any."""
    model = load_model(_model_config(config))
    named = resolve_target(config.target, list(model.spec.classes))
    if not isinstance(model.network, torch.nn.Module):
        raise UserError(
            "ISM with Integrated Gradients needs a PyTorch model (bundle or TorchScript)",
            field="model",
        )
    return model, named


def ism(config: IsmConfig) -> StageResult:
    """Run the ``ism`` stage (see the module docstring).

    Args:
        config: The ism configuration.

    Returns:
        The run folder and a summary (target, score, largest changes, IG/ISM correlation).

    Raises:
        UserError: No model or sequence, an invalid sequence, an unknown target class,
            or a model with a branch that cannot be computed from a sequence.
    """
    problems = check(config)
    if problems:
        raise problems[0]
    model, named = _load_scorer(config)
    spec = model.spec
    classes = list(spec.classes)
    device = pick_device(config.device)
    alphabet = spec.preprocessing.alphabet
    branches = list(spec.branches)
    scorer = LogOddsModel(model.network.to(device).eval(), model.outputs_are_probabilities)
    with InputMapper(spec) as mapper:
        window = reference_window(mapper, spec, config.sequence)

        def encode(sequences: list[str]) -> list[np.ndarray]:
            mapped = mapper.from_sequences(sequences, field="sequence")
            return mapped.inputs(np.arange(len(sequences)))

        with run_folder(config) as run:
            reference_inputs = encode([window])
            if named is None:
                with torch.no_grad():
                    xs = [torch.from_numpy(a).to(device) for a in reference_inputs]
                    target = int(scorer(*xs).argmax(dim=1)[0])
            else:
                target = named[0]
            score, delta = mutagenesis(
                scorer, encode, window, target, alphabet, config.batch_size, device
            )
            attributions = attribute(
                model.network,
                [reference_inputs],
                branches,
                classes,
                target=classes[target],
                steps=config.steps,
                outputs_are_probabilities=model.outputs_are_probabilities,
                device=device,
                sequence=sequence_branch(mapper.encoders),
                **IG_BASELINE,
            )
            sequence = sequence_branch(mapper.encoders)
            ig = attributions.values[sequence][0, 0] if sequence is not None else None
            table, correlation = ism_table(window, delta, ig, alphabet)
            table.to_csv(run.dir / ISM_FILE, sep="\t", index=False)
            fig = ism_figure(
                window,
                delta,
                ig,
                alphabet,
                f"in-silico mutagenesis: Δ {SCORE_NAME}({classes[target]}) "
                f"from {score:.3f}" + (f"; IG/ISM r = {correlation:.2f}" if correlation else ""),
            )
            for suffix in ("png", "svg"):
                fig.savefig(run.dir / f"{FIGURE_STEM}.{suffix}", dpi=110)
            run.summary.update(
                _summary(window, delta, classes[target], score, correlation, alphabet)
            )
            run.summary["ism_file"] = str(run.dir / ISM_FILE)
            log.info(
                "ISM of %d positions: largest drop %.3f at %s; IG/ISM correlation %s",
                len(window),
                delta.min(),
                run.summary["largest_drop_at"],
                "n/a" if correlation is None else f"{correlation:.3f}",
            )
            return StageResult(run_dir=run.dir, summary=run.summary, stage=run.stage)


def _summary(
    window: str,
    delta: np.ndarray,
    target: str,
    score: float,
    correlation: float | None,
    alphabet: str,
) -> dict[str, object]:
    """The run summary: target, score and the largest changes."""
    letters = LETTERS[alphabet]
    worst = np.unravel_index(np.argmin(delta), delta.shape)
    return {
        "target": target,
        "score": score,
        "window": window,
        "largest_drop": float(delta.min()),
        "largest_drop_at": f"{int(worst[0]) + 1}{letters[int(worst[1])]}",
        "largest_gain": float(delta.max()),
        "ig_ism_correlation": correlation,
    }
