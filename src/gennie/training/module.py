"""The Lightning module: categorical cross-entropy (optionally class-weighted), metrics,
optimizers and schedules.

Data-parallel training (several processes, Lightning's DDP) changes none of it: each
process steps on its own shard of every epoch, DDP averages the gradients, and the
epoch's metrics are computed from the outputs of all processes (gathered, padding
duplicates dropped), so they are the same in every process and equal to those of one
process over the whole split.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import multiclass_auroc

from gennie.config import TrainConfig
from gennie.config.stages import parse_class_weights
from gennie.errors import UserError
from gennie.model.network import EnsembleNetwork
from gennie.training.augment import augment
from gennie.training.callbacks import monitor_mode

log = logging.getLogger("gennie.train")

RESTART_EPOCHS = 3
"""A network whose output is the same for every validation sample at the end of one of
its first epochs is re-initialised (see :meth:`Classifier.restart_dead_networks`)."""

RESTARTS = 3
"""At most this many restarts per network."""


def class_weight_vector(
    setting: str, labels: np.ndarray, classes: Sequence[str]
) -> torch.Tensor | None:
    """The per-class weights of the training loss from a ``class_weights`` setting.

    Args:
        setting: ``none``, ``balanced`` or ``NAME=W,NAME=W`` (see
            :func:`~gennie.config.stages.parse_class_weights`).
        labels: shape=(n,), class index of each training sample.
        classes: The class names, in index order.

    Returns:
        shape=(k,), float32: ``balanced`` gives ``n / (k * count of the class)`` (a class
        without training samples gets 0: it has no loss to weigh); ``NAME=W`` gives W for
        the named classes and 1 for the others; ``none`` gives None (plain loss).

    Raises:
        UserError: A named class that the dataset does not have.
    """
    parsed = parse_class_weights(setting)
    if parsed == "none":
        return None
    k = len(classes)
    if parsed == "balanced":
        counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=k).astype(np.float64)
        with np.errstate(divide="ignore"):
            weights = np.where(counts > 0, counts.sum() / (k * counts), 0.0)
        return torch.tensor(weights, dtype=torch.float32)
    unknown = [name for name in parsed if name not in classes]
    if unknown:
        raise UserError(
            f"class_weights names class '{unknown[0]}', which the dataset does not have",
            field="class_weights",
            hint=f"classes: {', '.join(classes)}",
        )
    return torch.tensor([parsed.get(name, 1.0) for name in classes], dtype=torch.float32)


def _first_occurrences(positions: torch.Tensor) -> torch.Tensor:
    """Indices of the first occurrence of each distinct position, ordered by position.

    Args:
        positions: shape=(n,), sample positions, some repeated (padding).

    Returns:
        shape=(distinct,), indices into ``positions``.
    """
    order = torch.sort(positions, stable=True).indices
    ranked = positions[order]
    first = torch.ones_like(ranked, dtype=torch.bool)
    first[1:] = ranked[1:] != ranked[:-1]
    return order[first]


def _networks(network: torch.nn.Module) -> list[torch.nn.Module]:
    """An ensemble's members, or the one network."""
    if isinstance(network, EnsembleNetwork):
        return list(network.members)
    return [network]


