"""The train stage: dataset folder → trained model bundle, test evaluation and plots.

Lightning runs the loop (progress bar, TensorBoard logging, early stopping). The run
folder receives, as training goes:

- ``metrics.tsv`` — loss, accuracy and AUROC for train and validation, one row per
  epoch, appended live;
- ``tensorboard/`` — TensorBoard event files;

and at the end:

- ``model/`` — the bundle (``weights.safetensors`` + ``bundle.yaml``) holding the
  best-validation weights;
- ``training_curves.png/.svg``, ``architecture.txt``, ``architecture.png``;
- ``evaluation/`` — the test split evaluated with the best weights: ``metrics.json``,
  ROC and precision-recall curves (PNG, SVG, TSV), confusion matrix.

:func:`train` is four steps: :func:`build_data`, :func:`build_trainer`, :func:`fit`
and :func:`write_outputs` (with :func:`score_test` for the test split).
:func:`check` finds the configuration's problems without training anything.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ProgressBar
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.data import DataLoader

from gennie.config import ArchitectureConfig, TrainConfig
from gennie.config.presets import preset_architecture
from gennie.dataset.store import Dataset
from gennie.errors import UserError
from gennie.model.bundle import BUNDLE_DIR, BundleSpec, save_bundle
from gennie.model.inference import (
    fast_bfloat16,
    index_batches,
    lightning_accelerator,
    lightning_precision,
    pick_device,
    predict_probabilities,
)
from gennie.model.network import build_network, first_member
from gennie.model.summary import draw_architecture, format_layer_table, layer_table
from gennie.runs import (
    ARCHITECTURE_FILE,
    ARCHITECTURE_PICTURE,
    EPOCHS_FILE,
    EVALUATION_DIR,
    TENSORBOARD_DIR,
    StageResult,
    run_folder,
)
from gennie.scoring.metrics import headline_metrics
from gennie.scoring.plots import plot_training_curves
from gennie.scoring.score import score
from gennie.training.callbacks import BestWeights, EpochProgressBar, EpochTable, monitor_mode
from gennie.training.data import BatchedSamples, batch_loader
from gennie.training.module import Classifier, class_weight_vector

log = logging.getLogger("gennie.train")

IN_MEMORY_BYTES = 2 * 1024**3
"""A training split whose encoded arrays take at most this many bytes is encoded once
and held in memory; a larger one is read from the dataset folder batch by batch."""

BATCHES_PER_STEP = 8
"""Batches per Lightning training step (see :mod:`gennie.training.data`)."""


# --------------------------------------------------------------------------- checks


def _open_dataset(config: TrainConfig) -> Dataset:
    """The configured dataset folder, opened.

    Raises:
        UserError: None given, or not a complete preprocess run folder.
    """
    if config.dataset is None:
        raise UserError(
            "no dataset given",
            field="dataset",
            hint="give --dataset with the folder that 'gennie preprocess' printed",
        )
    return Dataset(config.dataset)


def _architecture_problems(config: TrainConfig, branches: list[str]) -> list[UserError]:
    """A configured architecture with layers for branches that are not used."""
    if config.architecture is None:
        return []
    extra = [b for b in config.architecture.branches if b not in branches]
    if not extra:
        return []
    return [
        UserError(
            f"the architecture has layers for branch(es) {', '.join(extra)}, which are not "
            f"used (branches: {', '.join(branches)})",
            field="architecture.branches",
            hint="remove those sections or add the branches",
        )
    ]


def _dataset_problems(config: TrainConfig, dataset: Dataset) -> list[UserError]:
    """What does not fit between the configuration and its (opened) dataset."""
    problems = []
    branches = config.branches or dataset.branches
    for branch in branches:
        if branch not in dataset.branches:
            problems.append(
                UserError(
                    f"the dataset has no '{branch}' branch (it has {', '.join(dataset.branches)})",
                    field="branches",
                    hint="preprocess with that branch, or leave it out",
                )
            )
    for split in ("train", "validation"):
        if dataset.indices(split).size == 0:
            problems.append(
                UserError(
                    f"the dataset has no {split} samples",
                    file=dataset.path,
                    field="dataset",
                    hint="preprocess again with another ratio",
                )
            )
    return problems + _architecture_problems(config, branches)


def check(config: TrainConfig) -> list[UserError]:
    """The problems of a train configuration that show before training (no network is
    built, no data encoded).

    Args:
        config: The train configuration.

    Returns:
        Field-tagged user errors, in the order :func:`train` would meet them (it
        raises the first); empty when the configuration can run.
    """
    try:
        dataset = _open_dataset(config)
    except UserError as exc:
        return [exc]
    return _dataset_problems(config, dataset)


def resolve_architecture(config: TrainConfig, branches: list[str]) -> ArchitectureConfig:
    """The architecture to train: the configured one, or the preset's for these branches.

    Args:
        config: The train configuration.
        branches: The branches being used.

    Returns:
        The architecture.

    Raises:
        UserError: The architecture names branches that are not being used.
    """
    problems = _architecture_problems(config, branches)
    if problems:
        raise problems[0]
    if config.architecture is None:
        return preset_architecture(config.preset, branches)
    return config.architecture


def prepare(config: TrainConfig) -> tuple[TrainConfig, Dataset]:
    """Validate a train configuration against its dataset and fill in the defaults
    that depend on it (branches, architecture), so the saved parameters are complete.

    Args:
        config: The train configuration.

    Returns:
        The completed configuration and the opened dataset.

    Raises:
        UserError: The first problem :func:`check` finds.
    """
    dataset = _open_dataset(config)
    problems = _dataset_problems(config, dataset)
    if problems:
        raise problems[0]
    branches = config.branches or dataset.branches
    architecture = resolve_architecture(config, branches)
    resolved = config.model_copy(update={"branches": branches, "architecture": architecture})
    return resolved, dataset


# --------------------------------------------------------------------------- steps


@dataclass
class TrainingData:
    """What the loop reads: the train and validation loaders over a dataset.

    Attributes:
        dataset: The dataset folder.
        branches: The branches fed to the network, in input order.
        load: Network inputs of sample indices, one float32 array (m, C, L) per branch.
        train_loader: Shuffled groups of training batches.
        val_loader: The validation split, in order.
        train_size: Samples in the training split.
        val_size: Samples in the validation split.
    """

    dataset: Dataset
    branches: list[str]
    load: Callable[[np.ndarray], list[np.ndarray]]
    train_loader: DataLoader
    val_loader: DataLoader
    train_size: int
    val_size: int


def build_data(config: TrainConfig, dataset: Dataset) -> TrainingData:
    """The loaders of the train and validation splits.

    Args:
        config: The prepared train configuration (branches filled in).
        dataset: Its dataset.

    Returns:
        The :class:`TrainingData`.
    """
    branches = list(config.branches or [])

    def load(indices: np.ndarray) -> list[np.ndarray]:
        return dataset.inputs(indices, branches)

    train_idx, val_idx = dataset.indices("train"), dataset.indices("validation")
    train_samples = BatchedSamples(load, train_idx, dataset.labels[train_idx])
    train_loader = batch_loader(
        train_samples.in_memory(IN_MEMORY_BYTES),
        config.batch_size,
        shuffle=True,
        seed=config.seed,
        group=BATCHES_PER_STEP,
    )
    val_loader = batch_loader(
        BatchedSamples(load, val_idx, dataset.labels[val_idx]),
        max(config.batch_size, 256),
        shuffle=False,
    )
    return TrainingData(
        dataset, branches, load, train_loader, val_loader, int(train_idx.size), int(val_idx.size)
    )


def build_trainer(
    config: TrainConfig,
    run_dir: Path,
    device: torch.device,
    steps: int,
    extra_callbacks: Sequence[Any] = (),
) -> tuple[pl.Trainer, BestWeights]:
    """The Lightning trainer with gennie's callbacks.

    Args:
        config: The train configuration.
        run_dir: The run folder (``metrics.tsv`` and ``tensorboard/`` go there).
        device: Where to train.
        steps: Training steps per epoch (groups of batches).
        extra_callbacks: More callbacks, after gennie's own.

    Returns:
        The trainer and its :class:`~gennie.training.callbacks.BestWeights` callback,
        which restores the best weights when fitting ends.
    """
    best = BestWeights(config.monitor)
    callbacks: list[Any] = [EpochTable(run_dir / EPOCHS_FILE), best, *extra_callbacks]
    if not any(isinstance(c, ProgressBar) for c in callbacks):
        # Redrawn about 20 times per epoch rather than after every batch.
        callbacks.append(EpochProgressBar(refresh_rate=max(1, steps // 20)))
    if config.early_stopping:
        callbacks.append(
            EarlyStopping(
                monitor=config.monitor,
                mode=monitor_mode(config.monitor),
                patience=config.patience,
                min_delta=config.min_delta,
            )
        )
    trainer = pl.Trainer(
        max_epochs=config.epochs,
        accelerator=lightning_accelerator(device),
        devices=1,
        precision=lightning_precision(config.precision),
        deterministic="warn",
        logger=TensorBoardLogger(
            str(run_dir), name=TENSORBOARD_DIR, version="", default_hp_metric=False
        ),
        callbacks=callbacks,
        enable_checkpointing=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=max(1, min(50, steps)),
        default_root_dir=str(run_dir),
    )
    return trainer, best


def _log_plan(config: TrainConfig, data: TrainingData, device: torch.device, centre: int) -> None:
    """Say what is about to be trained, on what, and where."""
    window = data.dataset.window
    if config.centre_networks and not centre:
        log.info(
            "no centre networks: the window (%d) is not wider than the centre window (%d)",
            window,
            config.centre_window,
        )
    elif centre:
        log.info(
            "%d of the %d networks read the central %d of the %d positions",
            centre,
            config.ensemble + centre,
            config.centre_window,
            window,
        )
    log.info(
        "training on %d samples, validating on %d (%s, device %s%s)",
        data.train_size,
        data.val_size,
        ", ".join(data.branches),
        device,
        ", bfloat16 mixed precision" if config.precision == "bf16" else "",
    )
    if config.precision == "bf16" and not fast_bfloat16(device):
        log.warning(
            "precision bf16: this %s has no bfloat16 arithmetic, so training will be "
            "slower than with precision 32",
            "GPU" if device.type == "cuda" else device.type.upper(),
        )


def fit(trainer: pl.Trainer, module: Classifier, data: TrainingData, best: BestWeights) -> int:
    """Run the loop; the module holds the best weights afterwards.

    Args:
        trainer: From :func:`build_trainer`.
        module: The network to train, wrapped.
        data: From :func:`build_data`.
        best: The trainer's best-weights callback.

    Returns:
        The number of epochs run.

    Raises:
        KeyboardInterrupt: Ctrl+C or SIGTERM (:class:`~gennie.processes.Terminated`)
            stopped the loop.
    """
    try:
        trainer.fit(module, data.train_loader, data.val_loader)
    except SystemExit as exc:
        # Lightning turns an interrupt into sys.exit(1); the run must end cancelled.
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise exc.__context__ from None
        raise
    epochs_run = trainer.current_epoch
    log.info(
        "best epoch %s (%s = %s) of %d",
        best.best_epoch,
        best.monitor,
        best.best_value,
        epochs_run,
    )
    return epochs_run


def score_test(
    network: torch.nn.Module, data: TrainingData, device: torch.device, folder: Path
) -> dict[str, Any]:
    """Score the network on the test split and write the scores into ``folder``.

    Args:
        network: The trained network, in eval mode on ``device``.
        data: From :func:`build_data`.
        device: Where to compute.
        folder: Where ``metrics.json``, the curves and the confusion matrix go.

    Returns:
        The test metrics (see :func:`gennie.scoring.score.score`).
    """
    dataset = data.dataset
    test_idx = dataset.indices("test")
    probs = predict_probabilities(
        network, index_batches(data.load, test_idx, 512), device, total=len(test_idx), step="test"
    )
    return score(probs, dataset.labels[test_idx], dataset.classes, folder)


def write_architecture(
    run_dir: Path,
    network: torch.nn.Module,
    inputs: dict[str, tuple[int, int]],
    config: TrainConfig,
    centre: int,
) -> None:
    """``architecture.txt`` (the layer table) and ``architecture.png/.svg`` of one
    network of the ensemble."""
    drawn = first_member(network)
    table = format_layer_table(layer_table(drawn, inputs))
    if config.ensemble + centre > 1:
        table += f"\n(one of the ensemble's {config.ensemble + centre} networks"
        if centre:
            table += (
                f"; {centre} of them read only the central {config.centre_window} "
                "positions, with the same layers"
            )
        table += ")"
    picture = run_dir / ARCHITECTURE_PICTURE
    (run_dir / ARCHITECTURE_FILE).write_text(table + "\n")
    draw_architecture(drawn, inputs, picture, picture.with_suffix(".svg"))


def write_outputs(
    run_dir: Path,
    config: TrainConfig,
    dataset: Dataset,
    network: torch.nn.Module,
    centre: int,
    best: BestWeights,
    epochs_run: int,
) -> None:
    """Training curves, architecture and the model bundle of a finished training.

    Args:
        run_dir: The run folder.
        config: The prepared train configuration.
        dataset: Its dataset.
        network: The trained network (moved to the CPU here).
        centre: Centre networks in the ensemble.
        best: The best-weights callback (best epoch and value).
        epochs_run: Epochs the loop ran.
    """
    plot_training_curves(run_dir / EPOCHS_FILE, run_dir, best_epoch=best.best_epoch)
    network = network.cpu()
    classes = dataset.classes
    branches = list(config.branches or [])
    inputs = network_inputs(dataset, branches)
    write_architecture(run_dir, network, inputs, config, centre)
    spec = BundleSpec(
        classes=classes,
        branches=branches,
        inputs={b: {"channels": c, "length": length} for b, (c, length) in inputs.items()},
        architecture=config.architecture.model_dump(mode="json"),
        preprocessing=dataset.spec.for_branches(branches),
        training={
            "best_epoch": best.best_epoch,
            "epochs_run": epochs_run,
            "monitor": config.monitor,
            "best_value": best.best_value,
        },
        ensemble=config.ensemble,
        centre_networks=centre,
        centre_window=config.centre_window if centre else 0,
    )
    save_bundle(run_dir / BUNDLE_DIR, network, spec)


def network_inputs(dataset: Dataset, branches: list[str]) -> dict[str, tuple[int, int]]:
    """``{branch: (channels, length)}`` of the network inputs, in input order."""
    return {b: (dataset.encoder(b).channels, dataset.window) for b in branches}


def _quiet_lightning() -> None:
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*TensorBoard support.*")
    warnings.filterwarnings("ignore", ".*tensorboardX.*")
    warnings.filterwarnings("ignore", ".*GPU available but not used.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*is deprecated.*")


# --------------------------------------------------------------------------- stage


def train(
    config: TrainConfig, extra_callbacks: Sequence[Any] = (), *, evaluate_test: bool = True
) -> StageResult:
    """Run the train stage (see the module docstring).

    Args:
        config: The train configuration.
        extra_callbacks: More Lightning callbacks for the loop (the search adds its
            pruning callback here); training itself is unchanged by them.
        evaluate_test: Evaluate the best weights on the test split. The search turns
            this off so that its trials never see the test data.

    Returns:
        The run folder and a summary with the test-split ``metrics`` (none when
        ``evaluate_test`` is off).

    Raises:
        UserError: A problem with the dataset or the configuration.
    """
    config, dataset = prepare(config)
    device = pick_device(config.device)
    inputs = network_inputs(dataset, list(config.branches or []))
    pl.seed_everything(config.seed, workers=True, verbose=False)
    # Built before the run folder exists, so that an architecture that does not fit
    # the inputs (a UserError) leaves nothing behind.
    centre = config.centre_networks_for(dataset.window)
    network = build_network(
        config.architecture,
        inputs,
        len(dataset.classes),
        config.ensemble,
        centre,
        config.centre_window,
    )
    weights = class_weight_vector(
        config.class_weights, dataset.labels[dataset.indices("train")], dataset.classes
    )
    _quiet_lightning()

    with run_folder(config) as run:
        data = build_data(config, dataset)
        steps_per_epoch = -(-data.train_size // config.batch_size)
        module = Classifier(
            network, len(dataset.classes), config, steps_per_epoch, class_weights=weights
        )
        trainer, best = build_trainer(
            config, run.dir, device, len(data.train_loader), extra_callbacks
        )
        _log_plan(config, data, device, centre)
        epochs_run = fit(trainer, module, data, best)
        # The best weights, restored by BestWeights when fitting ended.
        network = module.evaluated_network.to(device).eval()
        if evaluate_test:
            metrics = score_test(network, data, device, run.dir / EVALUATION_DIR)
            run.summary["metrics"] = headline_metrics(metrics)
        write_outputs(run.dir, config, dataset, network, centre, best, epochs_run)
        run.summary.update({"best_epoch": best.best_epoch, "epochs_run": epochs_run})
        return StageResult(run_dir=run.dir, summary=run.summary, stage=run.stage)
