"""Attribution outputs of an evaluate or predict run, in one call.

:func:`write_attribution_outputs` computes Integrated Gradients for every input of the
run, writes ``attributions.npz`` and ``attributions.tsv`` (keyed to the rows of
``predictions.tsv``), and draws the top predictions of each class into ``report.html``
and ``logos/``. In the report, the samples of class c are the ``top`` inputs with the
highest probability of c, attributed towards c: when the run attributed another class
for them (e.g. their highest class was not c), the attribution towards c is computed
for them in addition (a handful of samples).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from gennie.attribution.attributions import (
    SCORE_NAME,
    Attributions,
    attribute,
    baseline_file_problems,
    read_baseline_file,
    resolve_target,
    sequence_branch,
)
from gennie.attribution.export import write_exports
from gennie.attribution.report import ReportSample, branch_views, write_logos, write_report
from gennie.config import AttributionOptions
from gennie.dataset.inputs import spec_encoders
from gennie.errors import UserError
from gennie.model.inference import index_batches, pick_device
from gennie.model.loading import LoadedModel, load_model
from gennie.runs import LOGOS_DIR, REPORT_FILE

log = logging.getLogger("gennie.interpret")


def describe_row(row: pd.Series) -> str:
    """A short label for one predictions.tsv row: coordinates, header or sequence."""
    parts = []
    chrom = row.get("chrom")
    if isinstance(chrom, str) and chrom and "start" in row and pd.notna(row.get("start")):
        strand = row.get("strand")
        text = f"{row['chrom']}:{row['start']}-{row['end']}"
        if isinstance(strand, str) and strand in "+-" and strand:
            text += f" ({strand})"
        parts.append(text)
    for key in ("name", "header"):
        value = row.get(key)
        if isinstance(value, str) and value and value != ".":
            parts.append(value)
    if "sequence" in row and "number" in row:
        parts.append(f"sequence {row['number']}")
    if "class" in row and isinstance(row.get("class"), str):
        parts.append(f"true class {row['class']}")
    return ", ".join(dict.fromkeys(parts)) or "input"


def attribution_problems(options: AttributionOptions) -> list[UserError]:
    """The problems of the attribution settings that show before a model is loaded.

    Args:
        options: The evaluate or predict configuration.

    Returns:
        Field-tagged user errors (a missing baseline file); none when attributions
        are off. The target class and the baseline's shapes are checked against the
        model by :func:`check_attribution_options`.
    """
    if not options.attributions or options.baseline != "file" or options.baseline_file is None:
        return []
    return baseline_file_problems(options.baseline_file)


def baseline_label(options: AttributionOptions) -> str:
    """The baseline in words: ``shuffle (mean of 10)``, ``zeros``, ``file (base.npz)``."""
    if options.baseline == "file":
        return f"file ({options.baseline_file})"
    if options.baseline == "shuffle" and options.shuffles > 1:
        return f"shuffle (mean of {options.shuffles})"
    return options.baseline


def open_model(config: Any, problems: list[UserError]) -> tuple[LoadedModel, torch.device]:
    """The preamble of evaluate and predict: raise the first problem the stage's check
    found, load the model, pick the device, and check the attribution settings against
    the model when attributions are asked for.

    Args:
        config: The stage configuration (model inputs, ``device``, attribution options).
        problems: What the stage's ``check`` found.

    Returns:
        The loaded model and the device to compute on.

    Raises:
        UserError: The first problem, or one that shows when the model is loaded.
    """
    if problems:
        raise problems[0]
    model = load_model(config)
    device = pick_device(config.device)
    if config.attributions:
        check_attribution_options(config, model)
    return model, device


def check_attribution_options(options: AttributionOptions, model: Any) -> None:
    """Check the attribution settings against a loaded model before anything runs.

    Args:
        options: The stage configuration (target, baseline file).
        model: The :class:`~gennie.model.loading.LoadedModel`.

    Raises:
        UserError: An unknown target class, a model without gradients (ONNX), or a
            baseline file that is missing or does not fit the model's inputs.
    """
    resolve_target(options.target, list(model.spec.classes))
    if not isinstance(model.network, torch.nn.Module):
        raise UserError(
            "attributions need gradients, which this model (ONNX) cannot give",
            field="attributions",
            hint="use a gennie model bundle or a TorchScript model",
        )
    if options.baseline == "file" and options.baseline_file is not None:
        read_baseline_file(options.baseline_file, model.spec.input_shapes())


def _report_samples(
    attributions: Attributions,
    extra: dict[tuple[int, int], tuple[Attributions, int]],
    table: pd.DataFrame,
    rows: np.ndarray,
    sections: list[int],
    top: int,
) -> list[ReportSample]:
    classes = attributions.classes
    probs = np.stack([table[f"p_{c}"].to_numpy(dtype=float)[rows] for c in classes], axis=1)
    samples = []
    for k in sections:
        order = np.argsort(-probs[:, k], kind="stable")[:top]
        for rank, i in enumerate(order, start=1):
            slots = np.flatnonzero(attributions.targets[i] == k)
            if slots.size:
                source, j, t = attributions, int(i), int(slots[0])
            else:
                source, j = extra[(k, int(i))]
                t = 0
            samples.append(
                ReportSample(
                    section=classes[k],
                    rank=rank,
                    row=int(rows[i]),
                    label=describe_row(table.iloc[int(rows[i])]),
                    probabilities={c: float(probs[i, m]) for m, c in enumerate(classes)},
                    target=classes[k],
                    score=float(source.scores[j, t]),
                    baseline_score=float(source.baseline_scores[j, t]),
                    delta=float(source.delta[j, t]),
                    inputs={b: source.inputs[b][j] for b in source.branches},
                    values={b: source.values[b][j, t] for b in source.branches},
                )
            )
    return samples


def write_attribution_outputs(
    run_dir: Path,
    forward: Callable[..., torch.Tensor],
    load: Callable[[np.ndarray], list[np.ndarray]],
    rows: np.ndarray,
    table: pd.DataFrame,
    identity_columns: list[str],
    spec: Any,
    options: AttributionOptions,
    device: torch.device,
    outputs_are_probabilities: bool = False,
    seed: int = 0,
    batch_size: int = 64,
    model_label: str = "",
) -> dict[str, Any]:
    """Integrated Gradients for all inputs of a run, with exports, report and logos.

    Args:
        run_dir: The run folder (files are written here).
        forward: The model (``torch.nn.Module``), called as ``forward(*xs)``.
        load: Network inputs of sample indices: one float32 array (m, C, L) per branch.
        rows: shape=(n,), the predictions.tsv data row of sample i = 0..n-1.
        table: The predictions table as written (identity and ``p_<class>`` columns).
        identity_columns: Columns of ``table`` copied into attributions.tsv.
        spec: The model's bundle spec (classes, branches, preprocessing).
        options: Target, steps, baseline, top.
        device: Where to compute.
        outputs_are_probabilities: Whether ``forward`` returns probabilities.
        seed: Seed of shuffled baselines.
        batch_size: Samples per Integrated Gradients batch.
        model_label: The model, as shown in the report.

    Returns:
        A summary for the run: files, target, steps, baseline, completeness errors.
    """
    run_dir = Path(run_dir)
    classes = list(spec.classes)
    branches = list(spec.branches)
    alphabet = spec.preprocessing.alphabet
    encoders = spec_encoders(spec)
    sequence = sequence_branch(encoders)
    n = len(rows)
    settings = {
        "steps": options.steps,
        "baseline": options.baseline,
        "baseline_file": options.baseline_file,
        "shuffles": options.shuffles,
        "outputs_are_probabilities": outputs_are_probabilities,
        "device": device,
        "seed": seed,
        "sequence": sequence,
    }
    attributions = attribute(
        forward,
        index_batches(load, np.arange(n), batch_size),
        branches,
        classes,
        target=options.target,
        total=n,
        **settings,
    )
    identity = table.iloc[rows][[c for c in identity_columns if c in table.columns]]
    files = write_exports(run_dir, attributions, rows, identity, alphabet, sequence)

    named = resolve_target(options.target, classes)
    sections = named if named is not None and len(named) == 1 else list(range(len(classes)))
    probs = np.stack([table[f"p_{c}"].to_numpy(dtype=float)[rows] for c in classes], axis=1)
    extra: dict[tuple[int, int], tuple[Attributions, int]] = {}
    for k in sections:
        chosen = np.argsort(-probs[:, k], kind="stable")[: options.top]
        missing = [int(i) for i in chosen if not (attributions.targets[i] == k).any()]
        if missing:
            more = attribute(
                forward,
                [load(np.asarray(missing))],
                branches,
                classes,
                target=classes[k],
                **settings,
            )
            extra.update({(k, i): (more, j) for j, i in enumerate(missing)})
    samples = _report_samples(attributions, extra, table, rows, sections, options.top)
    views = branch_views(encoders, alphabet)
    logos = write_logos(run_dir / LOGOS_DIR, samples, views)
    baseline = baseline_label(options)
    write_report(
        run_dir / REPORT_FILE,
        samples,
        views,
        {
            "model": model_label or "(see parameters.yaml)",
            "score": f"{SCORE_NAME} of the attributed class, log(p / (1 - p))",
            "target": options.target or "each input's highest-scoring class",
            "baseline": baseline,
            "steps": str(options.steps),
            "branches": ", ".join(branches),
            "inputs attributed": str(n),
            "largest completeness error": f"{np.abs(attributions.delta).max():.3g}",
        },
    )
    error = np.abs(attributions.delta)
    log.info(
        "attributed %d inputs (%d steps, baseline %s); completeness error median %.2g, max %.2g",
        n,
        options.steps,
        baseline,
        float(np.median(error)),
        float(error.max()),
    )
    return {
        "attributions_file": str(files["npz"]),
        "attributions_table": str(files["tsv"]),
        "report": str(run_dir / REPORT_FILE),
        "logos": len(logos) // 2,
        "completeness_error_max": float(error.max()),
        "completeness_error_median": float(np.median(error)),
    }