class Classifier(pl.LightningModule):
    """Wraps a network that maps branch tensors to class logits.

    The training loss is the cross-entropy of the logits (with ``label_smoothing``
    and per-class ``class_weights``, if set; validation always uses the plain
    cross-entropy); for an
    :class:`~gennie.model.network.EnsembleNetwork` it is the sum of the members' own
    cross-entropies (the logged training loss is their mean), while validation scores
    the ensemble's mean probabilities.

    A network (or ensemble member) that gives the same output for every validation
    sample at the end of one of its first :data:`RESTART_EPOCHS` epochs has stopped
    learning (all units of a ReLU layer can die in the first steps, about one network
    in twenty on RBP24); it starts again from new random weights.

    Args:
        network: ``forward(*xs) -> logits`` of shape (n, classes).
        num_classes: Number of classes.
        config: Optimizer, learning-rate schedule and epochs. The plateau schedule is
            stepped after each validation with the monitored metric.
        steps_per_epoch: Batches (not groups) per training epoch, for the one-cycle
            schedule.
        class_weights: shape=(num_classes,), weight of each class in the training loss
            (see :func:`class_weight_vector`); None for the plain loss.
    """

    def __init__(
        self,
        network: torch.nn.Module,
        num_classes: int,
        config: TrainConfig,
        steps_per_epoch: int,
        class_weights: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.network = network
        # Not persistent: the weights shape the training, they are not part of the model.
        self.register_buffer("class_weights", class_weights, persistent=False)
        self.config = config
        self.steps_per_epoch = steps_per_epoch
        self.num_classes = num_classes
        self._train_outputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._val_outputs: list[tuple[torch.Tensor, ...]] = []
        # The moving average of the weights (config.ema_decay), a frozen copy of the
        # network; a submodule, so it moves with the module and is in its state_dict.
        self.averaged: torch.nn.Module | None = None
        if config.ema_decay > 0:
            self.averaged = copy.deepcopy(network).requires_grad_(False)
        self._averaged_steps = 0
        self._probe: tuple[torch.Tensor, ...] | None = None
        self.restarts = [0] * len(self.trained_networks)
        # Optimizer and schedule are stepped in training_step, once per batch of a group.
        self.automatic_optimization = False

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.network(*xs)

    @property
    def trained_networks(self) -> list[torch.nn.Module]:
        """The networks trained: an ensemble's members, or the one network."""
        return _networks(self.network)

    @property
    def evaluated_network(self) -> torch.nn.Module:
        """The weights that are validated, kept and saved: the moving average of the
        trained weights if ``ema_decay`` is set, else the trained weights."""
        return self.network if self.averaged is None else self.averaged

    @torch.no_grad()
    def _update_average(self) -> None:
        """Move the averaged weights towards the trained ones after an optimizer step.

        The decay is ``min(ema_decay, (1 + t) / (10 + t))`` at step ``t``, so the average
        does not keep the random initial weights for long (as timm's ModelEmaV2).
        """
        if self.averaged is None:
            return
        decay = min(self.config.ema_decay, (1 + self._averaged_steps) / (10 + self._averaged_steps))
        self._averaged_steps += 1
        averaged = list(self.averaged.parameters())
        torch._foreach_lerp_(averaged, list(self.network.parameters()), 1.0 - decay)
        for kept, buffer in zip(self.averaged.buffers(), self.network.buffers(), strict=True):
            kept.copy_(buffer)

    def _train_loss(self, xs: tuple[torch.Tensor, ...], y: torch.Tensor) -> torch.Tensor:
        """The loss of one training batch; collects its outputs for the epoch's metrics."""
        cfg = self.config
        if isinstance(self.network, EnsembleNetwork):
            # Each member learns from its own loss (their sum is minimised, so no
            # member's gradient depends on another) on windows moved (and masked) by its
            # own random draws, so the members differ in more than their initial weights;
            # metrics are the ensemble's.
            members = torch.stack(
                [m(*augment(xs, cfg.shift, cfg.mask)) for m in self.trained_networks]
            )
            member_losses = torch.stack([self._loss(m, y) for m in members])
            probs = EnsembleNetwork.combine(members.detach()).softmax(dim=1)
            self._collect(member_losses.detach().mean(), probs, y)
            return member_losses.sum()
        logits = self(*augment(xs, cfg.shift, cfg.mask))
        loss = self._loss(logits, y)
        self._collect(loss.detach(), logits.detach().softmax(dim=1), y)
        return loss

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The training loss: cross-entropy, with the configured label smoothing and
        class weights (a weighted mean over the batch, as ``F.cross_entropy``)."""
        return F.cross_entropy(
            logits, y, weight=self.class_weights, label_smoothing=self.config.label_smoothing
        )

    def _collect(self, loss: torch.Tensor, probs: torch.Tensor, y: torch.Tensor) -> None:
        self._train_outputs.append((loss.reshape(1) * y.shape[0], probs, y))

    @property
    def _world_size(self) -> int:
        """Processes training together (1 without a trainer)."""
        return 1 if self._trainer is None else self.trainer.world_size

    def _gathered(self, parts: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Tensors of this process (rows along the first dimension), each concatenated
        with the same tensor of every other process (in rank order); unchanged with one
        process. The processes may hold different numbers of rows."""
        if self._world_size == 1:
            return list(parts)
        gathered = []
        for part in parts:
            rows = torch.tensor([part.shape[0]], device=self.device)
            counts = self.all_gather(rows).reshape(-1).tolist()
            most = max(counts)
            padded = torch.zeros((most, *part.shape[1:]), dtype=part.dtype, device=self.device)
            padded[: part.shape[0]] = part
            every = self.all_gather(padded)  # (world, most, ...)
            gathered.append(torch.cat([every[r, :c] for r, c in enumerate(counts)]))
        return gathered

    def _log_epoch(self, prefix: str, values: dict[str, torch.Tensor]) -> None:
        """Log an epoch's metrics (the same in every process: from gathered outputs)."""
        for name, value in values.items():
            self.log(
                f"{prefix}_{name}",
                value,
                on_step=False,
                on_epoch=True,
                prog_bar=prefix == "val" or name == "loss",
                batch_size=1,
            )

    def _log_train(self) -> None:
        """Log the epoch's training loss, accuracy and AUROC from the collected outputs
        (of every process).

        Logging through Lightning costs about as much per call as a small model's
        training step, so the per-batch work is only appending to a list.
        """
        losses, all_probs, all_y = zip(*self._train_outputs, strict=True)
        self._train_outputs = []
        parts = [torch.cat(losses), torch.cat(all_probs).float(), torch.cat(all_y)]
        losses, probs, y = self._gathered(parts)
        self._log_epoch(
            "train",
            {
                "loss": losses.sum() / y.shape[0],
                "accuracy": (probs.argmax(dim=1) == y).float().mean(),
                "auroc": multiclass_auroc(probs, y, self.num_classes, average="macro"),
            },
        )

    def on_train_epoch_start(self) -> None:
        self._train_outputs = []

    def training_step(self, group: list[tuple], group_idx: int) -> None:
        """One optimizer step for each batch of a group (see :mod:`gennie.training.data`).

        The bare optimizer is stepped: Lightning's wrapper would run its hooks again for
        every batch. Nothing here needs them: no gradient clipping, and no loss scaling
        (float32, or bfloat16 mixed precision, whose autocast Lightning sets around this
        step; bfloat16 has float32's range). With several processes, the backward pass
        goes through Lightning (``manual_backward``), which readies DDP's averaging of
        the gradients across the processes for each batch of the group.
        """
        optimizer = self.optimizers().optimizer
        scheduler = self.lr_schedulers() if self.config.lr_schedule == "one-cycle" else None
        distributed = self._world_size > 1
        for xs, y in group:
            loss = self._train_loss(xs, y)
            optimizer.zero_grad()
            if distributed:
                self.manual_backward(loss)
            else:
                loss.backward()
            optimizer.step()
            self._update_average()
            if scheduler is not None:
                scheduler.step()
        if group_idx == self.trainer.num_training_batches - 1:
            self._log_train()
            if self.config.lr_schedule == "decay":
                self.lr_schedulers().step()

    def validation_step(self, batch: tuple, batch_idx: int) -> None:
        """Collect the batch's probabilities and losses; the metrics are computed over
        the whole split when the validation ends.

        Args:
            batch: ``(inputs, labels)``, or ``(inputs, labels, positions)`` (see
                :class:`~gennie.training.data.IndexedSamples`) when several processes
                validate on padded shards.
        """
        xs, y = batch[0], batch[1]
        positions = batch[2] if len(batch) > 2 else None
        if batch_idx == 0:
            self._probe = xs
        logits = self.evaluated_network(*xs).float()
        losses = F.cross_entropy(logits, y, reduction="none")
        if positions is None:
            positions = torch.full_like(y, -1)
        self._val_outputs.append((positions, losses, logits.softmax(dim=1), y))
        # Computed at the last batch, not in on_validation_epoch_end: callbacks (best
        # weights, early stopping) read the metrics in that hook before the module's runs.
        # (Without a trainer, as in a test of one batch, each batch is the last.)
        if self._trainer is None or batch_idx == self.trainer.num_val_batches[0] - 1:
            self._log_validation()

    def on_validation_epoch_start(self) -> None:
        self._val_outputs = []

    def _log_validation(self) -> None:
        """Log validation loss, accuracy and AUROC over the whole validation split: the
        outputs of all processes, each sample once (padding duplicates dropped)."""
        if not self._val_outputs:
            return
        positions, losses, probs, y = (torch.cat(p) for p in zip(*self._val_outputs, strict=True))
        self._val_outputs = []
        positions, losses, probs, y = self._gathered([positions, losses, probs, y])
        if self._world_size > 1:
            keep = _first_occurrences(positions)
            losses, probs, y = losses[keep], probs[keep], y[keep]
        self._log_epoch(
            "val",
            {
                "loss": losses.mean(),
                "accuracy": (probs.argmax(dim=1) == y).float().mean(),
                "auroc": multiclass_auroc(probs, y, self.num_classes, average="macro"),
            },
        )

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        if self.current_epoch < RESTART_EPOCHS:
            self.restart_dead_networks()
        if self.config.lr_schedule == "plateau":
            value = self.trainer.callback_metrics.get(self.config.monitor)
            if value is not None:
                self.lr_schedulers().step(float(value))

    @torch.no_grad()
    def restart_dead_networks(self) -> list[int]:
        """Re-initialise each trained network whose class probabilities are the same for
        every sample of the first validation batch (spread below 1e-6), at most
        :data:`RESTARTS` times per network; their optimizer state (and averaged weights)
        start again too.

        Returns:
            The indices of the restarted networks (ensemble members).
        """
        strategy = self.trainer.strategy
        restarted = []
        optimizer = self.optimizers().optimizer
        for index, network in enumerate(self.trained_networks):
            # Every process decides (on its own validation shard) and all restart if
            # one does, so the processes keep the same weights.
            dead = self.restarts[index] < RESTARTS and self._is_dead(network)
            if not strategy.reduce_boolean_decision(dead, all=False):
                continue
            for module in network.modules():
                if module is not network and hasattr(module, "reset_parameters"):
                    module.reset_parameters()
            if self.trainer.world_size > 1:
                network.load_state_dict(strategy.broadcast(network.state_dict(), src=0))
            for param in network.parameters():
                optimizer.state.pop(param, None)
            if self.averaged is not None:
                _networks(self.averaged)[index].load_state_dict(network.state_dict())
            self.restarts[index] += 1
            restarted.append(index)
            log.warning(
                "network %d of %d gave the same output for every validation sample after "
                "epoch %d (its units died); it starts again from new random weights",
                index + 1,
                len(self.restarts),
                self.current_epoch + 1,
            )
        return restarted

    def _is_dead(self, network: torch.nn.Module) -> bool:
        """Whether ``network`` gives the same probabilities (spread below 1e-6) for every
        sample of the first validation batch (never with fewer than two samples)."""
        if self._probe is None or self._probe[0].shape[0] < 2:
            return False
        probs = network(*self._probe).float().softmax(dim=1)
        return bool((probs.max(dim=0).values - probs.min(dim=0).values).max() < 1e-6)

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
        if cfg.lr_schedule == "plateau":
            # Any improvement counts (the early-stopping min_delta is for stopping); the
            # rate drops on the lr_patience-th epoch in a row without one.
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer,
                mode=monitor_mode(cfg.monitor),
                factor=cfg.lr_factor,
                patience=cfg.lr_patience - 1,
                threshold=0.0,
                threshold_mode="abs",
            )
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler}}
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
