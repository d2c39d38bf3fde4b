"""The evaluate stage: a model + labelled data → metrics, curves and confusion matrix.

Labelled data is one of: the blackbox (or another) split of a dataset folder; a BED
file with the class name in a column; a FASTA file with the class name in each header
(as a separate word, e.g. ``>site1 bound`` or ``>site1|bound``); or one file per class.
It is preprocessed with the model's own spec, so evaluation sees exactly what training
saw.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from gennie.config import EvaluateConfig
from gennie.dataset.inputs import InputMapper, ModelInputs, identity_columns, spec_encoders
from gennie.errors import UserError
from gennie.model.loading import check_dataset_fits
from gennie.runs import StageResult, run_folder
from gennie.scoring.metrics import probability_table

log = logging.getLogger("gennie.evaluate")


def header_class(header: str, classes: list[str]) -> str | None:
    """The class named in a FASTA header: the one word (split on spaces, | ; , = :)
    that equals a class name; None if no word or several different classes match."""
    words = set(re.split(r"[\s|;,=:]+", header))
    found = [c for c in classes if c in words]
    return found[0] if len(found) == 1 else None


def _labels_from_bed(
    inputs: ModelInputs, path: Path, column: int, classes: list[str]
) -> np.ndarray:
    from gennie.io.bed import read_bed

    bed = read_bed(path, field="input", label_column=column).set_index("line")
    labels = bed.loc[inputs.table["source_line"].to_numpy(), "label"].to_numpy()
    lines = inputs.table["source_line"].to_numpy()
    out = np.empty(len(labels), dtype=np.int64)
    for i, label in enumerate(labels):
        if label not in classes:
            raise UserError(
                f"class '{label}' in column {column} is not a class of the model "
                f"({', '.join(classes)})",
                file=path,
                line=int(lines[i]),
                field="class_column",
                hint="use the model's class names, or set --class-column",
            )
        out[i] = classes.index(label)
    return out


def _labels_from_fasta(inputs: ModelInputs, path: Path, classes: list[str]) -> np.ndarray:
    out = np.empty(len(inputs.table), dtype=np.int64)
    for i, (header, number) in enumerate(
        zip(inputs.table["name"], inputs.table["source_line"], strict=True)
    ):
        name = header_class(str(header), classes)
        if name is None:
            raise UserError(
                f"header '{header}' names none (or several) of the model's classes "
                f"({', '.join(classes)})",
                file=path,
                line=int(number),
                field="input",
                hint="put the class as a separate word in each header, e.g. '>id1 bound' "
                "(the line is the record number), or give one file per class",
            )
        out[i] = classes.index(name)
    return out


def evaluate(config: EvaluateConfig) -> StageResult:
    """Run the evaluate stage (see the module docstring).

    Returns:
        The run folder and a summary with ``metrics`` (macro averages and per class).
    """
    from gennie.dataset.store import IDENTITY_COLUMNS, Dataset
    from gennie.model.inference import index_batches, pick_device, predict_probabilities
    from gennie.model.loading import load_model
    from gennie.scoring.metrics import classification_metrics, headline_metrics
    from gennie.scoring.plots import write_confusion_matrix, write_curves

    if not (config.blackbox or config.input or config.classes):
        raise UserError(
            "no data to evaluate",
            field="input",
            hint="give --blackbox DATASET, --input FILE or --class NAME=FILE",
        )
    model = load_model(config)
    spec = model.spec
    classes = spec.classes
    device = pick_device(config.device)
    if config.attributions:
        from gennie.attribution.explain import check_attribution_options

        check_attribution_options(config, model)
    mapper = InputMapper(spec, config.genome, config.conservation)
    try:
        if config.blackbox:
            dataset = Dataset(config.blackbox, field="blackbox")
            check_dataset_fits(dataset, spec)
            indices = dataset.indices(config.blackbox_split)
            if indices.size == 0:
                raise UserError(
                    f"the dataset has no {config.blackbox_split} samples",
                    file=dataset.path,
                    field="blackbox_split",
                    hint="preprocess with a blackbox ratio, e.g. 7:1:1:1",
                )
            encoders = spec_encoders(spec)

            def load(idx: np.ndarray) -> list[np.ndarray]:
                return [
                    enc.to_input(np.asarray(dataset.array(b)[idx])) for b, enc in encoders.items()
                ]

            remap = np.array([classes.index(c) for c in dataset.classes])
            labels = remap[dataset.labels[indices]]
            samples = dataset.samples().iloc[indices]
            identity = samples[IDENTITY_COLUMNS].reset_index(drop=True)
            batches = index_batches(load, indices, config.batch_size)

            def load_samples(idx: np.ndarray) -> list[np.ndarray]:
                return load(indices[idx])
        else:
            parts: list[tuple[ModelInputs, np.ndarray]] = []
            if config.input:
                inputs = mapper.from_file(Path(config.input))
                fmt = inputs.table["format"].iloc[0]
                if fmt == "bed":
                    labels_part = _labels_from_bed(
                        inputs, Path(config.input), config.class_column, classes
                    )
                elif fmt == "fasta":
                    labels_part = _labels_from_fasta(inputs, Path(config.input), classes)
                else:
                    raise UserError(
                        "plain sequences carry no class; evaluation needs labels",
                        file=config.input,
                        field="input",
                        hint="use FASTA with the class in the header",
                    )
                parts.append((inputs, labels_part))
            for name, path in config.classes.items():
                if name not in classes:
                    raise UserError(
                        f"'{name}' is not a class of the model ({', '.join(classes)})",
                        field=f"classes.{name}",
                    )
                inputs = mapper.from_file(Path(path), field=f"classes.{name}")
                parts.append((inputs, np.full(len(inputs.table), classes.index(name))))
            labels = np.concatenate([p[1] for p in parts])
            identity = pd.concat([identity_columns(p[0]) for p in parts], ignore_index=True)
            identity.insert(0, "class", np.asarray(classes)[labels])

            def all_batches():
                for inputs, _ in parts:
                    yield from index_batches(
                        inputs.inputs, np.arange(len(inputs.table)), config.batch_size
                    )

            batches = all_batches()
            starts = np.cumsum([0] + [len(p[0].table) for p in parts])

            def load_samples(idx: np.ndarray) -> list[np.ndarray]:
                # Sample i of the run is row i - starts[p] of part p; read part by part
                # in sorted order, then put the rows back in the order asked for.
                order = np.argsort(idx, kind="stable")
                ordered = np.asarray(idx)[order]
                owner = np.searchsorted(starts, ordered, side="right") - 1
                pieces = [
                    parts[p][0].inputs(ordered[owner == p] - starts[p]) for p in np.unique(owner)
                ]
                back = np.argsort(order, kind="stable")
                return [np.concatenate(arrays)[back] for arrays in zip(*pieces, strict=True)]

        with run_folder(config) as run:
            forward = model.network.to(device) if model.network is not None else model.forward
            probs = predict_probabilities(forward, batches, device, model.outputs_are_probabilities)
            metrics = classification_metrics(probs, labels, classes)
            (run.dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
            write_curves(probs, labels, classes, run.dir)
            write_confusion_matrix(metrics["confusion_matrix"], classes, run.dir)
            table = probability_table(identity, probs, classes)
            table.to_csv(run.dir / "predictions.tsv", sep="\t", index=False)
            if config.attributions:
                from gennie.attribution.explain import write_attribution_outputs

                run.summary.update(
                    write_attribution_outputs(
                        run.dir,
                        forward,
                        load_samples,
                        np.arange(len(labels)),
                        table,
                        list(identity.columns),
                        spec,
                        config,
                        device,
                        model.outputs_are_probabilities,
                        seed=config.seed,
                        batch_size=min(config.batch_size, 64),
                        model_label=str(config.model),
                    )
                )
            run.summary.update({"metrics": headline_metrics(metrics), "samples": int(len(labels))})
            log.info(
                "evaluated %d samples: accuracy %.4f, AUROC %.4f",
                len(labels),
                metrics["accuracy"],
                metrics["auroc"] or float("nan"),
            )
            return StageResult(run_dir=run.dir, summary=run.summary, stage=run.stage)
    finally:
        mapper.close()
