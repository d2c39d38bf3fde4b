"""The ``gennie`` command line: a thin layer over the Python API.

Each stage takes ``--config FILE.yaml`` plus flags that override single fields (the
flags are the configuration fields; defaults live in :mod:`gennie.config`), runs the
stage, prints its run folder, and with ``--json`` prints exactly one JSON object on
stdout. A user error prints one message and exits with code 2.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer

from gennie.config import (
    STAGES,
    AttributionOptions,
    EvaluateConfig,
    IsmConfig,
    ModelInputConfig,
    MotifsConfig,
    PredictConfig,
    PreprocessConfig,
    StageConfig,
    TrainConfig,
    TuneConfig,
    build_config,
    load_run_config,
)
from gennie.errors import UserError
from gennie.version import VERSION

app = typer.Typer(
    name="gennie",
    help="Build, train, evaluate and interpret neural networks on genomic data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _help(model: type, field: str, usage: str = "") -> str:
    """Help text of a flag: the configuration field's description, choices and default."""
    info = model.model_fields[field]
    parts = [info.description or "", usage]
    choices = [str(a) for a in get_args(info.annotation) if isinstance(a, str)]
    if not choices:  # Optional[Literal[...]]
        for arg in get_args(info.annotation):
            choices += [str(a) for a in get_args(arg) if isinstance(a, str)]
    if choices and get_origin(info.annotation) in (Literal, Union, UnionType):
        parts.append(f"One of: {', '.join(choices)}.")
    default = info.get_default(call_default_factory=True)
    if default not in (None, [], {}, ""):
        if isinstance(default, bool):
            default = "yes" if default else "no"
        elif isinstance(default, list):
            default = ",".join(map(str, default))
        parts.append(f"(default: {default})")
    return " ".join(p for p in parts if p)


ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="YAML configuration; flags override its fields.")
]
OutOpt = Annotated[Path | None, typer.Option("--out", help=_help(StageConfig, "out"))]
NameOpt = Annotated[str | None, typer.Option("--name", help=_help(StageConfig, "name"))]
SeedOpt = Annotated[int | None, typer.Option("--seed", help=_help(StageConfig, "seed"))]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def _pairs(values: list[str] | None, flag: str, split_values: bool = False) -> dict[str, Any]:
    """Parse repeated NAME=VALUE flags."""
    result: dict[str, Any] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise UserError(
                f"'{item}' is not NAME=VALUE",
                field=flag.lstrip("-"),
                hint=f"write e.g. {flag} bound=peaks.bed",
            )
        if name.strip() in result:
            raise UserError(
                f"'{name.strip()}' is given twice",
                field=flag.lstrip("-"),
                hint=f"give each name once with {flag}",
            )
        result[name.strip()] = (
            [v.strip() for v in value.split(",") if v.strip()] if split_values else value.strip()
        )
    return result


def _class_files(values: list[str] | None) -> dict[str, Any]:
    """``--class NAME=FILE`` or ``--class FILE`` (named after the file)."""
    from gennie.config import class_name_from_file

    named = [v if "=" in v else f"{class_name_from_file(v)}={v}" for v in values or []]
    return _pairs(named, "--class")


