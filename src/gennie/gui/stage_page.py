"""One page per stage: load earlier parameters, fill the form, check it, run it as a job.

The form is generated from the stage's configuration model (see :mod:`gennie.gui.form`),
so every option is there with the model's default, and options added to the model
appear without changes here.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from gennie.config import STAGES, read_yaml
from gennie.errors import UserError
from gennie.gui.common import job_store, relative, sidebar, workspace
from gennie.gui.fields import validate_page
from gennie.gui.form import draw_form, load_into_form, reset_form, show_messages
from gennie.gui.jobview import follow_page_switch, jobs_panel
from gennie.gui.runinfo import find_runs, read_parameters

INTRO = {
    "preprocess": "Turn one file per class (BED intervals with a genome, or FASTA "
    "sequences) into an encoded dataset split into training, validation, test and "
    "blackbox parts.",
    "train": "Train a network on a dataset made by Preprocess. The test split is "
    "evaluated with the best-validation weights when training ends.",
    "evaluate": "Measure a trained model on labelled data: a dataset's blackbox split, "
    "a labelled BED/FASTA file, or one file per class.",
    "predict": "Score new sequences or intervals with a trained model: one probability "
    "per class for every input.",
}


TITLES = {"tune": "Search", "motifs": "Motifs", "ism": "In-silico mutagenesis"}


def _load_section(stage: str) -> None:
    """'Load parameters from a previous run': a run of the workspace or an upload."""
    with st.expander("Load parameters from a previous run"):
        runs = [r for r in find_runs(workspace()) if r.stage == stage]
        if runs:
            labels = {relative(r.dir): r for r in runs}
            choice = st.selectbox(
                f"{stage} runs in the workspace",
                list(labels),
                key=f"{stage}.load.run",
                format_func=lambda k: f"{k} ({labels[k].status})",
            )

            def load_run() -> None:
                unknown = load_into_form(stage, read_parameters(labels[choice].dir))
                st.session_state[f"{stage}.load.message"] = (
                    f"Loaded the parameters of {choice}."
                    + (f" Ignored: {', '.join(unknown)}." if unknown else "")
                )

            st.button("Load this run's parameters", key=f"{stage}.load.button", on_click=load_run)
        else:
            st.caption(f"No {stage} runs in the workspace yet.")
        uploaded = st.file_uploader(
            "…or upload a parameters.yaml", type=["yaml", "yml"], key=f"{stage}.load.upload"
        )
        if uploaded is not None:

            def load_upload() -> None:
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / "parameters.yaml"
                    path.write_bytes(uploaded.getvalue())
                    try:
                        data = read_yaml(path)
                    except UserError as exc:
                        st.session_state[f"{stage}.load.message"] = f"error: {exc.message}"
                        return
                found = data.get("stage", stage)
                if found != stage:
                    st.session_state[f"{stage}.load.message"] = (
                        f"error: this file holds {found} parameters; open the {found} page"
                    )
                    return
                unknown = load_into_form(stage, data)
                st.session_state[f"{stage}.load.message"] = f"Loaded {uploaded.name}." + (
                    f" Ignored unknown fields: {', '.join(unknown)}." if unknown else ""
                )

            st.button(
                "Load the uploaded file", key=f"{stage}.load.upload_button", on_click=load_upload
            )
        message = st.session_state.pop(f"{stage}.load.message", None)
        if message:
            (st.error if message.startswith("error:") else st.success)(
                message.removeprefix("error: ")
            )


def render_stage_page(stage: str, embedded: bool = False) -> None:
    """Draw the page of a stage (form, checks, Run button, its jobs).

    Args:
        stage: A key of :data:`gennie.config.STAGES`.
        embedded: Part of a page that drew its own title and sidebar already.
    """
    follow_page_switch()
    model = STAGES[stage]
    if not embedded:
        sidebar()
        st.title(TITLES.get(stage, stage.capitalize()))
    st.write(INTRO.get(stage) or " ".join((model.__doc__ or "").split()))
    _load_section(stage)
    st.button(
        "Reset all fields to the defaults",
        key=f"{stage}.load.reset",
        on_click=reset_form,
        args=(stage,),
        help="The form is kept while you work, also across page reloads.",
    )
    values, slots = draw_form(stage)
    check = validate_page(stage, values, workspace())
    show_messages(check, slots, chromosome_hint=stage == "preprocess")
    st.divider()
    for message in check.general:
        st.error(message, icon=":material/error:")
    problems = sorted(set(check.errors) - check.missing)
    if problems:
        st.warning(f"Fix the marked field(s) to enable Run: {', '.join(problems)}")
    elif check.missing:
        st.info(f"Fill in to enable Run: {', '.join(sorted(check.missing))}")
    clicked = st.button(
        f"Run {TITLES.get(stage, stage).lower()}",
        type="primary",
        disabled=not check.ok,
        key=f"{stage}.run",
    )
    if clicked and check.config is not None:
        job = job_store().submit(check.config)
        st.toast(f"Job {job.id} started: {relative(job.run_dir)}")
    st.subheader("Jobs")
    jobs_panel(stage)
