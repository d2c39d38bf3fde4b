"""The live view of background jobs: status, progress, training chart, log, Cancel.

The view re-reads the job database and the run folder every few seconds (a Streamlit
fragment), so it shows the same job after a page reload, or after the GUI itself was
restarted: nothing about a job lives in the browser session.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from gennie.gui.common import job_store, relative, status_badge
from gennie.gui.pages import RUNS, go_to
from gennie.gui.results import training_chart
from gennie.gui.runinfo import current_step, log_tail, read_table
from gennie.jobs import Job
from gennie.runs import EPOCHS_FILE, TRIALS_FILE, read_run

REFRESH_SECONDS = 1.5
"""How often the job view re-reads the jobs."""

SELECTED = "runs.selected"
"""Session key of the run the Runs page is asked to show."""


def _open_run(run_dir: str) -> None:
    st.session_state[SELECTED] = run_dir
    go_to(RUNS)


def job_card(job: Job, expanded: bool = True, compact: bool = False) -> None:
    """Status, progress bar, current step, live chart, log tail and Cancel of one job.

    Args:
        job: The job.
        expanded: Open the log of a running job.
        compact: Leave out the charts of finished jobs (the Runs page shows results).
    """
    store = job_store()
    title = f"Job {job.id}: {job.stage} → {relative(job.run_dir)}"
    with st.container(border=True):
        st.markdown(f"**{title}** {status_badge(job.status)}")
        if job.status == "queued":
            st.caption("Waiting for earlier jobs to finish.")
        run = read_run(job.run_dir)
        if job.status == "running":
            fraction = run.progress() if run is not None else 0.0
            step = (current_step(job.run_dir) if run is not None else "") or "starting"
            if fraction is None:
                st.progress(0.5, text=f"Working: {step}")
            else:
                st.progress(fraction, text=f"{fraction:.0%} — {step}")
        elif job.status == "complete":
            st.progress(1.0, text="Finished")
        if job.error and job.status in ("failed", "cancelled"):
            (st.error if job.status == "failed" else st.warning)(job.error)
        if run is not None and not (compact and job.finished_state):
            _live_results(job, run.path(EPOCHS_FILE), run.path(TRIALS_FILE))
        log = log_tail(run.log_file, 12) if run is not None else ""
        if not log:
            log = log_tail(job.output, 12)
        if log:
            with st.expander("Log (last lines)", expanded=expanded and job.status == "running"):
                st.code(log, language=None)
        left, right = st.columns(2)
        if job.status in ("queued", "running"):
            if left.button("Cancel", key=f"cancel:{job.id}", type="secondary"):
                store.cancel(job.id)
                st.rerun()
        elif job.run_dir.is_dir():
            if left.button(
                "Show results",
                key=f"open:{job.id}",
                on_click=_open_run,
                args=(str(job.run_dir),),
            ):
                st.rerun(scope="app")


def _live_results(job: Job, epochs: Path, trials: Path) -> None:
    """The training chart and the trials table while they grow."""
    metrics = read_table(epochs)
    if metrics is not None and len(metrics):
        st.plotly_chart(training_chart(metrics), key=f"jobchart:{job.id}")
    table = read_table(trials)
    if table is not None:
        st.dataframe(table, hide_index=True, key=f"jobtrials:{job.id}")


def jobs_panel(stage: str | None, limit: int = 5, compact: bool = False) -> None:
    """The recent jobs of a stage (or of all stages), refreshed live."""

    @st.fragment(run_every=REFRESH_SECONDS)
    def live() -> None:
        store = job_store()
        store.ensure_worker()
        jobs = store.list(stage=stage, limit=limit)
        if not jobs:
            st.caption("No jobs yet.")
            return
        for job in jobs:
            job_card(job, expanded=job is jobs[0], compact=compact)

    live()
