"""Classification metrics and ROC / precision-recall curves from predicted probabilities.

Everything here takes the model's softmax output ``probs`` (shape ``(n, k)``) and the
integer true labels (shape ``(n,)``) and delegates the arithmetic to scikit-learn.
Every class is scored one-vs-rest, binary problems included, so a two-class run reads
the same as a ten-class one. A score that is undefined on the given data (a class that
never occurs has no AUROC) is ``None``, never NaN, so the result can go straight into
``metrics.json``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

IMBALANCE_RATIO = 3.0
"""A scored set whose largest class has at least this many times the samples of its
smallest is imbalanced: the macro averages then hide the smaller class (see
:func:`class_balance`)."""

# Keras clips probabilities to [EPSILON, 1 - EPSILON] before taking the log, so a
# confidently wrong prediction costs -log(1e-7) ~= 16.1 instead of infinity.
EPSILON = 1e-7


def _check_inputs(
    probs: np.ndarray, labels: np.ndarray, class_names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert the inputs shared by every function in this module.

    Args:
        probs: Predicted class probabilities, shape ``(n, k)``.
        labels: True class indices, shape ``(n,)``, integers in ``[0, k)``.
        class_names: The ``k`` class names, in column order of ``probs``.

    Returns:
        ``probs`` as float64 of shape ``(n, k)`` and ``labels`` as int64 of shape ``(n,)``.

    Raises:
        ValueError: If shapes, label values or probabilities are inconsistent.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if probs.ndim != 2:
        raise ValueError(f"probs must have shape (n, k), got shape {probs.shape}")
    n, k = probs.shape
    if k != len(class_names):
        raise ValueError(f"probs has {k} columns but there are {len(class_names)} class names")
    if k < 2:
        raise ValueError("at least two classes are needed")
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match probs, got {labels.shape}")
    if n == 0:
        raise ValueError("no samples to evaluate")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"labels must lie in [0, {k}), got values {labels.min()}..{labels.max()}")
    if not np.isfinite(probs).all():
        raise ValueError("probs contain NaN or infinite values (did training diverge?)")
    return probs, labels.astype(np.int64)


def _one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    """One-hot encode class indices.

    Args:
        labels: Class indices, shape ``(n,)``.
        k: Number of classes.

    Returns:
        0/1 indicator matrix of shape ``(n, k)``.
    """
    return np.eye(k, dtype=np.int64)[labels]


def _optional_float(value: float) -> float | None:
    """Return ``value`` as a Python float, or ``None`` if it is NaN."""
    value = float(value)
    return None if math.isnan(value) else value


def _mean_defined(values: list[float | None]) -> float | None:
    """Mean of the values that are not ``None``; ``None`` if there are none."""
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def classification_metrics(
    probs: np.ndarray, labels: np.ndarray, class_names: list[str]
) -> dict[str, Any]:
    """Score predicted class probabilities against the true labels.

    AUROC and average precision are computed one-vs-rest per class. Macro averages are
    the unweighted mean over the classes where the score is defined; micro averages
    score the flattened one-hot label matrix against the flattened probabilities.
    Precision and recall are taken at the argmax decision.

    Args:
        probs: Predicted class probabilities, shape ``(n, k)``; rows sum to 1.
        labels: True class indices, shape ``(n,)``, integers in ``[0, k)``.
        class_names: The ``k`` class names, in column order of ``probs``.

    Returns:
        A JSON-serialisable dict with keys ``loss`` (mean categorical cross-entropy,
        probabilities clipped to ``[1e-7, 1 - 1e-7]`` as Keras does), ``accuracy``,
        ``auroc``, ``auprc`` (macro), ``micro_auroc``, ``micro_auprc``, ``per_class``
        (``{name: {"auroc", "auprc", "support", "precision", "recall"}}``),
        ``confusion_matrix`` (``k`` lists of ``k`` ints; rows are true classes, columns
        predicted classes), ``n``, ``class_names`` and the keys of
        :func:`class_balance` (``class_shares``, ``imbalance``, ``minority``). Undefined
        scores are ``None``: AUROC when a class has no positive or no negative sample,
        average precision and recall when it has no positive sample, precision when it
        is never predicted.
    """
    probs, labels = _check_inputs(probs, labels, class_names)
    n, k = probs.shape
    one_hot = _one_hot(labels, k)
    predicted = probs.argmax(axis=1)

    # Written out rather than sklearn.log_loss: that clips at the float epsilon
    # (and renormalises rows), so its numbers would not match Keras-trained runs.
    true_probs = np.clip(probs[np.arange(n), labels], EPSILON, 1.0 - EPSILON)
    loss = float(-np.log(true_probs).mean())

    # zero_division=nan marks "never predicted" / "never present" so it becomes None.
    precision, recall, _, support = precision_recall_fscore_support(
        labels, predicted, labels=np.arange(k), zero_division=np.nan
    )

    per_class: dict[str, dict[str, Any]] = {}
    for c, name in enumerate(class_names):
        positives = int(one_hot[:, c].sum())
        auroc = auprc = None
        # AUROC needs both positives and negatives; average precision only positives.
        if 0 < positives < n:
            auroc = float(roc_auc_score(one_hot[:, c], probs[:, c]))
        if positives > 0:
            auprc = float(average_precision_score(one_hot[:, c], probs[:, c]))
        per_class[name] = {
            "auroc": auroc,
            "auprc": auprc,
            "support": int(support[c]),
            "precision": _optional_float(precision[c]),
            "recall": _optional_float(recall[c]),
        }

    # With k >= 2 the flattened one-hot matrix always holds both 0s and 1s.
    micro_auroc = float(roc_auc_score(one_hot.ravel(), probs.ravel()))
    micro_auprc = float(average_precision_score(one_hot.ravel(), probs.ravel()))

    return {
        **class_balance(per_class, n),
        "loss": loss,
        "accuracy": float(accuracy_score(labels, predicted)),
        "auroc": _mean_defined([m["auroc"] for m in per_class.values()]),
        "auprc": _mean_defined([m["auprc"] for m in per_class.values()]),
        "micro_auroc": micro_auroc,
        "micro_auprc": micro_auprc,
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(labels, predicted, labels=np.arange(k)).tolist(),
        "n": int(n),
        "class_names": list(class_names),
    }


def class_balance(per_class: dict[str, dict[str, Any]], n: int) -> dict[str, Any]:
    """How the scored samples spread over the classes, and the smallest class's scores.

    On imbalanced data the macro AUPRC is pulled up by the large class (whose AUPRC is
    high by its share alone), so the smallest class's own scores are reported beside it.

    Args:
        per_class: ``{name: {"auroc", "auprc", "support", ...}}`` as in
            :func:`classification_metrics`, in class order.
        n: Number of scored samples.

    Returns:
        ``class_shares`` (``{name: support / n}``), ``imbalance`` (largest support over
        smallest; ``None`` when a class has no sample) and ``minority`` (``{"class",
        "auroc", "auprc", "share"}`` of the class with the fewest samples, the first of
        equals; a class without samples is never the minority, its scores are undefined).
    """
    support = {name: values["support"] for name, values in per_class.items()}
    present = {name: count for name, count in support.items() if count > 0}
    smallest = min(present, key=present.get)
    imbalance = (
        max(support.values()) / min(support.values()) if len(present) == len(support) else None
    )
    return {
        "class_shares": {name: count / n for name, count in support.items()},
        "imbalance": imbalance,
        "minority": {
            "class": smallest,
            "auroc": per_class[smallest]["auroc"],
            "auprc": per_class[smallest]["auprc"],
            "share": support[smallest] / n,
        },
    }


def roc_curves(probs: np.ndarray, labels: np.ndarray, class_names: list[str]) -> pd.DataFrame:
    """One-vs-rest ROC curves per class, plus micro- and macro-average curves.

    Classes without both positive and negative samples have no curve. The macro curve
    is the mean TPR of the class curves, linearly interpolated on the union of their
    FPRs (as in scikit-learn's multi-class ROC example, but keeping vertical steps, so
    its area is the macro AUROC); it has no thresholds.

    Args:
        probs: Predicted class probabilities, shape ``(n, k)``.
        labels: True class indices, shape ``(n,)``, integers in ``[0, k)``.
        class_names: The ``k`` class names, in column order of ``probs``.

    Returns:
        Long table with columns ``class`` (a class name, ``"micro"`` or ``"macro"``),
        ``fpr``, ``tpr`` and ``threshold`` (NaN for the macro curve; the first point of
        each other curve has threshold ``inf``). Each curve runs from (0, 0) to (1, 1).
    """
    probs, labels = _check_inputs(probs, labels, class_names)
    n, k = probs.shape
    one_hot = _one_hot(labels, k)

    frames = []
    class_curves = []
    for c, name in enumerate(class_names):
        if not 0 < one_hot[:, c].sum() < n:
            continue
        fpr, tpr, threshold = roc_curve(one_hot[:, c], probs[:, c])
        class_curves.append((fpr, tpr))
        frames.append(pd.DataFrame({"class": name, "fpr": fpr, "tpr": tpr, "threshold": threshold}))

    fpr, tpr, threshold = roc_curve(one_hot.ravel(), probs.ravel())
    frames.append(pd.DataFrame({"class": "micro", "fpr": fpr, "tpr": tpr, "threshold": threshold}))

    if class_curves:
        fpr, tpr = _macro_roc(class_curves)
        frames.append(pd.DataFrame({"class": "macro", "fpr": fpr, "tpr": tpr, "threshold": np.nan}))
    return pd.concat(frames, ignore_index=True)


def _macro_roc(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Average ROC curves vertically: mean TPR on the union of their FPRs.

    A ROC curve jumps vertically where several points share one FPR, and a plain
    ``np.interp`` on such an FPR is undefined. Each curve is therefore read twice at
    every grid FPR, just before and just after its jump, so the averaged curve keeps
    the steps and its area equals the mean of the per-class AUROCs.

    Args:
        curves: Per-class ``(fpr, tpr)`` pairs from ``roc_curve``, each of shape ``(m_c,)``.

    Returns:
        ``fpr`` and ``tpr`` of the averaged curve, each of shape ``(m,)``, from (0, 0)
        to (1, 1).
    """
    grid = np.unique(np.concatenate([fpr for fpr, _ in curves]))
    below = np.mean([_read_curve(fpr, tpr, grid, side="left") for fpr, tpr in curves], axis=0)
    above = np.mean([_read_curve(fpr, tpr, grid, side="right") for fpr, tpr in curves], axis=0)
    fpr = np.repeat(grid, 2)
    tpr = np.column_stack([below, above]).ravel()
    # Drop the zero-length steps at FPRs where no curve jumps.
    keep = np.ones(len(fpr), dtype=bool)
    keep[1:] = (np.diff(fpr) != 0) | (np.diff(tpr) != 0)
    return fpr[keep], tpr[keep]


