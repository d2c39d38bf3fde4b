"""Stopping runs: SIGTERM and Ctrl+C end a run ``cancelled`` within seconds (exit codes
143 and 130) with its helper processes stopped; a run killed with SIGKILL reads as
``interrupted`` and is replaced cleanly by the next run of the same name, which
resumes folding from the fold cache; writing that fails for a reason the user can fix
(a full disk, a read-only folder) is a user error, and no folder is left behind.

Runs that are stopped run the real console script in a subprocess; every wait polls
with a deadline.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import typer
from cli_run import random_fasta, start_gennie, wait_for

from gennie.cli import execute
from gennie.config import PreprocessConfig, TrainConfig
from gennie.errors import UserError
from gennie.preprocessing.stage import preprocess
from gennie.processes import SIGINT_EXIT, SIGTERM_EXIT
from gennie.runs import LOCK_FILE, LOG_FILE, RUN_FILE, read_run, read_status, require_complete

STOP_WITHIN = 15.0
"""Seconds a stopped run may take to end (it takes about one; the machine is shared)."""


# --------------------------------------------------------------------------- helpers


def stopped(process: subprocess.Popen, number: int) -> tuple[int, str, float]:
    """Send a signal, wait for the process to end; its exit code, stderr and the
    seconds it took."""
    sent = time.monotonic()
    process.send_signal(number)
    _, err = process.communicate(timeout=60)
    return process.returncode, err, time.monotonic() - sent


def epochs_done(run_dir: Path) -> int:
    """Rows of a training's epoch table so far."""
    path = run_dir / "metrics.tsv"
    return max(0, len(path.read_text().splitlines()) - 1) if path.is_file() else 0


