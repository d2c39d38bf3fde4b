"""Background jobs: a queue of stage runs persisted in SQLite, run by a detached worker.

A job is one stage run. Submitting a job writes its validated configuration, with the
run's name filled in, as ``parameters.yaml`` into ``<workspace>/.gennie/jobs/<id>/``
and adds a ``queued`` row to ``<workspace>/.gennie/jobs.sqlite``. A worker process
(``python -m gennie.jobs WORKSPACE``), started detached so that it outlives page
reloads and even the GUI itself, takes queued jobs in order and runs each one as the
stage's command, ``gennie <command words> --config PARAMETERS --json``, in its own
process group, at most ``parallel`` at a time. The run therefore writes the very same
run folder and ``parameters.yaml`` as the command line. The one JSON object the command
prints on stdout (``run_dir`` and the summary, or a user error's ``error``, ``file``,
``line``, ``field`` and ``hint``) is kept as the job's ``result.json``; its log
(stderr) as ``output.log``.

Job states: ``queued`` → ``running`` → ``complete`` | ``failed`` | ``cancelled``.
Every change of state is one SQLite transaction that checks the state it changes:
claiming a queued job and starting its process happen in the same transaction, so a
job cancelled while queued never starts, and one cancelled afterwards has a process
to stop. Cancelling a running job sends SIGTERM to its process group (the command
ends the run ``cancelled``; SIGKILL follows after a grace period) and marks the run
folder's ``run.json`` as ``cancelled`` if the command could not.

The queue's states follow what happened on disk: a job whose process ended while no
worker watched it (the worker was killed) takes its state from the command's
``result.json`` and the run folder's ``run.json``. Run names are made unique among
the queued and running jobs when a job is queued (``<name>-2`` for a second job with
the same name), and a job does not start while another job runs in the same folder.

The GUI submits and shows jobs; this module knows nothing of Streamlit.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gennie.config import STAGES, StageConfig, dump_config
from gennie.config.search import secret_environment
from gennie.errors import UserError
from gennie.processes import (
    SIGINT_EXIT,
    SIGTERM_EXIT,
    process_alive,
    process_start,
    restore_signals,
)
from gennie.runs import (
    PARAMETERS_FILE,
    current_status,
    free_run_name,
    owner_alive,
    read_status,
    write_status_file,
)

STATE_DIR = ".gennie"
"""Folder in the workspace that holds the job database and each job's files."""

WORKER_LINGER = 30.0
"""Seconds a detached worker waits for new jobs before it exits."""

FINISHED = ("complete", "failed", "cancelled")
"""Job states that do not change any more."""

OUTPUT_FILE = "output.log"
"""A job's log (the command's stderr), in the job's folder."""

RESULT_FILE = "result.json"
"""The command's JSON answer (its stdout), in the job's folder."""

CANCELLED_CODES = (SIGINT_EXIT, SIGTERM_EXIT, -2, -15)
"""Return codes of a command stopped by Ctrl+C or SIGTERM (exit codes, or the signal
itself when it died of it)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stage TEXT NOT NULL,
    name TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    parameters TEXT NOT NULL,
    status TEXT NOT NULL,
    pid INTEGER,
    pid_start TEXT,
    returncode INTEGER,
    error TEXT,
    created TEXT NOT NULL,
    started TEXT,
    finished TEXT
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Job:
    """One row of the job table."""

    id: int
    stage: str
    name: str
    run_dir: Path
    parameters: Path
    status: str
    pid: int | None
    pid_start: str | None
    returncode: int | None
    error: str | None
    created: str
    started: str | None
    finished: str | None

    @property
    def folder(self) -> Path:
        """The job's own folder (parameters and console output)."""
        return self.parameters.parent

    @property
    def output(self) -> Path:
        """The log of the job's process (what the command wrote to stderr)."""
        return self.folder / OUTPUT_FILE

    @property
    def result_file(self) -> Path:
        """Where the command's JSON answer (its stdout) is kept."""
        return self.folder / RESULT_FILE

    @property
    def result(self) -> dict[str, Any]:
        """The command's JSON answer: ``run_dir``, ``stage`` and the summary, or a user
        error's ``error``, ``file``, ``line``, ``field`` and ``hint`` (``{}`` while it
        runs, or when it crashed)."""
        return read_result(self.result_file)

    @property
    def finished_state(self) -> bool:
        """True when the job is complete, failed or cancelled."""
        return self.status in FINISHED


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def mark_run_cancelled(run_dir: Path) -> bool:
    """Set ``status: cancelled`` in a run folder's ``run.json`` unless it finished or
    its process still runs.

    Args:
        run_dir: The run folder.

    Returns:
        True when the file was changed.
    """
    info = read_status(run_dir)
    if not info or info.get("status") in ("complete", "cancelled"):
        return False
    if info.get("status") == "running" and owner_alive(run_dir, info):
        return False
    _set_run_status(run_dir, "cancelled", error="cancelled by the user")
    return True


