"""Tests of ``threads``: one field of every stage, applied by the run folder
(:func:`gennie.processes.limit_threads`), restored afterwards, and still read from old
``parameters.yaml`` files of train and tune."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from gennie.cli import app
from gennie.config import StageConfig, TrainConfig, TuneConfig, load_run_config
from gennie.config.registry import STAGES
from gennie.processes import THREAD_VARIABLES, limit_threads
from gennie.runs import run_folder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def three_threads(monkeypatch):
    """PyTorch at 3 threads, OMP_NUM_THREADS at 5 and MKL_NUM_THREADS unset."""
    threads = torch.get_num_threads()
    torch.set_num_threads(3)
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    yield
    torch.set_num_threads(threads)


def _state() -> tuple[int, str | None, str | None]:
    return torch.get_num_threads(), *(os.environ.get(name) for name in THREAD_VARIABLES)


def test_limit_threads_sets_torch_and_the_variables_then_restores(three_threads) -> None:
    with limit_threads(2):
        assert _state() == (2, "2", "2")
    assert _state() == (3, "5", None)


def test_limit_threads_restores_after_an_error(three_threads) -> None:
    with pytest.raises(ZeroDivisionError), limit_threads(1):
        assert _state() == (1, "1", "1")
        raise ZeroDivisionError
    assert _state() == (3, "5", None)


def test_limit_threads_zero_changes_nothing(three_threads) -> None:
    with limit_threads(0):
        assert _state() == (3, "5", None)
    assert _state() == (3, "5", None)


def test_threads_is_declared_once_for_every_stage() -> None:
    shared = StageConfig.model_fields["threads"]
    assert shared.default == 1
    for stage in STAGES.values():
        field = stage.config.model_fields["threads"]
        assert (field.default, field.description) == (shared.default, shared.description)
        assert "threads" not in stage.config.__annotations__, stage.config.__name__


@pytest.mark.parametrize(
    "command", [["preprocess"], ["train"], ["evaluate"], ["predict"], ["tune"],
                ["interpret", "motifs"], ["interpret", "ism"]],
)  # fmt: skip
def test_every_stage_command_takes_threads(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--threads" in result.output


def test_run_folder_applies_threads_and_records_them(tmp_path, three_threads) -> None:
    config = TrainConfig(out=tmp_path, name="two", threads=2)
    with run_folder(config) as run:
        assert _state() == (2, "2", "2")
    assert _state() == (3, "5", None)
    assert yaml.safe_load((run.dir / "parameters.yaml").read_text())["threads"] == 2


def test_a_preprocess_run_computes_with_its_threads(tmp_path, monkeypatch, three_threads) -> None:
    import gennie.preprocessing.stage as stage
    from gennie.config import PreprocessConfig

    seen = []
    genome = stage.GenomeHandle

    def watched(*args, **kwargs):  # called inside the run folder
        seen.append(_state())
        return genome(*args, **kwargs)

    monkeypatch.setattr(stage, "GenomeHandle", watched)
    files = {}
    for name, base in (("a", "A"), ("b", "C")):
        files[name] = tmp_path / f"{name}.fa"
        files[name].write_text("".join(f">{name}{i}\n{base * 20}\n" for i in range(10)))
    config = PreprocessConfig(
        classes=files, window=20, ratio="8:1:1", out=tmp_path / "runs", name="p", threads=2
    )
    result = stage.preprocess(config)
    assert seen == [(2, "2", "2")]
    assert _state() == (3, "5", None)
    assert yaml.safe_load((result.run_dir / "parameters.yaml").read_text())["threads"] == 2


def test_old_parameters_files_with_threads_still_load(tmp_path) -> None:
    legacy = load_run_config(ROOT / "tests" / "data" / "legacy" / "model" / "parameters.yaml")
    assert isinstance(legacy, TrainConfig)
    assert legacy.threads == 0
    tune_file = tmp_path / "parameters.yaml"
    tune_file.write_text("stage: tune\ndataset: data\njobs: 2\nthreads: 4\n")
    (tmp_path / "data").mkdir()
    tune = load_run_config(tune_file)
    assert isinstance(tune, TuneConfig)
    assert (tune.threads, tune.jobs) == (4, 2)