def fold_rows(cache: Path) -> int:
    """Structures in a fold cache so far."""
    path = cache / "fold" / "structures.sqlite"
    if not path.is_file():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM fold").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # the table is being created


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children, …)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        children = {p for p, pp in parents.items() if pp == parent}
        found |= children
        todo += list(children)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A tiny sequence dataset (two classes of 150 random windows of 40 bases)."""
    folder = tmp_path_factory.mktemp("data")
    config = PreprocessConfig(
        classes={
            "a": random_fasta(folder / "a.fa", 150, 40, 1),
            "b": random_fasta(folder / "b.fa", 150, 40, 2),
        },
        window=40,
        out=folder / "runs",
        name="data",
        jobs=1,
    )
    return preprocess(config).run_dir


def train_args(dataset: Path, out: Path, name: str) -> list[object]:
    """A training that runs until it is stopped."""
    return [
        "train", "--dataset", dataset, "--out", out, "--name", name, "--epochs", 100000,
        "--no-early-stopping", "--preset", "1layer", "--device", "cpu", "--threads", 1,
    ]  # fmt: skip


# --------------------------------------------------------------------------- SIGTERM, Ctrl+C


@pytest.mark.parametrize(
    ("number", "code", "how"),
    [(signal.SIGTERM, SIGTERM_EXIT, "SIGTERM"), (signal.SIGINT, SIGINT_EXIT, "Ctrl+C")],
    ids=["sigterm", "ctrl-c"],
)
def test_a_signal_mid_training_ends_the_run_cancelled(dataset, tmp_path, number, code, how):
    run_dir = tmp_path / "t"
    process = start_gennie(*train_args(dataset, tmp_path, "t"), cwd=tmp_path)
    wait_for(lambda: epochs_done(run_dir) >= 1, process=process)
    returncode, err, seconds = stopped(process, number)
    assert (returncode, seconds < STOP_WITHIN) == (code, True), err[-3000:]
    assert f"cancelled ({how})" in err and "Traceback" not in err
    info = read_status(run_dir)
    assert info["status"] == "cancelled" and "finished" in info
    assert f"run cancelled ({how})" in (run_dir / LOG_FILE).read_text()
    # nothing presented as complete: no model, no row in the runs table
    assert not (run_dir / "model").exists()
    assert not (tmp_path / "train_parameters.tsv").exists()
    assert read_run(run_dir).status == "cancelled"


def test_sigterm_while_folding_stops_the_folding_processes(tmp_path):
    big = random_fasta(tmp_path / "big.fa", 20000, 40, 3)
    small = random_fasta(tmp_path / "small.fa", 50, 40, 4)
    args = ["preprocess", "--class", f"a={big}", "--class", f"b={small}", "--window", 40,
            "--branches", "seq,fold", "--jobs", 2, "--out", tmp_path / "runs",
            "--name", "p"]  # fmt: skip
    process = start_gennie(*args, cwd=tmp_path)
    wait_for(lambda: fold_rows(tmp_path / "runs" / "cache") >= 2000, process=process)
    helpers = descendants(process.pid)  # the pool's processes (and its server)
    assert len(helpers) >= 2
    returncode, err, seconds = stopped(process, signal.SIGTERM)
    assert (returncode, seconds < STOP_WITHIN) == (SIGTERM_EXIT, True), err[-3000:]
    assert read_status(tmp_path / "runs" / "p")["status"] == "cancelled"
    wait_for(lambda: not any(alive(pid) for pid in helpers), timeout=STOP_WITHIN)


def test_sigterm_stops_a_search_and_its_worker_processes(dataset, tmp_path):
    import yaml

    space = {"lr": 0.01, "preset": "1layer", "epochs": 100000, "early_stopping": False}
    search = tmp_path / "search.yaml"
    search.write_text(yaml.safe_dump({"sampler": "random", "space": space}))
    args = ["tune", "--config", search, "--dataset", dataset, "--out", tmp_path / "runs",
            "--study", "s", "--pruner", "none", "--n-trials", 4, "--jobs", 2]  # fmt: skip
    process = start_gennie(*args, cwd=tmp_path)
    trials = tmp_path / "runs" / "s" / "trials"

    def both_train() -> bool:
        runs = list(trials.glob("trial_*")) if trials.is_dir() else []
        return len(runs) >= 2 and all(epochs_done(r) >= 1 for r in runs)

    wait_for(both_train, timeout=180, process=process)
    workers = descendants(process.pid)
    returncode, err, seconds = stopped(process, signal.SIGTERM)  # the command only
    # Two processes each end a trial (about 3 s; more on a busy machine).
    assert (returncode, seconds < 2 * STOP_WITHIN) == (SIGTERM_EXIT, True), err[-3000:]
    assert read_status(tmp_path / "runs" / "s")["status"] == "cancelled", err[-3000:]
    for trial in trials.glob("trial_*"):
        own = read_status(trial)["pid"] == process.pid  # this process's trial, or a worker's
        # A worker slower than its grace period is killed: its trial reads interrupted.
        assert read_run(trial).status in (("cancelled",) if own else ("cancelled", "interrupted"))
    wait_for(lambda: not any(alive(pid) for pid in workers), timeout=STOP_WITHIN)


# --------------------------------------------------------------------------- SIGKILL


def test_a_killed_preprocess_is_interrupted_and_its_folding_resumes(tmp_path):
    many = random_fasta(tmp_path / "many.fa", 9000, 40, 5)
    few = random_fasta(tmp_path / "few.fa", 40, 40, 6)
    out = tmp_path / "runs"
    args = ["preprocess", "--class", f"a={many}", "--class", f"b={few}", "--window", 40,
            "--branches", "seq,fold", "--jobs", 1, "--out", out, "--name", "p",
            "--json"]  # fmt: skip
    process = start_gennie(*args, cwd=tmp_path)
    wait_for(lambda: fold_rows(out / "cache") >= 2000, process=process)  # a chunk committed
    process.kill()
    process.communicate(timeout=60)
    assert read_status(out / "p")["status"] == "running"  # as the killed process left it
    assert read_run(out / "p").status == "interrupted"
    with pytest.raises(UserError, match="interrupted") as error:
        require_complete(out / "p", "preprocess", "dataset")
    assert "the same --name" in error.value.hint
    # The same name again: the folder is replaced; only what is missing is folded.
    (out / "p" / "leftover.partial").write_text("half-written")
    again = start_gennie(*args, cwd=tmp_path)
    answer, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-3000:]
    assert json.loads(answer)["run_dir"] == str(out / "p")
    assert not (out / "p" / "leftover.partial").exists()
    assert read_status(out / "p")["status"] == "complete"
    stats = json.loads((out / "p" / "metadata.json").read_text())["cache"]
    assert stats["fold_cache_hits"] >= 2000
    assert stats["folded"] + stats["fold_cache_hits"] == 9040
    assert not [p.name for p in (out / "cache" / "windows").rglob("*partial*")]


def test_a_killed_training_is_interrupted_and_replaced_by_the_next(dataset, tmp_path):
    run_dir = tmp_path / "t"
    process = start_gennie(*train_args(dataset, tmp_path, "t"), cwd=tmp_path)
    wait_for(lambda: epochs_done(run_dir) >= 1, process=process)
    process.kill()
    process.communicate(timeout=60)
    assert (run_dir / LOCK_FILE).is_file()
    assert read_run(run_dir).status == "interrupted"
    args = [a for a in train_args(dataset, tmp_path, "t") if a != 100000]
    args[args.index("--epochs") + 1] = 2
    again = start_gennie(*args, cwd=tmp_path)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-3000:]
    assert read_run(run_dir).status == "complete" and epochs_done(run_dir) == 2
    assert (run_dir / "model").is_dir()


# --------------------------------------------------------------------------- disks


def _config(tmp_path: Path, **extra) -> PreprocessConfig:
    return PreprocessConfig(
        classes={
            "a": random_fasta(tmp_path / "a.fa", 30, 20, 7),
            "b": random_fasta(tmp_path / "b.fa", 30, 20, 8),
        },
        window=20,
        out=tmp_path / "runs",
        name="p",
        jobs=1,
        **extra,
    )


def _exit_code(work, capsys) -> tuple[int, dict]:
    """The CLI's exit code and JSON answer for a stage run in this process."""
    with pytest.raises(typer.Exit) as stop:
        execute("preprocess", work, as_json=True)
    return stop.value.exit_code, json.loads(capsys.readouterr().out)


