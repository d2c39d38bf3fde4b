"""The configuration model of every stage: what the user chooses, with its defaults.

One pydantic model per stage is the single source of truth of its options: the CLI's
flags, the GUI's form, ``parameters.yaml`` and the runs table are all generated from
these models.
"""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

from pydantic import Field, field_validator, model_validator

from gennie.config.base import (
    SPLITS,
    FieldError,
    Precision,
    StageConfig,
    StrictModel,
    check_branch_names,
)
from gennie.config.layers import ArchitectureConfig
from gennie.config.presets import PRESETS


def _parse_ratio(text: str) -> tuple[float, float, float, float]:
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise ValueError(
            f"'{text}' must have 3 or 4 parts train:validation:test[:blackbox], e.g. 7:1:1:1"
        )
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"'{text}' must contain numbers only, e.g. 7:1:1:1") from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"'{text}' must contain finite numbers only (no nan or inf), e.g. 7:1:1:1")
    if any(v < 0 for v in values):
        raise ValueError(f"'{text}' has a negative part")
    if values[0] <= 0 or values[1] <= 0 or values[2] <= 0:
        raise ValueError(f"'{text}': train, validation and test parts must all be above 0")
    while len(values) < 4:
        values.append(0.0)
    return tuple(values)  # type: ignore[return-value]


_FILE_EXTENSIONS = {
    ".gz",
    ".bgz",
    ".bz2",
    ".bed",
    ".narrowpeak",
    ".broadpeak",
    ".fa",
    ".fasta",
    ".fna",
    ".fas",
    ".txt",
    ".tsv",
}


def class_name_from_file(path: str | Path) -> str:
    """Default class name of a class file: its name without file-type extensions
    (``peaks.bed.gz`` → ``peaks``), other characters than letters, digits and . _ + -
    replaced by ``_``."""
    name = Path(path).name
    while Path(name).suffix.lower() in _FILE_EXTENSIONS:
        name = name[: -len(Path(name).suffix)]
    name = re.sub(r"[^A-Za-z0-9._+-]", "_", name).lstrip("._+-")
    return name or "class"


