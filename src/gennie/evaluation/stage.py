"""The evaluate stage: a model + labelled data → metrics, curves and confusion matrix.

Labelled data is one of: the blackbox (or another) split of a dataset folder; one
labelled file (``input``): a BED file with the class name in a column, a FASTA file
with the class in each header (``>site1 bound``, ``>site1|class:bound``, or what
``label_pattern`` reads), or a TSV/CSV table with a label column (see
:mod:`gennie.dataset.labelled`); or one file per class. It is preprocessed with the
model's own spec, so evaluation sees exactly what training saw.

:func:`evaluate` reads the labelled data (:func:`blackbox_data` or :func:`file_data`),
then scores the model on it (:func:`score_model`). :func:`check` finds the
configuration's problems without loading the model.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from gennie.attribution.explain import (
    attribution_problems,
    open_model,
    write_attribution_outputs,
)
from gennie.config import EvaluateConfig
from gennie.dataset.inputs import InputMapper, ModelInputs, identity_columns, spec_encoders
from gennie.dataset.labelled import (
    read_labelled,
    relocated,
    restore_provenance,
    source_location,
    write_records,
)
from gennie.dataset.labels import class_index
from gennie.dataset.store import IDENTITY_COLUMNS, Dataset
from gennie.errors import UserError
from gennie.io.files import require_file
from gennie.model.bundle import BundleSpec
from gennie.model.inference import (
    index_batches,
    predict_probabilities,
)
from gennie.model.loading import LoadedModel, check_dataset_fits, model_problems
from gennie.runs import PREDICTIONS_FILE, StageResult, run_folder
from gennie.scoring.metrics import headline_metrics, probability_table
from gennie.scoring.score import score

log = logging.getLogger("gennie.evaluate")

Loader = Callable[[np.ndarray], list[np.ndarray]]
"""Network inputs of sample indices: one float32 array (m, C, L) per branch."""


@dataclass
class LabelledData:
    """Samples to evaluate, with their true classes.

    Attributes:
        labels: shape=(n,), the model's class index of each sample.
        identity: One row per sample saying which input it is.
        batches: The network inputs of all samples, in order, batch by batch.
        load: Network inputs of any samples by their index ``0..n-1`` (for
            attributions).
    """

    labels: np.ndarray
    identity: pd.DataFrame
    batches: Iterable[list[np.ndarray]]
    load: Loader


def check(config: EvaluateConfig) -> list[UserError]:
    """The problems of an evaluate configuration that show before the model is loaded.

    Args:
        config: The evaluate configuration.

    Returns:
        Field-tagged user errors, in the order :func:`evaluate` meets them (it raises
        the first): no data given; the model (see
        :func:`~gennie.model.loading.model_problems`); the attribution settings; a
        blackbox folder that is no finished preprocess run, or without samples in the
        split; input files that are missing.
    """
    problems = []
    if not (config.blackbox or config.input or config.classes):
        problems.append(
            UserError(
                "no data to evaluate",
                field="input",
                hint="give --blackbox DATASET, --input FILE or --class NAME=FILE",
            )
        )
    problems += model_problems(config)
    problems += attribution_problems(config)
    if config.blackbox:
        problems += _blackbox_problems(config)
    files = {"input": config.input} if config.input else {}
    files.update({f"classes.{name}": path for name, path in config.classes.items()})
    for field, path in files.items():
        try:
            require_file(path, field, "input file")
        except UserError as exc:
            problems.append(exc)
    return problems


def _blackbox_problems(config: EvaluateConfig) -> list[UserError]:
    try:
        dataset = Dataset(config.blackbox, field="blackbox")
    except UserError as exc:
        return [exc]
    if dataset.indices(config.blackbox_split).size:
        return []
    return [_empty_split(dataset, config.blackbox_split)]


def _empty_split(dataset: Dataset, split: str) -> UserError:
    return UserError(
        f"the dataset has no {split} samples",
        file=dataset.path,
        field="blackbox_split",
        hint="preprocess with a blackbox ratio, e.g. 7:1:1:1",
    )


def blackbox_data(config: EvaluateConfig, spec: BundleSpec) -> LabelledData:
    """A split of a dataset folder, labelled by the dataset.

    Args:
        config: The evaluate configuration (``blackbox``, ``blackbox_split``).
        spec: The model's spec.

    Returns:
        The split's samples; their identity is the dataset's provenance columns.

    Raises:
        UserError: The dataset does not fit the model, or the split is empty.
    """
    dataset = Dataset(config.blackbox, field="blackbox")
    check_dataset_fits(dataset, spec)
    indices = dataset.indices(config.blackbox_split)
    if indices.size == 0:
        raise _empty_split(dataset, config.blackbox_split)
    encoders = spec_encoders(spec)

    def load(idx: np.ndarray) -> list[np.ndarray]:
        return [enc.to_input(np.asarray(dataset.array(b)[idx])) for b, enc in encoders.items()]

    def load_samples(idx: np.ndarray) -> list[np.ndarray]:
        return load(indices[idx])

    remap = np.array([spec.classes.index(c) for c in dataset.classes])
    samples = dataset.samples().iloc[indices]
    return LabelledData(
        labels=remap[dataset.labels[indices]],
        identity=samples[IDENTITY_COLUMNS].reset_index(drop=True),
        batches=index_batches(load, indices, config.batch_size),
        load=load_samples,
    )


def file_data(config: EvaluateConfig, mapper: InputMapper, classes: list[str]) -> LabelledData:
    """A labelled input file and/or one file per class, mapped with the model's spec.

    Args:
        config: The evaluate configuration (``input``, ``class_column``, ``classes``).
        mapper: Maps files to the model's inputs.
        classes: The model's class names.

    Returns:
        The samples of every file, in order; their identity gets a ``class`` column.

    Raises:
        UserError: A file that cannot be mapped, or a label that is not a class.
    """
    parts: list[tuple[ModelInputs, np.ndarray]] = []
    if config.input:
        parts.append(labelled_input(config, mapper, classes))
    for name, path in config.classes.items():
        index = class_index(name, classes)
        inputs = mapper.from_file(Path(path), field=f"classes.{name}")
        parts.append((inputs, np.full(len(inputs.table), index)))
    labels = np.concatenate([p[1] for p in parts])
    identity = pd.concat([identity_columns(p[0]) for p in parts], ignore_index=True)
    identity.insert(0, "class", np.asarray(classes)[labels])

    def all_batches() -> Iterator[list[np.ndarray]]:
        for inputs, _ in parts:
            yield from index_batches(inputs.inputs, np.arange(len(inputs.table)), config.batch_size)

    return LabelledData(labels, identity, all_batches(), _parts_loader([p[0] for p in parts]))


def labelled_input(
    config: EvaluateConfig, mapper: InputMapper, classes: list[str]
) -> tuple[ModelInputs, np.ndarray]:
    """The windows of a labelled file (``input``: FASTA, BED or a TSV/CSV table, see
    :mod:`gennie.dataset.labelled`) and the model's class index of each.

    Raises:
        UserError: A record without a label, or a label that is no class of the model
            (naming the file and line or record).
    """
    path = Path(config.input)
    records = read_labelled([path], config, known=classes)
    names = config.label_names
    with tempfile.TemporaryDirectory(prefix="gennie-labelled-") as folder:
        written = Path(folder) / ("input.fa" if records.format == "fasta" else "input.bed")
        sources = write_records(records, list(range(len(records.labels))), written)
        try:
            inputs = mapper.from_file(written)
        except UserError as error:
            raise relocated(error, written, sources) from None
    positions = inputs.table["source_line"].astype(int).to_numpy() - 1
    inputs.table = restore_provenance(inputs.table, sources)
    labels = np.empty(len(positions), dtype=np.int64)
    for i, position in enumerate(positions):
        label = records.labels[position]
        name = names.get(label, label)
        if name not in classes:
            raise UserError(
                f"label '{label}' is not a class of the model ({', '.join(classes)})",
                **source_location(sources[position]),
                field="label_map",
                hint="name the model's class of each label with --label-map LABEL=CLASS",
            )
        labels[i] = classes.index(name)
    return inputs, labels


def _parts_loader(parts: list[ModelInputs]) -> Loader:
    """Inputs of samples numbered across several parts, part after part."""
    starts = np.cumsum([0] + [len(p.table) for p in parts])

    def load_samples(idx: np.ndarray) -> list[np.ndarray]:
        # Sample i of the run is row i - starts[p] of part p; read part by part
        # in sorted order, then put the rows back in the order asked for.
        order = np.argsort(idx, kind="stable")
        ordered = np.asarray(idx)[order]
        owner = np.searchsorted(starts, ordered, side="right") - 1
        pieces = [parts[p].inputs(ordered[owner == p] - starts[p]) for p in np.unique(owner)]
        back = np.argsort(order, kind="stable")
        return [np.concatenate(arrays)[back] for arrays in zip(*pieces, strict=True)]

    return load_samples


def score_model(
    run_dir: Path,
    config: EvaluateConfig,
    model: LoadedModel,
    data: LabelledData,
    device: torch.device,
) -> dict[str, Any]:
    """Predict, score and write the run's files (and attributions, if asked).

    Args:
        run_dir: The run folder.
        config: The evaluate configuration.
        model: The loaded model.
        data: The labelled samples.
        device: Where to compute.

    Returns:
        The run's summary: ``metrics`` (headline), ``samples`` and, with
        attributions, their files and completeness errors.
    """
    classes = model.spec.classes
    forward = model.network.to(device) if model.network is not None else model.forward
    probs = predict_probabilities(
        forward, data.batches, device, model.outputs_are_probabilities, total=len(data.labels)
    )
    metrics = score(probs, data.labels, classes, run_dir)
    table = probability_table(data.identity, probs, classes)
    table.to_csv(run_dir / PREDICTIONS_FILE, sep="\t", index=False)
    summary: dict[str, Any] = {}
    if config.attributions:
        summary.update(
            write_attribution_outputs(
                run_dir,
                forward,
                data.load,
                np.arange(len(data.labels)),
                table,
                list(data.identity.columns),
                model.spec,
                config,
                device,
                model.outputs_are_probabilities,
                seed=config.seed,
                batch_size=min(config.batch_size, 64),
                model_label=str(config.model),
            )
        )
    summary.update({"metrics": headline_metrics(metrics), "samples": int(len(data.labels))})
    log.info(
        "evaluated %d samples: accuracy %.4f, AUROC %.4f",
        len(data.labels),
        metrics["accuracy"],
        metrics["auroc"] or float("nan"),
    )
    return summary


def evaluate(config: EvaluateConfig) -> StageResult:
    """Run the evaluate stage (see the module docstring).

    Args:
        config: The evaluate configuration.

    Returns:
        The run folder and a summary with ``metrics`` (macro averages and per class).

    Raises:
        UserError: The first problem :func:`check` finds, or one that shows when the
            model is loaded or the data is read.
    """
    model, device = open_model(config, check(config))
    with (
        run_folder(config) as run,
        InputMapper(model.spec, config.genome, config.conservation) as mapper,
    ):
        if config.blackbox:
            data = blackbox_data(config, model.spec)
        else:
            data = file_data(config, mapper, model.spec.classes)
        run.summary.update(score_model(run.dir, config, model, data, device))
        return StageResult(run_dir=run.dir, summary=run.summary, stage=run.stage)
