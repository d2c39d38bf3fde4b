"""The tune stage: search-space validation, sampling, pruning, and small searches.

The dataset is tiny (100 random 40-mers per class, the positive class carrying
TGTAAATA) and every trial trains 1–2 epochs, so the searches take seconds.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import optuna
import pandas as pd
import pytest
import torch
import yaml
from cli_run import GENNIE
from planted import planted_motif_dataset
from typer.testing import CliRunner

from gennie.cli import app
from gennie.config import FloatRange, IntRange, TuneConfig, build_config
from gennie.config.presets import PRESETS
from gennie.dataset.store import Dataset
from gennie.errors import UserError
from gennie.search.space import grid_values, parameter_dimensions, trial_config
from gennie.search.study import PruningCallback
from gennie.search.tuning import tune, validation_metrics

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return planted_motif_dataset(tmp_path_factory.mktemp("tune-data"), 100, seed=0)


SMALL_SPACE = {
    "lr": {"low": 0.002, "high": 0.02, "log": True},
    "batch_size": [16, 32],
    "optimizer": "adam",
    "lr_schedule": "fixed",
    "epochs": 2,
    "preset": ["1layer", "custom"],
    "architecture": {
        "conv_layers": {"low": 1, "high": 2},
        "filters": [8, 16],
        "kernel_size": 8,
        "batch_norm": False,
        "dropout": 0.1,
        "global_pool": "max",
        "units": 16,
        "common_dropout": 0.0,
    },
}


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "search.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as info:
        build_config("tune", path)
    return str(info.value).replace(str(path), "search.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "space:\n  lr: {low: 1e-2, high: 1e-4, log: true}\n",
            "search.yaml; field 'space.lr': low (0.01) must be below high (0.0001)",
        ),
        (
            "space:\n  lr: {low: 0, high: 0.1, log: true}\n",
            "search.yaml; field 'space.lr': a log range needs low above 0 (got 0.0)",
        ),
        (
            "space:\n  lr: {low: 0.001, high: 0.1, lg: true}\n",
            "search.yaml; field 'space.lr': lg: unknown key; a range has low, high, log and step",
        ),
        (
            "space:\n  optimizer: [adam, adamx]\n",
            "search.yaml; field 'space.optimizer': 'adamx' is not a valid optimizer: "
            "Input should be 'sgd', 'rmsprop', 'adam' or 'adamw'",
        ),
        (
            "space:\n  batch_size: [32, 32]\n",
            "search.yaml; field 'space.batch_size': the choice 32 is listed twice",
        ),
        (
            "space:\n  batch_size: []\n",
            "search.yaml; field 'space.batch_size': give at least one choice",
        ),
        (
            "space:\n  preset: [enngene, 1layr]\n",
            "search.yaml; field 'space.preset': '1layr' is not a valid preset: unknown preset "
            f"'1layr' (did you mean '1layer'?); presets: {', '.join(PRESETS)}",
        ),
        (
            "space:\n  preset: [enngene, custom]\n",
            "search.yaml; field 'space.preset': preset 'custom' needs an architecture section in "
            "the "
            "space (the architecture to search)",
        ),
        (
            "space:\n  branches: [seq, 'seq,fold', [fold, seq]]\n",
            "search.yaml; field 'space.branches': the combination fold,seq is listed twice",
        ),
        (
            "space:\n  branches: [[seq, struct]]\n",
            "search.yaml; field 'space.branches': unknown branch 'struct' (known: seq, fold, cons)",
        ),
        (
            "space:\n  architecture:\n    filters: [0, 16]\n",
            "search.yaml; field 'space.architecture.filters': 0 is not a valid filters: "
            "Input should be greater than or equal to 1",
        ),
        (
            "space:\n  architecture:\n    conv_layers: {low: 1, high: 12}\n",
            "search.yaml; field 'space.architecture.conv_layers': 12 is not between 1 and 10",
        ),
        (
            "space:\n  architecture:\n    common: [dense, transformer]\n",
            "search.yaml; field 'space.architecture.common': 'transformer' is not one of "
            "dense, lstm, gru, none",
        ),
        (
            "sampler: grid\nspace:\n  lr: {low: 0.001, high: 0.01}\n",
            "search.yaml; field 'space.lr': grid search needs choices or a step for space.lr "
            "(a float range without step has no grid)",
        ),
        (
            "space:\n  lrr: 0.1\n",
            "search.yaml; field 'space.lrr': unknown field 'lrr'\n  hint: did you mean 'lr'?",
        ),
        (
            "storage: not a url\n",
            "search.yaml; field 'storage': 'not a url' is not a database URL (e.g. "
            "postgresql://user@host:5432/db or sqlite:///study.db) (got 'not a url')",
        ),
        (
            "objective: f1\n",
            "search.yaml; field 'objective': Input should be 'auroc', 'auprc' or 'loss' (got 'f1')",
        ),
    ],
)
def test_space_errors_name_the_field(tmp_path, text, message):
    assert _error(tmp_path, text) == message


def test_space_defaults_and_custom_preset():
    default = TuneConfig().space
    assert default.presets == ["enngene", "1layer", "1layer_64motif", "deepbind", "2layer"]
    assert default.lr == FloatRange(low=1e-4, high=1e-2, log=True)
    # An architecture section alone means: search that architecture.
    assert TuneConfig.model_validate({"space": {"architecture": {}}}).space.presets == ["custom"]
    # A saved parameters file reads back to the same configuration.
    config = TuneConfig.model_validate({"space": SMALL_SPACE, "n_trials": 3})
    again = TuneConfig.model_validate(json.loads(config.model_dump_json()))
    assert again == config


def test_grid_values():
    assert grid_values(IntRange(low=8, high=32, step=8)) == [8, 16, 24, 32]
    assert grid_values(FloatRange(low=0.0, high=0.5, step=0.25)) == [0.0, 0.25, 0.5]
    assert grid_values(["adam", "sgd"]) == ["adam", "sgd"]


def test_trial_config_from_fixed_parameters(dataset):
    space = TuneConfig.model_validate({"space": SMALL_SPACE}).space
    names = parameter_dimensions(space, ["seq"])
    assert list(names) == ["lr", "batch_size", "preset", "seq.conv_layers", "seq.filters"]
    trial = optuna.trial.FixedTrial(
        {"lr": 0.005, "batch_size": 16, "preset": "custom", "seq.conv_layers": 2, "seq.filters": 8}
    )
    config = trial_config(trial, space, ["seq"], dataset=dataset, seed=3)
    assert (config.lr, config.batch_size, config.epochs, config.seed) == (0.005, 16, 2, 3)
    assert config.branches == ["seq"]
    layers = config.architecture.model_dump()
    conv = {
        "type": "conv",
        "filters": 8,
        "kernel_size": 8,
        "dilation": 1,
        "padding": "same",
        "activation": "relu",
        "batch_norm": False,
        "dropout": 0.1,
    }
    pool = {"type": "pool", "kind": "max", "size": 2, "dropout": 0.0}
    top = {"type": "global_pool", "kind": "max", "dropout": 0.0}
    assert layers["branches"]["seq"] == [conv, pool, conv, pool, top]
    assert layers["common"] == [
        {"type": "dense", "units": 16, "activation": "relu", "batch_norm": False, "dropout": 0.0}
    ]
    preset = trial_config(
        optuna.trial.FixedTrial({"lr": 0.01, "batch_size": 32, "preset": "1layer"}),
        space,
        ["seq"],
        dataset=dataset,
    )
    assert preset.preset == "1layer" and preset.architecture is None


def test_pruning_callback_stops_a_hopeless_trial():
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.7)
    )
    trial = study.ask()
    callback = PruningCallback(trial, "val_auroc")
    trainer = SimpleNamespace(
        sanity_checking=False,
        should_stop=False,
        current_epoch=0,
        callback_metrics={"val_auroc": torch.tensor(0.75)},
    )
    callback.on_validation_epoch_end(trainer, None)
    assert (trainer.should_stop, callback.pruned_epoch) == (False, None)
    trainer.current_epoch = 1
    trainer.callback_metrics = {"val_auroc": torch.tensor(0.5)}
    callback.on_validation_epoch_end(trainer, None)
    assert (trainer.should_stop, callback.pruned_epoch) == (True, 2)
    frozen = study.trials[0]
    assert frozen.intermediate_values == {1: 0.75, 2: 0.5}


def test_search_through_the_cli(dataset, tmp_path):
    """Two random trials with SQLite; the best config re-runs to the same metric."""
    search = tmp_path / "search.yaml"
    search.write_text(yaml.safe_dump({"sampler": "random", "n_trials": 2, "space": SMALL_SPACE}))
    result = subprocess.run(
        [
            str(GENNIE),
            "tune",
            "--config",
            str(search),
            "--dataset",
            str(dataset),
            "--out",
            str(tmp_path / "runs"),
            "--study",
            "small",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    run = Path(summary["run_dir"])
    assert run == tmp_path / "runs" / "small"
    assert summary["stage"] == "tune" and summary["study"] == "small"
    assert summary["trials"] == {"complete": 2}
    assert "trial 1 complete: validation auroc" in result.stderr
    for name in (
        "study.db",
        "trials.tsv",
        "best_config.yaml",
        "parameters.yaml",
        "gennie.log",
        "plots/optimization_history.html",
        "plots/optimization_history.png",
        "plots/parallel_coordinate.html",
        "plots/param_importances.html",
    ):
        assert (run / name).is_file(), name
    table = pd.read_csv(run / "trials.tsv", sep="\t")
    assert table["trial"].tolist() == [0, 1]
    assert table["state"].tolist() == ["COMPLETE"] * 2
    assert table["value"].tolist() == table["val_auroc"].tolist()
    assert {"params_lr", "params_batch_size", "params_preset"} <= set(table.columns)
    best = table.loc[table["value"].idxmax()]
    assert summary["best_trial"] == best["trial"]
    assert summary["best_value"] == pytest.approx(best["value"], abs=1e-6)
    # The search never touched the test split: no trial has an evaluation folder.
    for trial in range(2):
        folder = run / "trials" / f"trial_{trial:04d}"
        assert (folder / "model" / "weights.safetensors").is_file()
        assert not (folder / "evaluation").exists()

    # gennie train --config best_config.yaml: the same model, the same validation metric.
    again = CliRunner().invoke(
        app,
        [
            "train",
            "--config",
            str(run / "best_config.yaml"),
            "--out",
            str(tmp_path / "re"),
            "--json",
        ],
    )
    assert again.exit_code == 0, again.output
    rerun = Path(json.loads(again.stdout.strip().splitlines()[-1])["run_dir"])
    metrics = validation_metrics(rerun, Dataset(dataset))
    assert metrics["auroc"] == summary["validation"]["auroc"]
    assert metrics["loss"] == summary["validation"]["loss"]
    trial_dir = run / "trials" / f"trial_{summary['best_trial']:04d}"
    epochs = pd.read_csv(trial_dir / "metrics.tsv", sep="\t").drop(columns="seconds")
    assert epochs.equals(pd.read_csv(rerun / "metrics.tsv", sep="\t").drop(columns="seconds"))

    # Running the search again resumes the study: n_trials counts all trials so far.
    config = build_config(
        "tune",
        search,
        {"dataset": dataset, "out": tmp_path / "runs", "study": "small", "n_trials": 3},
    )
    resumed = tune(config)
    assert resumed.run_dir == run
    assert resumed.summary["trials"] == {"complete": 3}
    table = pd.read_csv(run / "trials.tsv", sep="\t")
    assert table["trial"].tolist() == [0, 1, 2]
    # The resumed sampler continues instead of repeating the first trial.
    assert table["params_lr"].nunique() == 3


def test_grid_search_tries_every_point_once_and_retrains(dataset, tmp_path):
    config = TuneConfig.model_validate(
        {
            "dataset": dataset,
            "out": tmp_path,
            "sampler": "grid",
            "pruner": "none",
            "retrain": True,
            "precision": "bf16",
            "space": {
                "lr": [0.01],
                "batch_size": 32,
                "optimizer": ["adam", "sgd"],
                "lr_schedule": "fixed",
                "epochs": 1,
                "preset": "1layer",
            },
        }
    )
    result = tune(config)
    table = pd.read_csv(result.run_dir / "trials.tsv", sep="\t")
    assert sorted(table["params_optimizer"]) == ["adam", "sgd"]
    assert result.summary["trials"] == {"complete": 2}
    # --retrain: the best configuration trained again and evaluated on the test split.
    retrained = Path(result.summary["retrained"])
    assert retrained.parent == result.run_dir / "retrained"
    saved = json.loads((retrained / "evaluation" / "metrics.json").read_text())
    assert result.summary["metrics"]["auroc"] == saved["auroc"]
    assert validation_metrics(retrained, Dataset(dataset))["auroc"] == result.summary["best_value"]
    # The search's precision reaches both trials and the retrained model.
    runs = [retrained, *(result.run_dir / "trials").glob("trial_*")]
    assert len(runs) == 3
    for run in runs:
        assert yaml.safe_load((run / "parameters.yaml").read_text())["precision"] == "bf16"


def test_trials_that_cannot_train_fail_with_their_reason(dataset, tmp_path):
    # Two unpadded 24-wide convolutions with pooling do not fit a 40-base window.
    config = TuneConfig.model_validate(
        {
            "dataset": dataset,
            "out": tmp_path,
            "name": "deep",
            "sampler": "random",
            "space": {
                "epochs": 1,
                "architecture": {"conv_layers": 3, "kernel_size": 24, "padding": "valid"},
            },
        }
    )
    with pytest.raises(UserError) as info:
        tune(config)
    assert info.value.field == "space"
    assert info.value.message.startswith("5 trials in a row failed; the last: ")
    assert not (tmp_path / "deep").exists()  # a new search that failed leaves nothing behind


def test_a_hopeless_trial_is_pruned_and_resuming_counts_it(dataset, tmp_path):
    fixed = {
        "batch_size": 16,
        "optimizer": "adam",
        "lr_schedule": "fixed",
        "epochs": 4,
        "early_stopping": False,
        "preset": "1layer",
    }
    base = {
        "dataset": dataset,
        "out": tmp_path,
        "study": "p",
        "sampler": "random",
        "prune_startup": 1,
        "prune_warmup": 0,
    }
    tune(TuneConfig.model_validate({**base, "n_trials": 1, "space": {**fixed, "lr": 0.03}}))
    # A learning rate this small learns nothing: below the median after one epoch.
    tiny = {**fixed, "lr": {"low": 1e-7, "high": 1e-6, "log": True}}
    result = tune(TuneConfig.model_validate({**base, "n_trials": 2, "space": tiny}))
    assert result.summary["trials"] == {"complete": 1, "pruned": 1}
    table = pd.read_csv(result.run_dir / "trials.tsv", sep="\t")
    assert table["state"].tolist() == ["COMPLETE", "PRUNED"]
    assert table["epochs_run"].tolist() == [4, 1]
    assert table["pruned_epoch"].isna().tolist() == [True, False]
    assert result.summary["best_trial"] == 0


def test_jobs_runs_several_worker_processes(dataset, tmp_path):
    """--jobs 2: the command and one more process share the run folder's SQLite study."""
    # Trials long enough that the second process, which first has to import PyTorch,
    # joins before the first has finished them all.
    space = {**SMALL_SPACE, "epochs": 30, "early_stopping": False}
    search = tmp_path / "search.yaml"
    search.write_text(yaml.safe_dump({"sampler": "random", "space": space}))
    result = subprocess.run(
        [
            str(GENNIE),
            "tune",
            "--config",
            str(search),
            "--dataset",
            str(dataset),
            "--out",
            str(tmp_path / "runs"),
            "--study",
            "two",
            "--pruner",
            "none",
            "--n-trials",
            "8",
            "--jobs",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    table = pd.read_csv(Path(summary["run_dir"]) / "trials.tsv", sep="\t")
    finished = table[table["state"].isin(["COMPLETE", "PRUNED"])]
    # Eight finished trials were asked for; concurrent workers overshoot by at most one.
    assert 8 <= len(finished) <= 9
    assert finished["worker"].nunique() == 2


def test_jobs_stops_its_waiting_workers_on_a_user_error(tmp_path):
    # The extra worker processes start before the input is checked; a bad input stops
    # them (none is left behind) and nothing is written.
    config = TuneConfig.model_validate(
        {"dataset": tmp_path / "missing", "out": tmp_path, "jobs": 3, "space": {"epochs": 1}}
    )
    with pytest.raises(UserError) as info:
        tune(config)
    assert info.value.field == "dataset"
    assert multiprocessing.active_children() == []
    assert list(tmp_path.iterdir()) == []
