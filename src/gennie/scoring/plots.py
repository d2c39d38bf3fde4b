"""Evaluation figures: ROC and precision-recall curves, confusion matrix, training curves.

Every figure is written as PNG (150 dpi) and SVG next to a TSV of the numbers it
shows, so a plot can be redrawn elsewhere. Figures are drawn on matplotlib ``Figure``
objects with the Agg canvas directly, not through ``pyplot``: nothing opens a window,
no global backend is switched in the caller's process, and the functions are safe to
call from a GUI worker thread.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gennie.runs import CONFUSION_FILE, PR_FILE, ROC_FILE
from gennie.scoring.metrics import classification_metrics, pr_curves, roc_curves

ROC_STEM, PR_STEM, CONFUSION_STEM = (
    Path(name).stem for name in (ROC_FILE, PR_FILE, CONFUSION_FILE)
)
"""File names (without suffix) of the curves and the confusion matrix, as the run
layout (:mod:`gennie.runs`) names their tables."""

PNG_DPI = 150

_STYLE = {
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    # Stable ids and no timestamp, so re-running an evaluation gives identical SVGs.
    "svg.hashsalt": "gennie",
}

# Training-curve panels: title, y label and the (column, legend label) pairs drawn.
_TRAINING_PANELS = [
    ("Loss", "Cross-entropy loss", [("train_loss", "train"), ("val_loss", "validation")]),
    ("Accuracy", "Accuracy", [("train_accuracy", "train"), ("val_accuracy", "validation")]),
    ("AUROC", "Macro AUROC", [("train_auroc", "train"), ("val_auroc", "validation")]),
    ("Learning rate", "Learning rate", [("lr", "learning rate")]),
]
_SPLIT_COLORS = {"train": "#1f77b4", "validation": "#d62728", "learning rate": "#2ca02c"}


@contextmanager
def _style() -> Iterator[None]:
    """Apply gennie's plot style for the duration of a figure, then restore the caller's."""
    with mpl.rc_context(_STYLE):
        yield


def _new_figure(width: float, height: float) -> Figure:
    """Create a figure bound to the Agg canvas (no pyplot, no window)."""
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, out_dir: Path, stem: str) -> tuple[Path, Path]:
    """Write a figure as ``<stem>.png`` and ``<stem>.svg``.

    Args:
        fig: The finished figure.
        out_dir: Folder to write into (must exist).
        stem: File name without extension, prefix included.

    Returns:
        Paths of the PNG and the SVG.
    """
    png, svg = out_dir / f"{stem}.png", out_dir / f"{stem}.svg"
    # bbox_inches="tight" keeps legends placed outside the axes inside the image.
    fig.savefig(png, dpi=PNG_DPI, bbox_inches="tight", facecolor="white")
    fig.savefig(svg, bbox_inches="tight", facecolor="white", metadata={"Date": None})
    return png, svg


def _class_colors(k: int) -> list[tuple[float, ...]]:
    """Distinct colours for ``k`` classes: tab10 up to 10 classes, tab20 / a colormap beyond."""
    if k <= 10:
        return [mpl.colormaps["tab10"](i) for i in range(k)]
    if k <= 20:
        return [mpl.colormaps["tab20"](i) for i in range(k)]
    return [mpl.colormaps["turbo"](x) for x in np.linspace(0.05, 0.95, k)]


def _square_unit_axes(ax: Axes, xlabel: str, ylabel: str, title: str) -> None:
    """Label an axes and fix it to the unit square with equal aspect."""
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)  # a little headroom so curves at 1.0 are not hidden by the frame
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)


def _legend_outside(ax: Axes, title: str | None = None) -> None:
    """Place the legend to the right of the axes, where it never covers a curve."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, title=title)


def _format_score(value: float | None) -> str:
    """Format a score for a legend; undefined scores show as 'n/a'."""
    return "n/a" if value is None else f"{value:.3f}"


