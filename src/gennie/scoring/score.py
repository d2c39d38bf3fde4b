"""Scoring a model's class probabilities: the one function train, evaluate and tune use.

:func:`score` computes the metrics of :func:`gennie.scoring.metrics.classification_metrics`
and, given a folder, writes what an evaluation folder holds:

- ``metrics.json`` — the metrics;
- ``roc_curve.png/.svg/.tsv`` and ``pr_curve.png/.svg/.tsv`` — one-vs-rest curves;
- ``confusion_matrix.png/.svg/.tsv``.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np

from gennie.runs import METRICS_FILE
from gennie.scoring.metrics import IMBALANCE_RATIO, classification_metrics
from gennie.scoring.plots import write_confusion_matrix, write_curves

log = logging.getLogger("gennie.scoring")


def score(
    probs: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    folder: Path | None = None,
) -> dict[str, Any]:
    """Score predicted class probabilities against the true labels.

    Args:
        probs: Predicted class probabilities, shape ``(n, k)``; rows sum to 1.
        labels: True class indices, shape ``(n,)``, integers in ``[0, k)``.
        classes: The ``k`` class names, in column order of ``probs``.
        folder: Where to write ``metrics.json``, the curves and the confusion matrix
            (created if missing); nothing is written without it.

    Returns:
        The metrics of :func:`~gennie.scoring.metrics.classification_metrics` (loss,
        accuracy, macro and micro AUROC/AUPRC, per class, confusion matrix, class
        shares and the smallest class's scores). Logs a warning when the largest class
        has at least :data:`~gennie.scoring.metrics.IMBALANCE_RATIO` times the samples
        of the smallest.
    """
    metrics = classification_metrics(probs, labels, classes)
    warn_imbalance(metrics)
    if folder is not None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
        write_curves(probs, labels, classes, folder)
        write_confusion_matrix(metrics["confusion_matrix"], classes, folder)
    return metrics


_warned: ContextVar[set[str] | None] = ContextVar("gennie_imbalance_warned", default=None)


@contextlib.contextmanager
def imbalance_warned_once() -> Iterator[None]:
    """Inside, the imbalance warning of one set of class shares is logged once (a search
    scores the same split in every trial)."""
    token = _warned.set(set())
    try:
        yield
    finally:
        _warned.reset(token)


def warn_imbalance(metrics: dict[str, Any]) -> bool:
    """Warn (in the log) when the scored classes are imbalanced; the macro averages then
    read better than the smallest class is predicted.

    Args:
        metrics: From :func:`~gennie.scoring.metrics.classification_metrics`.

    Returns:
        Whether the warning was given (inside :func:`imbalance_warned_once`, only the
        first time for these class shares).
    """
    ratio = metrics["imbalance"]
    if ratio is None or ratio < IMBALANCE_RATIO:
        return False
    minority = metrics["minority"]
    shares = ", ".join(f"{name} {share:.1%}" for name, share in metrics["class_shares"].items())
    warned = _warned.get()
    if warned is not None:
        if shares in warned:
            return False
        warned.add(shares)
    log.warning(
        "imbalanced classes (%s; largest %.1f× the smallest): the macro AUPRC %s hides "
        "the smallest class %s, whose own AUPRC is %s (AUROC %s); consider "
        "--class-weights balanced",
        shares,
        ratio,
        _fmt(metrics["auprc"]),
        minority["class"],
        _fmt(minority["auprc"]),
        _fmt(minority["auroc"]),
    )
    return True


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
