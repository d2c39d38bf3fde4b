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
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from gennie.config import ArchitectureConfig, TrainConfig
from gennie.dataset.store import Dataset
from gennie.errors import UserError
from gennie.runs import StageResult, run_folder

log = logging.getLogger("gennie.train")

IN_MEMORY_BYTES = 2 * 1024**3
"""A training split whose encoded arrays take at most this many bytes is encoded once
and held in memory; a larger one is read from the dataset folder batch by batch."""

BATCHES_PER_STEP = 8
"""Batches per Lightning training step (see :mod:`gennie.training.data`)."""


def resolve_architecture(config: TrainConfig, branches: list[str]) -> ArchitectureConfig:
    """The architecture to train: the configured one, or the preset's for these branches.

    Raises:
        UserError: The architecture names branches that are not being used.
    """
    from gennie.config.presets import preset_architecture

    if config.architecture is None:
        return preset_architecture(config.preset, branches)
    extra = [b for b in config.architecture.branches if b not in branches]
    if extra:
        raise UserError(
            f"the architecture has layers for branch(es) {', '.join(extra)}, which are not "
            f"used (branches: {', '.join(branches)})",
            field="architecture.branches",
            hint="remove those sections or add the branches",
        )
    return config.architecture


def prepare(config: TrainConfig) -> tuple[TrainConfig, Dataset]:
    """Validate a train configuration against its dataset and fill in the defaults
    that depend on it (branches, architecture), so the saved parameters are complete."""
    if config.dataset is None:
        raise UserError(
            "no dataset given",
            field="dataset",
            hint="give --dataset with the folder that 'gennie preprocess' printed",
        )
    dataset = Dataset(config.dataset)
    branches = config.branches or dataset.branches
    for branch in branches:
        if branch not in dataset.branches:
            raise UserError(
                f"the dataset has no '{branch}' branch (it has {', '.join(dataset.branches)})",
                field="branches",
                hint="preprocess with that branch, or leave it out",
            )
    for split in ("train", "validation"):
        if dataset.indices(split).size == 0:
            raise UserError(
                f"the dataset has no {split} samples",
                file=dataset.path,
                field="dataset",
                hint="preprocess again with another ratio",
            )
    architecture = resolve_architecture(config, branches)
    resolved = config.model_copy(update={"branches": branches, "architecture": architecture})
    return resolved, dataset


