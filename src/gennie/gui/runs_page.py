"""The Runs page: the jobs, every run folder of the workspace, and one run's results.

A run's status is the current one as :func:`gennie.runs.find_runs` reads it: a run left
``running`` by a process that is gone shows as ``interrupted``.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gennie.gui.common import job_store, relative, sidebar, workspace
from gennie.gui.form import kept_value, remember
from gennie.gui.jobview import SELECTED, jobs_panel
from gennie.gui.results import show_run
from gennie.runs import RunFolder, find_runs


def runs_table(runs: list[RunFolder]) -> pd.DataFrame:
    """One row per run: folder, stage, status, start, headline metrics."""
    rows = []
    for run in runs:
        metrics = run.metrics
        rows.append(
            {
                "run": relative(run.dir),
                "stage": run.stage,
                "status": run.status,
                "started": run.started.replace("T", " "),
                "accuracy": metrics.get("accuracy"),
                "AUROC": metrics.get("auroc"),
                "AUPRC": metrics.get("auprc"),
                "samples": run.summary.get("samples") or run.summary.get("predictions"),
            }
        )
    return pd.DataFrame(rows)


def render_runs_page() -> None:
    """Draw the Runs page."""
    sidebar()
    st.title("Runs")
    st.write(
        "Every run in the workspace, whether it was started here or on the command line. "
        "Pick one to see its results and download its files."
    )
    active = any(j.status in ("queued", "running") for j in job_store().list(limit=50))
    with st.expander("Jobs started from this GUI", expanded=active):
        store = job_store()
        parallel = st.number_input(
            "Jobs run at the same time",
            value=int(kept_value("runs.parallel", store.parallel)),
            min_value=1,
            max_value=16,
            step=1,
            key="runs.parallel",
            help="Queued jobs start in order, this many at a time.",
        )
        remember("runs.parallel")
        if parallel != store.parallel:
            store.parallel = int(parallel)
        jobs_panel(None, limit=10, compact=True)
    runs = find_runs(workspace())
    if not runs:
        st.info("No runs yet. Start with the Preprocess page.")
        return
    stages = sorted({r.stage for r in runs})
    chosen = st.multiselect("Stages", stages, default=stages, key="runs.stages")
    shown = [r for r in runs if r.stage in chosen]
    table = runs_table(shown)
    if any(r.status == "interrupted" for r in shown):
        st.caption(
            "interrupted: the run's process ended before the run finished (killed, or "
            "the machine stopped). Start it again with the same name to replace it."
        )
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "accuracy": st.column_config.NumberColumn(format="%.3f"),
            "AUROC": st.column_config.NumberColumn(format="%.3f"),
            "AUPRC": st.column_config.NumberColumn(format="%.3f"),
        },
        key="runs.table",
    )
    names = [relative(r.dir) for r in shown]
    if not names:
        return
    selected = st.session_state.pop(SELECTED, None)
    if selected is not None and relative(selected) in names:
        st.session_state["runs.pick"] = relative(selected)
    if st.session_state.get("runs.pick") not in names:
        st.session_state["runs.pick"] = names[0]
    pick = st.selectbox("Show the results of", names, key="runs.pick")
    st.divider()
    show_run(workspace() / pick if not pick.startswith("/") else pick)