def _list(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _overrides(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None and v != {} and v != []}


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(
            f"'{text}' is not a number",
            field="reduce",
            hint="write a count (5000) or a ratio (0.5)",
        ) from None
    return value


def _execute(stage: str, work: Callable[[], Any], as_json: bool) -> None:
    """Run a stage, print the run folder (or JSON), map user errors to exit code 2."""
    _setup_logging()
    real_stdout = sys.stdout
    try:
        # In --json mode everything else (progress bars, library chatter) goes to stderr.
        with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
            result = work()
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        if as_json:
            real_stdout.write(json.dumps(exc.to_dict()) + "\n")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("cancelled", err=True)
        raise typer.Exit(130) from None
    summary = result.summary
    if as_json:
        payload: dict[str, Any] = {"run_dir": str(result.run_dir), "stage": result.stage or stage}
        payload.update(summary)
        real_stdout.write(json.dumps(payload, default=str) + "\n")
        return
    metrics = summary.get("metrics")
    if metrics:
        typer.echo(
            f"accuracy {metrics['accuracy']:.4f}  loss {metrics['loss']:.4f}  "
            f"AUROC {_fmt(metrics['auroc'])}  AUPRC {_fmt(metrics['auprc'])}",
            err=True,
        )
    typer.echo(str(result.run_dir))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _setup_logging() -> None:
    log = logging.getLogger("gennie")
    if not any(
        isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
        for h in log.handlers
    ):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        handler.setLevel(logging.WARNING)
        log.addHandler(handler)
    log.setLevel(logging.INFO)


def _build(stage: str, config: Path | None, overrides: dict[str, Any]):
    return build_config(stage, config, overrides)


# --------------------------------------------------------------------------- stages


@app.command()
def preprocess(
    config: ConfigOpt = None,
    classes: Annotated[
        list[str] | None,
        typer.Option(
            "--class",
            help=_help(
                PreprocessConfig,
                "classes",
                "NAME=FILE or FILE (named after the file), repeat per class.",
            ),
        ),
    ] = None,
    genome: Annotated[Path | None, typer.Option(help=_help(PreprocessConfig, "genome"))] = None,
    branches: Annotated[
        str | None, typer.Option(help=_help(PreprocessConfig, "branches", "Comma-separated."))
    ] = None,
    conservation: Annotated[
        list[Path] | None,
        typer.Option(help=_help(PreprocessConfig, "conservation", "Repeat for several tracks.")),
    ] = None,
    fold_temperature: Annotated[
        float | None, typer.Option(help=_help(PreprocessConfig, "fold_temperature"))
    ] = None,
    window: Annotated[int | None, typer.Option(help=_help(PreprocessConfig, "window"))] = None,
    placement: Annotated[
        str | None, typer.Option(help=_help(PreprocessConfig, "placement"))
    ] = None,
    strand: Annotated[
        bool | None,
        typer.Option("--strand/--no-strand", help=_help(PreprocessConfig, "strand")),
    ] = None,
    alphabet: Annotated[str | None, typer.Option(help=_help(PreprocessConfig, "alphabet"))] = None,
    unknown_bases: Annotated[
        str | None, typer.Option(help=_help(PreprocessConfig, "unknown_bases"))
    ] = None,
    reduce: Annotated[
        list[str] | None,
        typer.Option(
            help=_help(PreprocessConfig, "reduce", "NAME=COUNT or NAME=RATIO, repeat per class.")
        ),
    ] = None,
    split: Annotated[str | None, typer.Option(help=_help(PreprocessConfig, "split"))] = None,
    ratio: Annotated[str | None, typer.Option(help=_help(PreprocessConfig, "ratio"))] = None,
    chromosomes: Annotated[
        list[str] | None,
        typer.Option(
            help=_help(PreprocessConfig, "chromosomes", "SPLIT=chr1,chr2, repeat per split.")
        ),
    ] = None,
    negatives: Annotated[
        str | None, typer.Option(help=_help(PreprocessConfig, "negatives"))
    ] = None,
    negatives_from: Annotated[
        str | None, typer.Option(help=_help(PreprocessConfig, "negatives_from"))
    ] = None,
    negatives_name: Annotated[
        str | None, typer.Option(help=_help(PreprocessConfig, "negatives_name"))
    ] = None,
    negatives_ratio: Annotated[
        float | None, typer.Option(help=_help(PreprocessConfig, "negatives_ratio"))
    ] = None,
    jobs: Annotated[int | None, typer.Option(help=_help(PreprocessConfig, "jobs"))] = None,
    cache: Annotated[
        bool | None,
        typer.Option("--cache/--no-cache", help=_help(PreprocessConfig, "cache")),
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option(help=_help(PreprocessConfig, "cache_dir"))
    ] = None,
    seed: SeedOpt = None,
    out: OutOpt = None,
    name: NameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Class files (BED or FASTA) → an encoded, split dataset folder."""
    from gennie.preprocessing.stage import preprocess as run_stage

    def work():
        overrides = _overrides(
            classes=_class_files(classes),
            genome=genome,
            branches=_list(branches),
            conservation=conservation,
            fold_temperature=fold_temperature,
            window=window,
            placement=placement,
            strand=strand,
            alphabet=alphabet,
            unknown_bases=unknown_bases,
            reduce={k: _number(v) for k, v in _pairs(reduce, "--reduce").items()},
            split=split,
            ratio=ratio,
            chromosomes=_pairs(chromosomes, "--chromosomes", True),
            negatives=negatives,
            negatives_from=negatives_from,
            negatives_name=negatives_name,
            negatives_ratio=negatives_ratio,
            jobs=jobs,
            cache=cache,
            cache_dir=cache_dir,
            seed=seed,
            out=out,
            name=name,
        )
        return run_stage(_build("preprocess", config, overrides))

    _execute("preprocess", work, as_json)


@app.command()
def train(
    config: ConfigOpt = None,
    dataset: Annotated[Path | None, typer.Option(help=_help(TrainConfig, "dataset"))] = None,
    preset: Annotated[str | None, typer.Option(help=_help(TrainConfig, "preset"))] = None,
    branches: Annotated[
        str | None, typer.Option(help=_help(TrainConfig, "branches", "Comma-separated."))
    ] = None,
    ensemble: Annotated[int | None, typer.Option(help=_help(TrainConfig, "ensemble"))] = None,
    centre_networks: Annotated[
        int | None, typer.Option(help=_help(TrainConfig, "centre_networks"))
    ] = None,
    centre_window: Annotated[
        int | None, typer.Option(help=_help(TrainConfig, "centre_window"))
    ] = None,
    shift: Annotated[int | None, typer.Option(help=_help(TrainConfig, "shift"))] = None,
    mask: Annotated[float | None, typer.Option(help=_help(TrainConfig, "mask"))] = None,
    ema_decay: Annotated[float | None, typer.Option(help=_help(TrainConfig, "ema_decay"))] = None,
    label_smoothing: Annotated[
        float | None, typer.Option(help=_help(TrainConfig, "label_smoothing"))
    ] = None,
    epochs: Annotated[int | None, typer.Option(help=_help(TrainConfig, "epochs"))] = None,
    batch_size: Annotated[int | None, typer.Option(help=_help(TrainConfig, "batch_size"))] = None,
    optimizer: Annotated[str | None, typer.Option(help=_help(TrainConfig, "optimizer"))] = None,
    lr: Annotated[float | None, typer.Option(help=_help(TrainConfig, "lr"))] = None,
    weight_decay: Annotated[
        float | None, typer.Option(help=_help(TrainConfig, "weight_decay"))
    ] = None,
    lr_schedule: Annotated[str | None, typer.Option(help=_help(TrainConfig, "lr_schedule"))] = None,
    lr_decay: Annotated[float | None, typer.Option(help=_help(TrainConfig, "lr_decay"))] = None,
    lr_factor: Annotated[float | None, typer.Option(help=_help(TrainConfig, "lr_factor"))] = None,
    lr_patience: Annotated[int | None, typer.Option(help=_help(TrainConfig, "lr_patience"))] = None,
    early_stopping: Annotated[
        bool | None,
        typer.Option(
            "--early-stopping/--no-early-stopping", help=_help(TrainConfig, "early_stopping")
        ),
    ] = None,
    patience: Annotated[int | None, typer.Option(help=_help(TrainConfig, "patience"))] = None,
    min_delta: Annotated[float | None, typer.Option(help=_help(TrainConfig, "min_delta"))] = None,
    monitor: Annotated[str | None, typer.Option(help=_help(TrainConfig, "monitor"))] = None,
    device: Annotated[str | None, typer.Option(help=_help(TrainConfig, "device"))] = None,
    threads: Annotated[int | None, typer.Option(help=_help(TrainConfig, "threads"))] = None,
    precision: Annotated[str | None, typer.Option(help=_help(TrainConfig, "precision"))] = None,
    seed: SeedOpt = None,
    out: OutOpt = None,
    name: NameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A dataset folder → a trained model, its test evaluation and plots."""
    from gennie.training.stage import train as run_stage

    def work():
        overrides = _overrides(
            dataset=dataset,
            preset=preset,
            branches=_list(branches),
            ensemble=ensemble,
            centre_networks=centre_networks,
            centre_window=centre_window,
            shift=shift,
            mask=mask,
            ema_decay=ema_decay,
            label_smoothing=label_smoothing,
            epochs=epochs,
            batch_size=batch_size,
            optimizer=optimizer,
            lr=lr,
            weight_decay=weight_decay,
            lr_schedule=lr_schedule,
            lr_decay=lr_decay,
            lr_factor=lr_factor,
            lr_patience=lr_patience,
            early_stopping=early_stopping,
            patience=patience,
            min_delta=min_delta,
            monitor=monitor,
            device=device,
            threads=threads,
            precision=precision,
            seed=seed,
            out=out,
            name=name,
        )
        return run_stage(_build("train", config, overrides))

    _execute("train", work, as_json)


ModelOpt = Annotated[Path | None, typer.Option("--model", help=_help(ModelInputConfig, "model"))]
GenomeOpt = Annotated[
    Path | None,
    typer.Option("--genome", help=_help(ModelInputConfig, "genome")),
]
ConsOpt = Annotated[
    list[Path] | None, typer.Option("--conservation", help=_help(ModelInputConfig, "conservation"))
]
BatchOpt = Annotated[
    int | None, typer.Option("--batch-size", help=_help(ModelInputConfig, "batch_size"))
]
DeviceOpt = Annotated[str | None, typer.Option("--device", help=_help(ModelInputConfig, "device"))]
CustomWindowOpt = Annotated[
    int | None, typer.Option("--custom-window", help=_help(ModelInputConfig, "custom_window"))
]
CustomClassesOpt = Annotated[
    str | None,
    typer.Option(
        "--custom-classes", help=_help(ModelInputConfig, "custom_classes", "Comma-separated.")
    ),
]
CustomBranchesOpt = Annotated[
    str | None,
    typer.Option(
        "--custom-branches", help=_help(ModelInputConfig, "custom_branches", "Comma-separated.")
    ),
]


AttributionsOpt = Annotated[
    bool | None,
    typer.Option(
        "--attributions/--no-attributions", help=_help(AttributionOptions, "attributions")
    ),
]
TargetOpt = Annotated[
    str | None, typer.Option("--target", help=_help(AttributionOptions, "target"))
]
StepsOpt = Annotated[int | None, typer.Option("--steps", help=_help(AttributionOptions, "steps"))]
BaselineOpt = Annotated[
    str | None,
    typer.Option(
        "--baseline",
        help=_help(AttributionOptions, "baseline", "zeros, shuffle, or an NPZ file."),
    ),
]
TopOpt = Annotated[int | None, typer.Option("--top", help=_help(AttributionOptions, "top"))]


def _attribution_overrides(
    attributions: bool | None,
    target: str | None,
    steps: int | None,
    baseline: str | None,
    top: int | None,
) -> dict[str, Any]:
    """Overrides of the Integrated Gradients options; ``--baseline FILE`` sets the file."""
    fields: dict[str, Any] = {
        "attributions": attributions,
        "target": target,
        "steps": steps,
        "top": top,
    }
    if baseline in ("zeros", "shuffle", "file"):
        fields["baseline"] = baseline
    elif baseline is not None:
        fields["baseline"] = "file"
        fields["baseline_file"] = Path(baseline)
    return _overrides(**fields)


def _model_overrides(
    genome: Path | None,
    conservation: list[Path] | None,
    batch_size: int | None,
    device: str | None,
    custom_window: int | None,
    custom_classes: str | None,
    custom_branches: str | None,
) -> dict[str, Any]:
    """Overrides of the options evaluate and predict share (applying a model)."""
    return _overrides(
        genome=genome,
        conservation=conservation,
        batch_size=batch_size,
        device=device,
        custom_window=custom_window,
        custom_classes=_list(custom_classes),
        custom_branches=_list(custom_branches),
    )


@app.command()
def evaluate(
    config: ConfigOpt = None,
    model: ModelOpt = None,
    blackbox: Annotated[Path | None, typer.Option(help=_help(EvaluateConfig, "blackbox"))] = None,
    blackbox_split: Annotated[
        str | None, typer.Option(help=_help(EvaluateConfig, "blackbox_split"))
    ] = None,
    input: Annotated[
        Path | None,
        typer.Option("--input", help=_help(EvaluateConfig, "input")),
    ] = None,
    classes: Annotated[
        list[str] | None,
        typer.Option(
            "--class",
            help=_help(
                EvaluateConfig,
                "classes",
                "NAME=FILE or FILE (named after the file), repeat per class.",
            ),
        ),
    ] = None,
    class_column: Annotated[
        int | None, typer.Option(help=_help(EvaluateConfig, "class_column"))
    ] = None,
    genome: GenomeOpt = None,
    conservation: ConsOpt = None,
    batch_size: BatchOpt = None,
    device: DeviceOpt = None,
    custom_window: CustomWindowOpt = None,
    custom_classes: CustomClassesOpt = None,
    custom_branches: CustomBranchesOpt = None,
    attributions: AttributionsOpt = None,
    target: TargetOpt = None,
    steps: StepsOpt = None,
    baseline: BaselineOpt = None,
    top: TopOpt = None,
    out: OutOpt = None,
    name: NameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A model + labelled data → metrics, ROC/PR curves, confusion matrix."""
    from gennie.evaluation.stage import evaluate as run_stage

    def work():
        overrides = _overrides(
            model=model,
            blackbox=blackbox,
            blackbox_split=blackbox_split,
            input=input,
            classes=_class_files(classes),
            class_column=class_column,
            out=out,
            name=name,
            **_attribution_overrides(attributions, target, steps, baseline, top),
            **_model_overrides(
                genome,
                conservation,
                batch_size,
                device,
                custom_window,
                custom_classes,
                custom_branches,
            ),
        )
        return run_stage(_build("evaluate", config, overrides))

    _execute("evaluate", work, as_json)


@app.command()
def predict(
    config: ConfigOpt = None,
    model: ModelOpt = None,
    input: Annotated[
        Path | None,
        typer.Option("--input", help=_help(PredictConfig, "input")),
    ] = None,
    sequence: Annotated[
        list[str] | None,
        typer.Option("--sequence", help=_help(PredictConfig, "sequences", "Repeat for several.")),
    ] = None,
    genome: GenomeOpt = None,
    conservation: ConsOpt = None,
    batch_size: BatchOpt = None,
    device: DeviceOpt = None,
    custom_window: CustomWindowOpt = None,
    custom_classes: CustomClassesOpt = None,
    custom_branches: CustomBranchesOpt = None,
    attributions: AttributionsOpt = None,
    target: TargetOpt = None,
    steps: StepsOpt = None,
    baseline: BaselineOpt = None,
    top: TopOpt = None,
    out: OutOpt = None,
    name: NameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A model + new data → class probabilities per input (predictions.tsv); with
    --attributions also Integrated Gradients, report.html and logos."""
    from gennie.prediction.stage import predict as run_stage

    def work():
        overrides = _overrides(
            model=model,
            input=input,
            sequences=sequence,
            out=out,
            name=name,
            **_attribution_overrides(attributions, target, steps, baseline, top),
            **_model_overrides(
                genome,
                conservation,
                batch_size,
                device,
                custom_window,
                custom_classes,
                custom_branches,
            ),
        )
        return run_stage(_build("predict", config, overrides))

    _execute("predict", work, as_json)


@app.command()
def tune(
    config: ConfigOpt = None,
    dataset: Annotated[Path | None, typer.Option(help=_help(TuneConfig, "dataset"))] = None,
    n_trials: Annotated[int | None, typer.Option(help=_help(TuneConfig, "n_trials"))] = None,
    timeout: Annotated[float | None, typer.Option(help=_help(TuneConfig, "timeout"))] = None,
    storage: Annotated[str | None, typer.Option(help=_help(TuneConfig, "storage"))] = None,
    study: Annotated[str | None, typer.Option(help=_help(TuneConfig, "study"))] = None,
    jobs: Annotated[int | None, typer.Option(help=_help(TuneConfig, "jobs"))] = None,
    sampler: Annotated[str | None, typer.Option(help=_help(TuneConfig, "sampler"))] = None,
    objective: Annotated[str | None, typer.Option(help=_help(TuneConfig, "objective"))] = None,
    pruner: Annotated[str | None, typer.Option(help=_help(TuneConfig, "pruner"))] = None,
    retrain: Annotated[
        bool | None, typer.Option("--retrain/--no-retrain", help=_help(TuneConfig, "retrain"))
    ] = None,
    heartbeat: Annotated[int | None, typer.Option(help=_help(TuneConfig, "heartbeat"))] = None,
    device: Annotated[str | None, typer.Option(help=_help(TuneConfig, "device"))] = None,
    threads: Annotated[int | None, typer.Option(help=_help(TuneConfig, "threads"))] = None,
    precision: Annotated[str | None, typer.Option(help=_help(TuneConfig, "precision"))] = None,
    seed: SeedOpt = None,
    out: OutOpt = None,
    name: NameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search hyper-parameters and architectures (Optuna) on train/validation data."""
    from gennie.search.tuning import tune as run_stage

    def work():
        overrides = _overrides(
            dataset=dataset,
            n_trials=n_trials,
            timeout=timeout,
            storage=storage,
            study=study,
            jobs=jobs,
            sampler=sampler,
            objective=objective,
            pruner=pruner,
            retrain=retrain,
            heartbeat=heartbeat,
            device=device,
            threads=threads,
            precision=precision,
            seed=seed,
            out=out,
            name=name,
        )
        return run_stage(_build("tune", config, overrides))

    _execute("tune", work, as_json)


interpret_app = typer.Typer(
    help="Filter motifs and in-silico mutagenesis of a trained model.",
    no_args_is_help=True,
)
app.add_typer(interpret_app, name="interpret")


@interpret_app.command("motifs")
def interpret_motifs(
    config: ConfigOpt = None,
    model: Annotated[
        Path | None, typer.Option("--model", help=_help(MotifsConfig, "model"))
    ] = None,
    dataset: Annotated[Path | None, typer.Option(help=_help(MotifsConfig, "dataset"))] = None,
    split: Annotated[str | None, typer.Option(help=_help(MotifsConfig, "split"))] = None,
    max_samples: Annotated[
        int | None, typer.Option(help=_help(MotifsConfig, "max_samples"))
    ] = None,
    threshold: Annotated[float | None, typer.Option(help=_help(MotifsConfig, "threshold"))] = None,
    database: Annotated[Path | None, typer.Option(help=_help(MotifsConfig, "database"))] = None,
    batch_size: Annotated[int | None, typer.Option(help=_help(MotifsConfig, "batch_size"))] = None,
    device: Annotated[str | None, typer.Option(help=_help(MotifsConfig, "device"))] = None,
    seed: SeedOpt = None,
    out: OutOpt = None,
    name: NameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """First-layer filters of the seq branch → motifs.meme, motifs.tsv, logos/."""
    from gennie.interpret.motifs import motifs as run_stage

    def work():
        overrides = _overrides(
            model=model,
            dataset=dataset,
            split=split,
            max_samples=max_samples,
            threshold=threshold,
            database=database,
            batch_size=batch_size,
            device=device,
            seed=seed,
            out=out,
            name=name,
        )
        return run_stage(_build("motifs", config, overrides))

    _execute("motifs", work, as_json)


@interpret_app.command("ism")
def interpret_ism(
    config: ConfigOpt = None,
    model: Annotated[Path | None, typer.Option("--model", help=_help(IsmConfig, "model"))] = None,
    sequence: Annotated[str | None, typer.Option(help=_help(IsmConfig, "sequence"))] = None,
    target: Annotated[str | None, typer.Option(help=_help(IsmConfig, "target"))] = None,
    steps: Annotated[int | None, typer.Option(help=_help(IsmConfig, "steps"))] = None,
    batch_size: Annotated[int | None, typer.Option(help=_help(IsmConfig, "batch_size"))] = None,
    device: Annotated[str | None, typer.Option(help=_help(IsmConfig, "device"))] = None,
    out: OutOpt = None,
    name: NameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """In-silico mutagenesis of one sequence → ism.tsv, ism.png, ism.svg."""
    from gennie.interpret.ism import ism as run_stage

    def work():
        overrides = _overrides(
            model=model,
            sequence=sequence,
            target=target,
            steps=steps,
            batch_size=batch_size,
            device=device,
            out=out,
            name=name,
        )
        return run_stage(_build("ism", config, overrides))

    _execute("ism", work, as_json)


def run_config(config) -> Any:
    """Run any stage from its configuration (the dispatch behind ``gennie run``)."""
    if config.stage == "preprocess":
        from gennie.preprocessing.stage import preprocess as stage
    elif config.stage == "train":
        from gennie.training.stage import train as stage
    elif config.stage == "evaluate":
        from gennie.evaluation.stage import evaluate as stage
    elif config.stage == "tune":
        from gennie.search.tuning import tune as stage
    elif config.stage == "motifs":
        from gennie.interpret.motifs import motifs as stage
    elif config.stage == "ism":
        from gennie.interpret.ism import ism as stage
    else:
        from gennie.prediction.stage import predict as stage
    return stage(config)


@app.command("run")
def run_parameters(
    parameters: Annotated[Path, typer.Argument(help="A run's parameters.yaml.")],
    out: OutOpt = None,
    name: NameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Repeat a run from its parameters.yaml (same seed, same results), in a new folder."""

    def work():
        config = load_run_config(parameters)
        config = config.model_copy(update={"name": name})
        if out is not None:
            config = config.model_copy(update={"out": out.resolve()})
        return run_config(config)

    _execute("run", work, as_json)


@app.command()
def presets() -> None:
    """List the architecture presets."""
    from gennie.config.presets import PRESET_DESCRIPTIONS

    for preset_name, text in PRESET_DESCRIPTIONS.items():
        typer.echo(f"{preset_name:20s} {text}")


@app.command()
def quickstart(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("gennie-quickstart"),
    example: Annotated[
        str, typer.Option(help="rbp (real PUM2 CLIP sites, FASTA) or bed (generated genome, BED).")
    ] = "rbp",
    epochs: Annotated[int, typer.Option(help="Maximum epochs.")] = 20,
    branches: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated input branches (default: seq for rbp; seq,fold,cons for "
            "bed, whose genome comes with a conservation track)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Preprocess → train → evaluate → predict on the bundled example data."""
    from gennie.quickstart import run_quickstart

    _execute("quickstart", lambda: run_quickstart(out, example, epochs, _list(branches)), as_json)


@app.command()
def gui(
    host: Annotated[
        str, typer.Option(help="Address to serve on; 127.0.0.1 keeps the GUI on this machine.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8501,
    workspace: Annotated[
        Path,
        typer.Option(
            help="Folder the GUI works in: relative paths, uploads, runs and the job queue."
        ),
    ] = Path("."),
) -> None:
    """Open the browser GUI (Streamlit) for the whole pipeline."""
    import os

    from gennie.gui import streamlit_command
    from gennie.processes import restore_signals

    folder = workspace.expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        typer.echo(f"error: {folder}: the workspace must be a folder", err=True)
        raise typer.Exit(2)
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GENNIE_WORKSPACE": str(folder)}
    shown = "127.0.0.1" if host == "0.0.0.0" else host
    typer.echo(f"gennie GUI: http://{shown}:{port}  (workspace {folder}; Ctrl+C stops it)")
    sys.stdout.flush()
    # Become the Streamlit server, so that stopping this process stops the server.
    command = streamlit_command(host, port)
    os.chdir(folder)
    restore_signals()  # Ctrl+C and kill stop it even if this process inherited them ignored
    os.execve(command[0], command, env)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gennie {VERSION}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """gennie: neural networks for genomic intervals and sequences."""


def main() -> None:
    """Console-script entry point.

    Usage errors found by the argument parser (an unknown flag, a flag of the wrong
    type) exit with code 2 like every user error, and with ``--json`` also print one
    JSON object on stdout.
    """
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        typer.echo("cancelled", err=True)
        sys.exit(130)
    except Exception as exc:
        # The parser's usage errors (typer's bundled click) carry these attributes.
        if not all(hasattr(exc, a) for a in ("format_message", "exit_code", "show")):
            raise
        try:
            from typer import rich_utils

            rich_utils.rich_format_error(exc)
        except Exception:  # plain output when rich formatting is unavailable
            exc.show()
        if "--json" in sys.argv:
            param = getattr(exc, "param", None)
            error = UserError(exc.format_message(), field=getattr(param, "name", None))
            sys.stdout.write(json.dumps(error.to_dict()) + "\n")
        sys.exit(exc.exit_code)
    if isinstance(code, int) and code:
        sys.exit(code)  # typer.Exit inside a command comes back as a return code


__all__ = ["STAGES", "app", "main", "run_config"]