def _set_run_status(run_dir: Path, status: str, **extra: object) -> None:
    """Rewrite the status in a run folder's ``run.json`` (atomically)."""
    info = read_status(run_dir)
    info.update({"status": status, "finished": _now(), **extra})
    write_status_file(run_dir, info)


def read_result(path: Path) -> dict[str, Any]:
    """The one JSON object a ``--json`` command printed (``{}`` if there is none)."""
    try:
        lines = [line for line in Path(path).read_text().splitlines() if line.strip()]
        answer = json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return {}
    return answer if isinstance(answer, dict) else {}


def error_text(result: dict[str, Any]) -> str | None:
    """A user error from a command's JSON answer, as the command line shows it (where,
    what, and the hint), or ``None`` when the answer holds no error."""
    if not result.get("error"):
        return None
    error = UserError(
        str(result["error"]),
        file=result.get("file"),
        line=result.get("line"),
        record=result.get("record"),
        field=result.get("field"),
        hint=result.get("hint"),
    )
    return str(error)


def _last_line(path: Path) -> str | None:
    """The last non-empty line of a log (a crash's exception), if any."""
    try:
        lines = [line for line in Path(path).read_text(errors="replace").splitlines() if line]
    except OSError:
        return None
    return lines[-1].strip() if lines else None


