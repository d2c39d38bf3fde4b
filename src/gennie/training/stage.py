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

Several devices or machines (``devices``, ``num_nodes``) train data-parallel with
Lightning's DDP strategy, one process per device: the process of rank 0 is the run (it
alone creates and writes the run folder, the log, ``metrics.tsv``, the plots and the
bundle); the others train their shard of every epoch and write nothing. Started from
one command on one machine, Lightning starts the other processes by running the same
command line again (a Python script calling :func:`train` is run again as a whole);
under ``torchrun`` or SLURM's ``srun`` every process runs the command and Lightning
reads its rank from the environment.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
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
from gennie.config.loading import dump_config
from gennie.config.presets import preset_architecture
from gennie.dataset.store import Dataset
from gennie.errors import UserError
from gennie.model.bundle import BUNDLE_DIR, BundleSpec, save_bundle
from gennie.model.inference import (
    fast_bfloat16,
    index_batches,
    lightning_precision,
    pick_device,
    predict_probabilities,
)
from gennie.model.network import build_network, first_member
from gennie.model.summary import draw_architecture, format_layer_table, layer_table
from gennie.processes import limit_threads
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
from gennie.training.callbacks import (
    BestWeights,
    EpochProgressBar,
    EpochTable,
    SharedRunFolder,
    StopTogether,
    monitor_mode,
)
from gennie.training.data import BatchedSamples, IndexedSamples, batch_loader
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


def _device_problems(config: TrainConfig) -> list[UserError]:
    """An accelerator or devices that this machine does not have."""
    accelerator = config.accelerator
    try:
        pick_device({"gpu": "cuda"}.get(accelerator, accelerator))
    except UserError:
        return [
            UserError(
                f"accelerator '{accelerator}' is not available on this machine",
                field="accelerator",
                hint="use --accelerator auto or cpu",
            )
        ]
    devices = config.device_list()
    on_gpu = accelerator == "gpu" or (accelerator == "auto" and torch.cuda.is_available())
    if isinstance(devices, list) and not on_gpu:
        return [
            UserError(
                f"devices '{config.devices}' names GPUs, but training runs on the "
                f"{'CPU' if accelerator in ('auto', 'cpu') else accelerator.upper()}",
                field="devices",
                hint="give a count of processes (e.g. 2), or --accelerator gpu on a GPU machine",
            )
        ]
    if on_gpu and devices != "auto":
        wanted = max(devices) + 1 if isinstance(devices, list) else devices
        have = torch.cuda.device_count()
        if wanted > have:
            return [
                UserError(
                    f"devices '{config.devices}' needs {wanted} GPUs; this machine has {have}",
                    field="devices",
                    hint="give fewer devices, or auto for all of them",
                )
            ]
    return []


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
    return _dataset_problems(config, dataset) + _device_problems(config)


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
    problems = _dataset_problems(config, dataset) + _device_problems(config)
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


def build_data(
    config: TrainConfig, dataset: Dataset, rank: int = 0, world: int = 1, pin_memory: bool = False
) -> TrainingData:
    """The loaders of the train and validation splits, for one of ``world`` processes.

    Args:
        config: The prepared train configuration (branches filled in).
        dataset: Its dataset.
        rank: This process's rank (data-parallel training).
        world: Processes training together: each reads its shard of every epoch.
        pin_memory: Put batches in page-locked memory (training on a GPU).

    Returns:
        The :class:`TrainingData`.
    """
    branches = list(config.branches or [])

    def load(indices: np.ndarray) -> list[np.ndarray]:
        return dataset.inputs(indices, branches)

    train_idx, val_idx = dataset.indices("train"), dataset.indices("validation")
    train_samples = BatchedSamples(load, train_idx, dataset.labels[train_idx])
    shards = {"rank": rank, "world": world, "pin_memory": pin_memory}
    train_loader = batch_loader(
        train_samples.in_memory(IN_MEMORY_BYTES),
        config.batch_size,
        shuffle=True,
        seed=config.seed,
        group=BATCHES_PER_STEP,
        workers=config.loader_workers,
        **shards,
    )
    # Positions come with the validation batches, so that the metrics gathered from
    # several processes count each sample once.
    val_loader = batch_loader(
        IndexedSamples(load, val_idx, dataset.labels[val_idx]),
        max(config.batch_size, 256),
        shuffle=False,
        **shards,
    )
    return TrainingData(
        dataset, branches, load, train_loader, val_loader, int(train_idx.size), int(val_idx.size)
    )


