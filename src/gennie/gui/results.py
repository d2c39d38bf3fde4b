"""Result views of a run folder: metrics, curves, tables, pictures, downloads.

Each view reads only the files a stage exported (named in :mod:`gennie.runs`), so what
the GUI shows is exactly what the command line wrote. Sections appear when their files
exist: evaluation metrics, interactive ROC / precision-recall curves and the confusion
matrix, training curves and the architecture, predictions with attribution reports and
logos, variant effects, filter motifs and their logos, in-silico mutagenesis, the
trials of a search, and every file for download.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
import streamlit.components.v1 as components

from gennie.config import read_yaml
from gennie.gui.common import relative, status_badge
from gennie.gui.form import load_into_form
from gennie.gui.pages import go_to, page_of
from gennie.gui.runinfo import log_tail, read_table, to_yaml
from gennie.gui.variants_view import show_variants
from gennie.runs import (
    ARCHITECTURE_FILE,
    ARCHITECTURE_PICTURE,
    ATTRIBUTIONS_FILE,
    BEST_CONFIG_FILE,
    CONFUSION_FILE,
    EPOCHS_FILE,
    EVALUATION_DIR,
    ISM_FILE,
    ISM_PICTURE,
    LOGOS_DIR,
    MEME_FILE,
    METRICS_FILE,
    MOTIFS_FILE,
    PARAMETERS_FILE,
    PLOTS_DIR,
    PR_FILE,
    PREDICTIONS_FILE,
    REPORT_FILE,
    ROC_FILE,
    TRIALS_FILE,
    VARIANTS_FILE,
    RunFolder,
    read_run,
)

_MAX_DOWNLOAD = 200 * 1024 * 1024


def training_chart(metrics: pd.DataFrame) -> go.Figure:
    """Loss, accuracy and AUROC per epoch (train and validation) as one figure.

    Args:
        metrics: The run's epochs table (one row per epoch).
    """
    columns = [
        c
        for c in metrics.columns
        if c.startswith(("train_", "val_")) and c.split("_", 1)[1] in ("loss", "accuracy", "auroc")
    ]
    long = metrics.melt(id_vars="epoch", value_vars=columns, var_name="series", value_name="value")
    long["metric"] = long["series"].str.split("_", n=1).str[1]
    long["split"] = (
        long["series"].str.split("_", n=1).str[0].map({"train": "training", "val": "validation"})
    )
    figure = px.line(
        long,
        x="epoch",
        y="value",
        color="split",
        facet_col="metric",
        markers=True,
        category_orders={"metric": ["loss", "accuracy", "auroc"]},
    )
    figure.update_yaxes(matches=None, showticklabels=True)
    figure.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    figure.update_layout(height=320, margin={"t": 40, "b": 10, "l": 10, "r": 10})
    return figure


def curve_chart(table: pd.DataFrame, x: str, y: str, title: str) -> go.Figure:
    """An interactive ROC or precision-recall curve, one line per class."""
    figure = px.line(table, x=x, y=y, color="class", title=title)
    if x == "fpr":
        figure.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line={"dash": "dot", "color": "grey"})
        figure.update_layout(xaxis_title="false positive rate", yaxis_title="true positive rate")
    else:
        figure.update_layout(xaxis_title="recall", yaxis_title="precision")
    figure.update_layout(height=380, margin={"t": 50, "b": 10, "l": 10, "r": 10})
    figure.update_xaxes(range=[0, 1])
    figure.update_yaxes(range=[0, 1.02])
    return figure


def _metrics_table(metrics: dict[str, Any]) -> pd.DataFrame:
    rows = [
        {
            "class": name,
            **{k: v for k, v in values.items() if isinstance(v, (int, float))},
        }
        for name, values in (metrics.get("per_class") or {}).items()
    ]
    macro = {k: metrics[k] for k in ("accuracy", "loss", "auroc", "auprc") if k in metrics}
    table = pd.DataFrame([{"class": "all (macro)", **macro}] + rows).set_index("class")
    # text cells: blank where a metric does not apply (e.g. loss per class)
    text = table.map(lambda v: "" if pd.isna(v) else f"{v:.4g}" if isinstance(v, float) else str(v))
    return text.reset_index()


def show_evaluation(folder: Path) -> None:
    """Metrics table, ROC and PR curves, confusion matrix of an evaluation folder."""
    metrics_file = folder / METRICS_FILE
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        st.markdown("#### Metrics")
        st.dataframe(_metrics_table(metrics), hide_index=True)
    left, right = st.columns(2)
    roc = read_table(folder / ROC_FILE)
    pr = read_table(folder / PR_FILE)
    if roc is not None:
        left.plotly_chart(curve_chart(roc, "fpr", "tpr", "ROC curve"), key=f"roc:{folder}")
    if pr is not None:
        right.plotly_chart(
            curve_chart(pr, "recall", "precision", "Precision-recall curve"), key=f"pr:{folder}"
        )
    matrix = read_table(folder / CONFUSION_FILE)
    if matrix is not None:
        st.markdown("#### Confusion matrix (rows: true class, columns: predicted)")
        matrix = matrix.set_index(matrix.columns[0])
        figure = px.imshow(
            matrix.values,
            x=list(matrix.columns),
            y=list(matrix.index),
            text_auto=True,
            color_continuous_scale="Blues",
            labels={"x": "predicted", "y": "true", "color": "samples"},
        )
        figure.update_layout(height=300, margin={"t": 10, "b": 10, "l": 10, "r": 10})
        st.plotly_chart(figure, key=f"cm:{folder}")


def show_predictions(path: Path) -> None:
    """The predictions table (sortable by clicking a column) with a download."""
    table = read_table(path)
    if table is None:
        return
    st.markdown(f"#### Predictions ({len(table):,} rows)")
    st.caption("Click a column title to sort. Probabilities per class; 'highest' is the top one.")
    st.dataframe(table, hide_index=True, height=min(320, 40 + 35 * len(table)))
    st.download_button(
        f"Download {path.name}",
        path.read_bytes(),
        file_name=path.name,
        mime="text/tab-separated-values",
        key=f"dl-pred:{path}",
    )


FIT_SCRIPT = """<style>html{overflow-x:auto}</style><script>
(function(){function fit(){var b=document.body;if(!b)return;b.style.zoom=1;
var wide=document.documentElement.scrollWidth,frame=window.innerWidth;
if(wide>frame){b.style.zoom=Math.max(frame/wide,MIN_ZOOM);}}
window.addEventListener("load",fit);window.addEventListener("resize",fit);})();
</script>"""
"""Scales a page down to the width of its frame (CSS zoom, at most to MIN_ZOOM, then
it scrolls), again when the frame is resized."""

MIN_ZOOM = 0.45
"""The smallest scale of an embedded report; a wider one scrolls sideways."""


def fit_to_frame(page: str) -> str:
    """An HTML page made to fit the width of the frame it is shown in: its rows of
    bases are wider than the results column (60 bases × 1.15 rem), which cut them off
    on the right; the page is scaled down to the frame instead (see :data:`FIT_SCRIPT`).
    """
    script = FIT_SCRIPT.replace("MIN_ZOOM", str(MIN_ZOOM))
    head = page.lower().find("</head>")
    if head >= 0:
        return page[:head] + script + page[head:]
    return script + page


def show_attributions(folder: Path) -> None:
    """Attribution report (top ten per class, red/blue scale), tables and logos."""
    report = folder / REPORT_FILE
    if report.is_file():
        st.markdown("#### Attributions: top ten per class")
        st.caption("Red: the base raises the class score; blue: it lowers it.")
        components.html(
            fit_to_frame(report.read_text(errors="replace")), height=700, scrolling=True
        )
    table = read_table(folder / ATTRIBUTIONS_FILE)
    if table is not None:
        with st.expander(f"Attribution table ({len(table):,} rows)"):
            st.dataframe(table, hide_index=True)
    _logos(folder / LOGOS_DIR)


def _logos(folder: Path, caption: str = "Sequence logos", per_row: int = 1) -> None:
    logos = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if not logos:
        return
    st.markdown(f"#### {caption}")
    columns = st.columns(per_row)
    for i, logo in enumerate(logos[:60]):
        try:
            columns[i % per_row].image(str(logo), caption=logo.stem)
        except Exception:  # noqa: BLE001 - an unreadable picture must not hide the rest
            columns[i % per_row].caption(f"{logo.name}: not a readable picture")
    if len(logos) > 60:
        st.caption(f"… and {len(logos) - 60} more (see the files below).")


def show_training(run_dir: Path) -> None:
    """Training curves (interactive) and the architecture summary of a train run."""
    metrics = read_table(run_dir / EPOCHS_FILE)
    if metrics is not None and len(metrics):
        st.markdown("#### Training curves")
        st.plotly_chart(training_chart(metrics), key=f"train:{run_dir}")
        with st.expander("Per-epoch table"):
            st.dataframe(metrics, hide_index=True)
    architecture = run_dir / ARCHITECTURE_FILE
    if architecture.is_file():
        st.markdown("#### Architecture")
        st.code(architecture.read_text(), language=None)
        picture = run_dir / ARCHITECTURE_PICTURE
        if picture.is_file():
            with st.expander("Architecture diagram"):
                st.image(str(picture))


def show_downloads(run: RunFolder) -> None:
    """A download button for every exported file of a run."""
    run_dir = run.dir
    files = run.files()
    with st.expander(f"All files of this run ({len(files)})"):
        for i, path in enumerate(files):
            rel = path.relative_to(run_dir)
            size = path.stat().st_size
            if size > _MAX_DOWNLOAD:
                st.caption(f"{rel} ({size / 1e6:.0f} MB, too large to download here)")
                continue
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            st.download_button(
                f"{rel}  ({size / 1e3:.1f} kB)",
                path.read_bytes(),
                file_name=path.name,
                mime=mime,
                key=f"dl:{run_dir}:{i}",
            )


def _headline(run: RunFolder) -> None:
    """Title, status, times, error and headline metrics of a run."""
    st.markdown(f"### {run.stage} run `{relative(run.dir)}` {status_badge(run.status)}")
    when = ", ".join(
        f"{k} {v}" for k, v in (("started", run.started), ("finished", run.finished)) if v
    )
    if run.seconds is not None:
        when += f", {run.seconds} s"
    st.caption(when)
    if run.error:
        st.error(f"Error: {run.error}")
    if run.metrics:
        cols = st.columns(4)
        for col, key in zip(cols, ("accuracy", "auroc", "auprc", "loss"), strict=True):
            if run.metrics.get(key) is not None:
                col.metric(
                    key.upper() if key != "accuracy" else "Accuracy", f"{run.metrics[key]:.3f}"
                )


def show_run(run_dir: Path) -> None:
    """Everything about one run folder: each section whose files the run has."""
    run = read_run(Path(run_dir))
    if run is None:
        st.warning(f"`{relative(run_dir)}` is not a run folder (any more).")
        return
    _headline(run)
    show_training(run.dir)
    if run.has(EVALUATION_DIR, METRICS_FILE):
        st.markdown("#### Test-split evaluation (best-validation weights)")
        show_evaluation(run.path(EVALUATION_DIR))
    if run.has(METRICS_FILE):
        show_evaluation(run.dir)
    if run.has(PREDICTIONS_FILE):
        show_predictions(run.path(PREDICTIONS_FILE))
    if run.has(VARIANTS_FILE):
        show_variants(run.dir, fit_to_frame)
    elif not run.has(MOTIFS_FILE):  # a motifs run's logos are its filters'
        show_attributions(run.dir)
    splits = run.summary.get("class_splits")
    if splits:
        st.markdown("#### Dataset")
        st.dataframe(pd.DataFrame(splits).T, key=f"splits:{run.dir}")
    _interpretation(run.dir)
    if run.has(TRIALS_FILE):
        show_search(run.dir, run.summary)
    parameters = run.parameters()
    if parameters:
        with st.expander(f"Parameters ({PARAMETERS_FILE})"):
            st.code(to_yaml(parameters), language="yaml")
            st.caption(f"Repeat this run: gennie run {run.path(PARAMETERS_FILE)}")
    with st.expander("Log"):
        st.code(log_tail(run.log_file, 200) or "(empty)", language=None)
    show_downloads(run)


def _train_best(best: Path) -> None:
    """Put a search's best configuration into its stage's form and open that page."""
    parameters = read_yaml(best)
    stage = parameters["stage"]
    load_into_form(stage, parameters)
    st.session_state[f"{stage}.load.message"] = (
        f"Loaded the best configuration of {relative(best)}."
    )
    go_to(page_of(stage).url)


def show_search(run_dir: Path, summary: dict[str, Any]) -> None:
    """A search: best trial, trials table, Optuna's plots, the best configuration."""
    if summary.get("best_value") is not None:
        st.markdown(
            f"**Best trial {summary.get('best_trial')}**: {summary.get('objective', 'objective')} "
            f"= {summary['best_value']:.4f}"
        )
        if summary.get("best_params"):
            st.json(summary["best_params"], expanded=False)
    trials = read_table(run_dir / TRIALS_FILE)
    if trials is not None:
        st.markdown(f"#### Trials ({len(trials)})")
        st.dataframe(trials, hide_index=True)
    plots = run_dir / PLOTS_DIR
    pictures = sorted(plots.glob("*.png")) if plots.is_dir() else []
    if pictures:
        columns = st.columns(2)
        for i, picture in enumerate(pictures):
            columns[i % 2].image(str(picture), caption=picture.stem.replace("_", " "))
    for page in sorted(plots.glob("*.html")) if plots.is_dir() else []:
        with st.expander(f"Interactive plot: {page.stem.replace('_', ' ')}"):
            components.html(page.read_text(errors="replace"), height=520, scrolling=True)
    best = run_dir / BEST_CONFIG_FILE
    if best.is_file():
        with st.expander(f"Best configuration ({BEST_CONFIG_FILE})"):
            st.code(best.read_text(), language="yaml")
        st.button(
            "Train the best configuration",
            key=f"best:{run_dir}",
            on_click=_train_best,
            args=(best,),
            help="Opens the Train page filled with the best trial's settings.",
        )


def _interpretation(run_dir: Path) -> None:
    """Motif and in-silico mutagenesis results of ``interpret`` runs."""
    motifs = read_table(run_dir / MOTIFS_FILE)
    if motifs is not None:
        st.markdown(f"#### Motifs learned by the first-layer filters ({len(motifs)})")
        st.dataframe(motifs, hide_index=True)
        meme = run_dir / MEME_FILE
        if meme.is_file():
            st.download_button(
                f"Download {MEME_FILE}", meme.read_bytes(), MEME_FILE, key=f"meme:{run_dir}"
            )
        _logos(run_dir / LOGOS_DIR, "Filter logos", per_row=3)
    ism_picture = run_dir / ISM_PICTURE
    if ism_picture.is_file():
        st.markdown("#### In-silico mutagenesis")
        st.image(str(ism_picture))
    ism = read_table(run_dir / ISM_FILE)
    if ism is not None:
        with st.expander(f"Mutagenesis table ({len(ism):,} rows)"):
            st.dataframe(ism, hide_index=True)
