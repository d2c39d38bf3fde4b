"""Run folders: their layout, creation, status, log file, saved parameters, the
cross-run table, and reading them back.

Every stage runs inside :func:`run_folder`, which

- creates ``<out>/<name>/`` and writes the complete ``parameters.yaml`` first;
- attaches a log file (``gennie.log``) to the ``gennie`` logger;
- keeps ``run.json`` with the status: ``running``, then ``complete``, ``failed`` or
  ``cancelled``;
- on a user error removes the folder again (nothing half-written stays behind);
- on success appends one row to ``<out>/<stage>_parameters.tsv``, the table that
  compares all runs of a stage in one output folder.

A folder left ``running`` by a killed process, or ``failed`` or ``cancelled``, is
replaced when a run with the same name starts again, so no manual cleaning is needed; a
finished run, a run whose process is still alive, and a folder that is no run are
never touched. :func:`check_run_folder` tells the same without creating anything.

A run in *resume* mode (a search whose workers share one study folder) instead joins
an existing run folder of its stage with the same name and keeps its files.

The names of the files the stages write into their run folders are declared here
(``*_FILE`` and ``*_DIR``), and :func:`read_run` / :func:`find_runs` read run folders
back as :class:`RunFolder` s.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import socket
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from gennie.config import StageConfig, config_to_dict, dump_config, read_yaml
from gennie.errors import UserError

log = logging.getLogger("gennie")

# --------------------------------------------------------------------------- layout

RUN_FILE = "run.json"
"""Status of the run (stage, status, times, summary, error)."""
LOG_FILE = "gennie.log"
"""The run's log."""
PARAMETERS_FILE = "parameters.yaml"
"""The complete configuration; ``gennie run`` repeats the run from it."""

EPOCHS_FILE = "metrics.tsv"
"""train: one row per epoch (training and validation loss and metrics)."""
MODEL_DIR = "model"
"""train: the model bundle."""
EVALUATION_DIR = "evaluation"
"""train: the test-split evaluation (the files of an evaluate run)."""
ARCHITECTURE_FILE = "architecture.txt"
"""train: the layer table."""
ARCHITECTURE_PICTURE = "architecture.png"
"""train: the architecture diagram."""
TENSORBOARD_DIR = "tensorboard"
"""train: TensorBoard event files."""

METRICS_FILE = "metrics.json"
"""evaluate (and train's evaluation folder): overall and per-class metrics."""
ROC_FILE = "roc_curve.tsv"
"""evaluate: ROC curve points per class."""
PR_FILE = "pr_curve.tsv"
"""evaluate: precision-recall curve points per class."""
CONFUSION_FILE = "confusion_matrix.tsv"
"""evaluate: the confusion matrix (rows: true class)."""
PREDICTIONS_FILE = "predictions.tsv"
"""evaluate and predict: one row per input with the class probabilities."""
ATTRIBUTIONS_FILE = "attributions.tsv"
"""evaluate and predict with attributions: the attribution table."""
REPORT_FILE = "report.html"
"""evaluate and predict with attributions: the top inputs per class, coloured."""
LOGOS_DIR = "logos"
"""Sequence logos (attributions; the filters of ``interpret motifs``)."""

TRIALS_FILE = "trials.tsv"
"""tune: one row per trial."""
BEST_CONFIG_FILE = "best_config.yaml"
"""tune: the best trial's train configuration."""
PLOTS_DIR = "plots"
"""tune: Optuna's plots."""

MOTIFS_FILE = "motifs.tsv"
"""interpret motifs: one row per filter."""
MEME_FILE = "motifs.meme"
"""interpret motifs: the filters as MEME motifs."""
ISM_FILE = "ism.tsv"
"""interpret ism: the mutagenesis table."""
ISM_PICTURE = "ism.png"
"""interpret ism: the heat map."""

CACHE_DIR = "cache"
"""Default windows cache of an output folder (``<out>/cache``), shared by its runs."""

SKIPPED_DIRS = {CACHE_DIR, "__pycache__"}
"""Folders never searched for runs or offered as inputs (besides hidden ones)."""

STATUSES = ("running", "complete", "failed", "cancelled")
"""Values of ``status`` in ``run.json``."""

REPLACEABLE = ("running", "failed", "cancelled")
"""Statuses of a run folder that a new run of the same name replaces (a ``running``
one only when its process is gone)."""


@dataclass
class Run:
    """A run in progress: its folder, configuration and the summary it will report."""

    dir: Path
    config: StageConfig
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def stage(self) -> str:
        """The stage's name."""
        return self.config.stage


