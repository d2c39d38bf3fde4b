"""Result views of a run folder: metrics, curves, tables, pictures, downloads.

Each view reads only the files a stage exported, so what the GUI shows is exactly what
the command line wrote. Sections appear when their files exist: evaluation metrics,
interactive ROC / precision-recall curves and the confusion matrix (train and evaluate
runs), training curves and the architecture (train), predictions with attribution
reports and logos (predict / evaluate), motif logos (``interpret motifs``), in-silico
mutagenesis (``interpret ism``), the trials table (``tune``), and every file for
download.
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

from gennie.gui.common import relative, status_badge
from gennie.gui.runinfo import files_of, log_tail, read_parameters, read_table, to_yaml
from gennie.runs import LOG_FILE, read_status

_MAX_DOWNLOAD = 200 * 1024 * 1024


def training_chart(metrics: pd.DataFrame) -> go.Figure:
    """Loss, accuracy and AUROC per epoch (train and validation) as one figure.

    Args:
        metrics: The run's ``metrics.tsv`` (one row per epoch).
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
    metrics_file = folder / "metrics.json"
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        st.markdown("#### Metrics")
        st.dataframe(_metrics_table(metrics), hide_index=True)
    left, right = st.columns(2)
    roc = read_table(folder / "roc_curve.tsv")
    pr = read_table(folder / "pr_curve.tsv")
    if roc is not None:
        left.plotly_chart(curve_chart(roc, "fpr", "tpr", "ROC curve"), key=f"roc:{folder}")
    if pr is not None:
        right.plotly_chart(
            curve_chart(pr, "recall", "precision", "Precision-recall curve"), key=f"pr:{folder}"
        )
    matrix = read_table(folder / "confusion_matrix.tsv")
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
        "Download predictions.tsv",
        path.read_bytes(),
        file_name=path.name,
        mime="text/tab-separated-values",
        key=f"dl-pred:{path}",
    )


def show_attributions(folder: Path) -> None:
    """Attribution report (top ten per class, red/blue scale), tables and logos."""
    report = folder / "report.html"
    if report.is_file():
        st.markdown("#### Attributions: top ten per class")
        st.caption("Red: the base raises the class score; blue: it lowers it.")
        components.html(report.read_text(errors="replace"), height=700, scrolling=True)
    table = read_table(folder / "attributions.tsv")
    if table is not None:
        with st.expander(f"Attribution table ({len(table):,} rows)"):
            st.dataframe(table, hide_index=True)
    _logos(folder / "logos")


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
    metrics = read_table(run_dir / "metrics.tsv")
    if metrics is not None and len(metrics):
        st.markdown("#### Training curves")
        st.plotly_chart(training_chart(metrics), key=f"train:{run_dir}")
        with st.expander("Per-epoch table"):
            st.dataframe(metrics, hide_index=True)
    architecture = run_dir / "architecture.txt"
    if architecture.is_file():
        st.markdown("#### Architecture")
        st.code(architecture.read_text(), language=None)
        picture = run_dir / "architecture.png"
        if picture.is_file():
            with st.expander("Architecture diagram"):
                st.image(str(picture))


def show_downloads(run_dir: Path) -> None:
    """A download button for every exported file of a run."""
    files = files_of(run_dir)
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