def _device_count(config: TrainConfig) -> int:
    """Training processes on each machine (``devices``, with ``auto`` resolved: every
    GPU when training on GPUs, else one)."""
    devices = config.device_list()
    if devices == "auto":
        return max(1, torch.cuda.device_count()) if _pin(config) else 1
    return len(devices) if isinstance(devices, list) else devices


def _trainer_devices(config: TrainConfig) -> dict[str, Any]:
    """Lightning's accelerator, devices, nodes and strategy for a configuration."""
    devices = config.device_list()
    several = config.num_nodes > 1 or _device_count(config) > 1
    strategy = config.strategy
    if strategy == "auto" and several:
        # Not Lightning's own choice: in a notebook that is ddp_fork, which trains in
        # forked processes only and leaves this one without the best epoch.
        strategy = "ddp"
    return {
        "accelerator": config.accelerator,
        "devices": devices,
        "num_nodes": config.num_nodes,
        "strategy": strategy,
    }


def training_processes(config: TrainConfig) -> tuple[int, int]:
    """This process's rank and the number of training processes, as Lightning sees them
    (from its launcher's or the cluster's environment: ``LOCAL_RANK``, ``RANK``,
    ``SLURM_PROCID``, ...).

    Args:
        config: The train configuration (accelerator, devices, num_nodes, strategy).

    Returns:
        ``(rank, world size)``; ``(0, 1)`` for one device.
    """
    probe = pl.Trainer(
        **_trainer_devices(config),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    return probe.global_rank, probe.world_size


def build_trainer(
    config: TrainConfig,
    run_dir: Path | None,
    steps: int,
    extra_callbacks: Sequence[Any] = (),
) -> tuple[pl.Trainer, BestWeights, SharedRunFolder]:
    """The Lightning trainer with gennie's callbacks.

    Args:
        config: The train configuration.
        run_dir: The run folder (``metrics.tsv`` and ``tensorboard/`` go there); None
            in a training process other than the first, which writes nothing.
        steps: Training steps per epoch (groups of batches).
        extra_callbacks: More callbacks, after gennie's own.

    Returns:
        The trainer, its :class:`~gennie.training.callbacks.BestWeights` callback,
        which restores the best weights when fitting ends, and the callback that
        tells every process the run folder.
    """
    best = BestWeights(config.monitor)
    shared = SharedRunFolder(run_dir)
    callbacks: list[Any] = [shared, best, *extra_callbacks, StopTogether()]
    if run_dir is not None:
        callbacks.insert(0, EpochTable(run_dir / EPOCHS_FILE))
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
    logger: Any = False
    if run_dir is not None:
        logger = TensorBoardLogger(
            str(run_dir), name=TENSORBOARD_DIR, version="", default_hp_metric=False
        )
    trainer = pl.Trainer(
        **_trainer_devices(config),
        max_epochs=config.epochs,
        precision=lightning_precision(config.precision),
        deterministic="warn",
        logger=logger,
        callbacks=callbacks,
        enable_checkpointing=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=max(1, min(50, steps)),
        default_root_dir=str(run_dir) if run_dir is not None else None,
        # The loaders shard the splits themselves (see gennie.training.data).
        use_distributed_sampler=False,
    )
    return trainer, best, shared


def _log_plan(
    config: TrainConfig, data: TrainingData, trainer: pl.Trainer, device: torch.device, centre: int
) -> None:
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
    if trainer.world_size > 1:
        machines = f" on {trainer.num_nodes} machines" if trainer.num_nodes > 1 else ""
        log.info(
            "DDP: %d processes%s, world size %d (%s); batch size %d per process, "
            "%d per step in all",
            trainer.world_size,
            machines,
            trainer.world_size,
            "NCCL" if device.type == "cuda" else "gloo",
            config.batch_size,
            config.batch_size * trainer.world_size,
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
        UserError: One of several training processes failed (each process says so;
            the one that failed first says why).
    """
    try:
        trainer.fit(module, data.train_loader, data.val_loader)
    except SystemExit as exc:
        # Lightning turns an interrupt into sys.exit(1); the run must end cancelled.
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise exc.__context__ from None
        raise
    except Exception as exc:
        if trainer.world_size == 1 or isinstance(exc, UserError):
            raise
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"training process {trainer.global_rank} of {trainer.world_size} stopped: "
            f"{type(exc).__name__}: {reason}",
            hint="the whole run stopped; when a peer's connection closed, the message of "
            "the process that failed first says why",
        ) from exc
    epochs_run = trainer.current_epoch
    if trainer.is_global_zero:
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
    # Epoch metrics are computed from the outputs of all processes (see module.py),
    # so Lightning's advice to average them across processes does not apply.
    warnings.filterwarnings("ignore", ".*when logging on epoch level in distributed.*")
    warnings.filterwarnings("ignore", ".*all_gather is deprecated.*")


# --------------------------------------------------------------------------- stage


def _quiet_helper() -> None:
    """A training process other than the first says only warnings and errors (the
    first one tells what happens), and nothing on stdout."""
    logging.getLogger("gennie").setLevel(logging.WARNING)


def _train_helper(
    config: TrainConfig,
    dataset: Dataset,
    rank: int,
    world: int,
    make_module: Callable[[int], Classifier],
    extra_callbacks: Sequence[Any],
) -> StageResult:
    """Train as one of several processes, other than the first: the same loop on this
    process's shard, writing nothing.

    Returns:
        The run folder (the first process's) and a summary with ``rank`` (the CLI
        prints nothing for such a process).
    """
    _quiet_helper()
    with limit_threads(config.threads):
        data = build_data(config, dataset, rank, world, pin_memory=_pin(config))
        module = make_module(data.train_size)
        trainer, best, shared = build_trainer(config, None, len(data.train_loader), extra_callbacks)
        epochs_run = fit(trainer, module, data, best)
    summary = {"rank": rank, "world_size": world, "epochs_run": epochs_run}
    return StageResult(run_dir=shared.run_dir or Path(config.out), summary=summary, stage="train")


@contextlib.contextmanager
def helper_processes(config: TrainConfig) -> Iterator[None]:
    """Within the block, :func:`train` in this process is the first of ``devices``
    training processes on this machine, and the others run as ``gennie train`` in
    processes started here; for a caller whose command line Lightning cannot start
    again (a search's worker, whose trials train in-process).

    The processes find each other as Lightning reads it from the environment
    (``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``), which is set
    for the block and restored afterwards. Nothing happens for one device.

    Args:
        config: The train configuration (one machine: ``num_nodes`` 1).
    """
    count = _device_count(config)
    if count == 1:
        yield
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    shared = {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "WORLD_SIZE": str(count),
        "NODE_RANK": "0",
    }
    saved = {name: os.environ.get(name) for name in [*shared, "LOCAL_RANK"]}
    with tempfile.TemporaryDirectory(prefix="gennie-helpers-") as folder:
        parameters = Path(folder) / "parameters.yaml"
        dump_config(config, parameters)
        command = [sys.executable, "-m", "gennie", "train", "--config", str(parameters)]
        helpers = [
            subprocess.Popen(
                command,
                env={**os.environ, **shared, "LOCAL_RANK": str(rank)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
            for rank in range(1, count)
        ]
        os.environ.update(shared, LOCAL_RANK="0")
        try:
            yield
        finally:
            # The next training in this process starts a new group of processes.
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                torch.distributed.destroy_process_group()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            for helper in helpers:
                try:
                    helper.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    helper.kill()
                    helper.wait()


def _pin(config: TrainConfig) -> bool:
    """Whether batches go to page-locked memory: when training on a CUDA GPU."""
    return config.accelerator == "gpu" or (
        config.accelerator == "auto" and torch.cuda.is_available()
    )


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

    def make_module(train_size: int) -> Classifier:
        # Optimizer steps per epoch of one process (the one-cycle schedule's length;
        # see gennie.training.data.ShardedBatches).
        steps_per_epoch = -(-max(1, train_size // world) // config.batch_size)
        return Classifier(
            network, len(dataset.classes), config, steps_per_epoch, class_weights=weights
        )

    rank, world = training_processes(config)
    if rank > 0:
        return _train_helper(config, dataset, rank, world, make_module, extra_callbacks)

    with run_folder(config) as run:
        data = build_data(config, dataset, 0, world, pin_memory=_pin(config))
        module = make_module(data.train_size)
        trainer, best, _ = build_trainer(config, run.dir, len(data.train_loader), extra_callbacks)
        device = trainer.strategy.root_device
        _log_plan(config, data, trainer, device, centre)
        epochs_run = fit(trainer, module, data, best)
        # The best weights, restored by BestWeights when fitting ended.
        network = module.evaluated_network.to(device).eval()
        if evaluate_test:
            metrics = score_test(network, data, device, run.dir / EVALUATION_DIR)
            run.summary["metrics"] = headline_metrics(metrics)
        write_outputs(run.dir, config, dataset, network, centre, best, epochs_run)
        run.summary.update({"best_epoch": best.best_epoch, "epochs_run": epochs_run})
        if world > 1:
            run.summary["processes"] = world
        return StageResult(run_dir=run.dir, summary=run.summary, stage=run.stage)
