"""One page per stage: load earlier parameters, fill the form, check it, run it as a job.

The form is generated from the stage's configuration model (see :mod:`gennie.gui.form`),
so every option is there with the model's default, and options added to the model
appear without changes here. Title and description come from the stage registry.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from gennie.config import STAGES, read_yaml
from gennie.config.options import ADVANCED_PANEL
from gennie.errors import UserError
from gennie.gui.common import job_store, relative, sidebar, workspace
from gennie.gui.fields import validate_page
from gennie.gui.form import (
    advanced_fields,
    draw_form,
    load_into_form,
    reset_form,
    show_messages,
)
from gennie.gui.jobview import jobs_panel
from gennie.gui.preview import has_preview, show_preview
from gennie.gui.variants_view import vcf_upload
from gennie.runs import PARAMETERS_FILE, find_runs


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
                unknown = load_into_form(stage, labels[choice].parameters())
                st.session_state[f"{stage}.load.message"] = (
                    f"Loaded the parameters of {choice}."
                    + (f" Ignored: {', '.join(unknown)}." if unknown else "")
                )

            st.button("Load this run's parameters", key=f"{stage}.load.button", on_click=load_run)
        else:
            st.caption(f"No {stage} runs in the workspace yet.")
        uploaded = st.file_uploader(
            f"…or upload a {PARAMETERS_FILE}", type=["yaml", "yml"], key=f"{stage}.load.upload"
        )
        if uploaded is not None:

            def load_upload() -> None:
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / PARAMETERS_FILE
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
    spec = STAGES[stage]
    if not embedded:
        sidebar()
        st.title(spec.title)
    st.write(spec.summary)
    _load_section(stage)
    if stage == "variants":  # a VCF is often on the user's machine, not the server's
        vcf_upload(stage)
    st.button(
        "Reset all fields to the defaults",
        key=f"{stage}.load.reset",
        on_click=reset_form,
        args=(stage,),
        help="The form is kept while you work, also across page reloads.",
    )
    values, slots = draw_form(stage)
    check = validate_page(stage, values, workspace())
    show_messages(stage, check, slots)
    preview = show_preview(stage, values, workspace()) if has_preview(stage) else None
    st.divider()
    if preview is not None and preview.problems and check.ok:
        st.warning("Fix the input files (see the preview) to enable Run")
    for message in check.general:
        st.error(message, icon=":material/error:")
    problems = sorted(set(check.errors) - check.missing)
    if problems:
        hidden = advanced_fields(stage, problems)
        where = f" ({', '.join(hidden)} under {ADVANCED_PANEL})" if hidden else ""
        st.warning(f"Fix the marked field(s) to enable Run: {', '.join(problems)}{where}")
    elif check.missing:
        st.info(f"Fill in to enable Run: {', '.join(sorted(check.missing))}")
    clicked = st.button(
        f"Run {spec.title.lower()}",
        type="primary",
        disabled=not check.ok or bool(preview and preview.problems),
        key=f"{stage}.run",
    )
    if clicked and check.config is not None:
        job = job_store().submit(check.config)
        st.toast(f"Job {job.id} started: {relative(job.run_dir)}")
    st.subheader("Jobs")
    jobs_panel(stage)


def render_group_page(title: str, stages: tuple[str, ...]) -> None:
    """Draw the page of a command group (e.g. Interpret): pick one of its stages, then
    its form.

    Args:
        title: The page's title.
        stages: The group's stages (keys of :data:`gennie.config.STAGES`).
    """
    sidebar()
    st.title(title)
    stage = st.radio(
        "What to compute",
        stages,
        format_func=lambda name: STAGES[name].title,
        horizontal=True,
        key=f"{title.lower()}.stage",
    )
    render_stage_page(stage, embedded=True)