class LabelOptions(StrictModel):
    """How labels are read from labelled single files (preprocess and evaluate ``input``):
    FASTA with the label in each header, TSV/CSV tables with a label column, or BED with
    the label in a column (see :mod:`gennie.dataset.labelled`)."""

    label_pattern: str | None = Field(
        None,
        description="Regular expression whose first group is the label in a FASTA header, "
        "e.g. '_([^_]+)$' (default: recognise 'class:LABEL', 'label=LABEL' or a last word).",
    )
    label_column: str | None = Field(
        None,
        description="Label column of a TSV/CSV table: header name or 1-based number "
        "(default: label, class, target or y).",
    )
    class_column: int = Field(
        4,
        ge=4,
        description="1-based column of a labelled BED file holding the label.",
        json_schema_extra={"level": "advanced"},
    )
    sequence_column: str | None = Field(
        None,
        description="Sequence column of a table (default: sequence or seq).",
        json_schema_extra={"level": "advanced"},
    )
    chrom_column: str | None = Field(
        None,
        description="Chromosome column of a table (default: chrom, chr or chromosome).",
        json_schema_extra={"level": "advanced"},
    )
    start_column: str | None = Field(
        None,
        description="Start column of a table (default: start).",
        json_schema_extra={"level": "advanced"},
    )
    end_column: str | None = Field(
        None,
        description="End column of a table (default: end or stop).",
        json_schema_extra={"level": "advanced"},
    )
    strand_column: str | None = Field(
        None,
        description="Strand column of a table (default: strand, if there is one).",
        json_schema_extra={"level": "advanced"},
    )
    label_map: list[str] = Field(
        default_factory=list,
        description="Class name of a label, LABEL=NAME, e.g. 1=bound (default: the label "
        "itself, made into a safe name).",
        json_schema_extra={"widget": "lines"},
    )

    @field_validator("label_pattern")
    @classmethod
    def _one_group(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(
                f"label_pattern '{value}' is not a regular expression ({exc})"
            ) from None
        if compiled.groups < 1:
            raise ValueError(f"label_pattern '{value}' needs a group (...) around the label")
        return value

    @field_validator("label_map", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        if isinstance(value, dict):
            value = [f"{k}={v}" for k, v in value.items()]
        if isinstance(value, str):
            value = [value]
        return value

    @field_validator("label_map")
    @classmethod
    def _label_names(cls, value: list[str]) -> list[str]:
        seen = set()
        for entry in value:
            label, sep, name = (p.strip() for p in entry.partition("="))
            if not sep or not label or not name:
                raise ValueError(f"'{entry}' is not LABEL=NAME, e.g. 1=bound")
            if label in seen:
                raise ValueError(f"label '{label}' is mapped twice")
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", name):
                raise ValueError(
                    f"class name '{name}' may only contain letters, digits and . _ + -"
                )
            seen.add(label)
        return [e.strip() for e in value]

    @property
    def label_names(self) -> dict[str, str]:
        """``label_map`` as label → class name."""
        return dict((p.strip() for p in e.split("=", 1)) for e in self.label_map)  # type: ignore[misc]


class PreprocessConfig(LabelOptions, StageConfig):
    """Class files (BED or FASTA) → an encoded, split dataset folder."""

    stage: ClassVar[str] = "preprocess"
    classes: dict[str, Path] = Field(
        default_factory=dict,
        description="One file per class, by class name: BED (with --genome) or FASTA, "
        "optionally gzipped. The order here is the class order of the model.",
    )
    input: list[Path] = Field(
        default_factory=list,
        description="Or: labelled files holding every class (FASTA with the label in each "
        "header, TSV/CSV table with a label column, or BED with a label column); several "
        "are read one after the other. Classes are in label order (label_map's first).",
    )
    genome: Path | None = Field(
        None, description="Reference genome/transcriptome FASTA (plain or bgzip) for BED input."
    )
    branches: list[str] = Field(
        default_factory=lambda: ["seq"],
        description="Input branches to encode, in this order.",
        json_schema_extra={"widget": "branches"},
    )
    conservation: list[Path] = Field(
        default_factory=list,
        description="Per-base signal tracks (bigWig, or WIG converted once) for the cons "
        "branch; several tracks become several channels, in the order given.",
    )
    fold_temperature: float = Field(
        37.0,
        ge=-50.0,
        le=150.0,
        description="Folding temperature in °C for the fold branch.",
        json_schema_extra={"level": "advanced"},
    )
    window: int | None = Field(
        None,
        ge=4,
        le=100_000,
        description="Length of every sample in bases. When not given: from the lengths of "
        "FASTA sequences (the longest, or the median when the longest is over 1.5 times the "
        "median), 150 for intervals; the number chosen is recorded in parameters.yaml.",
    )
    placement: Literal["center", "random"] = Field(
        "center",
        description="Where the window sits on each interval or sequence.",
        json_schema_extra={"level": "advanced"},
    )
    strand: bool = Field(
        True,
        description="Reverse-complement minus-strand BED intervals (else ignore strand).",
        json_schema_extra={"level": "advanced"},
    )
    alphabet: Literal["dna", "rna"] = Field(
        "dna", description="Letters of the sequences (U and T are read as the same base)."
    )
    unknown_bases: Literal["zero", "uniform"] = Field(
        "zero",
        description="Encoding of N and other IUPAC codes: all-zero vector, or 0.25 per base.",
        json_schema_extra={"level": "advanced"},
    )
    reduce: dict[str, float] = Field(
        default_factory=dict,
        description="Per-class size reduction: an absolute count (e.g. 5000) or a ratio "
        "in (0, 1) (e.g. 0.5). Random and seeded.",
        json_schema_extra={"level": "advanced"},
    )
    split: Literal["random", "chromosome"] = Field(
        "random", description="Random stratified split by ratio, or by chromosome lists."
    )
    ratio: str = Field(
        "7:1:1:1",
        description="train:validation:test[:blackbox] proportions for a random split.",
        json_schema_extra={"when": {"split": "random"}},
    )
    chromosomes: dict[Literal["train", "validation", "test", "blackbox"], list[str]] = Field(
        default_factory=dict,
        description="Chromosomes of each split for a chromosome split (blackbox optional).",
        json_schema_extra={"when": {"split": "chromosome"}},
    )
    negatives: Literal["shuffle", "background"] | None = Field(
        None,
        description="Add a negative class: dinucleotide-shuffled copies of a class, or "
        "GC-matched random genomic background (needs --genome).",
    )
    negatives_from: str | None = Field(
        None,
        description="Class the negatives are made from / matched to (default: the first).",
        json_schema_extra={"when": {"negatives": True}, "level": "advanced"},
    )
    negatives_name: str = Field(
        "negative",
        description="Name of the added negative class.",
        json_schema_extra={"when": {"negatives": True}, "level": "advanced"},
    )
    negatives_ratio: float = Field(
        1.0,
        gt=0,
        le=100,
        description="Negatives per sample of the source class.",
        json_schema_extra={"when": {"negatives": True}, "level": "advanced"},
    )
    jobs: int = Field(
        0,
        ge=0,
        le=1024,
        description="Processes for parallel work (0 = all cores).",
        json_schema_extra={"level": "advanced"},
    )
    cache: bool = Field(
        True,
        description="Reuse mapped/encoded windows from an earlier run, so that changing only "
        "reduction or split re-reads nothing.",
        json_schema_extra={"level": "advanced"},
    )
    cache_dir: Path | None = Field(
        None,
        description="Cache folder (default: <out>/cache).",
        json_schema_extra={"output": True, "when": {"cache": True}, "level": "advanced"},
    )
    branch_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Options of plug-in branch types, by branch name, e.g. "
        "{gc: {width: 11}}; each branch type documents its own.",
        json_schema_extra={"level": "advanced"},
    )

    @field_validator("classes", mode="before")
    @classmethod
    def _names_from_files(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            named: dict[str, Any] = {}
            for path in value:
                name = class_name_from_file(path)
                if name in named:
                    raise ValueError(
                        f"two class files give the class name '{name}'; name them "
                        "explicitly (NAME=FILE, or a mapping in YAML)"
                    )
                named[name] = path
            return named
        return value

    @field_validator("classes")
    @classmethod
    def _class_names(cls, value: dict[str, Path]) -> dict[str, Path]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", name):
                raise ValueError(
                    f"class name '{name}' may only contain letters, digits and . _ + -"
                )
        return value

    @field_validator("branches")
    @classmethod
    def _branch_names(cls, value: list[str]) -> list[str]:
        check_branch_names(value)
        return value

    @field_validator("ratio", mode="before")
    @classmethod
    def _ratio_text(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            value = ":".join(str(v) for v in value)
        if isinstance(value, str):
            _parse_ratio(value)
        return value

    @field_validator("reduce")
    @classmethod
    def _reduce_values(cls, value: dict[str, float]) -> dict[str, float]:
        for name, amount in value.items():
            if amount <= 0:
                raise FieldError(name, f"reduction of '{name}' must be above 0")
            if amount >= 1 and not float(amount).is_integer():
                raise FieldError(
                    name,
                    f"reduction of '{name}' ({amount}) must be a whole count or a ratio below 1",
                )
        return value

    @field_validator("chromosomes")
    @classmethod
    def _chromosomes_disjoint(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: dict[str, str] = {}
        for split, chroms in value.items():
            for chrom in chroms:
                if chrom in seen and seen[chrom] != split:
                    raise ValueError(
                        f"chromosome '{chrom}' is in both '{seen[chrom]}' and '{split}'; "
                        "each chromosome may belong to one split only"
                    )
                seen[chrom] = split
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PreprocessConfig:
        if self.classes and self.input:
            raise FieldError("input", "give classes (one file per class) or input, not both")
        if self.split == "chromosome":
            missing = [s for s in SPLITS[:3] if not self.chromosomes.get(s)]
            if missing:
                raise FieldError(
                    "chromosomes",
                    "a chromosome split needs chromosome lists for "
                    + ", ".join(missing)
                    + " (e.g. --chromosomes test=chr1,chr2)",
                )
        for name in self.reduce:
            if self.classes and name not in self.classes and name != self.negatives_name:
                raise FieldError(
                    "reduce", f"reduction names class '{name}', which is not among the classes"
                )
        if self.negatives_from and self.classes and self.negatives_from not in self.classes:
            raise FieldError(
                "negatives_from", f"negatives_from names class '{self.negatives_from}', not a class"
            )
        if self.negatives and self.negatives_name in self.classes:
            raise FieldError(
                "negatives_name", f"negatives_name '{self.negatives_name}' is already a class name"
            )
        return self

    @property
    def ratios(self) -> tuple[float, float, float, float]:
        """The split ratio as four numbers (train, validation, test, blackbox)."""
        return _parse_ratio(self.ratio)

    @property
    def class_names(self) -> list[str]:
        """Class names in model order, including an added negative class."""
        names = list(self.classes)
        if self.negatives:
            names.append(self.negatives_name)
        return names


Accelerator = Literal["auto", "cpu", "gpu", "mps"]
TrainStrategy = Literal["auto", "ddp"]

ACCELERATOR_OF_DEVICE = {"cuda": "gpu"}
"""The accelerator of an old ``device`` value that is named differently."""


class TrainConfig(StageConfig):
    """A dataset folder → a trained model bundle with its test evaluation."""

    stage: ClassVar[str] = "train"
    dataset: Path | None = Field(
        None,
        description="Dataset folder written by preprocess.",
        json_schema_extra={"run_of": "preprocess"},
    )
    branches: list[str] | None = Field(
        None,
        description="Branches of the dataset to use (default: all of them).",
        json_schema_extra={"widget": "branches"},
    )
    preset: str = Field(
        "gennie",
        description="Named architecture to start from (used when no architecture is given); "
        "the default 'gennie' beat ENNGene's default ('enngene') on RBP24 validation data.",
        json_schema_extra={"choices": list(PRESETS)},
    )
    architecture: ArchitectureConfig | None = Field(
        None, description="Layers per branch and of the common part (default: the preset's)."
    )
    ensemble: int = Field(
        3,
        ge=1,
        le=20,
        description="Networks of this architecture trained together from different random "
        "initial weights; the model's class probabilities are their mean (training takes "
        "about this many times longer; 1 for a single network).",
    )
    centre_networks: int = Field(
        0,
        ge=0,
        le=20,
        description="More networks of the ensemble that read only the central "
        "'centre window' positions of each window (a second scale, as iDeepE's local and "
        "global networks); none are added when the dataset's window is not wider. 0 for "
        "none.",
        json_schema_extra={"level": "advanced"},
    )
    centre_window: int = Field(
        150,
        ge=1,
        le=100_000,
        description="Positions the centre networks read, at the centre of each window.",
        json_schema_extra={"when": {"centre_networks": True}, "level": "advanced"},
    )
    shift: int = Field(
        10,
        ge=0,
        le=1000,
        description="Augmentation: move every training window by a random number of "
        "bases, up to this many either way, anew each epoch and for each network of an "
        "ensemble (the bases moved in count as unknown, N); 0 for none. Validation and "
        "test windows are never moved.",
        json_schema_extra={"level": "advanced"},
    )
    mask: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Augmentation: read this share of the positions of every training "
        "window as unknown (N), chosen at random anew each epoch and for each network of "
        "an ensemble, e.g. 0.05; 0 for none. Validation and test windows are never masked.",
        json_schema_extra={"level": "advanced"},
    )
    ema_decay: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Validate, keep and save a moving average of the weights (Polyak "
        "averaging), updated after every training step with this decay, e.g. 0.99; 0 keeps "
        "the plain weights.",
        json_schema_extra={"level": "advanced"},
    )
    label_smoothing: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Regularisation: the training loss spreads this share of each target's "
        "probability evenly over all classes (label smoothing), e.g. 0.1; 0 for none. "
        "Validation, early stopping and test use the plain loss.",
        json_schema_extra={"level": "advanced"},
    )
    class_weights: str = Field(
        "none",
        description="Weight of each class in the training loss: none (all 1); balanced "
        "(n_samples / (n_classes × the class's samples) in the training split, so a class "
        "with a quarter of the samples of another weighs four times as much); or "
        "NAME=W,NAME=W (classes not named weigh 1). Validation, early stopping and test "
        "use the plain loss.",
    )
    optimizer: Literal["sgd", "rmsprop", "adam", "adamw"] = Field(
        "adam", description="sgd uses Nesterov momentum 0.9."
    )
    lr: float = Field(1e-3, gt=0, le=10, description="(Peak) learning rate.")
    weight_decay: float = Field(
        0.0,
        ge=0,
        le=1,
        description="L2 / decoupled weight decay.",
        json_schema_extra={"level": "advanced"},
    )
    lr_schedule: Literal["fixed", "decay", "plateau", "one-cycle"] = Field(
        "fixed",
        description="fixed; decay (multiply by lr_decay every epoch); plateau (multiply by "
        "lr_factor when the monitored validation metric has not improved for lr_patience "
        "epochs); one-cycle (warm up to lr, then anneal, over the maximum number of epochs).",
        json_schema_extra={"level": "advanced"},
    )
    lr_decay: float = Field(
        0.95,
        gt=0,
        le=1,
        description="Per-epoch factor for lr_schedule=decay.",
        json_schema_extra={"when": {"lr_schedule": "decay"}, "level": "advanced"},
    )
    lr_factor: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Factor on each plateau for lr_schedule=plateau.",
        json_schema_extra={"when": {"lr_schedule": "plateau"}, "level": "advanced"},
    )
    lr_patience: int = Field(
        3,
        ge=1,
        description="Epochs in a row without any improvement of the monitored validation "
        "metric before lr_schedule=plateau lowers the learning rate.",
        json_schema_extra={"when": {"lr_schedule": "plateau"}, "level": "advanced"},
    )
    batch_size: int = Field(
        64,
        ge=1,
        le=65536,
        description="Samples per training step on each device: with 2 devices (or "
        "processes) a step learns from twice as many samples.",
    )
    epochs: int = Field(100, ge=1, le=100_000, description="Maximum number of epochs.")
    early_stopping: bool = Field(
        True, description="Stop when the monitored validation metric stops improving."
    )
    patience: int = Field(
        10,
        ge=1,
        description="Epochs without improvement before stopping.",
        json_schema_extra={"when": {"early_stopping": True}},
    )
    min_delta: float = Field(
        0.01,
        ge=0,
        description="Smallest change that counts as improvement.",
        json_schema_extra={"when": {"early_stopping": True}, "level": "advanced"},
    )
    monitor: Literal["val_loss", "val_auroc"] = Field(
        "val_loss",
        description="Validation metric for early stopping and the best checkpoint.",
        json_schema_extra={"level": "advanced"},
    )
    accelerator: Accelerator = Field(
        "auto",
        description="Where to train: auto picks a CUDA GPU, then Apple MPS, then the CPU.",
        json_schema_extra={"level": "advanced"},
    )
    devices: str = Field(
        "1",
        description="Devices per machine, one training process each: a count (2), GPU "
        "numbers (0,1) or auto (every GPU; on the CPU, one process). Above one, the "
        "processes share each epoch's batches (data-parallel, see strategy).",
        json_schema_extra={"level": "advanced"},
    )
    num_nodes: int = Field(
        1,
        ge=1,
        le=4096,
        description="Machines training together (launched by torchrun or SLURM's srun, "
        "each with --devices processes).",
        json_schema_extra={"level": "advanced"},
    )
    strategy: TrainStrategy = Field(
        "auto",
        description="How several processes train together: auto (ddp when there are "
        "several devices or machines), or ddp (PyTorch's DistributedDataParallel; gloo "
        "on CPUs, NCCL on GPUs).",
        json_schema_extra={"level": "advanced"},
    )
    loader_workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Processes reading training batches for each training process (0: "
        "read by the training process itself, enough when the training split fits in "
        "memory; a few help a GPU that waits for batches read from disk).",
        json_schema_extra={"level": "advanced"},
    )
    device: Literal["auto", "cpu", "cuda", "mps"] | None = Field(
        None,
        description="Old name of accelerator (cuda means gpu), still read from earlier "
        "parameters.yaml files and scripts; it sets accelerator and is saved as empty.",
        json_schema_extra={"when": {"device": True}, "level": "advanced"},
    )
    precision: Precision = Field(
        "32",
        description="Arithmetic of training: 32 (float32) or bf16 (bfloat16 mixed precision: "
        "the weights stay float32, the layers compute in bfloat16; faster on CPUs with "
        "AVX-512 BF16 or AMX and on recent GPUs, slower on others). Evaluation and "
        "prediction compute in float32.",
        json_schema_extra={"level": "advanced"},
    )

    @model_validator(mode="before")
    @classmethod
    def _device_is_accelerator(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("device") is not None:
            data = dict(data)
            device = data.pop("device")
            data.setdefault("accelerator", ACCELERATOR_OF_DEVICE.get(device, device))
        return data

    @field_validator("devices", mode="before")
    @classmethod
    def _devices_text(cls, value: Any) -> str:
        return parse_devices(value)[1]

    def device_list(self) -> int | list[int] | str:
        """``devices`` as Lightning takes it: a count, GPU numbers, or ``"auto"``."""
        return parse_devices(self.devices)[0]

    def centre_networks_for(self, window: int) -> int:
        """The centre networks trained on windows of ``window`` positions: none unless
        the windows are wider than ``centre_window``."""
        return self.centre_networks if self.centre_window < window else 0

    @field_validator("branches")
    @classmethod
    def _branch_names(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            check_branch_names(value)
        return value

    @field_validator("class_weights")
    @classmethod
    def _class_weights_text(cls, value: str) -> str:
        parse_class_weights(value)
        return value.strip()

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        if value not in PRESETS:
            close = difflib.get_close_matches(value, PRESETS, n=1)
            guess = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"unknown preset '{value}'{guess}; presets: {', '.join(PRESETS)}")
        return value


def parse_devices(value: Any) -> tuple[int | list[int] | str, str]:
    """Read a ``devices`` setting: a count, GPU numbers or ``auto``.

    Args:
        value: ``2``, ``"2"``, ``[0, 1]``, ``"0,1"`` or ``"auto"``.

    Returns:
        The value as Lightning takes it (a count, a list of GPU numbers, ``"auto"``)
        and its text form (``"2"``, ``"0,1"``, ``"auto"``).

    Raises:
        ValueError: Anything else.
    """
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    text = str(value).strip().replace(" ", "")
    if text == "auto":
        return "auto", text
    parts = text.rstrip(",").split(",")
    if not all(p.isdigit() for p in parts) or not text:
        raise ValueError(f"devices '{value}' is not a count (2), GPU numbers (0,1) or auto")
    numbers = [int(p) for p in parts]
    if len(numbers) == 1 and "," not in text:
        if numbers[0] < 1:
            raise ValueError("devices must be at least 1 (or GPU numbers such as 0,1)")
        return numbers[0], str(numbers[0])
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"devices '{value}' names a GPU twice")
    return numbers, ",".join(map(str, numbers))


def parse_class_weights(text: str) -> str | dict[str, float]:
    """Read a ``class_weights`` setting: ``"none"``, ``"balanced"``, or the weights of
    ``NAME=W,NAME=W`` as ``{name: weight}`` (positive finite weights).

    Raises:
        ValueError: Any other text.
    """
    text = text.strip()
    if text in ("none", "balanced"):
        return text
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, sep, number = (p.strip() for p in part.partition("="))
        try:
            weight = float(number)
        except ValueError:
            weight = float("nan")
        if not sep or not name or not (0 < weight < float("inf")) or name in weights:
            raise ValueError(
                f"class weight '{part.strip()}' is not NAME=W with a positive number W "
                "(once per class); use none, balanced or e.g. positive=4,negative=1"
            )
        weights[name] = weight
    return weights


CUSTOM_MODEL_SUFFIXES = (".pt", ".pth", ".ts", ".torchscript", ".jit", ".onnx")
"""File suffixes of custom models: TorchScript archives and ONNX files."""


def is_custom_model(path: str | Path | None) -> bool:
    """Whether ``path`` names a custom (TorchScript/ONNX) model file by its suffix."""
    return bool(path) and str(path).lower().endswith(CUSTOM_MODEL_SUFFIXES)


class ModelInputConfig(StageConfig):
    """Fields shared by the stages that apply a trained model (evaluate, predict)."""

    model: Path | None = Field(
        None,
        description="A train run folder (or its model/ bundle folder), or a TorchScript "
        "/ONNX file with custom_model settings.",
        json_schema_extra={"run_of": "train"},
    )
    genome: Path | None = Field(
        None, description="Reference FASTA for BED input (default: the one used in training)."
    )
    conservation: list[Path] = Field(
        default_factory=list,
        description="Signal tracks for a cons branch (default: the ones used in training).",
        json_schema_extra={"level": "advanced"},
    )
    batch_size: int = Field(
        256,
        ge=1,
        le=65536,
        description="Samples per inference batch.",
        json_schema_extra={"level": "advanced"},
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="Where to compute.", json_schema_extra={"level": "advanced"}
    )
    custom_window: int | None = Field(
        None,
        ge=4,
        le=100_000,
        description="Window of a custom (TorchScript/ONNX) model.",
        json_schema_extra={"when": {"model": "custom"}},
    )
    custom_classes: list[str] = Field(
        default_factory=list,
        description="Class names of a custom model, in output order.",
        json_schema_extra={"when": {"model": "custom"}},
    )
    custom_branches: list[str] = Field(
        default_factory=lambda: ["seq"],
        description="Branches (inputs, in order) of a custom model.",
        json_schema_extra={"widget": "branches", "when": {"model": "custom"}},
    )
    custom_alphabet: Literal["dna", "rna"] = Field(
        "dna",
        description="Alphabet of a custom model.",
        json_schema_extra={"when": {"model": "custom"}},
    )


Baseline = Literal["zeros", "shuffle", "file"]
BASELINES = get_args(Baseline)


class AttributionOptions(StrictModel):
    """Integrated Gradients settings of evaluate and predict (see gennie.interpret)."""

    attributions: bool = Field(
        False,
        description="Integrated Gradients for every input, branch and position: writes "
        "attributions.npz, attributions.tsv, report.html and logos/.",
    )
    target: str | None = Field(
        None,
        description="Class whose log-odds is attributed: a class name, 'all', or empty "
        "for each input's highest-scoring class.",
        json_schema_extra={"when": {"attributions": True}},
    )
    steps: int = Field(
        50,
        ge=1,
        le=10_000,
        description="Integration steps of Integrated Gradients.",
        json_schema_extra={"when": {"attributions": True}, "level": "advanced"},
    )
    baseline: Baseline = Field(
        "shuffle",
        description="Reference input: the input's own sequence dinucleotide-shuffled "
        "(averaged over 'shuffles' shuffles), all zeros, or the arrays in baseline_file "
        "(giving the NPZ file itself here means 'file' with that file). Shuffles are the "
        "default by measurement (benchmarks/baselines.py): all zeros is far from neutral "
        "for trained models, so attributions often sum against the prediction.",
        json_schema_extra={"when": {"attributions": True}},
    )
    shuffles: int = Field(
        10,
        ge=1,
        le=100,
        description="Shuffled baselines each input's attributions are averaged over "
        "(each costs one Integrated Gradients run).",
        json_schema_extra={
            "when": {"attributions": True, "baseline": "shuffle"},
            "level": "advanced",
        },
    )
    baseline_file: Path | None = Field(
        None,
        description="NPZ with one (channels, length) array per branch, for baseline=file.",
        json_schema_extra={"when": {"attributions": True, "baseline": "file"}},
    )
    top: int = Field(
        10,
        ge=0,
        le=1000,
        description="Top predictions per class drawn in report.html and logos/.",
        json_schema_extra={"when": {"attributions": True}, "level": "advanced"},
    )

    @model_validator(mode="before")
    @classmethod
    def _baseline_path(cls, data: Any) -> Any:
        # "--baseline FILE" (or baseline: FILE) stands for baseline file + that file.
        if isinstance(data, dict):
            baseline = data.get("baseline")
            if isinstance(baseline, (str, Path)) and str(baseline) not in BASELINES:
                data = {
                    **data,
                    "baseline": "file",
                    "baseline_file": Path(baseline).expanduser().resolve(),
                }
        return data

    @field_validator("target")
    @classmethod
    def _target_text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _baseline_file_given(self) -> AttributionOptions:
        if self.baseline == "file" and self.baseline_file is None:
            raise FieldError(
                "baseline_file",
                "baseline 'file' needs baseline_file (an NPZ, one array per branch)",
            )
        return self


class EvaluateConfig(AttributionOptions, LabelOptions, ModelInputConfig):
    """A model + labelled data → metrics, curves and the confusion matrix."""

    stage: ClassVar[str] = "evaluate"
    blackbox: Path | None = Field(
        None,
        description="A dataset folder whose blackbox split is evaluated.",
        json_schema_extra={"run_of": "preprocess"},
    )
    blackbox_split: Literal["train", "validation", "test", "blackbox"] = Field(
        "blackbox",
        description="Which split of the --blackbox dataset to evaluate.",
        json_schema_extra={"when": {"blackbox": True}, "level": "advanced"},
    )
    input: Path | None = Field(
        None,
        description="A labelled file: BED with a class column, FASTA with the class in each "
        "header, or a TSV/CSV table with a label column.",
    )
    classes: dict[str, Path] = Field(
        default_factory=dict, description="Or: one BED/FASTA file per class, by class name."
    )

    @model_validator(mode="after")
    def _one_source(self) -> EvaluateConfig:
        given = [
            n
            for n, v in (
                ("blackbox", self.blackbox),
                ("input", self.input),
                ("classes", self.classes),
            )
            if v
        ]
        if len(given) > 1:
            raise FieldError(given[-1], f"give one data source, not {' and '.join(given)}")
        return self


class PredictConfig(AttributionOptions, ModelInputConfig):
    """A model + new data → per-class probabilities for every input."""

    stage: ClassVar[str] = "predict"
    input: Path | None = Field(
        None, description="BED, FASTA, or a text file with one sequence per line."
    )
    sequences: list[str] = Field(
        default_factory=list,
        description="Sequences typed or pasted, one per entry.",
        json_schema_extra={"widget": "lines"},
    )

    @model_validator(mode="after")
    def _one_source(self) -> PredictConfig:
        if self.input and self.sequences:
            raise FieldError("input", "give either input or sequences, not both")
        return self


# --------------------------------------------------------------------------- interpret


class MotifsConfig(StageConfig):
    """A model + a dataset → first-layer filters of the seq branch as motifs (PWMs)."""

    stage: ClassVar[str] = "motifs"
    model: Path | None = Field(
        None,
        description="A train run folder (or its model/ bundle folder).",
        json_schema_extra={"run_of": "train"},
    )
    dataset: Path | None = Field(
        None,
        description="Dataset folder whose sequences are scanned by the filters.",
        json_schema_extra={"run_of": "preprocess"},
    )
    split: Literal["all", "train", "validation", "test", "blackbox"] = Field(
        "all",
        description="Which samples of the dataset to scan.",
        json_schema_extra={"level": "advanced"},
    )
    max_samples: int = Field(
        20_000,
        ge=1,
        description="Scan at most this many samples (a seeded random subset).",
        json_schema_extra={"level": "advanced"},
    )
    threshold: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="A window is a site of a filter when the filter's activation there "
        "exceeds threshold × its largest activation over the scanned samples.",
        json_schema_extra={"level": "advanced"},
    )
    database: Path | None = Field(
        None, description="MEME motif file to compare the filters with (TOMTOM)."
    )
    batch_size: int = Field(
        256,
        ge=1,
        le=65536,
        description="Samples per batch.",
        json_schema_extra={"level": "advanced"},
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="Where to compute.", json_schema_extra={"level": "advanced"}
    )


class IsmConfig(StageConfig):
    """A model + one sequence → in-silico mutagenesis: every position × base → change in
    the target log-odds, as a table and a heat map, next to Integrated Gradients."""

    stage: ClassVar[str] = "ism"
    model: Path | None = Field(
        None,
        description="A train run folder (or its model/ bundle folder).",
        json_schema_extra={"run_of": "train"},
    )
    sequence: str | None = Field(
        None, description="The sequence to mutate (cut or padded to the model's window)."
    )
    target: str | None = Field(
        None, description="Class whose log-odds is scored (default: the highest-scoring class)."
    )
    steps: int = Field(
        50,
        ge=1,
        le=10_000,
        description="Integration steps of the Integrated Gradients beside it.",
        json_schema_extra={"level": "advanced"},
    )
    batch_size: int = Field(
        256,
        ge=1,
        le=65536,
        description="Mutants per batch.",
        json_schema_extra={"level": "advanced"},
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="Where to compute.", json_schema_extra={"level": "advanced"}
    )
