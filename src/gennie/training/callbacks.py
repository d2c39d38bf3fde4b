"""Callbacks: the per-epoch metrics table and log line, the progress bar, and the
best-validation weights.

The best weights are kept in memory and written once, as safetensors, by the train
stage: no pickled checkpoint ever lands on disk, and the test evaluation and the saved
model use the very same (best-validation) weights — ENNGene evaluated last-epoch
weights while saving the best ones.
"""

from __future__ import annotations

import copy
import csv
import logging
import math
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import RichProgressBar

log = logging.getLogger("gennie.train")

EPOCH_COLUMNS = [
    "epoch",
    "train_loss",
    "train_accuracy",
    "train_auroc",
    "val_loss",
    "val_accuracy",
    "val_auroc",
    "lr",
    "seconds",
]


def _value(metrics: dict, key: str) -> float | str:
    value = metrics.get(key)
    if value is None:
        return ""
    value = float(value)
    return "" if math.isnan(value) else round(value, 6)


def epoch_line(row: dict[str, float | str], epoch: int, epochs: int | None) -> str:
    """One line saying how an epoch went, e.g. ``epoch 3/20: train loss 0.4123 ...``.

    Args:
        row: The epoch's values by :data:`EPOCH_COLUMNS` name ("" where unknown).
        epoch: The epoch, counted from 1.
        epochs: The maximum number of epochs, if known.
    """

    def part(prefix: str) -> str:
        names = (("loss", "loss"), ("accuracy", "accuracy"), ("auroc", "AUROC"))
        values = [(label, row.get(f"{prefix}_{key}", "")) for key, label in names]
        return " ".join(f"{label} {v:.4f}" for label, v in values if v != "")

    total = f"/{epochs}" if epochs else ""
    text = f"epoch {epoch}{total}: train {part('train')} | validation {part('val')}"
    if row.get("lr", "") != "":
        text += f" | lr {row['lr']:.3g}"
    return text + f" | {row['seconds']:.1f} s"


class EpochTable(pl.Callback):
    """Appends one row per epoch to a TSV as training runs (the GUI charts it live) and
    logs one line per epoch (in ``gennie.log``, and on the terminal when the output is
    not one, e.g. under nohup or a cluster scheduler).

    Args:
        path: The TSV to write (``metrics.tsv`` in the run folder).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._started = time.time()
        with open(self.path, "w", newline="") as handle:
            csv.writer(handle, delimiter="\t").writerow(EPOCH_COLUMNS)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started = time.time()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = trainer.callback_metrics
        lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else ""
        row = [trainer.current_epoch + 1] + [_value(metrics, k) for k in EPOCH_COLUMNS[1:7]]
        row += [round(float(lr), 8) if lr != "" else "", round(time.time() - self._started, 2)]
        with open(self.path, "a", newline="") as handle:
            csv.writer(handle, delimiter="\t").writerow(row)
        if not trainer.sanity_checking:
            values = dict(zip(EPOCH_COLUMNS, row, strict=True))
            log.info(epoch_line(values, trainer.current_epoch + 1, trainer.max_epochs))


class EpochProgressBar(RichProgressBar):
    """Lightning's progress bar, with epochs counted from 1 (``Epoch 1/3`` for the first
    of three; Lightning itself shows ``Epoch 0/2``)."""

    def _get_train_description(self, current_epoch: int) -> str:
        # Lightning's hook for the bar's label (not public API; a label only).
        epochs = self.trainer.max_epochs
        text = f"Epoch {current_epoch + 1}" + (f"/{epochs}" if epochs and epochs > 0 else "")
        width = len(self.validation_description)
        return f"{text:{width}}" if width > len(text) else text


def monitor_mode(monitor: str) -> str:
    """``min`` for a monitored loss (lower is better), else ``max`` (e.g. AUROC)."""
    return "min" if monitor.endswith("loss") else "max"


class SharedRunFolder(pl.Callback):
    """Tells every training process the run folder, which only the first process (rank
    0) creates and writes; the others learn its name when training starts.

    Args:
        run_dir: The run folder in the first process; None in the others.
    """

    def __init__(self, run_dir: Path | None) -> None:
        self.run_dir = run_dir

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if trainer.world_size > 1:
            shared = trainer.strategy.broadcast(str(self.run_dir or ""), src=0)
            self.run_dir = Path(shared) if shared else None


class StopTogether(pl.Callback):
    """Stops every training process when one of them was told to stop (a search's
    pruning callback lives in the first process only), after each validation.

    Early stopping needs none of it: it decides the same in every process.
    """

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.world_size > 1 and not trainer.sanity_checking:
            stop = trainer.strategy.reduce_boolean_decision(trainer.should_stop, all=False)
            trainer.should_stop = stop


class BestWeights(pl.Callback):
    """Remembers the weights of the best validation epoch and restores them at the end.

    Args:
        monitor: ``val_loss`` (lower is better) or ``val_auroc`` (higher is better).
    """

    def __init__(self, monitor: str = "val_loss") -> None:
        self.monitor = monitor
        self.sign = -1.0 if monitor_mode(monitor) == "min" else 1.0
        self.best_score = -math.inf
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None or math.isnan(float(value)):
            return
        score = self.sign * float(value)
        if score > self.best_score:
            self.best_score = score
            self.best_epoch = trainer.current_epoch + 1
            self.best_state = copy.deepcopy(
                {k: v.detach().cpu() for k, v in pl_module.state_dict().items()}
            )

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.best_state is not None:
            pl_module.load_state_dict(self.best_state)

    @property
    def best_value(self) -> float | None:
        return None if self.best_epoch is None else self.sign * self.best_score