def test_a_full_disk_in_preprocess_is_a_user_error(tmp_path, monkeypatch, capsys):
    import gennie.preprocessing.stage as stage

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(stage.np, "save", full)
    config = _config(tmp_path)
    code, answer = _exit_code(lambda: preprocess(config), capsys)
    assert code == 2
    assert answer["error"] == "cannot write: No space left on device"
    assert answer["file"].endswith("labels.npy") and answer["field"] == "out"
    assert "free some space" in answer["hint"]
    assert not (tmp_path / "runs" / "p").exists()


def test_reserving_a_memory_mapped_output_on_a_full_disk_is_a_user_error(tmp_path, monkeypatch):
    import gennie.dataset.npyfiles as npyfiles

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(npyfiles.os, "posix_fallocate", full)
    with pytest.raises(UserError, match="No space left on device") as error:
        preprocess(_config(tmp_path))
    assert error.value.file.endswith("codes.npy")  # the first one: the cached windows
    assert not (tmp_path / "runs" / "p").exists()
    left = [p.name for p in (tmp_path / "runs" / "cache" / "windows").iterdir()]
    assert left and all(name.endswith(".lock") for name in left)  # no partial entry


def test_allocate_npy_reserves_the_whole_file(tmp_path):
    from gennie.dataset.npyfiles import allocate_npy

    array = allocate_npy(tmp_path / "x.npy", np.float32, (1000, 3, 40))
    array[:] = 1.0
    array.flush()
    stat = (tmp_path / "x.npy").stat()
    assert stat.st_blocks * 512 >= 1000 * 3 * 40 * 4  # allocated, not sparse
    assert np.load(tmp_path / "x.npy").sum() == 1000 * 3 * 40


def test_a_full_disk_in_training_is_a_user_error(dataset, tmp_path, monkeypatch, one_thread):
    import gennie.training.stage as stage
    from gennie.training.stage import train

    def full(*args, **kwargs):
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    monkeypatch.setattr(stage, "save_bundle", full)
    config = TrainConfig(dataset=dataset, out=tmp_path, name="t", epochs=1, preset="1layer")
    with pytest.raises(UserError, match="Disk quota exceeded") as error:
        train(config)
    assert error.value.file == str(tmp_path / "t") and error.value.field == "out"
    assert not (tmp_path / "t").exists()


def test_a_read_only_output_folder_is_a_user_error(tmp_path):
    out = tmp_path / "readonly"
    out.mkdir()
    out.chmod(0o555)
    try:
        if os.access(out, os.W_OK):
            pytest.skip("permissions do not apply to this user (root)")
        config = _config(tmp_path).model_copy(update={"out": out})
        args = ["preprocess", "--class", f"a={config.classes['a']}", "--class",
                f"b={config.classes['b']}", "--window", 20, "--out", out,
                "--name", "p"]  # fmt: skip
        process = start_gennie(*args, cwd=tmp_path)
        _, err = process.communicate(timeout=120)
        assert process.returncode == 2, err
        assert "cannot create the run folder (Permission denied)" in err
        assert "Traceback" not in err
        assert list(out.iterdir()) == []
    finally:
        out.chmod(0o755)


def test_a_read_only_file_system_is_a_user_error(tmp_path, monkeypatch, capsys):
    """As the test above, for any user (root too): creating the run folder fails."""
    import gennie.runs as runs

    config = _config(tmp_path)
    config.out.mkdir()
    real_mkdir = os.mkdir

    def read_only(path, *args, **kwargs):
        if Path(path).parent == config.out:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(runs.os, "mkdir", read_only)
    code, answer = _exit_code(lambda: preprocess(config), capsys)
    assert code == 2
    assert answer["error"] == "cannot create the run folder (Read-only file system)"
    assert answer["file"] == str(config.out) and answer["field"] == "out"
    assert list(config.out.iterdir()) == []


def test_status_files_are_replaced_whole(tmp_path):
    from gennie.runs import write_status_file

    write_status_file(tmp_path, {"stage": "train", "status": "running"})
    assert json.loads((tmp_path / RUN_FILE).read_text())["status"] == "running"
    assert [p.name for p in tmp_path.iterdir()] == [RUN_FILE]  # no temporary file left
