"""Run folders: creation, the name rule, resume mode, how runs end (complete,
cancelled, failed, a user error, a full disk), and reading them back (interrupted
runs)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gennie.config import PreprocessConfig, TrainConfig, TuneConfig
from gennie.errors import UserError
from gennie.runs import (
    EPOCHS_FILE,
    LOG_FILE,
    PARAMETERS_FILE,
    RUN_FILE,
    TRIALS_FILE,
    check_run_folder,
    find_runs,
    free_run_name,
    mark_interrupted,
    read_run,
    read_status,
    require_complete,
    run_folder,
)


def _status(folder: Path, **info) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUN_FILE).write_text(json.dumps(info))
    return folder


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# --------------------------------------------------------------------------- creating


def test_a_run_writes_parameters_status_log_and_the_table(tmp_path):
    config = TrainConfig(out=tmp_path, name="one", epochs=3)
    with run_folder(config) as run:
        assert read_status(run.dir)["status"] == "running"
        run.summary["samples"] = 12
    info = read_status(tmp_path / "one")
    assert (info["stage"], info["status"], info["summary"]["samples"]) == ("train", "complete", 12)
    assert info["pid"] == os.getpid() and info["host"] == socket.gethostname()
    assert "resumable" not in info
    assert yaml.safe_load((tmp_path / "one" / PARAMETERS_FILE).read_text())["epochs"] == 3
    assert "gennie train run in" in (tmp_path / "one" / LOG_FILE).read_text()
    table = (tmp_path / "train_parameters.tsv").read_text().splitlines()
    assert len(table) == 2 and "samples" in table[0]


def test_default_names_are_stamped_and_free(tmp_path):
    config = TrainConfig(out=tmp_path)
    first = free_run_name(config)
    assert first.startswith("train_") and len(first) == len("train_20260101-101010")
    assert free_run_name(config, taken={tmp_path / first}) == f"{first}-2"
    with run_folder(config) as run:
        pass
    assert run.dir.parent == tmp_path and run.dir.name.startswith("train_")


def test_a_user_error_removes_the_new_folder(tmp_path):
    with pytest.raises(UserError), run_folder(TrainConfig(out=tmp_path, name="x")):
        raise UserError("bad input", field="dataset")
    assert not (tmp_path / "x").exists()


def test_a_crash_marks_the_run_failed(tmp_path):
    with pytest.raises(ZeroDivisionError), run_folder(TrainConfig(out=tmp_path, name="x")):
        1 / 0  # noqa: B018
    info = read_status(tmp_path / "x")
    assert info["status"] == "failed" and info["error"] == "ZeroDivisionError: division by zero"


# --------------------------------------------------------------------------- the name rule


def _fields(problems: list[UserError]) -> list[tuple[str | None, str]]:
    return [(p.field, p.message) for p in problems]


def test_name_rule(tmp_path):
    config = TrainConfig(out=tmp_path, name="x")
    assert check_run_folder(config) == []
    _status(tmp_path / "x", stage="train", status="complete")
    assert _fields(check_run_folder(config)) == [
        ("name", "a finished run with this name exists already")
    ]
    for status in ("failed", "cancelled"):
        _status(tmp_path / "x", stage="train", status=status)
        assert check_run_folder(config) == []
    # left running by a process that is gone: replaced; by one that lives: refused
    here = socket.gethostname()
    _status(tmp_path / "x", stage="train", status="running", pid=_dead_pid(), host=here)
    assert check_run_folder(config) == []
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _status(tmp_path / "x", stage="train", status="running", pid=sleeper.pid, host=here)
        assert _fields(check_run_folder(config)) == [
            ("name", f"a run with this name is still running (process {sleeper.pid})")
        ]
    finally:
        sleeper.kill()
        sleeper.wait()
    (tmp_path / "mine").mkdir()
    assert _fields(check_run_folder(config.model_copy(update={"name": "mine"}))) == [
        ("name", "this folder exists and is not a gennie run folder")
    ]
    (tmp_path / "file").write_text("x")
    assert _fields(check_run_folder(TrainConfig(out=tmp_path / "file"))) == [
        ("out", "this is a file; give a folder")
    ]


def test_run_folder_applies_the_name_rule(tmp_path):
    _status(tmp_path / "x", stage="train", status="complete")
    with (
        pytest.raises(UserError, match="a finished run with this name exists already"),
        run_folder(TrainConfig(out=tmp_path, name="x")),
    ):
        pass
    _status(tmp_path / "y", stage="train", status="failed")
    (tmp_path / "y" / "leftover").write_text("half")
    with run_folder(TrainConfig(out=tmp_path, name="y")):
        pass
    assert not (tmp_path / "y" / "leftover").exists()
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "notes.txt").write_text("keep")
    with pytest.raises(UserError), run_folder(TrainConfig(out=tmp_path, name="z")):
        pass
    assert (tmp_path / "z" / "notes.txt").read_text() == "keep"


# --------------------------------------------------------------------------- resume


def test_resume_joins_the_folder_of_the_same_stage_and_keeps_its_files(tmp_path):
    config = TuneConfig(out=tmp_path, dataset=tmp_path)
    with run_folder(config, name="study", resume=True) as run:
        (run.dir / "study.db").write_text("trials")
    first = read_status(tmp_path / "study")
    assert first["status"] == "complete" and first["resumable"] is True
    assert "resumed" not in first
    # the GUI's check (no resume flag) sees that the folder may be joined
    assert check_run_folder(config.model_copy(update={"name": "study"})) == []
    with run_folder(config, name="study", resume=True) as run:
        assert run.dir == tmp_path / "study"
        assert (run.dir / "study.db").read_text() == "trials"
        assert read_status(run.dir)["resumed"] is True
    assert read_status(tmp_path / "study")["status"] == "complete"


def test_a_user_error_in_a_resumed_run_restores_its_status(tmp_path):
    config = TuneConfig(out=tmp_path, dataset=tmp_path)
    with run_folder(config, name="s", resume=True):
        pass
    before = read_status(tmp_path / "s")
    with pytest.raises(UserError), run_folder(config, name="s", resume=True):
        raise UserError("no trial completed", field="space")
    assert read_status(tmp_path / "s") == before


def test_resume_refuses_a_folder_of_another_stage(tmp_path):
    _status(tmp_path / "s", stage="train", status="failed")
    config = TuneConfig(out=tmp_path, dataset=tmp_path)
    assert _fields(check_run_folder(config, name="s", resume=True)) == [
        ("name", "this folder exists and is not a gennie tune run folder")
    ]
    with pytest.raises(UserError), run_folder(config, name="s", resume=True):
        pass
    assert read_status(tmp_path / "s")["stage"] == "train"


# --------------------------------------------------------------------------- reading


def test_read_run_gives_status_parameters_files_and_progress(tmp_path):
    config = TrainConfig(out=tmp_path, name="t", epochs=4)
    with run_folder(config) as run:
        (run.dir / EPOCHS_FILE).write_text("epoch\tval_loss\n1\t0.5\n2\t0.4\n")
        (run.dir / "tensorboard").mkdir()
        (run.dir / "tensorboard" / "events").write_text("x")
        running = read_run(run.dir)
        assert (running.stage, running.status, running.complete) == ("train", "running", False)
        assert running.progress() == 0.5
        assert running.parameters()["epochs"] == 4
    done = read_run(tmp_path / "t")
    assert done.complete and done.progress() == 1.0 and done.seconds is not None
    assert [p.name for p in done.files()] == [LOG_FILE, EPOCHS_FILE, PARAMETERS_FILE, RUN_FILE]
    assert done.path(EPOCHS_FILE) == tmp_path / "t" / EPOCHS_FILE and done.has(EPOCHS_FILE)
    assert read_run(tmp_path) is None
    assert read_run(_status(tmp_path / "broken", status="complete")) is None


def test_progress_of_a_search_and_of_stages_without_a_measure(tmp_path):
    tune = _status(tmp_path / "s", stage="tune", status="running")
    (tune / PARAMETERS_FILE).write_text("stage: tune\nn_trials: 4\n")
    assert read_run(tune).progress() == 0.0
    (tune / TRIALS_FILE).write_text("number\tvalue\n0\t0.5\n")
    assert read_run(tune).progress() == 0.25
    assert read_run(_status(tmp_path / "p", stage="predict", status="running")).progress() is None


def test_find_runs_newest_first_without_entering_runs_or_caches(tmp_path):
    _status(tmp_path / "a" / "old", stage="train", status="complete", started="2026-01-01T10:00")
    _status(tmp_path / "a" / "new", stage="predict", status="failed", started="2026-01-02T10:00")
    _status(tmp_path / "a" / "old" / "inner", stage="train", status="complete")
    _status(tmp_path / "a" / "cache" / "x", stage="train", status="complete")
    _status(tmp_path / ".hidden" / "x", stage="train", status="complete")
    _status(tmp_path / "1" / "2" / "3" / "4" / "5", stage="train", status="complete")
    (tmp_path / "a" / "notrun").mkdir()
    runs = find_runs(tmp_path)
    assert [r.dir.relative_to(tmp_path).as_posix() for r in runs] == ["a/new", "a/old"]
    assert [(r.stage, r.status) for r in runs] == [("predict", "failed"), ("train", "complete")]


def test_preprocess_config_default_run_names(tmp_path):
    assert free_run_name(PreprocessConfig(out=tmp_path)).startswith("preprocess_")


# --------------------------------------------------------------------------- endings


def test_an_interrupt_marks_the_run_cancelled_with_a_log_line(tmp_path):
    from gennie.processes import Terminated

    for name, interrupt, how in (
        ("a", KeyboardInterrupt(), "Ctrl+C"),
        ("b", Terminated(), "SIGTERM"),
    ):
        with pytest.raises(KeyboardInterrupt), run_folder(TrainConfig(out=tmp_path, name=name)):
            raise interrupt
        info = read_status(tmp_path / name)
        assert info["status"] == "cancelled" and "finished" in info
        assert f"run cancelled ({how})" in (tmp_path / name / LOG_FILE).read_text()
    assert not (tmp_path / "train_parameters.tsv").exists()


def test_a_full_disk_is_a_user_error_and_the_folder_is_removed(tmp_path):
    import errno

    with pytest.raises(UserError) as error, run_folder(TrainConfig(out=tmp_path, name="x")):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x" / "big.npy"))
    assert (error.value.message, error.value.field) == (
        "cannot write: No space left on device",
        "out",
    )
    assert error.value.file == str(tmp_path / "x" / "big.npy")
    assert "free some space" in error.value.hint
    assert not (tmp_path / "x").exists()
    # other OSErrors are bugs: the run fails with its traceback in the log
    with pytest.raises(OSError), run_folder(TrainConfig(out=tmp_path, name="y")):
        raise OSError(errno.EIO, "Input/output error")
    assert read_status(tmp_path / "y")["status"] == "failed"


def test_a_new_folder_appears_whole_and_holds_no_leftovers(tmp_path):
    with run_folder(TrainConfig(out=tmp_path, name="x")) as run:
        assert read_status(run.dir)["pid_start"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]  # no temporary folder
    names = sorted(p.name for p in (tmp_path / "x").iterdir())
    assert names == [".run.lock", LOG_FILE, PARAMETERS_FILE, RUN_FILE]


def test_a_killed_run_is_interrupted_for_its_readers(tmp_path):
    folder = _status(
        tmp_path / "x", stage="train", status="running", pid=_dead_pid(), host=socket.gethostname()
    )
    (folder / ".run.lock").write_text("")
    assert read_run(folder).status == "interrupted"
    with pytest.raises(UserError) as error:
        require_complete(folder, "train", "model")
    assert error.value.message == (
        "this train run was interrupted: its process ended before the run finished"
    )
    assert error.value.hint == "run 'gennie train' again (the same --name replaces this folder)"
    assert mark_interrupted(folder) is True
    assert read_status(folder)["status"] == "interrupted"
    assert check_run_folder(TrainConfig(out=tmp_path, name="x")) == []


def test_names_promised_to_queued_runs_are_numbered(tmp_path):
    config = TrainConfig(out=tmp_path, name="x")
    assert free_run_name(config) == "x"
    assert free_run_name(config, taken={tmp_path / "x"}) == "x-2"
    (tmp_path / "x-2").mkdir()
    assert free_run_name(config, taken={tmp_path / "x"}) == "x-3"


def test_storage_errors_say_what_to_do(tmp_path):
    import errno

    from gennie.runs import storage_error

    def said(number: int, filename: str | None = None) -> tuple[str, str | None, str]:
        error = storage_error(OSError(number, os.strerror(number), filename), tmp_path)
        return error.message, error.file, error.hint.split(",")[0]

    assert said(errno.ENOSPC, "/d/x.npy") == (
        "cannot write: No space left on device",
        "/d/x.npy",
        "free some space on that disk",
    )
    assert said(errno.EDQUOT)[:2] == ("cannot write: Disk quota exceeded", str(tmp_path))
    assert said(errno.EROFS)[2] == "give an --out folder on a writable disk"
    assert said(errno.EACCES, "/in.fa") == (
        "cannot read or write: Permission denied",
        "/in.fa",
        "check the permissions of this file or folder: inputs must be readable",
    )
