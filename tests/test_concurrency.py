"""Runs never destroy each other: a run's lock decides whether it lives (not a process
id that may be reused), two runs with one name cannot both start, concurrent runs
share the windows and fold caches safely, what killed runs leave behind is cleaned
up, and stale ``running`` runs show as ``interrupted`` (run folders, the Runs page,
the trials of a search).

Concurrent runs use the real console script in subprocesses; waits poll with a
deadline.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_run import random_fasta, start_gennie, wait_for
from streamlit.testing.v1 import AppTest

from gennie.config import TrainConfig
from gennie.dataset.windows_cache import WindowCache, file_lock
from gennie.errors import UserError
from gennie.processes import process_start
from gennie.runs import (
    LOCK_FILE,
    RUN_FILE,
    check_run_folder,
    find_runs,
    read_run,
    read_status,
    run_folder,
)

FASTA_A = "".join(f">a{i}\nACGTACGTACGTACGTAGCTAGGATCCA\n" for i in range(60))


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _left_running(folder: Path, **info) -> Path:
    """A run folder as a killed run of this machine leaves it: ``running``, with its
    lock file, which nobody holds."""
    folder.mkdir(parents=True, exist_ok=True)
    status = {"stage": "train", "status": "running", "host": socket.gethostname(), **info}
    (folder / RUN_FILE).write_text(json.dumps(status))
    (folder / LOCK_FILE).write_text("")
    return folder


# --------------------------------------------------------------------------- liveness


def test_a_live_run_holds_its_lock_and_a_second_one_is_refused(tmp_path):
    config = TrainConfig(out=tmp_path, name="x")
    with run_folder(config) as run:
        assert read_run(run.dir).status == "running"
        (problem,) = check_run_folder(config)
        assert problem.message == f"a run with this name is still running (process {os.getpid()})"
        with pytest.raises(UserError, match="still running"), run_folder(config):
            pass
        assert read_status(run.dir)["status"] == "running"  # untouched by the refusal
    assert read_run(tmp_path / "x").status == "complete"


def test_a_reused_process_id_is_not_taken_for_the_run(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        # The lock decides: the process with the run's id lives, but holds no lock.
        killed = _left_running(
            tmp_path / "x", pid=sleeper.pid, pid_start=process_start(sleeper.pid)
        )
        assert read_run(killed).status == "interrupted"
        assert check_run_folder(TrainConfig(out=tmp_path, name="x")) == []
        # Without a lock file (an older gennie), the id and the start time decide.
        older = _left_running(tmp_path / "y", pid=sleeper.pid, pid_start="another-boot:1")
        (older / LOCK_FILE).unlink()
        assert read_run(older).status == "interrupted"
        same = _left_running(tmp_path / "z", pid=sleeper.pid, pid_start=process_start(sleeper.pid))
        (same / LOCK_FILE).unlink()
        assert read_run(same).status == "running"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_run_of_another_machine_is_never_replaced(tmp_path):
    folder = _left_running(tmp_path / "x", pid=_dead_pid(), host="elsewhere.example")
    assert read_run(folder).status == "running"  # cannot be seen from here
    (problem,) = check_run_folder(TrainConfig(out=tmp_path, name="x"))
    assert (
        problem.message
        == "a run with this name was started on elsewhere.example and may still run there"
    )


def test_stale_runs_are_interrupted_everywhere(tmp_path):
    killed = _left_running(tmp_path / "runs" / "killed", pid=_dead_pid(), started="2026-01-02")
    (tmp_path / "runs" / "done").mkdir()
    (tmp_path / "runs" / "done" / RUN_FILE).write_text(
        json.dumps({"stage": "train", "status": "complete", "started": "2026-01-01"})
    )
    assert read_status(killed)["status"] == "running"  # the file is left as it was
    assert [(r.dir.name, r.status) for r in find_runs(tmp_path)] == [
        ("killed", "interrupted"),
        ("done", "complete"),
    ]
    with run_folder(TrainConfig(out=tmp_path / "runs", name="killed")):
        pass  # replaced
    assert read_run(killed).status == "complete"


def _runs_page() -> None:
    from gennie.gui.navigation import render_page
    from gennie.gui.pages import RUNS

    render_page(RUNS)


def test_the_runs_page_shows_a_stale_run_as_interrupted(tmp_path, monkeypatch):
    monkeypatch.setenv("GENNIE_WORKSPACE", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    _left_running(tmp_path / "runs" / "train_1", pid=_dead_pid(), started="2026-01-01T10:00:00")
    at = AppTest.from_function(_runs_page, default_timeout=60).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(zip(table["run"], table["status"], strict=True)) == [
        ("runs/train_1", "interrupted")
    ]
    assert any(c.value.startswith("interrupted: the run's process ended") for c in at.caption)


def test_a_failed_trial_of_a_dead_search_worker_is_interrupted(tmp_path):
    import optuna

    from gennie.search.study import mark_stale_trial_folders

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study()
    folders = {}
    for number, status in enumerate(("running", "complete")):
        trial = study.ask()
        folder = _left_running(tmp_path / f"trial_{number}", pid=_dead_pid())
        folder.joinpath(RUN_FILE).write_text(json.dumps({**read_status(folder), "status": status}))
        trial.set_user_attr("setup", {"run_dir": str(folder)})
        study.tell(trial, state=optuna.trial.TrialState.FAIL)  # as the heartbeat does
        folders[status] = folder
    assert mark_stale_trial_folders(study) == [folders["running"]]
    info = read_status(folders["running"])
    assert (info["status"], info["error"]) == ("interrupted", "its search worker died")
    assert read_status(folders["complete"])["status"] == "complete"


# --------------------------------------------------------------------------- two runs, one name


def test_two_runs_with_one_name_second_refused_while_the_first_lives(tmp_path):
    a = random_fasta(tmp_path / "a.fa", 30000, 40, 1)
    b = random_fasta(tmp_path / "b.fa", 30, 40, 2)
    args = ["preprocess", "--class", f"a={a}", "--class", f"b={b}", "--window", 40,
            "--branches", "seq,fold", "--jobs", 1, "--out", tmp_path / "runs",
            "--name", "p"]  # fmt: skip
    first = start_gennie(*args, cwd=tmp_path)
    try:
        wait_for(lambda: read_status(tmp_path / "runs" / "p").get("status") == "running")
        second = start_gennie(*args, cwd=tmp_path)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2, err
        assert f"a run with this name is still running (process {first.pid})" in err
        assert first.poll() is None  # the first run goes on
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert read_status(tmp_path / "runs" / "p")["status"] == "cancelled"


# --------------------------------------------------------------------------- shared caches


def test_two_preprocess_runs_with_fold_share_one_cache(tmp_path):
    a = random_fasta(tmp_path / "a.fa", 1500, 40, 3)
    b = random_fasta(tmp_path / "b.fa", 1500, 40, 4)
    out = tmp_path / "runs"
    common = ["preprocess", "--class", f"a={a}", "--class", f"b={b}", "--window", 40,
              "--branches", "seq,fold", "--jobs", 1, "--out", out, "--json"]  # fmt: skip
    runs = [start_gennie(*common, "--name", name, cwd=tmp_path) for name in ("one", "two")]
    for process in runs:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
    one, two = out / "one", out / "two"
    for name in ("seq", "fold"):
        assert np.array_equal(
            np.load(one / "branches" / f"{name}.npy"), np.load(two / "branches" / f"{name}.npy")
        )
    assert np.array_equal(np.load(one / "labels.npy"), np.load(two / "labels.npy"))
    assert pd.read_csv(one / "samples.tsv", sep="\t").equals(
        pd.read_csv(two / "samples.tsv", sep="\t")
    )
    windows = out / "cache" / "windows"
    entries = sorted(p.name for p in windows.iterdir() if not p.name.startswith("."))
    assert len(entries) == 2 and all((windows / e / "complete").is_file() for e in entries)
    assert not list(windows.rglob("*partial*"))
    table = pd.read_csv(out / "preprocess_parameters.tsv", sep="\t")
    assert sorted(Path(d).name for d in table["run_dir"]) == ["one", "two"]


def test_one_writer_per_cache_entry_the_other_waits_and_reads(tmp_path):
    cache = WindowCache(tmp_path)
    first, second = cache.entry("k"), cache.entry("k")
    inside, release = threading.Event(), threading.Event()
    built: list[bool] = []

    def writer() -> None:
        with first.writing() as build:
            built.append(build)
            np.save(first.codes_path, np.arange(4, dtype=np.uint8))
            assert first.path != first.final and not first.final.exists()  # not yet visible
            inside.set()
            release.wait(10)
            first.finish(pd.DataFrame({"x": [1]}), {"counts": {}})

    thread = threading.Thread(target=writer)
    thread.start()
    assert inside.wait(10)
    result: list[bool] = []

    def other_writer() -> None:
        with second.writing() as build:
            result.append(build)

    reader = threading.Thread(target=other_writer)
    reader.start()
    time.sleep(0.2)
    assert result == []  # waits for the writer's lock
    release.set()
    thread.join(10)
    reader.join(10)
    assert built == [True] and result == [False]
    assert second.codes().tolist() == [0, 1, 2, 3]


def test_a_failed_writer_leaves_no_entry(tmp_path):
    entry = WindowCache(tmp_path).entry("k")
    with pytest.raises(ValueError), entry.writing():
        np.save(entry.codes_path, np.zeros(3))
        raise ValueError("bad input")
    assert not entry.complete and list((tmp_path / "windows").iterdir()) == [entry.lock_path]


def test_opening_the_cache_removes_what_dead_writers_left(tmp_path):
    cache = WindowCache(tmp_path)
    windows = tmp_path / "windows"
    staged = windows / ".dead.partial-123"
    old_incomplete = windows / "old"
    complete = windows / "done"
    busy = windows / ".busy.partial-456"
    for folder in (staged, old_incomplete, complete, busy):
        folder.mkdir(parents=True)
        (folder / "codes.npy").write_text("x")
    (complete / "complete").write_text("")
    (complete / "fold-1.partial-9-ab.npy").write_text("half")
    (complete / "fold-2.npy").write_text("whole")
    with file_lock(windows / ".busy.lock"):  # a live writer of entry 'busy'
        removed = cache.clean_stale()
    assert sorted(p.name for p in removed) == [
        ".dead.partial-123",
        "fold-1.partial-9-ab.npy",
        "old",
    ]
    assert busy.is_dir() and sorted(p.name for p in complete.iterdir()) == [
        "codes.npy",
        "complete",
        "fold-2.npy",
    ]
    WindowCache(tmp_path)  # its writer is gone now: opening the cache removes it
    assert not busy.exists()


def test_the_checksum_memo_keeps_every_writers_entries(tmp_path):
    files = [tmp_path / f"{i}.txt" for i in range(8)]
    for i, path in enumerate(files):
        path.write_text(str(i))
    caches = [WindowCache(tmp_path / "cache") for _ in files]
    threads = [
        threading.Thread(target=c.checksum, args=(f,)) for c, f in zip(caches, files, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    memo = json.loads((tmp_path / "cache" / "checksums.json").read_text())
    assert len(memo) == len(files)
    assert not [p for p in (tmp_path / "cache").iterdir() if "partial" in p.name]
