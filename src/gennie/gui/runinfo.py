"""What the GUI reads from run folders: the runs of a workspace, progress, log tails.

No Streamlit here: these functions only read files that the stages write
(``run.json``, ``parameters.yaml``, ``gennie.log``, ``metrics.tsv``, ``trials.tsv``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from gennie.runs import LOG_FILE, PARAMETERS_FILE, read_status

SKIP_DIRS = {".gennie", ".git", "cache", "tensorboard", "model", "branches", "__pycache__"}
"""Folders never searched for runs."""


@dataclass
class RunInfo:
    """A run folder found in the workspace.

    Attributes:
        dir: The run folder.
        stage: Its stage (``preprocess``, ``train``, ..., ``interpret``, ``tune``).
        status: ``running``, ``complete``, ``failed`` or ``cancelled``.
        started: Start time (ISO), if known.
        summary: The summary the stage reported (``run.json``).
        error: The error of a failed run, if any.
    """

    dir: Path
    stage: str
    status: str
    started: str
    summary: dict[str, Any]
    error: str | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        """Headline metrics (accuracy, loss, auroc, auprc) if the stage reported them."""
        return self.summary.get("metrics") or {}


def find_runs(workspace: Path, max_depth: int = 4) -> list[RunInfo]:
    """Every run folder (a folder with ``run.json``) under the workspace, newest first.

    Args:
        workspace: The folder to search.
        max_depth: How many folder levels to descend.
    """
    workspace = Path(workspace)
    runs: list[RunInfo] = []
    for root, dirs, files in os.walk(workspace):
        depth = len(Path(root).relative_to(workspace).parts)
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        if "run.json" in files:
            info = read_status(Path(root))
            if info.get("stage"):
                runs.append(
                    RunInfo(
                        dir=Path(root),
                        stage=str(info.get("stage")),
                        status=str(info.get("status", "?")),
                        started=str(info.get("started", "")),
                        summary=info.get("summary") or {},
                        error=info.get("error"),
                    )
                )
            dirs[:] = []  # runs do not nest
        if depth >= max_depth:
            dirs[:] = []
    runs.sort(key=lambda r: (r.started, str(r.dir)), reverse=True)
    return runs


def read_parameters(run_dir: Path) -> dict[str, Any]:
    """A run's ``parameters.yaml`` as plain data (``{}`` if missing or unreadable)."""
    from gennie.config import read_yaml
    from gennie.errors import UserError

    path = Path(run_dir) / PARAMETERS_FILE
    try:
        return read_yaml(path) if path.is_file() else {}
    except UserError:
        return {}


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


def progress(stage: str, run_dir: Path, parameters: dict[str, Any]) -> float | None:
    """How far a running stage is, from 0 to 1, or ``None`` when it cannot tell.

    Training counts the rows of ``metrics.tsv`` against the maximum number of epochs;
    a search counts the rows of ``trials.tsv`` against the number of trials.
    """
    run_dir = Path(run_dir)
    if stage == "train":
        table = read_table(run_dir / "metrics.tsv")
        epochs = parameters.get("epochs")
        if table is not None and epochs:
            return min(1.0, len(table) / float(epochs))
        return 0.0
    if stage == "tune":
        table = read_table(run_dir / "trials.tsv")
        trials = parameters.get("n_trials")
        if not trials:
            return None
        return min(1.0, len(table) / float(trials)) if table is not None else 0.0
    return None


def files_of(run_dir: Path, limit: int = 500) -> list[Path]:
    """Every file in a run folder (recursively, TensorBoard event files excluded)."""
    found: list[Path] = []
    for root, dirs, files in os.walk(run_dir):
        dirs[:] = sorted(d for d in dirs if d != "tensorboard")
        for name in sorted(files):
            if not name.endswith((".tmp", ".lock")):
                found.append(Path(root) / name)
            if len(found) >= limit:
                return found
    return found


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
        is_run = "run.json" in files
        dirs[:] = sorted(
            d for d in dirs if d not in SKIP_DIRS and not d.startswith(".") and not is_run
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
