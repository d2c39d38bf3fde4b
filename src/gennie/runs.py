"""Run folders: creation, status, log file, saved parameters and the cross-run table.

Every stage runs inside :func:`run_folder`, which

- creates ``<out>/<name>/`` and writes the complete ``parameters.yaml`` first;
- attaches a log file (``gennie.log``) to the ``gennie`` logger;
- keeps ``run.json`` with the status: ``running``, then ``complete`` or ``failed``;
- on a user error removes the folder again (nothing half-written stays behind);
- on success appends one row to ``<out>/<stage>_parameters.tsv``, the table that
  compares all runs of a stage in one output folder.

A folder left ``running`` by a killed process, or ``failed``, is replaced when a run
with the same name starts again, so no manual cleaning is needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from gennie.config import StageConfig, config_to_dict, dump_config
from gennie.errors import UserError

log = logging.getLogger("gennie")

RUN_FILE = "run.json"
LOG_FILE = "gennie.log"
PARAMETERS_FILE = "parameters.yaml"


@dataclass
class Run:
    """A run in progress: its folder, configuration and the summary it will report."""

    dir: Path
    config: StageConfig
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def stage(self) -> str:
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
    tmp = Path(run_dir) / (RUN_FILE + ".tmp")
    tmp.write_text(json.dumps(info, indent=2, default=str))
    tmp.replace(Path(run_dir) / RUN_FILE)


def _write_status(run: Run, status: str, **extra: Any) -> None:
    info = read_status(run.dir)
    info.update({"stage": run.stage, "status": status, "pid": os.getpid(), **extra})
    write_status_file(run.dir, info)


def _new_run_dir(config: StageConfig) -> Path:
    out = Path(config.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create the output folder ({exc.strerror})", file=out, field="out"
        ) from None
    if config.name:
        run_dir = out / config.name
        if run_dir.exists():
            if read_status(run_dir).get("status") == "complete":
                raise UserError(
                    "a finished run with this name exists already",
                    file=run_dir,
                    field="name",
                    hint="choose another --name, or delete that folder",
                )
            if read_status(run_dir).get("status") not in ("running", "failed", "cancelled"):
                raise UserError(
                    "this folder exists and is not a gennie run folder",
                    file=run_dir,
                    field="name",
                    hint="choose another --name; gennie never deletes it",
                )
            shutil.rmtree(run_dir)  # a failed or killed run: start again cleanly
        run_dir.mkdir()
        return run_dir
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        run_dir = out / (f"{config.stage}_{stamp}" + (f"-{n}" if n > 1 else ""))
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            continue
    raise UserError("could not find a free run folder name", file=out, field="out")


@contextlib.contextmanager
def run_folder(config: StageConfig) -> Iterator[Run]:
    """Run a stage inside a fresh run folder (see the module docstring).

    Args:
        config: The validated stage configuration; saved as ``parameters.yaml``.

    Yields:
        The :class:`Run`; put what the parameters table should show into ``run.summary``.
    """
    run = Run(dir=_new_run_dir(config), config=config)
    dump_config(config, run.dir / PARAMETERS_FILE)
    _write_status(run, "running", started=datetime.now().isoformat(timespec="seconds"))
    handler = logging.FileHandler(run.dir / LOG_FILE)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    if log.level == logging.NOTSET or log.level > logging.INFO:
        log.setLevel(logging.INFO)
    started = time.time()
    log.info("gennie %s run in %s", config.stage, run.dir)
    try:
        yield run
    except UserError:
        log.removeHandler(handler)
        handler.close()
        shutil.rmtree(run.dir, ignore_errors=True)
        raise
    except BaseException as exc:
        log.error("run failed:\n%s", traceback.format_exc())
        status = "cancelled" if isinstance(exc, KeyboardInterrupt) else "failed"
        _write_status(
            run,
            status,
            error=f"{type(exc).__name__}: {exc}",
            finished=datetime.now().isoformat(timespec="seconds"),
        )
        log.removeHandler(handler)
        handler.close()
        raise
    else:
        seconds = round(time.time() - started, 1)
        run.summary.setdefault("seconds", seconds)
        _write_status(
            run,
            "complete",
            finished=datetime.now().isoformat(timespec="seconds"),
            seconds=seconds,
            summary=run.summary,
        )
        append_parameters_row(run)
        log.info("finished in %.1f s", seconds)
        log.removeHandler(handler)
        handler.close()


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
    row = {"run_dir": str(run.dir), "finished": datetime.now().isoformat(timespec="seconds")}
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
