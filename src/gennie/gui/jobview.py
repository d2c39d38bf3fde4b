"""The live view of background jobs: status, progress, training chart, log, Cancel.

The view re-reads the job database and the run folder every few seconds (a Streamlit
fragment), so it shows the same job after a page reload, or after the GUI itself was
restarted: nothing about a job lives in the browser session.
"""

from __future__ import annotations

import streamlit as st

from gennie.gui.common import job_store, relative, status_badge
from gennie.gui.jobs import Job
from gennie.gui.runinfo import current_step, log_tail, progress, read_parameters, read_table
from gennie.runs import LOG_FILE

REFRESH_SECONDS = 1.5
"""How often the job view re-reads the jobs."""

GOTO = "_goto_page"
"""Session key of a page a button asked to open."""


def _open_run(run_dir: str) -> None:
    st.session_state["runs.selected"] = run_dir
    st.session_state[GOTO] = "views/runs.py"


def follow_page_switch() -> None:
    """Switch page if a job card asked for it. Called outside the live fragment: a page
    switch from inside a fragment that re-runs on a timer can leave the page blank."""
    target = st.session_state.pop(GOTO, None)
    if target:
        st.switch_page(target)


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
        parameters = read_parameters(job.run_dir) if job.run_dir.is_dir() else {}
        if job.status == "running":
            fraction = progress(job.stage, job.run_dir, parameters)
            step = (current_step(job.run_dir) if job.run_dir.is_dir() else "") or "starting"
            if fraction is None:
                st.progress(0.5, text=f"Working: {step}")
            else:
                st.progress(fraction, text=f"{fraction:.0%} — {step}")
        elif job.status == "complete":
            st.progress(1.0, text="Finished")
        if job.error and job.status in ("failed", "cancelled"):
            (st.error if job.status == "failed" else st.warning)(job.error)
        charts = not (compact and job.finished_state)
        if charts and job.stage == "train" and job.run_dir.is_dir():
            metrics = read_table(job.run_dir / "metrics.tsv")
            if metrics is not None and len(metrics):
                from gennie.gui.results import training_chart

                st.plotly_chart(training_chart(metrics), key=f"jobchart:{job.id}")
        if charts and job.stage == "tune" and job.run_dir.is_dir():
            trials = read_table(job.run_dir / "trials.tsv")
            if trials is not None:
                st.dataframe(trials, hide_index=True, key=f"jobtrials:{job.id}")
        log = log_tail(job.run_dir / LOG_FILE, 12) if job.run_dir.is_dir() else ""
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