def _quiet_lightning() -> None:
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*TensorBoard support.*")
    warnings.filterwarnings("ignore", ".*tensorboardX.*")
    warnings.filterwarnings("ignore", ".*GPU available but not used.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*is deprecated.*")


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
    import pytorch_lightning as pl
    import torch
    from pytorch_lightning.callbacks import EarlyStopping, ProgressBar, RichProgressBar
    from pytorch_lightning.loggers import TensorBoardLogger

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
    from gennie.scoring.metrics import classification_metrics, headline_metrics
    from gennie.scoring.plots import plot_training_curves, write_confusion_matrix, write_curves
    from gennie.training.callbacks import BestWeights, EpochTable, monitor_mode
    from gennie.training.data import BatchedSamples, batch_loader
    from gennie.training.module import Classifier

    config, dataset = prepare(config)
    device = pick_device(config.device)
    branches = list(config.branches or [])
    classes = dataset.classes
    inputs = {b: (dataset.encoder(b).channels, dataset.window) for b in branches}
    pl.seed_everything(config.seed, workers=True, verbose=False)
    # Built before the run folder exists, so that an architecture that does not fit
    # the inputs (a UserError) leaves nothing behind.
    centre = config.centre_networks_for(dataset.window)
    network = build_network(
        config.architecture,
        inputs,
        len(classes),
        config.ensemble,
        centre,
        config.centre_window,
    )
    _quiet_lightning()
    if config.threads:
        torch.set_num_threads(config.threads)

    with run_folder(config) as run:

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
        batches = -(-train_idx.size // config.batch_size)
        module = Classifier(network, len(classes), config, steps_per_epoch=batches)
        best = BestWeights(config.monitor)
        callbacks: list[Any] = [EpochTable(run.dir / "metrics.tsv"), best, *extra_callbacks]
        if not any(isinstance(c, ProgressBar) for c in callbacks):
            # Redrawn about 20 times per epoch rather than after every batch.
            callbacks.append(RichProgressBar(refresh_rate=max(1, len(train_loader) // 20)))
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
                str(run.dir), name="tensorboard", version="", default_hp_metric=False
            ),
            callbacks=callbacks,
            enable_checkpointing=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            log_every_n_steps=max(1, min(50, len(train_loader))),
            default_root_dir=str(run.dir),
        )
        if config.centre_networks and not centre:
            log.info(
                "no centre networks: the window (%d) is not wider than the centre window (%d)",
                dataset.window,
                config.centre_window,
            )
        elif centre:
            log.info(
                "%d of the %d networks read the central %d of the %d positions",
                centre,
                config.ensemble + centre,
                config.centre_window,
                dataset.window,
            )
        log.info(
            "training on %d samples, validating on %d (%s, device %s%s)",
            train_idx.size,
            val_idx.size,
            ", ".join(branches),
            device,
            ", bfloat16 mixed precision" if config.precision == "bf16" else "",
        )
        if config.precision == "bf16" and not fast_bfloat16(device):
            log.warning(
                "precision bf16: this %s has no bfloat16 arithmetic, so training will be "
                "slower than with precision 32",
                "GPU" if device.type == "cuda" else device.type.upper(),
            )
        trainer.fit(module, train_loader, val_loader)
        epochs_run = trainer.current_epoch
        log.info(
            "best epoch %s (%s = %s) of %d",
            best.best_epoch,
            config.monitor,
            best.best_value,
            epochs_run,
        )

        # Test evaluation with the best weights (restored by BestWeights at fit end).
        network = module.evaluated_network.to(device).eval()
        test_idx = dataset.indices("test")
        if evaluate_test:
            probs = predict_probabilities(network, index_batches(load, test_idx, 512), device)
            metrics = classification_metrics(probs, dataset.labels[test_idx], classes)
            evaluation = run.dir / "evaluation"
            evaluation.mkdir()
            (evaluation / "metrics.json").write_text(json.dumps(metrics, indent=2))
            write_curves(probs, dataset.labels[test_idx], classes, evaluation)
            write_confusion_matrix(metrics["confusion_matrix"], classes, evaluation)
            run.summary["metrics"] = headline_metrics(metrics)
        plot_training_curves(run.dir / "metrics.tsv", run.dir, best_epoch=best.best_epoch)

        network = network.cpu()
        drawn = first_member(network)
        rows = layer_table(drawn, inputs)
        table = format_layer_table(rows)
        if config.ensemble + centre > 1:
            table += f"\n(one of the ensemble's {config.ensemble + centre} networks"
            if centre:
                table += (
                    f"; {centre} of them read only the central {config.centre_window} "
                    "positions, with the same layers"
                )
            table += ")"
        (run.dir / "architecture.txt").write_text(table + "\n")
        draw_architecture(drawn, inputs, run.dir / "architecture.png", run.dir / "architecture.svg")
        meta = dataset.metadata
        spec = BundleSpec(
            classes=classes,
            branches=branches,
            inputs={b: {"channels": c, "length": length} for b, (c, length) in inputs.items()},
            architecture=config.architecture.model_dump(mode="json"),
            preprocessing={
                "window": dataset.window,
                "alphabet": meta["alphabet"],
                "strand": meta["strand"],
                "placement": meta["placement"],
                "unknown_bases": meta["unknown_bases"],
                "branches": {b: meta["branches"][b] for b in branches},
                "references": meta["references"],
                "seed": meta["seed"],
                "dataset": str(dataset.path),
            },
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
        save_bundle(run.dir / BUNDLE_DIR, network, spec)
        run.summary.update(
            {
                "best_epoch": best.best_epoch,
                "epochs_run": epochs_run,
            }
        )
        return StageResult(run_dir=run.dir, summary=run.summary, stage=run.stage)