class JobStore:
    """The job queue of one workspace.

    Args:
        workspace: The GUI's workspace folder; the database lives in ``.gennie/`` there.
        python: Interpreter that runs jobs and the worker (default: this one).
    """

    def __init__(self, workspace: Path, python: str | None = None) -> None:
        self.workspace = Path(workspace).expanduser().resolve()
        self.state_dir = self.workspace / STATE_DIR
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.state_dir / "jobs.sqlite"
        self.python = python or sys.executable
        with self._db() as db:
            db.executescript(_SCHEMA)
            columns = {row["name"] for row in db.execute("PRAGMA table_info(jobs)")}
            if "pid_start" not in columns:  # a queue made by an older gennie
                with contextlib.suppress(sqlite3.OperationalError):  # another did it first
                    db.execute("ALTER TABLE jobs ADD COLUMN pid_start TEXT")

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    # ------------------------------------------------------------------ reading

    @staticmethod
    def _job(row: sqlite3.Row) -> Job:
        data = dict(row)
        data["run_dir"] = Path(data["run_dir"])
        data["parameters"] = Path(data["parameters"])
        return Job(**{name: data.get(name) for name in Job.__dataclass_fields__})

    def get(self, job_id: int) -> Job:
        """One job by id.

        Raises:
            KeyError: No such job.
        """
        with self._db() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return self._job(row)

    def list(self, stage: str | None = None, limit: int | None = None) -> list[Job]:
        """Jobs, newest first, optionally of one stage only."""
        query = "SELECT * FROM jobs" + (" WHERE stage = ?" if stage else "") + " ORDER BY id DESC"
        if limit:
            query += f" LIMIT {int(limit)}"
        with self._db() as db:
            rows = db.execute(query, (stage,) if stage else ()).fetchall()
        return [self._job(r) for r in rows]

    @property
    def parallel(self) -> int:
        """How many jobs the worker runs at the same time (default 1)."""
        with self._db() as db:
            row = db.execute("SELECT value FROM settings WHERE key = 'parallel'").fetchone()
        return int(row["value"]) if row else 1

    @parallel.setter
    def parallel(self, value: int) -> None:
        self._set("parallel", str(max(1, int(value))))

    def _set(self, key: str, value: str) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))

    # ------------------------------------------------------------------ submitting

    def submit(self, config: StageConfig, start_worker: bool = True) -> Job:
        """Queue a validated configuration as a job.

        Args:
            config: The stage configuration (with absolute paths).
            start_worker: Start the worker if none is running.

        Returns:
            The new ``queued`` job; its ``run_dir`` is ``<out>/<name>``, the name being
            the configuration's or the default ``<stage>_<date>-<time>``, and not the
            folder of another queued or running job (then ``<name>-2``, …; see
            :func:`gennie.runs.free_run_name`).
        """
        with self._db() as db:
            # One transaction: a worker must never claim the job before its parameters
            # file is written and recorded, and two jobs queued at once must not be
            # given one name.
            db.execute("BEGIN IMMEDIATE")
            try:
                name = free_run_name(config, taken=self._promised(db, bool(config.name)))
                config = config.model_copy(update={"name": name})
                cursor = db.execute(
                    "INSERT INTO jobs (stage, name, run_dir, parameters, status, created) "
                    "VALUES (?, ?, ?, '', 'queued', ?)",
                    (config.stage, name, str(Path(config.out) / name), _now()),
                )
                job_id = int(cursor.lastrowid)
                folder = self.state_dir / "jobs" / str(job_id)
                folder.mkdir(parents=True, exist_ok=True)
                parameters = folder / PARAMETERS_FILE
                dump_config(config, parameters)
                db.execute("UPDATE jobs SET parameters = ? WHERE id = ?", (str(parameters), job_id))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        # Secrets (a tune storage password) are masked in the job's parameters.yaml;
        # the job gets them through the environment the worker passes on to it.
        os.environ.update(secret_environment(config))
        if start_worker:
            self.ensure_worker()
        return self.get(job_id)

    @staticmethod
    def _promised(db: sqlite3.Connection, active_only: bool) -> set[Path]:
        """Run folders promised to jobs: those of queued and running jobs (a name the
        user chose is free again once its job ended), or of every job (default names
        are never given twice)."""
        query = "SELECT run_dir FROM jobs"
        if active_only:
            query += " WHERE status IN ('queued', 'running')"
        return {Path(row["run_dir"]) for row in db.execute(query)}

    def command(self, job: Job) -> list[str]:
        """The command line that runs a job: the stage's CLI command with the job's
        parameters file and ``--json``."""
        words = STAGES[job.stage].command
        return [self.python, "-m", "gennie", *words, "--config", str(job.parameters), "--json"]

    # ------------------------------------------------------------------ cancelling

    def cancel(self, job_id: int, grace: float = 5.0) -> Job:
        """Cancel a queued or running job.

        A running job's process group gets SIGTERM, and SIGKILL if the command is still
        alive after ``grace`` seconds; its run folder is then marked ``cancelled``
        unless the command did so itself.

        Returns:
            The job after cancelling (unchanged if it had finished already).
        """
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")  # waits for a start in progress to be recorded
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                raise KeyError(job_id)
            if row["status"] in ("queued", "running"):
                db.execute(
                    "UPDATE jobs SET status = 'cancelled', finished = ?, error = ? WHERE id = ?",
                    (_now(), "cancelled by the user", job_id),
                )
            db.execute("COMMIT")
        job = self._job(row)
        if job.status == "running" and job.pid:
            _stop_group(job.pid, job.pid_start, grace)
            if job.run_dir.is_dir():
                mark_run_cancelled(job.run_dir)
        return self.get(job_id)

    # ------------------------------------------------------------------ worker

    @property
    def _lock_path(self) -> Path:
        return self.state_dir / "worker.lock"

    def worker_running(self) -> bool:
        """True when a worker holds the workspace's worker lock."""
        with open(self._lock_path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def stop_worker(self, timeout: float = 10.0) -> None:
        """Stop an idle worker (SIGTERM, then SIGKILL after ``timeout`` seconds). Running
        jobs are left alone: they run in their own process groups and are picked up as
        dead or finished by the next worker."""
        if not self.worker_running():
            return
        with self._db() as db:
            row = db.execute("SELECT value FROM settings WHERE key = 'worker_pid'").fetchone()
        if row is None:
            return
        pid = int(row["value"])
        # SIGKILL if SIGTERM did not free the worker lock in time (an idle worker holds
        # no state worth a graceful exit).
        for number in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, number)
            deadline = time.monotonic() + timeout
            while self.worker_running() and time.monotonic() < deadline:
                time.sleep(0.05)
            if not self.worker_running():
                return

    def ensure_worker(self) -> bool:
        """Start a detached worker if jobs are queued and none is running.

        Returns:
            True when a worker was started.
        """
        self.recover()
        if not any(j.status == "queued" for j in self.list()) or self.worker_running():
            return False
        log = open(self.state_dir / "worker.log", "a")  # noqa: SIM115 - handed to the child
        subprocess.Popen(
            [self.python, "-m", "gennie.jobs", str(self.workspace)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the GUI and its page reloads
            cwd=self.workspace,
        )
        log.close()
        return True

    def recover(self) -> None:
        """Settle ``running`` jobs whose process is gone and that no worker watches
        (e.g. after a reboot, or a worker that was killed): their state is read from
        disk (see :meth:`_finish`)."""
        if self.worker_running():
            return
        self._settle_orphans(set())

    def _settle_orphans(self, watched: set[int]) -> None:
        """Finish the ``running`` jobs not among ``watched`` whose process is gone."""
        for job in self.list():
            if job.status == "running" and job.id not in watched:
                if not process_alive(job.pid, job.pid_start):
                    self._finish(job, None)

    def _launch(self) -> tuple[Job, subprocess.Popen] | None:
        """Claim the oldest queued job and start its process, in one transaction (a
        cancel waits for it, then finds the process to stop). A job waits while
        ``parallel`` jobs run, or while another job runs in its run folder.

        Returns:
            The started job and its process, or ``None`` when none may start.
        """
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                active = db.execute("SELECT COUNT(*) FROM jobs WHERE status = 'running'")
                row = None
                if active.fetchone()[0] < self.parallel:
                    row = db.execute(
                        "SELECT * FROM jobs WHERE status = 'queued' AND run_dir NOT IN "
                        "(SELECT run_dir FROM jobs WHERE status = 'running') ORDER BY id LIMIT 1"
                    ).fetchone()
                if row is None:
                    db.execute("COMMIT")
                    return None
                job = self._job(row)
                try:
                    process = self._start(job)
                except OSError as exc:
                    db.execute(
                        "UPDATE jobs SET status = 'failed', error = ?, finished = ? WHERE id = ?",
                        (f"could not start: {exc}", _now(), job.id),
                    )
                    db.execute("COMMIT")
                    return None
                db.execute(
                    "UPDATE jobs SET status = 'running', started = ?, pid = ?, pid_start = ? "
                    "WHERE id = ? AND status = 'queued'",
                    (_now(), process.pid, process_start(process.pid), job.id),
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return self.get(job.id), process

    def _start(self, job: Job) -> subprocess.Popen:
        """Start a job's command in its own process group."""
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        with open(job.result_file, "wb") as answer, open(job.output, "wb") as output:
            return subprocess.Popen(
                self.command(job),
                stdin=subprocess.DEVNULL,
                stdout=answer,
                stderr=output,
                start_new_session=True,  # its own process group, so cancel stops it whole
                cwd=self.workspace,
                env=env,
                preexec_fn=restore_signals,
            )

    def _finish(self, job: Job, returncode: int | None) -> None:
        """Record how a job's process ended (unless it was cancelled meanwhile).

        Args:
            job: The job.
            returncode: The process's return code; ``None`` when no worker saw it end
                (then the state comes from the command's answer and the run folder).
        """
        job = self.get(job.id)
        run_info = current_status(job.run_dir) if job.run_dir.is_dir() else {}
        run_status = run_info.get("status")
        if job.status == "cancelled":
            if run_status in ("running", "interrupted", "failed"):
                mark_run_cancelled(job.run_dir)
            return
        status, error = _outcome(job, returncode, run_info)
        if status == "cancelled" and run_status in ("running", "interrupted", "failed"):
            mark_run_cancelled(job.run_dir)
        elif status == "failed" and run_status in ("running", "interrupted"):
            _set_run_status(job.run_dir, "failed", error=error)
        run_dir = job.result.get("run_dir") or str(job.run_dir)  # where the command says
        with self._db() as db:
            db.execute(
                "UPDATE jobs SET status = ?, returncode = ?, error = ?, finished = ?, "
                "run_dir = ? WHERE id = ? AND status = 'running'",
                (status, returncode, error, _now(), run_dir, job.id),
            )

    def work(self, poll: float = 0.5, idle_exit: float = 2.0) -> None:
        """The worker loop: run queued jobs (``parallel`` at a time) until none are left.

        Only one worker per workspace runs; a second one returns at once. Jobs left
        running by a worker that died are watched until their process ends.

        Args:
            poll: Seconds between checks of the running processes and the queue.
            idle_exit: Seconds without queued or running jobs after which it returns.
        """
        with open(self._lock_path, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            self._set("worker_pid", str(os.getpid()))
            running: dict[int, subprocess.Popen] = {}
            idle_since = time.monotonic()
            while True:
                for job_id, process in list(running.items()):
                    if process.poll() is not None:
                        self._finish(self.get(job_id), process.returncode)
                        del running[job_id]
                self._settle_orphans(set(running))
                while (started := self._launch()) is not None:
                    running[started[0].id] = started[1]
                busy = running or any(j.status == "running" for j in self.list(limit=50))
                if busy:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > idle_exit:
                    return
                time.sleep(poll)


def _outcome(job: Job, returncode: int | None, run_info: dict[str, Any]) -> tuple[str, str | None]:
    """A job's final state and error, from its return code when known, else from disk
    (the command's answer, the run folder's status)."""
    result = job.result
    run_status = run_info.get("status")
    if returncode in CANCELLED_CODES or run_status == "cancelled" or result.get("cancelled"):
        return "cancelled", "interrupted"
    if returncode == 0 and run_status in (None, "complete"):
        return "complete", None
    if returncode is None and not result.get("error"):
        if run_status == "complete" or (result.get("run_dir") and run_status is None):
            return "complete", None  # it finished while no worker watched
    error = (
        error_text(result)
        or (run_info.get("error") if run_status == "failed" else None)
        or (_last_line(job.output) if returncode is not None else None)
        or "the process ended unexpectedly"
    )
    return "failed", error


def _stop_group(pid: int, started: str | None, grace: float) -> None:
    """SIGTERM to a job's process group (the command ends its run cancelled), then
    SIGKILL to whatever is left of the group after ``grace`` seconds."""
    if not process_alive(pid, started):
        return  # gone already (and its id may be another process's by now)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)  # the group's id is the command's (new session)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not process_alive(pid, started):
            break
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the worker process: ``python -m gennie.jobs WORKSPACE [LINGER]``."""
    args = sys.argv[1:] if argv is None else argv
    restore_signals()  # stop_worker() and cancel() rely on them
    # Waiting a while for the next job saves starting a worker for each one.
    JobStore(Path(args[0])).work(idle_exit=float(args[1]) if len(args) > 1 else WORKER_LINGER)


if __name__ == "__main__":
    main()