def show_run(run_dir: Path) -> None:
    """Everything about one run folder."""
    run_dir = Path(run_dir)
    info = read_status(run_dir)
    stage = str(info.get("stage", "?"))
    status = str(info.get("status", "?"))
    st.markdown(f"### {stage} run `{relative(run_dir)}` {status_badge(status)}")
    when = ", ".join(f"{k} {info[k]}" for k in ("started", "finished") if info.get(k) and k in info)
    if info.get("seconds") is not None:
        when += f", {info['seconds']} s"
    st.caption(when)
    if info.get("error"):
        st.error(f"Error: {info['error']}")
    summary = info.get("summary") or {}
    headline = summary.get("metrics") or {}
    if headline:
        cols = st.columns(4)
        for col, key in zip(cols, ("accuracy", "auroc", "auprc", "loss"), strict=True):
            if headline.get(key) is not None:
                col.metric(key.upper() if key != "accuracy" else "Accuracy", f"{headline[key]:.3f}")
    if stage == "train":
        show_training(run_dir)
        if (run_dir / "evaluation").is_dir():
            st.markdown("#### Test-split evaluation (best-validation weights)")
            show_evaluation(run_dir / "evaluation")
    if stage == "evaluate":
        show_evaluation(run_dir)
    if (run_dir / "predictions.tsv").is_file():
        show_predictions(run_dir / "predictions.tsv")
    if stage in ("predict", "evaluate"):
        show_attributions(run_dir)
    if stage == "preprocess" and summary:
        st.markdown("#### Dataset")
        splits = summary.get("class_splits")
        if splits:
            st.dataframe(pd.DataFrame(splits).T, key=f"splits:{run_dir}")
    _interpretation(run_dir)
    if stage == "tune" or (run_dir / "trials.tsv").is_file():
        show_search(run_dir, summary)
    parameters = read_parameters(run_dir)
    if parameters:
        with st.expander("Parameters (parameters.yaml)"):
            st.code(to_yaml(parameters), language="yaml")
            st.caption(f"Repeat this run: gennie run {run_dir / 'parameters.yaml'}")
    with st.expander("Log"):
        st.code(log_tail(run_dir / LOG_FILE, 200) or "(empty)", language=None)
    show_downloads(run_dir)


def _train_best(best: Path) -> None:
    """Put a search's best configuration into the Train page's form."""
    from gennie.config import read_yaml
    from gennie.gui.form import load_into_form

    load_into_form("train", read_yaml(best))
    st.session_state["train.load.message"] = f"Loaded the best configuration of {relative(best)}."


def show_search(run_dir: Path, summary: dict[str, Any]) -> None:
    """A search: best trial, trials table, Optuna's plots, the best configuration."""
    if summary.get("best_value") is not None:
        st.markdown(
            f"**Best trial {summary.get('best_trial')}**: {summary.get('objective', 'objective')} "
            f"= {summary['best_value']:.4f}"
        )
        if summary.get("best_params"):
            st.json(summary["best_params"], expanded=False)
    trials = read_table(run_dir / "trials.tsv")
    if trials is not None:
        st.markdown(f"#### Trials ({len(trials)})")
        st.dataframe(trials, hide_index=True)
    plots = run_dir / "plots"
    pictures = sorted(plots.glob("*.png")) if plots.is_dir() else []
    if pictures:
        columns = st.columns(2)
        for i, picture in enumerate(pictures):
            columns[i % 2].image(str(picture), caption=picture.stem.replace("_", " "))
    for page in sorted(plots.glob("*.html")) if plots.is_dir() else []:
        with st.expander(f"Interactive plot: {page.stem.replace('_', ' ')}"):
            components.html(page.read_text(errors="replace"), height=520, scrolling=True)
    best = run_dir / "best_config.yaml"
    if best.is_file():
        with st.expander("Best configuration (best_config.yaml)"):
            st.code(best.read_text(), language="yaml")
        if st.button(
            "Train the best configuration",
            key=f"best:{run_dir}",
            on_click=_train_best,
            args=(best,),
            help="Opens the Train page filled with the best trial's settings.",
        ):
            st.switch_page("views/train.py")


def _interpretation(run_dir: Path) -> None:
    """Motif and in-silico mutagenesis results of ``interpret`` runs."""
    motifs = read_table(run_dir / "motifs.tsv")
    if motifs is not None:
        st.markdown(f"#### Motifs learned by the first-layer filters ({len(motifs)})")
        st.dataframe(motifs, hide_index=True)
        meme = run_dir / "motifs.meme"
        if meme.is_file():
            st.download_button(
                "Download motifs.meme", meme.read_bytes(), "motifs.meme", key=f"meme:{run_dir}"
            )
        _logos(run_dir / "logos", "Filter logos", per_row=3)
    ism_picture = run_dir / "ism.png"
    if ism_picture.is_file():
        st.markdown("#### In-silico mutagenesis")
        st.image(str(ism_picture))
    ism = read_table(run_dir / "ism.tsv")
    if ism is not None:
        with st.expander(f"Mutagenesis table ({len(ism):,} rows)"):
            st.dataframe(ism, hide_index=True)
