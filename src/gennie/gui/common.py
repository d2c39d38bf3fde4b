"""Shared pieces of the GUI pages: the workspace, the job store, the sidebar.

The workspace is the folder the GUI works in (``gennie gui --workspace DIR``, passed to
Streamlit in the ``GENNIE_WORKSPACE`` environment variable): relative paths typed in
the forms are taken from it, uploads land in it, runs are searched in it, and the job
database lives in its ``.gennie/`` folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from gennie.gui.runinfo import workspace_files
from gennie.jobs import JobStore

WORKSPACE_ENV = "GENNIE_WORKSPACE"
"""Environment variable that names the workspace (default: the working folder)."""

UPLOAD_DIR = "uploads"
"""Folder in the workspace that receives uploaded files."""


def workspace() -> Path:
    """The GUI's workspace folder (created if needed), fixed once per browser session."""
    cached = st.session_state.get("_workspace")
    if cached:
        return Path(cached)
    path = Path(os.environ.get(WORKSPACE_ENV) or os.getcwd()).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    st.session_state["_workspace"] = str(path)
    return path


def job_store() -> JobStore:
    """The job store of the workspace (cheap to create; state lives in SQLite)."""
    return JobStore(workspace())


def relative(path: Path | str) -> str:
    """A path relative to the workspace if it is inside it, else as it is."""
    path = Path(path).expanduser()
    if not path.is_absolute():
        return str(path)
    try:
        return str(path.resolve().relative_to(workspace()))
    except ValueError:
        return str(path)


def save_upload(uploaded) -> Path:
    """Save a Streamlit upload into ``<workspace>/uploads/`` and return its path."""
    folder = workspace() / UPLOAD_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(uploaded.name).name
    target.write_bytes(uploaded.getbuffer())
    return target


def sidebar() -> None:
    """The sidebar: workspace, upload of small files, the workspace's files, job counts."""
    with st.sidebar:
        st.markdown(f"**Workspace**  \n`{workspace()}`")
        st.caption(
            "Paths in the forms may be relative to the workspace, absolute, or start with ~."
        )
        with st.expander("Upload a file"):
            uploaded = st.file_uploader(
                "Small files (class files, sequences, parameters) are copied into the "
                "workspace's uploads folder.",
                key="sidebar.upload",
            )
            if uploaded is not None:
                target = save_upload(uploaded)
                st.success(f"Saved as `{relative(target)}`")
        with st.expander("Files in the workspace"):
            files = workspace_files(workspace())
            if files:
                st.code("\n".join(files[:300]), language=None)
            else:
                st.caption("No files yet.")
        st.caption("Jobs run in the background: closing or reloading the page does not stop them.")


def status_badge(status: str) -> str:
    """A short coloured label for a job or run status (Streamlit markdown)."""
    colours = {
        "queued": "gray",
        "running": "blue",
        "complete": "green",
        "failed": "red",
        "cancelled": "orange",
    }
    return f":{colours.get(status, 'gray')}-badge[{status}]"
