"""Distributed search on a real PostgreSQL server: shared study, killed worker.

The fixture starts a throw-away PostgreSQL server (``initdb`` + ``pg_ctl`` from the
Debian ``postgresql`` package) on 127.0.0.1 on a free port, in a temporary folder.
PostgreSQL refuses to run as root, so when the tests run as root the server runs as
the ``postgres`` system user. The tests are skipped, saying why, only when the
server binaries are not installed.

Workers are separate ``gennie tune`` processes with their own output folders, as
they would be on separate machines; they meet only in the database.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import optuna
import pytest
import torch
import yaml
from cli_run import GENNIE
from planted import planted_motif_dataset

from gennie.config import build_config
from gennie.dataset.store import Dataset
from gennie.search.report import trial_info
from gennie.search.study import with_driver
from gennie.search.tuning import validation_metrics
from gennie.training.stage import train

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """URL of a fresh PostgreSQL server, stopped and removed after the module."""
    if not PG_BIN or not (Path(PG_BIN[-1]) / "initdb").exists():
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) are not installed; "
            "install the Debian package 'postgresql'"
        )
    bin_dir = Path(PG_BIN[-1])
    root = Path(tempfile.mkdtemp(prefix="gennie-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server")
        shutil.chown(root, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    port = _free_port()
    subprocess.run(
        [
            *prefix,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} "
        "-c fsync=off -c max_connections=50"
    )
    subprocess.run(
        [
            *prefix,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        # The bare form, as users write it (gennie picks the installed driver).
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return planted_motif_dataset(tmp_path_factory.mktemp("pg-data"), 80, seed=1)


def _search_file(path: Path, epochs: int, early_stopping: bool = True) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "sampler": "random",
                "heartbeat": 1,
                "grace_period": 2,
                "space": {
                    "lr": {"low": 0.002, "high": 0.02, "log": True},
                    "batch_size": [16, 32],
                    "optimizer": "adam",
                    "lr_schedule": "fixed",
                    "epochs": epochs,
                    "early_stopping": early_stopping,
                    "preset": "1layer",
                },
            }
        )
    )
    return path


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []


def _worker(search: Path, dataset: Path, url: str, out: Path, n_trials: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(GENNIE),
            "tune",
            "--config",
            str(search),
            "--dataset",
            str(dataset),
            "--storage",
            url,
            "--study",
            "shared",
            "--n-trials",
            str(n_trials),
            "--out",
            str(out),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_workers_share_a_study_and_survive_a_killed_worker(postgres_url, dataset, tmp_path):
    # A worker with long trials is killed with SIGKILL in the middle of its first trial.
    slow = _search_file(tmp_path / "slow.yaml", epochs=200, early_stopping=False)
    # One storage (one connection pool) for all the polling below: a storage per poll
    # left its connections open until garbage collection, and on a slow machine the
    # polls ran the server out of connections. Made before any worker starts, so the
    # workers find the tables and never create them at the same time as the test.
    storage = optuna.storages.RDBStorage(with_driver(postgres_url))
    victim = _worker(slow, dataset, postgres_url, tmp_path / "victim", 3)
    deadline = time.time() + 120
    running: list[optuna.trial.FrozenTrial] = []
    while time.time() < deadline and not running:
        time.sleep(0.3)
        assert victim.poll() is None, victim.communicate()[1]
        try:
            study = optuna.load_study(study_name="shared", storage=storage)
        except KeyError:  # not created yet
            continue
        # Mid-training: the trial's run folder has written at least one epoch.
        running = [
            t
            for t in study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
            if "run_dir" in trial_info(t)
            and len(_lines(Path(trial_info(t)["run_dir"]) / "metrics.tsv")) >= 2
        ]
    assert running, "the first worker never started a trial"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL

    # Two new workers (separate processes and output folders, as on two machines) join.
    # Trials long enough (and enough of them) that the second worker's start-up cannot
    # miss them all on a busy machine.
    fast = _search_file(tmp_path / "fast.yaml", epochs=3)
    workers = [_worker(fast, dataset, postgres_url, tmp_path / f"w{i}", 5) for i in (1, 2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr
    summaries = [json.loads(stdout) for stdout, _ in outputs]

    study = optuna.load_study(study_name="shared", storage=storage)
    trials = study.get_trials()
    killed = trials[running[0].number]
    assert killed.state == optuna.trial.TrialState.FAIL  # heartbeat stopped → failed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback
        retried = [t for t in trials if retry.retried_trial_number(t) == killed.number]
    assert len(retried) == 1 and retried[0].state == optuna.trial.TrialState.COMPLETE
    assert retried[0].params == killed.params
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) >= 3
    # Both workers recorded trials in the one study.
    workers_seen = {trial_info(t)["worker"] for t in complete}
    assert len(workers_seen) == 2
    # Each worker reports the study as it was when it finished: the last one to
    # finish saw every trial and the study's best.
    rows = []
    for summary in summaries:
        assert summary["study"] == "shared"
        assert summary["storage"] == with_driver(postgres_url)
        assert summary["best_trial"] in {t.number for t in complete}
        assert summary["best_value"] <= study.best_value
        table = (Path(summary["run_dir"]) / "trials.tsv").read_text().splitlines()
        rows.append(len(table) - 1)
    assert max(rows) == len(trials)
    assert max(s["best_value"] for s in summaries) == study.best_value

    # The best configuration exported by the worker that saw the whole study trains to the
    # same validation metric. (A worker that finished earlier may name an earlier best.)
    last = max(summaries, key=lambda s: s["best_value"])
    assert trials[last["best_trial"]].value == study.best_value
    torch.set_num_threads(1)
    best = build_config(
        "train", Path(last["run_dir"]) / "best_config.yaml", {"out": tmp_path / "rerun"}
    )
    rerun = train(best)
    metrics = validation_metrics(rerun.run_dir, Dataset(dataset))
    assert metrics["auroc"] == trial_info(trials[last["best_trial"]])["val_auroc"]
    assert metrics["loss"] == trial_info(trials[last["best_trial"]])["val_loss"]


def test_storage_password_is_in_no_saved_file(postgres_url, dataset, tmp_path):
    """A password in --storage reaches the database but no file: parameters.yaml, the
    runs table and the summary show it masked; re-running parameters.yaml takes it from
    GENNIE_STORAGE_PASSWORD and without it stops with a user error naming the variable.
    (The server trusts local connections, so any password is accepted.)"""
    secret = "pw-s3cr3t-4-db"
    url = postgres_url.replace("postgres@", f"postgres:{secret}@")
    search = _search_file(tmp_path / "search.yaml", epochs=1)
    first = subprocess.run(
        [
            str(GENNIE), "tune", "--config", str(search), "--dataset", str(dataset),
            "--storage", url, "--study", "secret", "--n-trials", "1",
            "--out", str(tmp_path / "out"), "--json",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )  # fmt: skip
    stdout, stderr = first.stdout, first.stderr
    assert first.returncode == 0, stderr
    assert secret not in stdout and secret not in stderr
    summary = json.loads(stdout)
    assert summary["storage"].startswith("postgresql+psycopg2://postgres:***@")
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert any(p.name == "parameters.yaml" for p in files)
    assert not [p for p in files if secret.encode() in p.read_bytes()]

    parameters = Path(summary["run_dir"]) / "parameters.yaml"
    base = {k: v for k, v in os.environ.items() if k not in ("PGPASSWORD",)}
    base |= {"OMP_NUM_THREADS": "1", "PGPASSFILE": str(tmp_path / "absent")}
    again = {"out": str(tmp_path / "again")}
    (tmp_path / "again.yaml").write_text(
        yaml.safe_dump(yaml.safe_load(parameters.read_text()) | again)
    )
    command = [str(GENNIE), "run", str(tmp_path / "again.yaml"), "--json"]
    refused = subprocess.run(command, capture_output=True, text=True, env=base, timeout=300)
    assert refused.returncode == 2, refused.stderr
    answer = json.loads(refused.stdout)
    assert answer["field"] == "storage" and "GENNIE_STORAGE_PASSWORD" in answer["hint"]
    rerun = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=base | {"GENNIE_STORAGE_PASSWORD": secret},
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["study"] == "secret"
    files = [p for p in (tmp_path / "again").rglob("*") if p.is_file()]
    assert files and not [p for p in files if secret.encode() in p.read_bytes()]
