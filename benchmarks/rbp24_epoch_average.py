"""Averaging the weights of the best epochs: is it worth a default on RBP24?

Trains gennie's default configuration (window 375) on RBP24 training files once per
experiment, keeping the weights after every epoch, and then scores on the *test split
of the training files* (8:1:1, as ``benchmarks/rbp24_defaults.py``; the ``ls`` files are
never read):

- ``best``: the weights of the best validation epoch (what gennie keeps by default);
- ``weights-k``: the element-wise mean of the weights of the k epochs with the lowest
  validation loss (each network of the ensemble averaged with itself);
- ``predictions-k``: the mean class probability of those k epochs' models (the same
  epochs, averaged in output space; k times the cost of a prediction, for comparison).

For each, the validation loss (what a rule may choose on) and the test AUROC are
written to ``OUT/epoch-average.csv``, one row per experiment × scheme; a row already
there is not run again. The datasets are those of ``rbp24_defaults.py`` (``OUT/runs/
NAME-w375``, preprocessed here if missing).

Usage (paths relative to the repository root)::

    .venv/bin/python benchmarks/rbp24_epoch_average.py --data ../shared/data/rbp24 \\
        --experiments CAPRIN1_Baltz2012,ALKBH5_Baltz2012 --out DIR
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from rbp24 import EXPERIMENTS
from rbp24_defaults import add_rows, screening_dataset

KS = (2, 3, 5, 8)
"""Numbers of best epochs averaged."""

COLUMNS = ["experiment", "scheme", "epochs", "val_loss", "test_auroc", "best_epoch", "seconds"]


class EpochWeights(pl.Callback):
    """Keeps the network's weights and the validation loss after every epoch."""

    def __init__(self) -> None:
        self.epochs: list[tuple[float, dict[str, torch.Tensor]]] = []

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        loss = float(trainer.callback_metrics["val_loss"])
        state = {k: v.detach().cpu().clone() for k, v in pl_module.network.state_dict().items()}
        self.epochs.append((loss, state))


def _probabilities(network: torch.nn.Module, inputs: list[np.ndarray]) -> np.ndarray:
    """Class probabilities of ``network`` (eval mode) for inputs held in memory."""
    from gennie.model.inference import predict_probabilities

    batches = ([a[lo : lo + 512] for a in inputs] for lo in range(0, inputs[0].shape[0], 512))
    return predict_probabilities(network.eval(), batches, torch.device("cpu"))


def run(data: Path, name: str, out: Path) -> list[dict[str, str]]:
    """Train the default once on ``name`` and score every averaging scheme."""
    from sklearn.metrics import log_loss, roc_auc_score

    from gennie.config import TrainConfig
    from gennie.dataset.store import Dataset
    from gennie.model.bundle import load_bundle
    from gennie.training.stage import train

    runs = out / "runs"
    dataset_dir = screening_dataset(data, name, 375, runs)
    started = time.time()
    recorder = EpochWeights()
    config = TrainConfig(
        dataset=dataset_dir, threads=1, seed=0, out=runs, name=f"{name}-epoch-average"
    )
    result = train(config, extra_callbacks=[recorder])
    seconds = time.time() - started

    dataset = Dataset(dataset_dir)
    positive = dataset.classes.index("positive")
    splits = {}
    for split in ("validation", "test"):
        indices = dataset.indices(split)
        splits[split] = (dataset.inputs(indices, ["seq"]), dataset.labels[indices])
    network, _ = load_bundle(result.run_dir)  # the architecture; weights loaded per scheme

    order = np.argsort([loss for loss, _ in recorder.epochs], kind="stable")
    best_epoch = int(order[0]) + 1

    def score(probs: dict[str, np.ndarray]) -> tuple[float, float]:
        val_labels = splits["validation"][1]
        val = log_loss(val_labels, probs["validation"], labels=range(len(dataset.classes)))
        test_labels = splits["test"][1]
        auroc = roc_auc_score(test_labels == positive, probs["test"][:, positive])
        return val, auroc

    def predict(state: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        network.load_state_dict(state)
        return {s: _probabilities(network, splits[s][0]) for s in splits}

    rows = []
    best_probs = predict(recorder.epochs[order[0]][1])
    schemes: list[tuple[str, int, dict[str, np.ndarray]]] = [("best", 1, best_probs)]
    per_epoch = [best_probs]
    for index in order[1 : max(KS)]:
        per_epoch.append(predict(recorder.epochs[index][1]))
    for k in KS:
        if k > len(order):
            continue
        chosen = [recorder.epochs[i][1] for i in order[:k]]
        mean = {key: torch.stack([s[key].float() for s in chosen]).mean(0) for key in chosen[0]}
        schemes.append(("weights", k, predict(mean)))
        schemes.append(
            (
                "predictions",
                k,
                {s: np.mean([p[s] for p in per_epoch[:k]], axis=0) for s in splits},
            )
        )
    for scheme, k, probs in schemes:
        val, auroc = score(probs)
        rows.append(
            {
                "experiment": name,
                "scheme": scheme,
                "epochs": str(k),
                "val_loss": f"{val:.4f}",
                "test_auroc": f"{auroc:.4f}",
                "best_epoch": str(best_epoch),
                "seconds": f"{seconds:.1f}",
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with the RBP24 files")
    parser.add_argument("--experiments", required=True, help="comma-separated experiments")
    parser.add_argument("--out", type=Path, default=Path("gennie-runs/rbp24-epoch-average"))
    args = parser.parse_args(argv)
    names = args.experiments.split(",")
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown {', '.join(unknown)}; known: {', '.join(EXPERIMENTS)}")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / "epoch-average.csv"
    rows = list(csv.DictReader(table.open())) if table.exists() else []
    for name in names:
        if any(r["experiment"] == name for r in rows):
            continue
        rows = add_rows(table, COLUMNS, rows, run(args.data, name, args.out))


if __name__ == "__main__":
    main()
