"""The job queue: SQLite store, worker, the command and its JSON answer, cancel,
persistence; the queue's states match what happened on disk (cancel races, a worker
that died, two jobs with one name)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gennie.config import STAGES, MotifsConfig, PreprocessConfig, dump_config, load_run_config
from gennie.jobs import JobStore, error_text, mark_run_cancelled, read_result
from gennie.runs import read_status

FASTA_A = "".join(f">a{i}\nACGTACGTACGTACGTACGT\n" for i in range(20))
FASTA_B = "".join(f">b{i}\nTTTTGGGGCCCCAAAATTTT\n" for i in range(20))


def _preprocess_config(workspace: Path, **extra) -> PreprocessConfig:
    (workspace / "a.fa").write_text(FASTA_A)
    (workspace / "b.fa").write_text(FASTA_B)
    return PreprocessConfig(
        classes={"a": workspace / "a.fa", "b": workspace / "b.fa"},
        window=20,
        ratio="2:1:1",
        out=workspace / "runs",
        cache=False,
        jobs=1,
        **extra,
    )


class ScriptedStore(JobStore):
    """A job store whose jobs run a given Python script instead of a gennie stage."""

    script = ""

    def command(self, job):
        return [sys.executable, "-c", self.script, str(job.run_dir)]


# A fake stage: writes a running run.json, then waits to be stopped.
SLOW = """
import json, sys, time, pathlib
run = pathlib.Path(sys.argv[1]); run.mkdir(parents=True)
(run / 'run.json').write_text(json.dumps({'stage': 'train', 'status': 'running'}))
time.sleep(60)
"""
STUBBORN = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + SLOW


def _wait(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_submit_writes_parameters_and_queues(tmp_path):
    store = JobStore(tmp_path)
    config = _preprocess_config(tmp_path)
    job = store.submit(config, start_worker=False)
    assert job.id == 1
    assert job.status == "queued"
    assert job.stage == "preprocess"
    assert job.name.startswith("preprocess_")
    assert job.run_dir == tmp_path / "runs" / job.name
    assert job.parameters == tmp_path / ".gennie" / "jobs" / "1" / "parameters.yaml"
    # the saved YAML is a complete, re-runnable configuration, with the run's name
    assert load_run_config(job.parameters) == config.model_copy(update={"name": job.name})
    assert store.command(job)[-5:] == [
        "gennie",
        "preprocess",
        "--config",
        str(job.parameters),
        "--json",
    ]
    second = store.submit(config.model_copy(update={"name": "mine"}), start_worker=False)
    assert second.name == "mine"
    assert [j.id for j in store.list()] == [2, 1]


def test_worker_runs_queued_jobs_in_order_like_the_cli(tmp_path):
    store = JobStore(tmp_path)
    first = store.submit(_preprocess_config(tmp_path, name="first"), start_worker=False)
    second = store.submit(_preprocess_config(tmp_path, name="second"), start_worker=False)
    store.work(poll=0.05, idle_exit=0.1)
    first, second = store.get(first.id), store.get(second.id)
    assert (first.status, second.status) == ("complete", "complete")
    assert (first.returncode, second.returncode) == (0, 0)
    assert first.started <= second.started  # one at a time, oldest first
    assert first.finished <= second.started
    for job in (first, second):
        assert read_status(job.run_dir)["status"] == "complete"
        assert (job.run_dir / "parameters.yaml").is_file()
        assert load_run_config(job.run_dir / "parameters.yaml").name == job.name
        assert job.result["run_dir"] == str(job.run_dir)
        assert job.result["stage"] == "preprocess" and job.result["samples"] == 40
    table = (tmp_path / "runs" / "preprocess_parameters.tsv").read_text().splitlines()
    assert len(table) == 3  # header + one row per run, as on the command line


def test_user_error_fails_the_job_with_the_message(tmp_path):
    store = JobStore(tmp_path)
    job = store.submit(_preprocess_config(tmp_path), start_worker=False)
    (tmp_path / "b.fa").unlink()  # disappears before the job starts
    store.work(poll=0.05, idle_exit=0.1)
    job = store.get(job.id)
    assert job.status == "failed"
    assert job.returncode == 2
    answer = job.result  # the CLI's JSON object, not scraped from its log
    assert {"error", "file", "line", "field", "hint"} <= set(answer)
    assert answer["file"] == str(tmp_path / "b.fa") and answer["field"].startswith("classes")
    assert job.error == error_text(answer)
    assert "b.fa" in job.error and "not found" in job.error
    assert not job.run_dir.exists()  # nothing half-written


def test_a_job_is_visible_only_once_its_parameters_are_written(tmp_path, monkeypatch):
    import gennie.jobs as jobs

    seen_while_writing: list[list] = []

    def dump_and_look(config, path):
        # What a worker polling at this moment (another connection) would find.
        seen_while_writing.append(JobStore(tmp_path).list())
        return dump_config(config, path)

    monkeypatch.setattr(jobs, "dump_config", dump_and_look)
    store = JobStore(tmp_path)
    job = store.submit(_preprocess_config(tmp_path), start_worker=False)
    assert seen_while_writing == [[]]
    assert job.parameters.is_file() and job.status == "queued"


def test_cancel_queued_job_never_starts(tmp_path):
    store = JobStore(tmp_path)
    job = store.submit(_preprocess_config(tmp_path), start_worker=False)
    assert store.cancel(job.id).status == "cancelled"
    store.work(poll=0.05, idle_exit=0.1)
    job = store.get(job.id)
    assert job.status == "cancelled"
    assert job.pid is None
    assert not job.run_dir.exists()


@pytest.mark.parametrize("script", [SLOW, STUBBORN], ids=["sigterm", "sigkill"])
def test_cancel_running_job_stops_the_process_group(tmp_path, script):
    store = ScriptedStore(tmp_path)
    store.script = script
    job = store.submit(_preprocess_config(tmp_path), start_worker=False)
    worker = threading.Thread(target=store.work, kwargs={"poll": 0.05, "idle_exit": 0.2})
    worker.start()
    _wait(lambda: read_status(job.run_dir).get("status") == "running")
    pid = store.get(job.id).pid
    assert store.get(job.id).status == "running"
    cancelled = store.cancel(job.id, grace=0.5)
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert cancelled.status == "cancelled"
    assert store.get(job.id).status == "cancelled"
    assert read_status(job.run_dir)["status"] == "cancelled"
    assert not Path(f"/proc/{pid}").exists()


def test_jobs_persist_and_dead_running_jobs_are_recovered(tmp_path):
    store = JobStore(tmp_path)
    job = store.submit(_preprocess_config(tmp_path), start_worker=False)
    with store._db() as db:  # a job left running by a worker that died with the machine
        db.execute("UPDATE jobs SET status='running', pid=999999999 WHERE id=?", (job.id,))
    reopened = JobStore(tmp_path)
    assert reopened.get(job.id).status == "running"
    reopened.parallel = 3
    assert JobStore(tmp_path).parallel == 3
    reopened.recover()
    recovered = JobStore(tmp_path).get(job.id)
    assert recovered.status == "failed"
    assert recovered.error == "the process ended unexpectedly"


def test_mark_run_cancelled_keeps_finished_runs(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"stage": "train", "status": "complete"}))
    assert mark_run_cancelled(tmp_path) is False
    assert read_status(tmp_path)["status"] == "complete"
    (tmp_path / "run.json").write_text(json.dumps({"stage": "train", "status": "running"}))
    assert mark_run_cancelled(tmp_path) is True
    assert read_status(tmp_path)["status"] == "cancelled"
    assert read_status(tmp_path)["error"] == "cancelled by the user"
    assert read_status(tmp_path)["stage"] == "train"


def test_jobs_get_default_signal_actions(tmp_path, signals_ignored):
    store = ScriptedStore(tmp_path)
    store.script = (
        "import signal, sys, pathlib\n"
        "pathlib.Path(sys.argv[1]).mkdir(parents=True)\n"
        "handlers = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))\n"
        "blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])\n"
        "ok = handlers == (signal.default_int_handler, signal.SIG_DFL) and not blocked\n"
        "sys.exit(0 if ok else 1)\n"
    )
    job = store.submit(_preprocess_config(tmp_path), start_worker=False)
    store.work(poll=0.05, idle_exit=0.1)
    assert store.get(job.id).returncode == 0


def test_detached_worker_outlives_its_starter(tmp_path, signals_ignored):
    store = JobStore(tmp_path)
    job = store.submit(_preprocess_config(tmp_path), start_worker=True)
    _wait(lambda: store.get(job.id).status == "complete", timeout=60)
    assert read_status(store.get(job.id).run_dir)["status"] == "complete"
    assert store.worker_running()  # waits a while for more jobs
    store.stop_worker()
    assert not store.worker_running()


def test_the_command_words_come_from_the_stage_registry(tmp_path):
    store = JobStore(tmp_path)
    job = store.submit(MotifsConfig(out=tmp_path / "runs"), start_worker=False)
    assert STAGES["motifs"].command == ("interpret", "motifs")
    assert store.command(job)[2:] == [
        "gennie", "interpret", "motifs", "--config", str(job.parameters), "--json",
    ]  # fmt: skip


def test_a_crash_fails_the_job_with_the_exception(tmp_path):
    store = ScriptedStore(tmp_path)
    store.script = "raise RuntimeError('a bug in a stage')"
    job = store.submit(_preprocess_config(tmp_path), start_worker=False)
    store.work(poll=0.05, idle_exit=0.1)
    job = store.get(job.id)
    assert (job.status, job.returncode, job.result) == ("failed", 1, {})
    assert job.error == "RuntimeError: a bug in a stage"


def test_read_result_and_error_text(tmp_path):
    path = tmp_path / "result.json"
    assert read_result(path) == {}
    path.write_text("not json\n")
    assert read_result(path) == {}
    answer = {"error": "bad", "file": "a.bed", "line": 3, "field": "classes.a", "hint": "fix"}
    path.write_text(json.dumps(answer) + "\n")
    assert read_result(path) == answer
    assert error_text(answer) == "a.bed, line 3; field 'classes.a': bad\n  hint: fix"
    assert error_text({"error": "bad", "field": None}) == "bad"
    assert error_text({"run_dir": "x"}) is None


# --------------------------------------------------------------------------- races


def test_a_cancel_during_the_start_stops_the_started_process(tmp_path, monkeypatch):
    store = ScriptedStore(tmp_path)
    store.script = SLOW
    job = store.submit(_preprocess_config(tmp_path), start_worker=False)
    real_start = ScriptedStore._start
    cancelling: list[threading.Thread] = []

    def start_then_cancel(self, job):
        process = real_start(self, job)
        # The user presses Cancel while the worker is still recording the start.
        canceller = threading.Thread(target=store.cancel, args=(job.id,), kwargs={"grace": 2})
        canceller.start()
        cancelling.append(canceller)
        time.sleep(0.3)  # the cancel waits for the start's transaction meanwhile
        assert canceller.is_alive()
        return process

    monkeypatch.setattr(ScriptedStore, "_start", start_then_cancel)
    started, process = store._launch()
    cancelling[0].join(20)
    assert process.wait(timeout=20) == -signal.SIGTERM  # stopped, not run to its end
    job = store.get(started.id)
    assert (job.status, job.pid) == ("cancelled", process.pid)


def test_a_cancelled_command_is_recorded_cancelled(tmp_path):
    store = ScriptedStore(tmp_path)
    store.script = "import sys; sys.exit(143)"  # what gennie exits with after SIGTERM
    job = store.submit(_preprocess_config(tmp_path), start_worker=False)
    store.work(poll=0.05, idle_exit=0.1)
    assert (store.get(job.id).status, store.get(job.id).returncode) == ("cancelled", 143)


# A stage that finishes by itself: a complete run folder and its JSON answer.
FINISHING = """
import json, sys, time, pathlib
run = pathlib.Path(sys.argv[1]); run.mkdir(parents=True)
(run / 'run.json').write_text(json.dumps({'stage': 'preprocess', 'status': 'running'}))
time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 0)
(run / 'run.json').write_text(json.dumps({'stage': 'preprocess', 'status': 'complete'}))
print(json.dumps({'run_dir': str(run), 'stage': 'preprocess', 'samples': 40}))
"""


def test_a_job_that_finished_while_its_worker_was_dead_is_complete(tmp_path):
    store = ScriptedStore(tmp_path)
    store.script = FINISHING
    job = store.submit(_preprocess_config(tmp_path), start_worker=False)
    # The worker started it, then died; the command finished on its own.
    process = store._start(job)
    with store._db() as db:
        db.execute("UPDATE jobs SET status='running', pid=? WHERE id=?", (process.pid, job.id))
    process.wait(timeout=60)
    store.recover()
    job = store.get(job.id)
    assert (job.status, job.error, job.returncode) == ("complete", None, None)
    assert job.result["samples"] == 40


def test_a_new_worker_watches_jobs_its_dead_predecessor_started(tmp_path):
    class Slow(ScriptedStore):
        def command(self, job):
            return [sys.executable, "-c", FINISHING, str(job.run_dir), "1.5"]

    store = Slow(tmp_path)
    job = store.submit(_preprocess_config(tmp_path), start_worker=False)
    process = store._start(job)
    with store._db() as db:
        db.execute("UPDATE jobs SET status='running', pid=? WHERE id=?", (process.pid, job.id))
    queued = store.submit(_preprocess_config(tmp_path, name="next"), start_worker=False)
    store.work(poll=0.05, idle_exit=0.1)  # the new worker
    process.wait(timeout=60)
    first, second = store.get(job.id), store.get(queued.id)
    assert first.status == "complete" and read_status(first.run_dir)["status"] == "complete"
    assert second.status == "complete"
    assert second.started >= first.finished  # one at a time, counting the orphan


def test_a_job_whose_process_died_with_the_run_is_failed_and_its_run_too(tmp_path):
    store = JobStore(tmp_path)
    job = store.submit(_preprocess_config(tmp_path), start_worker=False)
    job.run_dir.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (job.run_dir / "run.json").write_text(
        json.dumps({"stage": "preprocess", "status": "running", "pid": dead.pid})
    )
    with store._db() as db:
        db.execute("UPDATE jobs SET status='running', pid=? WHERE id=?", (dead.pid, job.id))
    store.recover()
    assert store.get(job.id).status == "failed"
    assert store.get(job.id).error == "the process ended unexpectedly"
    assert read_status(job.run_dir)["status"] == "failed"


def test_two_jobs_with_one_name_get_two_folders(tmp_path):
    store = JobStore(tmp_path)
    config = _preprocess_config(tmp_path, name="same")
    first = store.submit(config, start_worker=False)
    second = store.submit(config, start_worker=False)
    assert (first.name, second.name) == ("same", "same-2")
    assert load_run_config(second.parameters).name == "same-2"
    store.work(poll=0.05, idle_exit=0.1)
    for job in (store.get(first.id), store.get(second.id)):
        assert job.status == "complete"
        assert read_status(job.run_dir)["status"] == "complete"
    # once those ended, the name may be queued again (the run itself refuses it)
    third = store.submit(config, start_worker=False)
    assert third.name == "same"
    store.work(poll=0.05, idle_exit=0.1)
    third = store.get(third.id)
    assert third.status == "failed" and "a finished run with this name" in third.error


def test_submitting_at_once_never_gives_one_name_twice(tmp_path):
    config = _preprocess_config(tmp_path)
    names: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: names.append(JobStore(tmp_path).submit(config, start_worker=False).name)
        )
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(names) == 6 and len(set(names)) == 6
