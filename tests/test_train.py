"""The train stage as a library call: metrics table, best checkpoint, schedules, bundle."""

import json

import pandas as pd
import pytest
import torch
from planted import planted_motif_dataset

from gennie.config import EvaluateConfig, TrainConfig
from gennie.evaluation.stage import evaluate
from gennie.model.bundle import load_bundle
from gennie.training.stage import train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """200 random 40-mers per class; the positive class carries TGTAAATA in the middle."""
    return planted_motif_dataset(tmp_path_factory.mktemp("train-data"), 200, seed=0)


def _train(dataset, tmp_path, **kw):
    config = TrainConfig(
        **{"dataset": dataset, "out": tmp_path, "epochs": 4, "batch_size": 32, **kw}
    )
    return train(config)


def test_training_outputs_and_best_checkpoint(dataset, tmp_path):
    result = _train(dataset, tmp_path, early_stopping=False, preset="1layer", lr=0.01)
    run = result.run_dir
    table = pd.read_csv(run / "metrics.tsv", sep="\t")
    assert table["epoch"].tolist() == [1, 2, 3, 4]
    for column in (
        "train_loss",
        "train_accuracy",
        "train_auroc",
        "val_loss",
        "val_accuracy",
        "val_auroc",
        "lr",
    ):
        assert table[column].notna().all(), column
    best_epoch = int(table.loc[table["val_loss"].idxmin(), "epoch"])
    assert result.summary["best_epoch"] == best_epoch
    for name in (
        "model/weights.safetensors",
        "model/bundle.yaml",
        "training_curves.png",
        "architecture.png",
        "architecture.txt",
        "evaluation/metrics.json",
        "evaluation/roc_curve.png",
        "evaluation/roc_curve.svg",
        "evaluation/roc_curve.tsv",
        "evaluation/pr_curve.png",
        "evaluation/confusion_matrix.png",
        "parameters.yaml",
        "gennie.log",
    ):
        assert (run / name).is_file(), name
    assert any((run / "tensorboard").rglob("events.out.tfevents*"))
    assert result.summary["metrics"]["auroc"] > 0.9  # the planted motif is easy

    # The test metrics were computed with the weights that were saved (the best ones):
    # evaluating the saved bundle on the same split gives exactly the same numbers.
    again = evaluate(
        EvaluateConfig(model=run, blackbox=dataset, blackbox_split="test", out=tmp_path)
    )
    saved = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert again.summary["metrics"]["auroc"] == saved["auroc"]
    assert again.summary["metrics"]["loss"] == saved["loss"]
    _, spec = load_bundle(run)
    assert spec.training["best_epoch"] == best_epoch
    assert spec.classes == ["pos", "neg"] and spec.window == 40


def test_same_seed_same_metrics(dataset, tmp_path):
    a = _train(dataset, tmp_path, epochs=2, early_stopping=False)
    b = _train(dataset, tmp_path, epochs=2, early_stopping=False)
    assert a.summary["metrics"] == b.summary["metrics"]
    ta = pd.read_csv(a.run_dir / "metrics.tsv", sep="\t").drop(columns="seconds")
    tb = pd.read_csv(b.run_dir / "metrics.tsv", sep="\t").drop(columns="seconds")
    assert ta.equals(tb)


def test_early_stopping_stops(dataset, tmp_path):
    # min_delta so large that no epoch counts as an improvement after the first
    result = _train(dataset, tmp_path, epochs=20, patience=2, min_delta=100.0)
    assert result.summary["epochs_run"] == 3
    assert len(pd.read_csv(result.run_dir / "metrics.tsv", sep="\t")) == 3


def test_decay_schedule_and_sgd(dataset, tmp_path):
    result = _train(
        dataset,
        tmp_path,
        epochs=3,
        early_stopping=False,
        optimizer="sgd",
        lr=0.1,
        lr_schedule="decay",
        lr_decay=0.5,
    )
    lrs = pd.read_csv(result.run_dir / "metrics.tsv", sep="\t")["lr"].tolist()
    assert lrs == pytest.approx([0.05, 0.025, 0.0125])  # read after each epoch's step


def test_plateau_schedule_follows_the_validation_loss(dataset, tmp_path):
    """The rate falls by lr_factor on each lr_patience-th epoch in a row whose
    validation loss is no lower than the best so far (replayed from the table)."""
    result = _train(
        dataset,
        tmp_path,
        epochs=8,
        early_stopping=False,
        optimizer="sgd",
        lr=0.5,
        lr_schedule="plateau",
        lr_factor=0.5,
        lr_patience=1,
    )
    table = pd.read_csv(result.run_dir / "metrics.tsv", sep="\t")
    expected, lr, best = [], 0.5, float("inf")
    for loss in table["val_loss"]:
        if loss < best:
            best = loss
        else:
            lr *= 0.5
        expected.append(lr)
    assert table["lr"].tolist() == pytest.approx(expected)  # read after each epoch's step
    assert min(expected) < 0.5  # the run met at least one plateau


def test_plateau_waits_lr_patience_epochs(tmp_path):
    """Fed a validation loss that stops improving after the second epoch, the plateau
    schedule lowers the rate on the third epoch without improvement, then again three
    epochs later."""
    from types import SimpleNamespace

    from gennie.config.presets import preset_architecture
    from gennie.model.network import build_network
    from gennie.training.module import RESTART_EPOCHS, Classifier

    config = TrainConfig(dataset=tmp_path, lr=0.01, lr_schedule="plateau", lr_factor=0.1)
    network = build_network(preset_architecture("1layer", ["seq"]), {"seq": (4, 40)}, 2, 1)
    module = Classifier(network, 2, config, steps_per_epoch=1)
    setup = module.configure_optimizers()
    optimizer, scheduler = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    module.lr_schedulers = lambda: scheduler
    lrs = []
    for loss in [1.0, 0.9, 0.95, 0.9, 0.91, 0.92, 0.93, 0.94, 0.8]:
        module._trainer = SimpleNamespace(
            sanity_checking=False,
            current_epoch=RESTART_EPOCHS,
            callback_metrics={"val_loss": torch.tensor(loss)},
        )
        module.on_validation_epoch_end()
        lrs.append(optimizer.param_groups[0]["lr"])
    assert lrs == pytest.approx([0.01, 0.01, 0.01, 0.01, 1e-3, 1e-3, 1e-3, 1e-4, 1e-4])


def test_one_cycle_schedule(dataset, tmp_path):
    result = _train(
        dataset,
        tmp_path,
        epochs=3,
        early_stopping=False,
        optimizer="adamw",
        lr=0.01,
        lr_schedule="one-cycle",
    )
    lrs = pd.read_csv(result.run_dir / "metrics.tsv", sep="\t")["lr"].tolist()
    assert max(lrs) <= 0.01 and lrs[-1] < lrs[0] and lrs[-1] < 1e-4


@pytest.mark.parametrize(
    "common",
    [
        [],
        [{"type": "conv", "filters": 4, "kernel_size": 3}],
        [{"type": "gru", "units": 4, "bidirectional": True}],
    ],
)
def test_any_common_part_trains_to_2d_output(dataset, tmp_path, common):
    arch = {
        "branches": {
            "seq": [{"type": "conv", "filters": 8, "kernel_size": 5}, {"type": "pool", "size": 2}]
        },
        "common": common,
    }
    result = _train(dataset, tmp_path, epochs=1, early_stopping=False, architecture=arch)
    network, _ = load_bundle(result.run_dir)
    assert network(torch.zeros(3, 4, 40)).shape == (3, 2)
