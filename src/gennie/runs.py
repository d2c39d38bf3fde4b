"""Run folders: their layout, creation, status, log file, saved parameters, the
cross-run table, and reading them back.

Every stage runs inside :func:`run_folder`, which

- creates ``<out>/<name>/`` with the complete ``parameters.yaml`` and ``run.json``
  in it (made under a temporary name and renamed, so the folder never shows without
  them);
- holds a lock (``flock`` on ``.run.lock`` in the folder) for the run's whole life:
  a run is alive exactly while its lock is held, whatever became of its process id;
- attaches a log file (``gennie.log``) to the ``gennie`` logger;
- keeps ``run.json`` with the status: ``running``, then ``complete``, ``failed`` or
  ``cancelled`` (Ctrl+C, SIGTERM);
- on a user error removes the folder again (nothing half-written stays behind); so
  it does when writing fails because the disk is full or the folder is not writable,
  which becomes a user error naming the path;
- on success appends one row to ``<out>/<stage>_parameters.tsv``, the table that
  compares all runs of a stage in one output folder.

A folder left ``running`` by a process that was killed (its lock is free) reads as
``interrupted`` (:func:`read_run`, :func:`find_runs`, :func:`require_complete`). An
interrupted, failed or cancelled folder is replaced when a run with the same name
starts again, so no manual cleaning is needed; a finished run, a live run, and a
folder that is no run are never touched. A run of another machine (``host`` in
``run.json``) cannot be seen from here: it counts as live. :func:`check_run_folder`
tells the same without creating anything.

A run in *resume* mode (a search whose workers share one study folder) instead joins
an existing run folder of its stage with the same name and keeps its files; its
processes share the lock.

The names of the files the stages write into their run folders are declared here
(``*_FILE`` and ``*_DIR``), and :func:`read_run` / :func:`find_runs` read run folders
back as :class:`RunFolder` s.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
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
from gennie.processes import Terminated, limit_threads, process_alive, process_start
from gennie.progress import PROGRESS_FILE, read_progress, report_to

log = logging.getLogger("gennie")

# --------------------------------------------------------------------------- layout

RUN_FILE = "run.json"
"""Status of the run (stage, status, times, summary, error)."""
LOG_FILE = "gennie.log"
"""The run's log."""
PARAMETERS_FILE = "parameters.yaml"
"""The complete configuration; ``gennie run`` repeats the run from it."""
LOCK_FILE = ".run.lock"
"""Locked (``flock``) by the run's processes for as long as the run lives."""

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
VARIANTS_FILE = "variants.tsv"
"""variants: one row per allele and strand with its effects (or why it was not scored)."""
VARIANTS_VCF = "variants.vcf.gz"
"""variants: the input VCF annotated with the effects (bgzipped, with a tabix index)."""
EFFECTS_PICTURE = "effects.png"
"""variants: the distribution of effects."""

CACHE_DIR = "cache"
"""Default windows cache of an output folder (``<out>/cache``), shared by its runs."""

SKIPPED_DIRS = {CACHE_DIR, "__pycache__"}
"""Folders never searched for runs or offered as inputs (besides hidden ones)."""

STATUSES = ("running", "complete", "failed", "cancelled", "interrupted")
"""Statuses of a run: those of ``run.json``, and ``interrupted`` for a folder left
``running`` by a process that is gone."""

REPLACEABLE = ("running", "failed", "cancelled", "interrupted")
"""Statuses of a run folder that a new run of the same name replaces (a ``running``
one only when its process is gone)."""

WRITE_ERRORS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT)
"""Errors of writing that a user can fix (permissions, read-only or full disks):
inside a run they become user errors (see :func:`storage_error`)."""


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
        UserError: The folder does not exist, is of another stage, or did not finish
            (still running, interrupted, failed or cancelled).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(
            "folder not found",
            file=run_dir,
            field=field,
            hint=f"give the run folder that 'gennie {stage}' printed",
        )
    status = current_status(run_dir)
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
    if status.get("status") == "interrupted":
        raise UserError(
            f"this {stage} run was interrupted: its process ended before the run finished",
            file=run_dir,
            field=field,
            hint=f"run 'gennie {stage}' again (the same --name replaces this folder)",
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
    tmp = Path(run_dir) / f"{RUN_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        tmp.write_text(json.dumps(info, indent=2, default=str))
        tmp.replace(Path(run_dir) / RUN_FILE)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- liveness


def lock_held(run_dir: Path) -> bool | None:
    """Whether a process holds the run folder's lock (the run lives); ``None`` when
    the folder has no lock file (made by an older gennie, or not a run)."""
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)  # also releases the lock just taken
    return False