def _read_curve(fpr: np.ndarray, tpr: np.ndarray, x: np.ndarray, side: str) -> np.ndarray:
    """Read a piecewise-linear ROC curve at given FPRs, below or above any vertical jump.

    Args:
        fpr: Non-decreasing FPRs of the curve, shape ``(m,)``, from 0 to 1.
        tpr: Non-decreasing TPRs of the curve, shape ``(m,)``.
        x: FPRs to read the curve at, shape ``(g,)``, within [0, 1].
        side: ``"left"`` for the lowest TPR at an FPR, ``"right"`` for the highest.

    Returns:
        TPRs at ``x``, shape ``(g,)``.
    """
    # For "left", point j is the first with fpr >= x; for "right", the first with
    # fpr > x. Either way x lies on the segment from point j - 1 to point j. Clipping j
    # only matters at x = 0 ("left": want the first point) and x = 1 ("right": want
    # the last point), where the clipped segment may have zero width.
    j = np.clip(np.searchsorted(fpr, x, side=side), 1, len(fpr) - 1)
    x0, x1, y0, y1 = fpr[j - 1], fpr[j], tpr[j - 1], tpr[j]
    width = x1 - x0
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(width > 0, (x - x0) / width, 0.0 if side == "left" else 1.0)
    return y0 + np.clip(t, 0.0, 1.0) * (y1 - y0)