def read_status(run_dir: Path) -> dict[str, Any]:
    """The ``run.json`` of a run folder (``{}`` when there is none)."""
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def require_complete(run_dir: Path, stage: str, field: str) -> Path:
    """Check that ``run_dir`` is a complete run folder of ``stage``.

    Raises:
        UserError: The folder does not exist, is of another stage, or did not finish.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(
            "folder not found",
            file=run_dir,
            field=field,
            hint=f"give the run folder that 'gennie {stage}' printed",
        )
    status = read_status(run_dir)
    if not status:
        raise UserError(
            f"not a gennie {stage} run folder (no {RUN_FILE})",
            file=run_dir,
            field=field,
            hint=f"give the run folder that 'gennie {stage}' printed",
        )
    if status.get("stage") != stage:
        raise UserError(
            f"this is a {status.get('stage')} run folder, not a {stage} one",
            file=run_dir,
            field=field,
        )
    if status.get("status") != "complete":
        raise UserError(
            f"this {stage} run did not finish (status: {status.get('status')})",
            file=run_dir,
            field=field,
            hint=f"run 'gennie {stage}' again",
        )
    return run_dir


def write_status_file(run_dir: Path, info: dict[str, Any]) -> None:
    """Replace a run folder's ``run.json`` with ``info`` atomically (readers never see
    a half-written file)."""
    tmp = Path(run_dir) / f"{RUN_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(info, indent=2, default=str))
    tmp.replace(Path(run_dir) / RUN_FILE)


def process_alive(pid: int | None) -> bool:
    """True when a process with this id exists on this machine and is not a zombie."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _still_running(info: dict[str, Any]) -> bool:
    """Whether the process of a ``running`` run folder is alive (on this machine)."""
    if info.get("status") != "running" or info.get("host") != socket.gethostname():
        return False
    pid = info.get("pid")
    return isinstance(pid, int) and pid != os.getpid() and process_alive(pid)


# --------------------------------------------------------------------------- names


def _stamped_names(stage: str) -> Iterator[str]:
    """Default run-folder names: ``<stage>_<date>-<time>``, then ``-2``, ``-3``, …"""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        yield f"{stage}_{stamp}" + (f"-{n}" if n > 1 else "")


def free_run_name(config: StageConfig, taken: set[Path] | frozenset[Path] = frozenset()) -> str:
    """The default run-folder name for ``config``: ``<stage>_<date>-<time>``, unused in
    its output folder and not among ``taken`` (folders promised to queued runs).

    Raises:
        UserError: No free name (a thousand runs in the same second).
    """
    for name in _stamped_names(config.stage):
        run_dir = Path(config.out) / name
        if not run_dir.exists() and run_dir not in taken:
            return name
    raise UserError("could not find a free run folder name", file=config.out, field="out")


def check_run_folder(
    config: StageConfig, *, name: str | None = None, resume: bool = False
) -> list[UserError]:
    """What would stop :func:`run_folder` from starting this run; nothing is created.

    Args:
        config: The stage configuration (``out`` and ``name`` are looked at).
        name: The folder name, if not ``config.name``.
        resume: Join an existing run folder of the same stage (see the module
            docstring); also accepted without it when that folder says it is resumable.

    Returns:
        The problems, each naming its field (``out`` or ``name``); empty when the run
        can start.
    """
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        return [UserError("this is a file; give a folder", file=out, field="out")]
    name = name or config.name
    if not name:
        return []
    run_dir = out / name
    if not run_dir.exists():
        return []
    info = read_status(run_dir)
    if info.get("stage") == config.stage and (resume or info.get("resumable")):
        return []
    if resume:
        return [
            UserError(
                f"this folder exists and is not a gennie {config.stage} run folder",
                file=run_dir,
                field="name",
                hint="choose another --name; gennie never deletes it",
            )
        ]
    if info.get("status") == "complete":
        return [
            UserError(
                "a finished run with this name exists already",
                file=run_dir,
                field="name",
                hint="choose another --name, or delete that folder",
            )
        ]
    if info.get("status") not in REPLACEABLE:
        return [
            UserError(
                "this folder exists and is not a gennie run folder",
                file=run_dir,
                field="name",
                hint="choose another --name; gennie never deletes it",
            )
        ]
    if _still_running(info):
        return [
            UserError(
                f"a run with this name is still running (process {info['pid']})",
                file=run_dir,
                field="name",
                hint="choose another --name, or wait until it finishes",
            )
        ]
    return []