def owner_alive(run_dir: Path, info: dict[str, Any]) -> bool | None:
    """Whether the process of a ``running`` run lives.

    On this machine the run's lock tells (robust against reused process ids); a folder
    without a lock file falls back to the process id and its start time. A run of
    another machine, or one whose ``run.json`` names no machine, cannot be seen from
    here: ``None``.
    """
    host = info.get("host")
    if not host or host != socket.gethostname():
        return None
    held = lock_held(run_dir)
    if held is not None:
        return held
    pid = info.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False  # this process holds the locks of its own runs
    return process_alive(pid, info.get("pid_start"))


def current_status(run_dir: Path) -> dict[str, Any]:
    """The ``run.json`` of a run folder, with ``status: interrupted`` when it says
    ``running`` but its process is gone (see :func:`owner_alive`); ``{}`` when there
    is none."""
    info = read_status(run_dir)
    if info.get("status") != "running" or owner_alive(run_dir, info) is not False:
        return info
    fresh = read_status(run_dir)  # it may have finished between the two looks
    if fresh.get("status") != "running":
        return fresh
    return {**fresh, "status": "interrupted"}


def mark_interrupted(run_dir: Path, reason: str = "its process ended unexpectedly") -> bool:
    """Write ``status: interrupted`` into the ``run.json`` of a run left ``running``
    whose process is not seen alive (gone, or of another machine that a heartbeat
    declared dead).

    Returns:
        True when the file was changed.
    """
    info = read_status(run_dir)
    if info.get("status") != "running" or owner_alive(run_dir, info):
        return False
    info.update(status="interrupted", error=reason, finished=_now())
    with contextlib.suppress(OSError):
        write_status_file(run_dir, info)
        return True
    return False


# --------------------------------------------------------------------------- names


def _stamped_names(stage: str) -> Iterator[str]:
    """Default run-folder names: ``<stage>_<date>-<time>``, then ``-2``, ``-3``, …"""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        yield f"{stage}_{stamp}" + (f"-{n}" if n > 1 else "")


def free_run_name(config: StageConfig, taken: set[Path] | frozenset[Path] = frozenset()) -> str:
    """A run-folder name for ``config`` that no other run is promised.

    Without ``config.name``: ``<stage>_<date>-<time>``, unused in its output folder
    and not among ``taken`` (folders promised to queued runs). With it: that name,
    unless it is among ``taken``; then ``<name>-2``, ``<name>-3``, … (unused too).

    Raises:
        UserError: No free name (a thousand runs in the same second).
    """
    if config.name:
        first = Path(config.out) / config.name
        if first not in taken:
            return config.name
        names: Iterator[str] = (f"{config.name}-{n}" for n in range(2, 1000))
    else:
        names = _stamped_names(config.stage)
    for name in names:
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
    return _live_run_problems(run_dir, info)


def _live_run_problems(run_dir: Path, info: dict[str, Any]) -> list[UserError]:
    """A ``running`` folder may be replaced only when its process is gone."""
    if info.get("status") != "running":
        return []
    alive = owner_alive(run_dir, info)
    if alive:
        return [
            UserError(
                f"a run with this name is still running (process {info.get('pid')})",
                file=run_dir,
                field="name",
                hint="choose another --name, or wait until it finishes",
            )
        ]
    if alive is None and info.get("host"):
        return [
            UserError(
                f"a run with this name was started on {info['host']} and may still run there",
                file=run_dir,
                field="name",
                hint="choose another --name, or delete that folder if it no longer runs",
            )
        ]
    return []


# --------------------------------------------------------------------------- creating


