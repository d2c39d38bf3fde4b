"""check(config) of train, evaluate, predict, motifs, ism and tune: every problem that
shows without running the stage, each tagged with its field, and the stage raising the
first of them (so the GUI's message next to a field is the one the run would give)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from planted import planted_motif_dataset

from gennie.config import (
    ArchitectureConfig,
    EvaluateConfig,
    IsmConfig,
    MotifsConfig,
    PredictConfig,
    TrainConfig,
    TuneConfig,
)
from gennie.errors import UserError
from gennie.evaluation.stage import check as check_evaluate
from gennie.evaluation.stage import evaluate
from gennie.interpret.ism import check as check_ism
from gennie.interpret.motifs import check as check_motifs
from gennie.prediction.stage import check as check_predict
from gennie.prediction.stage import predict
from gennie.search.tuning import check as check_tune
from gennie.training.stage import check as check_train
from gennie.training.stage import train


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A preprocessed dataset: 40-mers of classes pos and neg, split 6:2:2 (no blackbox)."""
    return planted_motif_dataset(tmp_path_factory.mktemp("checks"), 20, seed=0)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """A folder that looks like a finished train run; its bundle could not be loaded, so
    a check that passes with it has loaded nothing."""
    run = tmp_path / "train_run"
    (run / "model").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"stage": "train", "status": "complete"}))
    (run / "model" / "bundle.yaml").write_text("classes: [pos, neg]\n")
    (run / "model" / "weights.safetensors").write_bytes(b"")
    return run


def fields(problems: list[UserError]) -> list[str | None]:
    return [p.field for p in problems]


# --------------------------------------------------------------------------- train


def test_train_needs_a_dataset(tmp_path: Path) -> None:
    (problem,) = check_train(TrainConfig(out=tmp_path))
    assert (problem.field, problem.message) == ("dataset", "no dataset given")
    (missing,) = check_train(TrainConfig(dataset=tmp_path / "nowhere", out=tmp_path))
    assert (missing.field, missing.message) == ("dataset", "folder not found")


def test_train_dataset_of_another_stage(tmp_path: Path, model: Path) -> None:
    (problem,) = check_train(TrainConfig(dataset=model, out=tmp_path))
    assert problem.field == "dataset"
    assert problem.message == "this is a train run folder, not a preprocess one"


def test_train_every_problem_with_the_dataset_at_once(dataset: Path, tmp_path: Path) -> None:
    architecture = ArchitectureConfig.model_validate(
        {"branches": {"seq": [], "cons": []}, "common": []}
    )
    config = TrainConfig(
        dataset=dataset, branches=["seq", "fold"], architecture=architecture, out=tmp_path
    )
    problems = check_train(config)
    assert fields(problems) == ["branches", "architecture.branches"]
    assert "no 'fold' branch" in problems[0].message
    assert "branch(es) cons" in problems[1].message
    with pytest.raises(UserError) as caught:
        train(config)
    assert caught.value.message == problems[0].message
    assert not any(tmp_path.iterdir())  # nothing was started


def test_train_check_passes_a_good_configuration(dataset: Path, tmp_path: Path) -> None:
    assert check_train(TrainConfig(dataset=dataset, out=tmp_path)) == []


# --------------------------------------------------------------------------- evaluate


def test_evaluate_needs_data_and_a_model(tmp_path: Path) -> None:
    problems = check_evaluate(EvaluateConfig(out=tmp_path))
    assert [(p.field, p.message) for p in problems] == [
        ("input", "no data to evaluate"),
        ("model", "no model given"),
    ]
    with pytest.raises(UserError, match="no data to evaluate"):
        evaluate(EvaluateConfig(out=tmp_path))


def test_evaluate_problems_with_every_named_file(
    dataset: Path, model: Path, tmp_path: Path
) -> None:
    config = EvaluateConfig(
        model=model,
        blackbox=dataset,
        attributions=True,
        baseline="file",
        baseline_file=tmp_path / "no-baseline.npz",
        out=tmp_path,
    )
    problems = check_evaluate(config)
    assert fields(problems) == ["baseline_file", "blackbox_split"]
    assert problems[1].message == "the dataset has no blackbox samples"
    assert fields(check_evaluate(config.model_copy(update={"attributions": False}))) == [
        "blackbox_split"
    ]
    assert check_evaluate(config.model_copy(update={"blackbox_split": "test"}))[1:] == []
    files = EvaluateConfig(
        model=model,
        input=tmp_path / "none.fa",
        out=tmp_path,
    )
    assert [(p.field, p.message) for p in check_evaluate(files)] == [
        ("input", "input file not found")
    ]
    per_class = EvaluateConfig(model=model, classes={"pos": tmp_path / "pos.fa"}, out=tmp_path)
    assert fields(check_evaluate(per_class)) == ["classes.pos"]