def write_curves(
    probs: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    out_dir: Path,
    prefix: str = "",
) -> dict[str, Path]:
    """Plot and tabulate one-vs-rest ROC and precision-recall curves.

    The ROC plot shows one line per class (AUROC in the legend), the micro- and
    macro-average curves dashed and the chance diagonal. The PR plot shows one line per
    class (average precision in the legend), the micro-average dashed and each class's
    positive rate (the precision of a random ranking) as a dotted line. Classes absent
    from ``labels`` have no curve.

    Args:
        probs: Predicted class probabilities, shape ``(n, k)``.
        labels: True class indices, shape ``(n,)``, integers in ``[0, k)``.
        class_names: The ``k`` class names, in column order of ``probs``.
        out_dir: Folder to write into; created if missing.
        prefix: Prepended to every file name, e.g. ``"test_"``.

    Returns:
        The written files by unprefixed name: ``roc_curve.png``, ``roc_curve.svg``,
        ``roc_curve.tsv``, ``pr_curve.png``, ``pr_curve.svg``, ``pr_curve.tsv``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = classification_metrics(probs, labels, class_names)
    roc = roc_curves(probs, labels, class_names)
    pr = pr_curves(probs, labels, class_names)
    colors = dict(zip(class_names, _class_colors(len(class_names)), strict=True))

    roc_tsv = out_dir / f"{prefix}{ROC_FILE}"
    roc.to_csv(roc_tsv, sep="\t", index=False)
    pr_tsv = out_dir / f"{prefix}{PR_FILE}"
    pr.to_csv(pr_tsv, sep="\t", index=False)

    with _style():
        roc_png, roc_svg = _save(_plot_roc(roc, metrics, colors), out_dir, f"{prefix}{ROC_STEM}")
        pr_png, pr_svg = _save(_plot_pr(pr, metrics, colors), out_dir, f"{prefix}{PR_STEM}")
    return {
        f"{ROC_STEM}.png": roc_png,
        f"{ROC_STEM}.svg": roc_svg,
        ROC_FILE: roc_tsv,
        f"{PR_STEM}.png": pr_png,
        f"{PR_STEM}.svg": pr_svg,
        PR_FILE: pr_tsv,
    }


def _plot_roc(roc: pd.DataFrame, metrics: dict, colors: dict[str, tuple[float, ...]]) -> Figure:
    """Draw the ROC figure from :func:`roc_curves` output and the matching metrics."""
    fig = _new_figure(7.5, 5.0)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1, label="chance (0.500)")
    for name, color in colors.items():
        curve = roc[roc["class"] == name]
        if curve.empty:
            # Keep the class in the legend so its absence is visible, not silent. A
            # class with samples but no curve is the only class present.
            reason = "no negatives" if metrics["per_class"][name]["support"] else "no samples"
            ax.plot([], [], color=color, linewidth=1.6, label=f"{name} ({reason})")
            continue
        auroc = _format_score(metrics["per_class"][name]["auroc"])
        ax.plot(curve["fpr"], curve["tpr"], color=color, linewidth=1.6, label=f"{name} ({auroc})")
    micro = roc[roc["class"] == "micro"]
    ax.plot(
        micro["fpr"],
        micro["tpr"],
        color="black",
        linestyle="--",
        linewidth=1.4,
        label=f"micro-average ({_format_score(metrics['micro_auroc'])})",
    )
    macro = roc[roc["class"] == "macro"]
    if not macro.empty:
        # The macro curve's area equals the macro AUROC reported in metrics.json.
        ax.plot(
            macro["fpr"],
            macro["tpr"],
            color="0.45",
            linestyle="--",
            linewidth=1.4,
            label=f"macro-average ({_format_score(metrics['auroc'])})",
        )
    _square_unit_axes(
        ax,
        "False positive rate",
        "True positive rate",
        f"ROC curves, one-vs-rest (n = {metrics['n']:,})",
    )
    _legend_outside(ax, title="Class (AUROC)")
    return fig


def _plot_pr(pr: pd.DataFrame, metrics: dict, colors: dict[str, tuple[float, ...]]) -> Figure:
    """Draw the precision-recall figure from :func:`pr_curves` output and the metrics."""
    fig = _new_figure(7.5, 5.0)
    ax = fig.add_subplot()
    for name, color in colors.items():
        curve = pr[pr["class"] == name]
        if curve.empty:
            # Keep the class in the legend so its absence is visible, not silent.
            ax.plot([], [], color=color, linewidth=1.6, label=f"{name} (no samples)")
            continue
        ap = _format_score(metrics["per_class"][name]["auprc"])
        # Steps, not straight lines, as scikit-learn draws them: average precision is
        # the area under this step curve; linear interpolation would overstate it.
        ax.plot(
            curve["recall"],
            curve["precision"],
            color=color,
            linewidth=1.6,
            drawstyle="steps-post",
            label=f"{name} ({ap})",
        )
        # A random ranking has precision equal to the class's share of the samples.
        positive_rate = metrics["per_class"][name]["support"] / metrics["n"]
        ax.axhline(positive_rate, color=color, linestyle=":", linewidth=1, alpha=0.8)
    micro = pr[pr["class"] == "micro"]
    ax.plot(
        micro["recall"],
        micro["precision"],
        color="black",
        linestyle="--",
        linewidth=1.4,
        drawstyle="steps-post",
        label=f"micro-average ({_format_score(metrics['micro_auprc'])})",
    )
    # One legend entry explains all dotted baselines.
    ax.plot([], [], color="0.4", linestyle=":", linewidth=1, label="positive rate (chance)")
    _square_unit_axes(
        ax,
        "Recall",
        "Precision",
        f"Precision-recall curves, one-vs-rest (n = {metrics['n']:,})",
    )
    _legend_outside(ax, title="Class (average precision)")
    return fig


def write_confusion_matrix(
    matrix: Sequence[Sequence[int]] | np.ndarray,
    class_names: list[str],
    out_dir: Path,
    prefix: str = "",
) -> dict[str, Path]:
    """Plot and tabulate a confusion matrix.

    Cells are coloured by row percentage (the share of each true class predicted as
    each class), so rare classes are as readable as common ones, and annotated with
    the count and that percentage.

    Args:
        matrix: Counts, shape ``(k, k)``; rows are true classes, columns predicted ones.
        class_names: The ``k`` class names.
        out_dir: Folder to write into; created if missing.
        prefix: Prepended to every file name.

    Returns:
        The written files by unprefixed name: ``confusion_matrix.png``,
        ``confusion_matrix.svg``, ``confusion_matrix.tsv``.
    """
    counts = np.asarray(matrix, dtype=np.int64)
    k = len(class_names)
    if counts.shape != (k, k):
        raise ValueError(f"matrix must have shape ({k}, {k}) for {k} classes, got {counts.shape}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    tsv = out_dir / f"{prefix}{CONFUSION_FILE}"
    table = pd.DataFrame(counts, index=class_names, columns=class_names)
    table.index.name = "true\\predicted"
    table.to_csv(tsv, sep="\t")

    row_totals = counts.sum(axis=1, keepdims=True)
    # A class with no samples has an undefined row; show it empty rather than 0 %.
    with np.errstate(invalid="ignore", divide="ignore"):
        row_percent = np.where(row_totals > 0, 100.0 * counts / row_totals, np.nan)

    size = max(4.5, 0.75 * k + 2.5)
    annotation_size = 9 if k <= 6 else 8 if k <= 10 else 6
    with _style(), mpl.rc_context({"axes.grid": False}):
        fig = _new_figure(size + 1.0, size)
        ax = fig.add_subplot()
        image = ax.imshow(
            np.nan_to_num(row_percent), cmap="Blues", vmin=0, vmax=100, aspect="equal"
        )
        colorbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        colorbar.set_label("Share of true class (%)")
        for i in range(k):
            for j in range(k):
                percent = row_percent[i, j]
                text = f"{counts[i, j]:,}" + ("" if math.isnan(percent) else f"\n{percent:.1f}%")
                dark = not math.isnan(percent) and percent > 55
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=annotation_size,
                    color="white" if dark else "black",
                )
        ax.set_xticks(range(k), labels=class_names)
        ax.set_yticks(range(k), labels=class_names)
        if k > 4 or max(len(name) for name in class_names) > 8:
            ax.tick_params(axis="x", labelrotation=45)
            for label in ax.get_xticklabels():
                label.set_horizontalalignment("right")
                label.set_rotation_mode("anchor")
        ax.set_xlabel("Predicted class")
        ax.set_ylabel("True class")
        ax.set_title(f"Confusion matrix (n = {int(counts.sum()):,})")
        for spine in ax.spines.values():
            spine.set_visible(False)
        png, svg = _save(fig, out_dir, f"{prefix}{CONFUSION_STEM}")
    return {f"{CONFUSION_STEM}.png": png, f"{CONFUSION_STEM}.svg": svg, CONFUSION_FILE: tsv}


def plot_training_curves(
    metrics_tsv: Path, out_dir: Path, best_epoch: int | None = None
) -> list[Path]:
    """Plot per-epoch training metrics.

    Panels for loss, accuracy and AUROC (train and validation) and the learning rate,
    each drawn only if its columns hold any value. Rows that share an epoch (loggers
    that write training and validation metrics on separate rows) are merged, keeping
    the last value of each column.

    Args:
        metrics_tsv: Tab-separated table with an ``epoch`` column and any of
            ``train_loss``, ``val_loss``, ``train_accuracy``, ``val_accuracy``,
            ``train_auroc``, ``val_auroc``, ``lr``; empty cells are allowed.
        out_dir: Folder to write into; created if missing.
        best_epoch: Epoch of the kept checkpoint, marked with a vertical line.

    Returns:
        Paths of ``training_curves.png`` and ``training_curves.svg``.
    """
    table = pd.read_csv(metrics_tsv, sep="\t")
    if "epoch" not in table.columns:
        raise ValueError(f"{metrics_tsv} has no 'epoch' column")
    table = table.dropna(subset=["epoch"]).groupby("epoch", sort=True).last().reset_index()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    panels = [
        (title, ylabel, [(col, label) for col, label in series if _has_values(table, col)])
        for title, ylabel, series in _TRAINING_PANELS
    ]
    panels = [panel for panel in panels if panel[2]]

    # At least half an epoch either side, so a single epoch still gets a sensible axis.
    epochs = [*table["epoch"], *([] if best_epoch is None else [best_epoch])] or [0]
    pad = max(0.5, 0.04 * (max(epochs) - min(epochs)))
    x_range = (min(epochs) - pad, max(epochs) + pad)

    n_panels = max(len(panels), 1)
    ncols = n_panels if n_panels <= 3 else 2
    nrows = math.ceil(n_panels / ncols)
    with _style():
        fig = _new_figure(4.3 * ncols, 3.4 * nrows)
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax in axes[n_panels:]:
            ax.set_visible(False)
        if not panels:
            axes[0].text(
                0.5,
                0.5,
                "No metrics recorded yet",
                ha="center",
                va="center",
                transform=axes[0].transAxes,
            )
            axes[0].set_axis_off()
        for ax, (title, ylabel, series) in zip(axes, panels, strict=False):
            for column, label in series:
                values = pd.to_numeric(table[column], errors="coerce")
                present = values.notna()
                # Plot only recorded epochs so a missing value does not break the line.
                ax.plot(
                    table["epoch"][present],
                    values[present],
                    marker="o",
                    markersize=4,
                    linewidth=1.6,
                    color=_SPLIT_COLORS[label],
                    label=label,
                )
            if title == "Learning rate":
                _log_scale_if_wide(ax, pd.to_numeric(table["lr"], errors="coerce"))
            if best_epoch is not None:
                ax.axvline(
                    best_epoch,
                    color="0.35",
                    linestyle="--",
                    linewidth=1.1,
                    label=f"best epoch ({best_epoch})",
                )
            ax.set_title(title)
            ax.set_xlabel("Epoch")
            ax.set_ylabel(ylabel)
            ax.set_xlim(*x_range)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            ax.legend(frameon=False)
        fig.tight_layout()
        png, svg = _save(fig, out_dir, "training_curves")
    return [png, svg]


def _has_values(table: pd.DataFrame, column: str) -> bool:
    """Whether ``column`` exists in ``table`` and holds at least one number."""
    return column in table.columns and pd.to_numeric(table[column], errors="coerce").notna().any()


def _log_scale_if_wide(ax: Axes, lr: pd.Series) -> None:
    """Use a log y axis when the learning rate spans more than a factor of 10."""
    lr = lr.dropna()
    if (lr > 0).all() and lr.max() > 10 * lr.min():
        ax.set_yscale("log")
