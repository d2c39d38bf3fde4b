"""The Lightning module: categorical cross-entropy, metrics, optimizers and schedules."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy, MulticlassAUROC
from torchmetrics.functional.classification import multiclass_auroc

from gennie.config import TrainConfig
from gennie.model.network import EnsembleNetwork


class Classifier(pl.LightningModule):
    """Wraps a network that maps branch tensors to class logits.

    The training loss is the cross-entropy of the logits; for an
    :class:`~gennie.model.network.EnsembleNetwork` it is the sum of the members' own
    cross-entropies (the logged training loss is their mean), while validation scores
    the ensemble's mean probabilities.

    Args:
        network: ``forward(*xs) -> logits`` of shape (n, classes).
        num_classes: Number of classes.
        config: Optimizer, learning-rate schedule and epochs.
        steps_per_epoch: Batches per training epoch (for the one-cycle schedule).
    """

    def __init__(
        self,
        network: torch.nn.Module,
        num_classes: int,
        config: TrainConfig,
        steps_per_epoch: int,
    ) -> None:
        super().__init__()
        self.network = network
        self.config = config
        self.steps_per_epoch = steps_per_epoch
        self.num_classes = num_classes
        self.val_accuracy = MulticlassAccuracy(num_classes, average="micro")
        self.val_auroc = MulticlassAUROC(num_classes, average="macro")
        self._train_outputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.network(*xs)

    def _step(self, batch: tuple, split: str) -> torch.Tensor:
        xs, y = batch
        if split == "train" and isinstance(self.network, EnsembleNetwork):
            # Each member learns from its own loss (their sum is minimised, so no
            # member's gradient depends on another); metrics are the ensemble's.
            members = self.network.member_logits(*xs)
            member_losses = torch.stack([F.cross_entropy(m, y) for m in members])
            probs = EnsembleNetwork.combine(members.detach()).softmax(dim=1)
            self._log_train(member_losses.detach().mean(), probs, y)
            return member_losses.sum()
        logits = self(*xs)
        loss = F.cross_entropy(logits, y)
        probs = logits.detach().softmax(dim=1)
        if split == "train":
            self._log_train(loss, probs, y)
            return loss
        accuracy = getattr(self, f"{split}_accuracy")
        auroc = getattr(self, f"{split}_auroc")
        accuracy.update(probs, y)
        auroc.update(probs, y)
        for name, value in (("loss", loss), ("accuracy", accuracy), ("auroc", auroc)):
            self.log(
                f"{split}_{name}",
                value,
                on_step=False,
                on_epoch=True,
                prog_bar=True,
                batch_size=y.shape[0],
            )
        return loss

    def _log_train(self, loss: torch.Tensor, probs: torch.Tensor, y: torch.Tensor) -> None:
        """Collect the epoch's training outputs; log loss, accuracy and AUROC once, at the
        epoch's last batch.

        Logging through Lightning costs about as much per call as a small model's
        training step, so the per-batch work here is only appending to lists.
        """
        self._train_outputs.append((loss.detach() * y.shape[0], probs, y))
        if len(self._train_outputs) < self.trainer.num_training_batches:
            return
        losses, all_probs, all_y = zip(*self._train_outputs, strict=True)
        self._train_outputs = []
        probs, y = torch.cat(all_probs), torch.cat(all_y)
        values = {
            "loss": torch.stack(losses).sum() / y.shape[0],
            "accuracy": (probs.argmax(dim=1) == y).float().mean(),
            "auroc": multiclass_auroc(probs, y, self.num_classes, average="macro"),
        }
        for name, value in values.items():
            self.log(
                f"train_{name}",
                value,
                on_step=False,
                on_epoch=True,
                prog_bar=name == "loss",
                batch_size=1,
            )

    def on_train_epoch_start(self) -> None:
        self._train_outputs = []

    def training_step(self, batch: tuple, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple, batch_idx: int) -> None:
        self._step(batch, "val")

    def configure_optimizers(self):
        cfg = self.config
        params = self.network.parameters()
        if cfg.optimizer == "sgd":
            optimizer = torch.optim.SGD(
                params, lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay
            )
        elif cfg.optimizer == "rmsprop":
            optimizer = torch.optim.RMSprop(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        elif cfg.optimizer == "adam":
            optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        else:
            optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        if cfg.lr_schedule == "decay":
            scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.lr_decay)
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"},
            }
        if cfg.lr_schedule == "one-cycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer,
                max_lr=cfg.lr,
                epochs=cfg.epochs,
                steps_per_epoch=max(1, self.steps_per_epoch),
            )
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
            }
        return optimizer