def test_a_model_folder_of_another_stage_or_unfinished(dataset: Path, tmp_path: Path) -> None:
    config = EvaluateConfig(model=dataset, blackbox=dataset, blackbox_split="test", out=tmp_path)
    (problem,) = check_evaluate(config)
    assert problem.field == "model"
    assert problem.message == "this is a preprocess run folder, not a train one"
    running = tmp_path / "running"
    running.mkdir()
    (running / "run.json").write_text(json.dumps({"stage": "train", "status": "running"}))
    (problem,) = check_predict(PredictConfig(model=running, sequences=["ACGT"], out=tmp_path))
    assert problem.message == "this train run did not finish (status: running)"
    (problem,) = check_predict(PredictConfig(model=tmp_path / "gone", sequences=["A"]))
    assert (problem.field, problem.message) == ("model", "model not found")


def test_a_custom_model_needs_its_window_and_classes(tmp_path: Path) -> None:
    custom = tmp_path / "net.pt"
    custom.write_bytes(b"")
    problems = check_predict(PredictConfig(model=custom, sequences=["ACGT"], out=tmp_path))
    assert fields(problems) == ["custom_window"]
    assert problems[0].message == "a custom model needs its window and class names"
    window = PredictConfig(model=custom, sequences=["ACGT"], custom_window=8, out=tmp_path)
    assert fields(check_predict(window)) == ["custom_classes"]
    both = window.model_copy(update={"custom_classes": ["a", "b"]})
    assert check_predict(both) == []


# --------------------------------------------------------------------------- predict


def test_predict_needs_input_and_a_model(tmp_path: Path) -> None:
    problems = check_predict(PredictConfig(out=tmp_path))
    assert [(p.field, p.message) for p in problems] == [
        ("input", "nothing to predict"),
        ("model", "no model given"),
    ]
    with pytest.raises(UserError, match="nothing to predict"):
        predict(PredictConfig(out=tmp_path))


def test_predict_check_passes_with_a_model_and_sequences(model: Path, tmp_path: Path) -> None:
    assert check_predict(PredictConfig(model=model, sequences=["ACGT"], out=tmp_path)) == []
    missing = PredictConfig(model=model, input=tmp_path / "none.bed", out=tmp_path)
    assert fields(check_predict(missing)) == ["input"]


# --------------------------------------------------------------------------- interpret


def test_motifs_needs_model_and_dataset(tmp_path: Path) -> None:
    problems = check_motifs(MotifsConfig(out=tmp_path))
    assert [(p.field, p.message) for p in problems] == [
        ("model", "no model given"),
        ("dataset", "no dataset given"),
    ]


def test_motifs_problems_with_its_files(dataset: Path, model: Path, tmp_path: Path) -> None:
    config = MotifsConfig(
        model=model,
        dataset=dataset,
        split="blackbox",
        database=tmp_path / "none.meme",
        out=tmp_path,
    )
    problems = check_motifs(config)
    assert fields(problems) == ["database", "split"]
    assert problems[1].message == "the dataset has no blackbox samples"
    assert check_motifs(MotifsConfig(model=model, dataset=dataset, out=tmp_path)) == []


def test_ism_needs_a_model_a_sequence_and_one_class(tmp_path: Path, model: Path) -> None:
    problems = check_ism(IsmConfig(target="all", out=tmp_path))
    assert fields(problems) == ["model", "sequence", "target"]
    assert check_ism(IsmConfig(model=model, sequence="ACGT", out=tmp_path)) == []


# --------------------------------------------------------------------------- tune


def test_tune_needs_a_dataset(dataset: Path, tmp_path: Path) -> None:
    assert fields(check_tune(TuneConfig(out=tmp_path))) == ["dataset"]
    assert check_tune(TuneConfig(dataset=dataset, out=tmp_path)) == []
    assert fields(check_tune(TuneConfig(dataset=tmp_path, out=tmp_path))) == ["dataset"]
