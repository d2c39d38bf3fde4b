"""Reading files for display: tables, log tails, the files of a workspace.

No Streamlit here. Run folders themselves are read with :mod:`gennie.runs`
(:func:`~gennie.runs.read_run`, :func:`~gennie.runs.find_runs`), which owns their layout.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from gennie.runs import LOG_FILE, RUN_FILE, SKIPPED_DIRS


def read_table(path: Path) -> pd.DataFrame | None:
    """A TSV written by a stage, or ``None`` while it is missing or still empty."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path, sep="\t")
    except (pd.errors.EmptyDataError, pd.errors.ParserError, OSError):
        return None
    return frame


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file (empty text if there is none)."""
    path = Path(path)
    if not path.is_file():
        return ""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 64 * 1024))
        text = handle.read().decode("utf-8", errors="replace")
    # progress bars redraw with carriage returns; keep the last state of each line
    cleaned = [line.rsplit("\r", 1)[-1] for line in text.splitlines()]
    return "\n".join([line for line in cleaned if line.strip()][-lines:])


def current_step(run_dir: Path) -> str:
    """The message of the last line of the run's ``gennie.log`` (what it is doing)."""
    last = log_tail(Path(run_dir) / LOG_FILE, 1)
    parts = last.split(": ", 1)
    return parts[1] if len(parts) == 2 else last


def workspace_files(
    workspace: Path, folders: bool = False, limit: int = 2000, max_depth: int = 4
) -> list[str]:
    """Files (or folders) in the workspace, as paths relative to it, for the browser.

    Hidden folders, caches and the insides of run folders are skipped.
    """
    workspace = Path(workspace)
    found: list[str] = []
    for root, dirs, files in os.walk(workspace):
        rel = Path(root).relative_to(workspace)
        is_run = RUN_FILE in files
        dirs[:] = sorted(
            d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".") and not is_run
        )
        if len(rel.parts) >= max_depth:
            dirs[:] = []
        if folders:
            if rel.parts:
                found.append(str(rel))
        elif not is_run:
            found += [str(rel / f) for f in sorted(files) if not f.startswith(".")]
        if len(found) >= limit:
            break
    return found[:limit]


def to_yaml(data: Any) -> str:
    """Plain data as YAML text (keys in their order)."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