def _open_run_dir(config: StageConfig, name: str | None, resume: bool) -> tuple[Path, bool]:
    """The run folder, created or (``resume``) joined, and whether it existed."""
    out = Path(config.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create the output folder ({exc.strerror})", file=out, field="out"
        ) from None
    problems = check_run_folder(config, name=name, resume=resume)
    if problems:
        raise problems[0]
    name = name or config.name
    if name:
        run_dir = out / name
        if run_dir.exists():
            if resume:
                return run_dir, True
            shutil.rmtree(run_dir)  # a failed or killed run: start again cleanly
        try:
            run_dir.mkdir()
        except FileExistsError:
            if not resume:
                raise
            return run_dir, True  # another worker of the same search was first
        return run_dir, False
    for candidate in _stamped_names(config.stage):
        try:
            (out / candidate).mkdir()
            return out / candidate, False
        except FileExistsError:
            continue
    raise UserError("could not find a free run folder name", file=out, field="out")


# --------------------------------------------------------------------------- running


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


@contextlib.contextmanager
def _log_file(run_dir: Path) -> Iterator[None]:
    """Send the ``gennie`` logger's records (INFO and above) to the run's log file."""
    handler = logging.FileHandler(run_dir / LOG_FILE)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    if log.level == logging.NOTSET or log.level > logging.INFO:
        log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        handler.close()


@contextlib.contextmanager
def run_folder(
    config: StageConfig, *, name: str | None = None, resume: bool = False
) -> Iterator[Run]:
    """Run a stage inside its run folder (see the module docstring).

    Args:
        config: The validated stage configuration; saved as ``parameters.yaml``.
        name: The folder name, if not ``config.name`` (default: ``<stage>_<date>-<time>``).
        resume: Join an existing run folder of this stage with this name, keeping its
            files, instead of replacing it (several workers of one search; a search
            run again). A user error then leaves the folder as it was.

    Yields:
        The :class:`Run`; put what the parameters table should show into ``run.summary``.

    Raises:
        UserError: The output folder cannot be made, or the name is taken (see
            :func:`check_run_folder`), or the stage raised one.
    """
    run_dir, resumed = _open_run_dir(config, name, resume)
    previous = read_status(run_dir) if resumed else {}
    run = Run(dir=run_dir, config=config)
    dump_config(config, run_dir / PARAMETERS_FILE)
    status: dict[str, Any] = {
        "stage": config.stage,
        "status": "running",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": _now(),
    }
    if resume:
        status["resumable"] = True
    if resumed:
        status["resumed"] = True
    write_status_file(run_dir, status)
    started = time.time()
    with _log_file(run_dir):
        log.info("gennie %s run in %s%s", config.stage, run_dir, " (resumed)" if resumed else "")
        try:
            yield run
        except UserError:
            if resumed:
                write_status_file(run_dir, previous)
            else:
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        except BaseException as exc:
            log.error("run failed:\n%s", traceback.format_exc())
            status.update(
                status="cancelled" if isinstance(exc, KeyboardInterrupt) else "failed",
                error=f"{type(exc).__name__}: {exc}",
                finished=_now(),
            )
            write_status_file(run_dir, status)
            raise
        seconds = round(time.time() - started, 1)
        run.summary.setdefault("seconds", seconds)
        status.update(status="complete", finished=_now(), seconds=seconds, summary=run.summary)
        write_status_file(run_dir, status)
        append_parameters_row(run)
        log.info("finished in %.1f s", seconds)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings → dotted column names; lists of plain values → comma-joined."""
    if isinstance(data, dict):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(data, list):
        if all(not isinstance(v, (dict, list)) for v in data):
            return {prefix: ",".join(str(v) for v in data)}
        return {prefix: json.dumps(data)}
    return {prefix: data}


def append_parameters_row(run: Run) -> Path:
    """Append the run's parameters and summary to ``<out>/<stage>_parameters.tsv``.

    Columns are the union over all runs, so runs with different options share one table.
    """
    out = Path(run.config.out)
    table = out / f"{run.stage}_parameters.tsv"
    row = {"run_dir": str(run.dir), "finished": _now()}
    row.update(_flatten(run.summary, ""))
    row.update(_flatten(config_to_dict(run.config), ""))
    with open(out / f".{run.stage}_parameters.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        frame = pd.DataFrame([row])
        if table.is_file():
            frame = pd.concat([pd.read_csv(table, sep="\t", dtype=str), frame.astype(str)])
        tmp = table.with_suffix(".tsv.tmp")
        frame.to_csv(tmp, sep="\t", index=False)
        tmp.replace(table)
    return table


@dataclass
class StageResult:
    """What a stage returns: its run folder and the summary it reported."""

    run_dir: Path
    summary: dict[str, Any]
    stage: str = ""


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class RunFolder:
    """A run folder as read back from disk.

    Attributes:
        dir: The run folder.
        info: Its ``run.json``.
    """

    dir: Path
    info: dict[str, Any]

    @property
    def stage(self) -> str:
        """The stage that made it (``preprocess``, ``train``, …)."""
        return str(self.info.get("stage", ""))

    @property
    def status(self) -> str:
        """One of :data:`STATUSES` (``?`` if unknown)."""
        return str(self.info.get("status", "?"))

    @property
    def started(self) -> str:
        """Start time (ISO), or empty."""
        return str(self.info.get("started", ""))

    @property
    def finished(self) -> str:
        """End time (ISO), or empty."""
        return str(self.info.get("finished", ""))

    @property
    def seconds(self) -> float | None:
        """How long a finished run took."""
        return self.info.get("seconds")

    @property
    def error(self) -> str | None:
        """The error of a failed or cancelled run."""
        return self.info.get("error")

    @property
    def summary(self) -> dict[str, Any]:
        """What the stage reported (``{}`` before it finished)."""
        return self.info.get("summary") or {}

    @property
    def metrics(self) -> dict[str, Any]:
        """Headline metrics (accuracy, loss, auroc, auprc) if the stage reported them."""
        return self.summary.get("metrics") or {}

    @property
    def complete(self) -> bool:
        """Whether the run finished."""
        return self.status == "complete"

    @property
    def log_file(self) -> Path:
        """The run's log."""
        return self.dir / LOG_FILE

    def path(self, *parts: str) -> Path:
        """A file or folder of the run, e.g. ``run.path(EVALUATION_DIR, METRICS_FILE)``."""
        return self.dir.joinpath(*parts)

    def has(self, *parts: str) -> bool:
        """Whether the run has this file or folder."""
        return self.path(*parts).exists()

    def parameters(self) -> dict[str, Any]:
        """The saved ``parameters.yaml`` as plain data (``{}`` if missing or unreadable)."""
        path = self.dir / PARAMETERS_FILE
        try:
            return read_yaml(path) if path.is_file() else {}
        except UserError:
            return {}

    def files(self, limit: int = 500) -> list[Path]:
        """Every file of the run (recursively; TensorBoard events and temporary files
        left out), sorted."""
        found: list[Path] = []
        for root, dirs, names in os.walk(self.dir):
            dirs[:] = sorted(d for d in dirs if d != TENSORBOARD_DIR)
            for name in sorted(names):
                if not name.endswith((".tmp", ".lock")):
                    found.append(Path(root) / name)
                if len(found) >= limit:
                    return found
        return found

    def progress(self) -> float | None:
        """How far a run is, from 0 to 1, or ``None`` when its files cannot tell.

        Training counts the rows of its epochs table against the maximum number of
        epochs, a search the rows of its trials table against the number of trials.
        """
        if self.complete:
            return 1.0
        counted = {"train": (EPOCHS_FILE, "epochs"), "tune": (TRIALS_FILE, "n_trials")}
        if self.stage not in counted:
            return None
        table, parameter = counted[self.stage]
        total = self.parameters().get(parameter)
        if not total:
            return None
        return min(1.0, _data_rows(self.dir / table) / float(total))