class RunLock:
    """The lock a run holds on its folder's ``.run.lock`` for its whole life.

    Args:
        path: The lock file (created when missing).
        shared: Share it with the other processes of a resumable run (a search's
            workers), instead of holding it alone.
    """

    def __init__(self, path: Path, shared: bool = False) -> None:
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Let go of the lock (the run ended)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def storage_error(exc: OSError, where: Path) -> UserError:
    """A user error for an OSError of writing (see :data:`WRITE_ERRORS`): what happened,
    the path, and what to do.

    Args:
        exc: The error.
        where: The path to name when the error names none (the run folder).
    """
    path = exc.filename or where
    reason = exc.strerror or os.strerror(exc.errno or 0)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return UserError(
            f"cannot write: {reason}",
            file=path,
            field="out",
            hint="free some space on that disk, or give --out (and a cache folder) on "
            "another disk, then run again",
        )
    if exc.errno == errno.EROFS:
        return UserError(
            f"cannot write: {reason}",
            file=path,
            field="out",
            hint="give an --out folder on a writable disk, then run again",
        )
    return UserError(
        f"cannot read or write: {reason}",
        file=path,
        field="out",
        hint="check the permissions of this file or folder: inputs must be readable, "
        "the --out folder (and a cache folder) writable",
    )