def pr_curves(probs: np.ndarray, labels: np.ndarray, class_names: list[str]) -> pd.DataFrame:
    """One-vs-rest precision-recall curves per class, plus the micro-average curve.

    Classes without positive samples have no curve. Points inside a vertical run of
    the curve are dropped (scikit-learn's ``drop_intermediate``): the step plot is
    unchanged and the table stays small on large test sets.

    Args:
        probs: Predicted class probabilities, shape ``(n, k)``.
        labels: True class indices, shape ``(n,)``, integers in ``[0, k)``.
        class_names: The ``k`` class names, in column order of ``probs``.

    Returns:
        Long table with columns ``class`` (a class name or ``"micro"``), ``recall``,
        ``precision`` and ``threshold``, ordered by increasing threshold (decreasing
        recall) within a curve; the last point of each curve (recall 0, precision 1)
        has threshold NaN. Draw it as a step plot (``drawstyle="steps-post"``).
    """
    probs, labels = _check_inputs(probs, labels, class_names)
    k = probs.shape[1]
    one_hot = _one_hot(labels, k)

    def curve(name: str, y_true: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
        precision, recall, threshold = precision_recall_curve(
            y_true, scores, drop_intermediate=True
        )
        # scikit-learn gives one threshold fewer than points: the final (0, 1) point.
        threshold = np.append(threshold, np.nan)
        return pd.DataFrame(
            {"class": name, "recall": recall, "precision": precision, "threshold": threshold}
        )

    frames = [
        curve(name, one_hot[:, c], probs[:, c])
        for c, name in enumerate(class_names)
        if one_hot[:, c].any()
    ]
    frames.append(curve("micro", one_hot.ravel(), probs.ravel()))
    return pd.concat(frames, ignore_index=True)


def headline_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The metrics reported by ``--json``: macro averages, the smallest class's own
    scores (``minority``, see :func:`class_balance`) and per class."""
    return {
        "accuracy": metrics["accuracy"],
        "loss": metrics["loss"],
        "auroc": metrics["auroc"],
        "auprc": metrics["auprc"],
        "minority": metrics["minority"],
        "class_shares": metrics["class_shares"],
        "per_class": {
            name: {"auroc": v["auroc"], "auprc": v["auprc"]}
            for name, v in metrics["per_class"].items()
        },
    }


def probability_table(
    identity: pd.DataFrame, probs: np.ndarray, classes: list[str]
) -> pd.DataFrame:
    """Identity columns + ``p_<class>`` columns + ``highest`` (the top-scoring class)."""
    table = identity.copy()
    for k, name in enumerate(classes):
        table[f"p_{name}"] = np.round(probs[:, k], 6)
    table["highest"] = np.asarray(classes)[probs.argmax(axis=1)] if len(probs) else []
    return table