def _data_rows(path: Path) -> int:
    """Rows of a TSV below its header (0 when it does not exist yet)."""
    try:
        with open(path) as handle:
            return max(0, sum(1 for line in handle if line.strip()) - 1)
    except OSError:
        return 0


def read_run(path: Path) -> RunFolder | None:
    """The run folder at ``path``, or ``None`` if it is none (no readable ``run.json``
    naming a stage)."""
    info = read_status(path)
    return RunFolder(Path(path), info) if info.get("stage") else None


def find_runs(root: Path, max_depth: int = 4) -> list[RunFolder]:
    """Every run folder under ``root`` (runs do not nest), newest first.

    Args:
        root: The folder to search.
        max_depth: How many folder levels to descend.
    """
    root = Path(root)
    runs: list[RunFolder] = []
    for folder, dirs, files in os.walk(root):
        depth = len(Path(folder).relative_to(root).parts)
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")]
        if RUN_FILE in files:
            run = read_run(Path(folder))
            if run is not None:
                runs.append(run)
            dirs[:] = []
        if depth >= max_depth:
            dirs[:] = []
    runs.sort(key=lambda r: (r.started, str(r.dir)), reverse=True)
    return runs


def is_run_folder(path: Path) -> bool:
    """Whether ``path`` holds a ``run.json`` (a run folder, whatever its state)."""
    return (Path(path) / RUN_FILE).is_file()