def _make_folder(
    out: Path, status: dict[str, Any], config: StageConfig, shared: bool
) -> tuple[Path, RunLock]:
    """A new run folder under a temporary name in ``out``: parameters, status and the
    held lock in it, ready to be renamed into place."""
    staged = out / f".{config.stage}.new-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        staged.mkdir()
        lock = RunLock(staged / LOCK_FILE, shared=shared)
    except OSError as exc:
        shutil.rmtree(staged, ignore_errors=True)
        if exc.errno in WRITE_ERRORS:
            raise UserError(
                f"cannot create the run folder ({exc.strerror})",
                file=out,
                field="out",
                hint="choose an --out folder you may write to",
            ) from None
        raise
    try:
        dump_config(config, staged / PARAMETERS_FILE)
        write_status_file(staged, status)
    except BaseException as exc:
        lock.release()
        shutil.rmtree(staged, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in WRITE_ERRORS:
            raise storage_error(exc, out) from None
        raise
    return staged, lock


def _discard(run_dir: Path) -> None:
    """Remove a replaceable run folder, unless its run came back to life or another
    run took it over meanwhile (its lock tells)."""
    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        fd = None  # made by an older gennie: nothing to lock
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserError(
                    "a run with this name has just started",
                    file=run_dir,
                    field="name",
                    hint="choose another --name, or wait until it finishes",
                ) from None
        trash = run_dir.parent / f".{run_dir.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            run_dir.rename(trash)
        except FileNotFoundError:
            return  # another run removed it first
    finally:
        if fd is not None:
            os.close(fd)
    shutil.rmtree(trash, ignore_errors=True)


def _open_run_dir(
    config: StageConfig, name: str | None, resume: bool, status: dict[str, Any]
) -> tuple[Path, bool, RunLock]:
    """The run folder, created or (``resume``) joined, whether it existed, and its lock."""
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
    if name and resume and (out / name).is_dir():
        return out / name, True, RunLock(out / name / LOCK_FILE, shared=True)
    staged, lock = _make_folder(out, status, config, shared=resume)
    candidates = [name] if name else list(_stamped_names(config.stage))
    for candidate in candidates:
        run_dir = out / candidate
        if name and run_dir.exists() and not resume:
            _discard(run_dir)  # a failed or killed run: start again cleanly
        try:
            staged.rename(run_dir)
            return run_dir, False, lock
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                raise
    lock.release()
    shutil.rmtree(staged, ignore_errors=True)
    if name and resume:  # another worker of the same search was first
        return out / name, True, RunLock(out / name / LOCK_FILE, shared=True)
    if name:
        raise UserError(
            "a run with this name has just started",
            file=out / name,
            field="name",
            hint="choose another --name, or wait until it finishes",
        )
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
            :func:`check_run_folder`), or the stage raised one, or writing failed
            for a reason the user can fix (see :data:`WRITE_ERRORS`).
        KeyboardInterrupt: Ctrl+C, or SIGTERM (:class:`~gennie.processes.Terminated`);
            the run is marked ``cancelled``.
    """
    status: dict[str, Any] = {
        "stage": config.stage,
        "status": "running",
        "pid": os.getpid(),
        "pid_start": process_start(),
        "host": socket.gethostname(),
        "started": _now(),
    }
    if resume:
        status["resumable"] = True
    run_dir, resumed, lock = _open_run_dir(config, name, resume, status)
    try:
        previous = read_status(run_dir) if resumed else {}
        if resumed:
            status["resumed"] = True
            dump_config(config, run_dir / PARAMETERS_FILE)
            write_status_file(run_dir, status)
        run = Run(dir=run_dir, config=config)
        ending = _ending(run, status, previous if resumed else None)
        with _log_file(run_dir), report_to(run_dir), limit_threads(config.threads), ending:
            yield run
    finally:
        lock.release()


@contextlib.contextmanager
def _ending(run: Run, status: dict[str, Any], previous: dict[str, Any] | None) -> Iterator[None]:
    """How a run ends: ``complete`` and its row in the parameters table; ``cancelled``
    (Ctrl+C, SIGTERM); ``failed`` (a bug, with its traceback in the log); or, on a user
    error, the folder removed (a resumed run: its status restored)."""
    started = time.time()
    log.info(
        "gennie %s run in %s%s", run.stage, run.dir, " (resumed)" if previous is not None else ""
    )
    try:
        yield
        seconds = round(time.time() - started, 1)
        run.summary.setdefault("seconds", seconds)
        status.update(status="complete", finished=_now(), seconds=seconds, summary=run.summary)
        write_status_file(run.dir, status)
        append_parameters_row(run)
        with contextlib.suppress(OSError):
            (run.dir / PROGRESS_FILE).unlink(missing_ok=True)
    except (UserError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno not in WRITE_ERRORS:
            _finished(run.dir, status, "failed", exc, traceback.format_exc())
            raise
        user_error = exc if isinstance(exc, UserError) else storage_error(exc, run.dir)
        if previous is not None:
            with contextlib.suppress(OSError):
                write_status_file(run.dir, previous)
        else:
            shutil.rmtree(run.dir, ignore_errors=True)
        if user_error is exc:
            raise
        raise user_error from None
    except KeyboardInterrupt as exc:
        how = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl+C"
        _finished(run.dir, status, "cancelled", exc, f"run cancelled ({how})")
        raise
    except BaseException as exc:
        _finished(run.dir, status, "failed", exc, traceback.format_exc())
        raise
    log.info("finished in %.1f s", seconds)


def _finished(
    run_dir: Path, status: dict[str, Any], state: str, exc: BaseException, message: str
) -> None:
    """Record a run that ended early (``failed`` or ``cancelled``) in its log and status."""
    if state == "cancelled":
        log.warning(message)
    else:
        log.error("run failed:\n%s", message)
    status.update(status=state, error=f"{type(exc).__name__}: {exc}", finished=_now())
    with contextlib.suppress(OSError):
        write_status_file(run_dir, status)


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
    """What a stage returns: its run folder, the summary it reported and, for people,
    a few lines saying what it made (printed by the CLI)."""

    run_dir: Path
    summary: dict[str, Any]
    stage: str = ""
    message: str = ""


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
        """One of :data:`STATUSES` (``?`` if unknown); ``interrupted`` for a run left
        ``running`` by a process that is gone."""
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
                if not name.endswith((".tmp", ".lock")) and name != LOCK_FILE:
                    found.append(Path(root) / name)
                if len(found) >= limit:
                    return found
        return found

    def progress(self) -> float | None:
        """How far a run is, from 0 to 1, or ``None`` when its files cannot tell.

        Training counts the rows of its epochs table against the maximum number of
        epochs, a search the rows of its trials table against the number of trials;
        the other stages report the step they are in (:mod:`gennie.progress`): its
        share done.
        """
        if self.complete:
            return 1.0
        counted = {"train": (EPOCHS_FILE, "epochs"), "tune": (TRIALS_FILE, "n_trials")}
        if self.stage not in counted:
            step = read_progress(self.dir)
            if step is None or not step.get("total"):
                return None
            return min(1.0, float(step["done"]) / float(step["total"]))
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
    naming a stage). Its status is the current one (see :func:`current_status`)."""
    info = current_status(path)
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
