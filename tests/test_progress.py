"""Progress of long work: log lines without a terminal, the run folder's progress file,
and the share the GUI shows for stages other than train and tune."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from cli_run import run_gennie

import gennie.progress as progress
from gennie.config import PredictConfig
from gennie.progress import PROGRESS_FILE, Progress, plural, read_progress, report_to, track
from gennie.runs import read_run


@pytest.fixture
def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines and writes as soon as they are due (no seconds between them)."""
    monkeypatch.setattr(progress, "LOG_MIN_S", 0.0)
    monkeypatch.setattr(progress, "WRITE_EVERY_S", 0.0)


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "gennie.progress"]


def test_a_line_at_each_tenth_and_at_the_end(no_wait, caplog) -> None:
    caplog.set_level(logging.INFO, logger="gennie")
    with Progress(20, "fold", unit="sequence") as p:
        for _ in range(20):
            p.update(1)
    shares = [line.split(" (")[0] for line in lines(caplog)]
    assert shares == [f"fold: {pct}%" for pct in range(10, 100, 10)] + ["fold: 100%"]
    assert lines(caplog)[-1].startswith("fold: 100% (20/20 sequences, ")


def test_quick_work_logs_only_its_end(caplog) -> None:
    caplog.set_level(logging.INFO, logger="gennie")
    list(track(range(50), 50, "predict", unit="sample"))
    assert len(lines(caplog)) == 1 and lines(caplog)[0].startswith("predict: 100% (50/50 samples")


def test_quiet_and_unfinished_work_log_nothing(no_wait, caplog) -> None:
    caplog.set_level(logging.INFO, logger="gennie")
    list(track(range(5), 5, "small", quiet=True))
    with pytest.raises(RuntimeError), Progress(10, "broken") as p:
        p.update(1)
        raise RuntimeError("stop")
    assert [line.split(":")[0] for line in lines(caplog)] == ["broken"]  # its 10 %, no end


def test_unknown_total_counts_without_a_share(no_wait) -> None:
    p = Progress(None, "filter maxima", unit="batch")
    p.update(3)
    assert p.line().startswith("filter maxima: 3 done (3 batches, ")
    assert [plural(u) for u in ("class", "sample", "batch")] == ["classes", "samples", "batches"]


def test_the_run_folder_gets_the_step_and_its_count(no_wait, tmp_path: Path) -> None:
    assert read_progress(tmp_path) is None
    with report_to(tmp_path):
        p = Progress(8, "integrated gradients", unit="sample")
        assert read_progress(tmp_path) == {"step": "integrated gradients", "done": 0, "total": 8}
        p.update(3)
        assert json.loads((tmp_path / PROGRESS_FILE).read_text())["done"] == 3
    p.update(1)  # made inside: still reports there
    assert read_progress(tmp_path)["done"] == 4
    Progress(5, "elsewhere").update(5)  # outside: writes nothing
    assert read_progress(tmp_path)["step"] == "integrated gradients"
    (tmp_path / PROGRESS_FILE).write_text("{half")
    assert read_progress(tmp_path) is None


def test_a_running_predict_shows_its_share(tmp_path: Path) -> None:
    run_dir = tmp_path / "predict_x"
    run_dir.mkdir()
    config = PredictConfig(model=tmp_path, sequences=["ACGU"])
    (run_dir / "parameters.yaml").write_text(f"stage: predict\nmodel: {config.model}\n")
    (run_dir / "run.json").write_text(json.dumps({"stage": "predict", "status": "running"}))
    run = read_run(run_dir)
    assert run is not None and run.progress() is None  # nothing reported yet
    (run_dir / PROGRESS_FILE).write_text(json.dumps({"step": "predict", "done": 3, "total": 12}))
    assert read_run(run_dir).progress() == 0.25


LEGACY = Path(__file__).parent / "data" / "legacy"


def test_predict_without_a_terminal_logs_its_progress(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy"  # a copy: predicting indexes the genome beside it
    shutil.copytree(LEGACY, legacy)
    done = run_gennie(
        "predict", "--model", legacy / "model", "--input", legacy / "query.bed",
        "--genome", legacy / "genome.fa", "--conservation", legacy / "track.wig",
        "--out", tmp_path, "--threads", 1,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip())
    assert "predict: 100% (6/6 samples, " in done.stderr
    assert "predict: 100% (6/6 samples, " in (run_dir / "gennie.log").read_text()
    assert "predicted 6 inputs; highest class: " in done.stderr
    assert not (run_dir / PROGRESS_FILE).exists()  # gone with a complete run
