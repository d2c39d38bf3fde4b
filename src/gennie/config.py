"""Configuration models: the single source of truth for every option and its default.

One pydantic model per stage (:class:`PreprocessConfig`, :class:`TrainConfig`,
:class:`EvaluateConfig`, :class:`PredictConfig`). The CLI fills them from YAML and
flags, the GUI edits them, the library consumes them, and every run folder saves the
complete model as ``parameters.yaml`` so that ``gennie run`` can repeat the run.

Paths: relative paths in a YAML file are taken relative to that file's folder, those
given as flags or in Python relative to the working directory; the saved
``parameters.yaml`` holds absolute paths.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gennie.errors import UserError

SPLITS = ("train", "validation", "test", "blackbox")
"""The dataset splits, in order. ``blackbox`` is optional (ratio 0 or no chromosomes)."""

KNOWN_BRANCHES = ("seq", "fold", "cons")
"""Branch names a configuration may mention; which ones are available is up to
:mod:`gennie.encode`."""

Activation = Literal["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "exp", "linear"]
PoolKind = Literal["max", "avg", "max_avg"]
Precision = Literal["32", "bf16"]
"""Training arithmetic: float32, or bfloat16 mixed precision."""


class _Strict(BaseModel):
    """Base for all configuration models: unknown keys are errors, assignments validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --------------------------------------------------------------------------- architecture


class ConvLayer(_Strict):
    """1-D convolution over positions (channels = filters)."""

    type: Literal["conv"] = "conv"
    filters: int = Field(32, ge=1, le=4096, description="Number of convolution filters.")
    kernel_size: int = Field(8, ge=1, le=1024, description="Filter width in positions.")
    dilation: int = Field(1, ge=1, le=64, description="Spacing between filter taps.")
    padding: Literal["valid", "same"] = Field(
        "valid",
        description="'valid' shortens the sequence by (kernel_size-1)*dilation; "
        "'same' keeps its length.",
    )
    activation: Activation = Field("relu", description="Non-linearity after the convolution.")
    batch_norm: bool = Field(False, description="Batch normalization after the activation.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout rate after the layer.")


class PoolLayer(_Strict):
    """Local pooling over a window of positions (stride = window)."""

    type: Literal["pool"] = "pool"
    kind: PoolKind = Field("max", description="max, avg, or max_avg (both, concatenated).")
    size: int = Field(2, ge=1, le=1024, description="Pooling window (and stride) in positions.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout rate after pooling.")


class GlobalPoolLayer(_Strict):
    """Pooling over all positions: one value per channel ('does the motif occur?')."""

    type: Literal["global_pool"] = "global_pool"
    kind: PoolKind = Field("max", description="max, avg, or max_avg (both, concatenated).")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout rate after pooling.")


class RecurrentLayer(_Strict):
    """LSTM or GRU over positions; returns the whole sequence unless it is followed by a
    dense layer or ends the network, in which case it returns its final state."""

    type: Literal["lstm", "gru"] = "lstm"
    units: int = Field(32, ge=1, le=4096, description="Hidden units per direction.")
    bidirectional: bool = Field(True, description="Read the sequence in both directions.")
    batch_norm: bool = Field(False, description="Batch normalization after the layer.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout rate after the layer.")


class DenseLayer(_Strict):
    """Fully connected layer (flattens its input first if needed)."""

    type: Literal["dense"] = "dense"
    units: int = Field(32, ge=1, le=65536, description="Number of units.")
    activation: Activation = Field("relu", description="Non-linearity after the layer.")
    batch_norm: bool = Field(False, description="Batch normalization after the activation.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout rate after the layer.")


BranchLayer = Annotated[ConvLayer | PoolLayer | GlobalPoolLayer, Field(discriminator="type")]
CommonLayer = Annotated[
    ConvLayer | PoolLayer | GlobalPoolLayer | RecurrentLayer | DenseLayer,
    Field(discriminator="type"),
]


class ArchitectureConfig(_Strict):
    """A multi-branch network: layers per input branch, then a common part after the
    branches are concatenated. A softmax output over the classes is always added."""

    branches: dict[str, list[BranchLayer]] = Field(
        default_factory=dict, description="Layers of each input branch, by branch name."
    )
    common: list[CommonLayer] = Field(
        default_factory=list, description="Layers after the branches are concatenated."
    )

    @field_validator("branches")
    @classmethod
    def _known_branches(cls, value: dict[str, list]) -> dict[str, list]:
        for name in value:
            if name not in KNOWN_BRANCHES:
                raise ValueError(f"unknown branch '{name}' (known: {', '.join(KNOWN_BRANCHES)})")
        return value


# --------------------------------------------------------------------------- stages


class StageConfig(_Strict):
    """Fields shared by every stage."""

    stage: ClassVar[str]
    out: Path = Field(
        Path("gennie-runs"),
        description="Output folder; each run gets its own sub-folder there and one row in "
        "the folder's <stage>_parameters.tsv.",
    )
    name: str | None = Field(
        None,
        description="Name of the run folder (default: <stage>_<date>-<time>).",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
    )
    seed: int = Field(42, ge=0, description="One seed for splits, initialisation and shuffling.")


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


class PreprocessConfig(StageConfig):
    """Class files (BED or FASTA) → an encoded, split dataset folder."""

    stage: ClassVar[str] = "preprocess"
    classes: dict[str, Path] = Field(
        default_factory=dict,
        description="One file per class, by class name: BED (with --genome) or FASTA, "
        "optionally gzipped. The order here is the class order of the model.",
    )
    genome: Path | None = Field(
        None, description="Reference genome/transcriptome FASTA (plain or bgzip) for BED input."
    )
    branches: list[str] = Field(
        default_factory=lambda: ["seq"], description="Input branches to encode: seq, fold, cons."
    )
    conservation: list[Path] = Field(
        default_factory=list,
        description="Per-base signal tracks (bigWig, or WIG converted once) for the cons "
        "branch; several tracks become several channels, in the order given.",
    )
    fold_temperature: float = Field(
        37.0, ge=-50.0, le=150.0, description="Folding temperature in °C for the fold branch."
    )
    window: int = Field(150, ge=4, le=100_000, description="Length of every sample in bases.")
    placement: Literal["center", "random"] = Field(
        "center", description="Where the window sits on each interval or sequence."
    )
    strand: bool = Field(
        True, description="Reverse-complement minus-strand BED intervals (else ignore strand)."
    )
    alphabet: Literal["dna", "rna"] = Field(
        "dna", description="Letters of the sequences (U and T are read as the same base)."
    )
    unknown_bases: Literal["zero", "uniform"] = Field(
        "zero",
        description="Encoding of N and other IUPAC codes: all-zero vector, or 0.25 per base.",
    )
    reduce: dict[str, float] = Field(
        default_factory=dict,
        description="Per-class size reduction: an absolute count (e.g. 5000) or a ratio "
        "in (0, 1) (e.g. 0.5). Random and seeded.",
    )
    split: Literal["random", "chromosome"] = Field(
        "random", description="Random stratified split by ratio, or by chromosome lists."
    )
    ratio: str = Field(
        "7:1:1:1", description="train:validation:test[:blackbox] proportions for a random split."
    )
    chromosomes: dict[Literal["train", "validation", "test", "blackbox"], list[str]] = Field(
        default_factory=dict,
        description="Chromosomes of each split for a chromosome split (blackbox optional).",
    )
    negatives: Literal["shuffle", "background"] | None = Field(
        None,
        description="Add a negative class: dinucleotide-shuffled copies of a class, or "
        "GC-matched random genomic background (needs --genome).",
    )
    negatives_from: str | None = Field(
        None, description="Class the negatives are made from / matched to (default: the first)."
    )
    negatives_name: str = Field("negative", description="Name of the added negative class.")
    negatives_ratio: float = Field(
        1.0, gt=0, le=100, description="Negatives per sample of the source class."
    )
    jobs: int = Field(0, ge=0, description="Processes for parallel work (0 = all cores).")
    cache: bool = Field(
        True,
        description="Reuse mapped/encoded windows from an earlier run, so that changing only "
        "reduction or split re-reads nothing.",
    )
    cache_dir: Path | None = Field(None, description="Cache folder (default: <out>/cache).")

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
        if not value:
            raise ValueError("at least one branch is needed (e.g. seq)")
        for name in value:
            if name not in KNOWN_BRANCHES:
                raise ValueError(f"unknown branch '{name}' (known: {', '.join(KNOWN_BRANCHES)})")
        if len(set(value)) != len(value):
            raise ValueError("a branch is listed twice")
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
                raise ValueError(f"reduction of '{name}' must be above 0")
            if amount >= 1 and not float(amount).is_integer():
                raise ValueError(
                    f"reduction of '{name}' ({amount}) must be a whole count or a ratio below 1"
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
        if self.split == "chromosome":
            missing = [s for s in SPLITS[:3] if not self.chromosomes.get(s)]
            if missing:
                raise ValueError(
                    "a chromosome split needs chromosome lists for "
                    + ", ".join(missing)
                    + " (e.g. --chromosomes test=chr1,chr2)"
                )
        for name in self.reduce:
            if self.classes and name not in self.classes and name != self.negatives_name:
                raise ValueError(f"reduction names class '{name}', which is not among the classes")
        if self.negatives_from and self.classes and self.negatives_from not in self.classes:
            raise ValueError(f"negatives_from names class '{self.negatives_from}', not a class")
        if self.negatives and self.negatives_name in self.classes:
            raise ValueError(f"negatives_name '{self.negatives_name}' is already a class name")
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


class TrainConfig(StageConfig):
    """A dataset folder → a trained model bundle with its test evaluation."""

    stage: ClassVar[str] = "train"
    dataset: Path | None = Field(None, description="Dataset folder written by preprocess.")
    branches: list[str] | None = Field(
        None, description="Branches of the dataset to use (default: all of them)."
    )
    preset: str = Field(
        "gennie",
        description="Named architecture to start from (used when no architecture is given); "
        "the default 'gennie' beat ENNGene's default ('enngene') on RBP24 validation data.",
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
    )
    centre_window: int = Field(
        150,
        ge=1,
        le=100_000,
        description="Positions the centre networks read, at the centre of each window.",
    )
    shift: int = Field(
        10,
        ge=0,
        le=1000,
        description="Augmentation: move every training window by a random number of "
        "bases, up to this many either way, anew each epoch and for each network of an "
        "ensemble (the bases moved in count as unknown, N); 0 for none. Validation and "
        "test windows are never moved.",
    )
    mask: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Augmentation: read this share of the positions of every training "
        "window as unknown (N), chosen at random anew each epoch and for each network of "
        "an ensemble, e.g. 0.05; 0 for none. Validation and test windows are never masked.",
    )
    ema_decay: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Validate, keep and save a moving average of the weights (Polyak "
        "averaging), updated after every training step with this decay, e.g. 0.99; 0 keeps "
        "the plain weights.",
    )
    label_smoothing: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Regularisation: the training loss spreads this share of each target's "
        "probability evenly over all classes (label smoothing), e.g. 0.1; 0 for none. "
        "Validation, early stopping and test use the plain loss.",
    )
    optimizer: Literal["sgd", "rmsprop", "adam", "adamw"] = Field(
        "adam", description="sgd uses Nesterov momentum 0.9."
    )
    lr: float = Field(1e-3, gt=0, le=10, description="(Peak) learning rate.")
    weight_decay: float = Field(0.0, ge=0, le=1, description="L2 / decoupled weight decay.")
    lr_schedule: Literal["fixed", "decay", "plateau", "one-cycle"] = Field(
        "fixed",
        description="fixed; decay (multiply by lr_decay every epoch); plateau (multiply by "
        "lr_factor when the monitored validation metric has not improved for lr_patience "
        "epochs); one-cycle (warm up to lr, then anneal, over the maximum number of epochs).",
    )
    lr_decay: float = Field(0.95, gt=0, le=1, description="Per-epoch factor for lr_schedule=decay.")
    lr_factor: float = Field(
        0.2, gt=0, lt=1, description="Factor on each plateau for lr_schedule=plateau."
    )
    lr_patience: int = Field(
        3,
        ge=1,
        description="Epochs in a row without any improvement of the monitored validation "
        "metric before lr_schedule=plateau lowers the learning rate.",
    )
    batch_size: int = Field(64, ge=1, le=65536, description="Samples per training step.")
    epochs: int = Field(100, ge=1, le=100_000, description="Maximum number of epochs.")
    early_stopping: bool = Field(
        True, description="Stop when the monitored validation metric stops improving."
    )
    patience: int = Field(10, ge=1, description="Epochs without improvement before stopping.")
    min_delta: float = Field(0.01, ge=0, description="Smallest change that counts as improvement.")
    monitor: Literal["val_loss", "val_auroc"] = Field(
        "val_loss", description="Validation metric for early stopping and the best checkpoint."
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="auto picks CUDA, then Apple MPS, then CPU."
    )
    threads: int = Field(0, ge=0, description="CPU threads for PyTorch (0 = its default).")
    precision: Precision = Field(
        "32",
        description="Arithmetic of training: 32 (float32) or bf16 (bfloat16 mixed precision: "
        "the weights stay float32, the layers compute in bfloat16; faster on CPUs with "
        "AVX-512 BF16 or AMX and on recent GPUs, slower on others). Evaluation and "
        "prediction compute in float32.",
    )

    def centre_networks_for(self, window: int) -> int:
        """The centre networks trained on windows of ``window`` positions: none unless
        the windows are wider than ``centre_window``."""
        return self.centre_networks if self.centre_window < window else 0

    @field_validator("branches")
    @classmethod
    def _branch_names(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            PreprocessConfig._branch_names(value)
        return value

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        from gennie.model.presets import PRESETS  # plain data; does not import torch

        if value not in PRESETS:
            close = difflib.get_close_matches(value, PRESETS, n=1)
            guess = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"unknown preset '{value}'{guess}; presets: {', '.join(PRESETS)}")
        return value


class ModelInputConfig(StageConfig):
    """Fields shared by the stages that apply a trained model (evaluate, predict)."""

    model: Path | None = Field(
        None,
        description="A train run folder (or its model/ bundle folder), or a TorchScript "
        "/ONNX file with custom_model settings.",
    )
    genome: Path | None = Field(
        None, description="Reference FASTA for BED input (default: the one used in training)."
    )
    conservation: list[Path] = Field(
        default_factory=list,
        description="Signal tracks for a cons branch (default: the ones used in training).",
    )
    batch_size: int = Field(256, ge=1, le=65536, description="Samples per inference batch.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="Where to compute.")
    custom_window: int | None = Field(
        None, ge=4, description="Window of a custom (TorchScript/ONNX) model."
    )
    custom_classes: list[str] = Field(
        default_factory=list, description="Class names of a custom model, in output order."
    )
    custom_branches: list[str] = Field(
        default_factory=lambda: ["seq"],
        description="Branches (inputs, in order) of a custom model.",
    )
    custom_alphabet: Literal["dna", "rna"] = Field("dna", description="Alphabet of a custom model.")


class AttributionOptions(_Strict):
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
    )
    steps: int = Field(
        50, ge=1, le=10_000, description="Integration steps of Integrated Gradients."
    )
    baseline: Literal["zeros", "shuffle", "file"] = Field(
        "zeros",
        description="Reference input: all zeros, the input's own sequence "
        "dinucleotide-shuffled, or the arrays in baseline_file.",
    )
    baseline_file: Path | None = Field(
        None, description="NPZ with one (channels, length) array per branch, for baseline=file."
    )
    top: int = Field(
        10, ge=0, le=1000, description="Top predictions per class drawn in report.html and logos/."
    )

    @field_validator("target")
    @classmethod
    def _target_text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _baseline_file_given(self) -> AttributionOptions:
        if self.baseline == "file" and self.baseline_file is None:
            raise ValueError("baseline 'file' needs baseline_file (an NPZ, one array per branch)")
        return self


class EvaluateConfig(AttributionOptions, ModelInputConfig):
    """A model + labelled data → metrics, curves and the confusion matrix."""

    stage: ClassVar[str] = "evaluate"
    blackbox: Path | None = Field(
        None, description="A dataset folder whose blackbox split is evaluated."
    )
    blackbox_split: Literal["train", "validation", "test", "blackbox"] = Field(
        "blackbox", description="Which split of the --blackbox dataset to evaluate."
    )
    input: Path | None = Field(
        None,
        description="BED with a class column, or FASTA with the class name in each header.",
    )
    classes: dict[str, Path] = Field(
        default_factory=dict, description="Or: one BED/FASTA file per class, by class name."
    )
    class_column: int = Field(
        4, ge=4, description="1-based column of a BED --input holding the class name."
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
            raise ValueError(f"give one data source, not {' and '.join(given)}")
        return self


class PredictConfig(AttributionOptions, ModelInputConfig):
    """A model + new data → per-class probabilities for every input."""

    stage: ClassVar[str] = "predict"
    input: Path | None = Field(
        None, description="BED, FASTA, or a text file with one sequence per line."
    )
    sequences: list[str] = Field(
        default_factory=list, description="Sequences typed or pasted, one per entry."
    )

    @model_validator(mode="after")
    def _one_source(self) -> PredictConfig:
        if self.input and self.sequences:
            raise ValueError("give either input or sequences, not both")
        return self


# --------------------------------------------------------------------------- search


class FloatRange(_Strict):
    """A continuous range to search: ``{low: 0.0001, high: 0.01, log: true}``."""

    low: float = Field(description="Smallest value.")
    high: float = Field(description="Largest value.")
    log: bool = Field(False, description="Sample on a log scale (learning rates).")
    step: float | None = Field(
        None, gt=0, description="Only multiples of step above low (needed for grid search)."
    )

    @model_validator(mode="after")
    def _ordered(self) -> FloatRange:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low above 0 (got {self.low})")
        if self.log and self.step is not None:
            raise ValueError("give either log or step, not both")
        return self


class IntRange(_Strict):
    """An integer range to search: ``{low: 1, high: 3}`` (both ends included)."""

    low: int = Field(description="Smallest value.")
    high: int = Field(description="Largest value (included).")
    log: bool = Field(False, description="Sample on a log scale (filter counts).")
    step: int = Field(1, ge=1, description="Spacing of the values.")

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and (self.low <= 0 or self.step != 1):
            raise ValueError("a log range needs low above 0 and step 1")
        return self


FloatSpace = float | list[float] | FloatRange
"""A searched float: one fixed value, a list of choices, or a range."""
IntSpace = int | list[int] | IntRange
"""A searched integer: one fixed value, a list of choices, or a range."""
BoolSpace = bool | list[bool]
"""A searched switch: fixed, or ``[false, true]`` to try both."""
ChoiceSpace = str | list[str]
"""A searched option: one fixed name or a list of names to choose from."""
POOL_CHOICES = ("max", "avg", "max_avg", "none")
"""Choices of ``pool`` and ``global_pool`` in a searched architecture."""
COMMON_CHOICES = ("dense", "lstm", "gru", "none")
"""Choices of ``common`` (the common part's layer type) in a searched architecture."""

CUSTOM_ARCHITECTURE = "custom"
"""The ``space.preset`` choice that stands for the searched ``space.architecture``."""


def _candidates(value: Any) -> list[Any]:
    """The values a dimension can take that a config field must accept (range ends)."""
    if isinstance(value, (FloatRange, IntRange)):
        return [value.low, value.high]
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _range_from_mapping(value: Any, kind: type[BaseModel]) -> Any:
    """A ``{low, high, ...}`` mapping as a range, with the range's own error message
    (instead of one error per member of the value's union type)."""
    if not isinstance(value, dict):
        return value
    try:
        return kind.model_validate(value)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key; a range has low, high, log and step"
        raise ValueError(f"{where}: {msg}" if where else msg) from None


def _check_list(choices: list[Any]) -> list[Any]:
    """A list of choices must be non-empty and name each choice once."""
    if not choices:
        raise ValueError("give at least one choice")
    for i, choice in enumerate(choices):
        if choice in choices[:i]:
            raise ValueError(f"the choice {choice!r} is listed twice")
    return choices


def _check_against(model: type[BaseModel], field: str, value: Any) -> Any:
    """Check every candidate of a dimension against the configuration field it sets."""
    if isinstance(value, list):
        _check_list(value)
    for candidate in _candidates(value):
        try:
            model.model_validate({field: candidate})
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise ValueError(f"{candidate!r} is not a valid {field}: {msg}") from None
    return value


class ArchitectureSpace(_Strict):
    """A searched architecture. Every input branch gets ``conv_layers`` convolution
    blocks (each: convolution, optional local pooling), then optional global pooling;
    the common part has ``common_layers`` layers of type ``common``. Each value is
    sampled separately per branch (parameters ``seq.filters``, ``fold.filters``, …) and
    once for the common part (``common.units``, …)."""

    conv_layers: IntSpace = Field(
        IntRange(low=1, high=3), description="Convolution blocks per branch."
    )
    filters: IntSpace = Field([16, 32, 64], description="Filters of each convolution.")
    kernel_size: IntSpace = Field([4, 8, 12], description="Filter width in positions.")
    dilation: IntSpace = Field(1, description="Spacing between filter taps.")
    padding: ChoiceSpace = Field(
        "same", description="'same' keeps the length, so only pooling shortens the sequence."
    )
    activation: ChoiceSpace = Field("relu", description="Non-linearity of the convolutions.")
    batch_norm: BoolSpace = Field([False, True], description="Batch normalization in branches.")
    dropout: FloatSpace = Field(
        FloatRange(low=0.0, high=0.5), description="Dropout after each convolution."
    )
    pool: ChoiceSpace = Field(
        "max", description="Local pooling after each convolution: max, avg, max_avg or none."
    )
    pool_size: IntSpace = Field(2, description="Local pooling window (and stride).")
    global_pool: ChoiceSpace = Field(
        ["max", "none"], description="Global pooling at the end of each branch, or none."
    )
    common: ChoiceSpace = Field(
        "dense", description="Layer type of the common part: dense, lstm, gru or none."
    )
    common_layers: IntSpace = Field(1, description="Number of common layers.")
    units: IntSpace = Field([16, 32, 64], description="Units of each common layer.")
    bidirectional: BoolSpace = Field(True, description="lstm/gru read in both directions.")
    common_batch_norm: BoolSpace = Field(False, description="Batch normalization, common part.")
    common_dropout: FloatSpace = Field(
        FloatRange(low=0.0, high=0.5), description="Dropout after each common layer."
    )

    @field_validator(
        "conv_layers",
        "filters",
        "kernel_size",
        "dilation",
        "pool_size",
        "common_layers",
        "units",
        mode="before",
    )
    @classmethod
    def _int_ranges(cls, value: Any) -> Any:
        return _range_from_mapping(value, IntRange)

    @field_validator("dropout", "common_dropout", mode="before")
    @classmethod
    def _float_ranges(cls, value: Any) -> Any:
        return _range_from_mapping(value, FloatRange)

    @field_validator("conv_layers", "common_layers")
    @classmethod
    def _layer_counts(cls, value: Any, info: Any) -> Any:
        low = 0 if info.field_name == "common_layers" else 1
        for candidate in _candidates(value):
            if not low <= candidate <= 10:
                raise ValueError(f"{candidate} is not between {low} and 10")
        return value

    @field_validator("filters", "kernel_size", "dilation", "padding", "activation")
    @classmethod
    def _conv_values(cls, value: Any, info: Any) -> Any:
        return _check_against(ConvLayer, info.field_name, value)

    @field_validator("batch_norm", "bidirectional", "common_batch_norm")
    @classmethod
    def _choices(cls, value: Any) -> Any:
        return _check_list(value) if isinstance(value, list) else value

    @field_validator("pool", "global_pool", "common")
    @classmethod
    def _named_choices(cls, value: Any, info: Any) -> Any:
        allowed = COMMON_CHOICES if info.field_name == "common" else POOL_CHOICES
        for name in _check_list(value) if isinstance(value, list) else [value]:
            if name not in allowed:
                raise ValueError(f"{name!r} is not one of {', '.join(allowed)}")
        return value

    @field_validator("dropout", "common_dropout")
    @classmethod
    def _dropout(cls, value: Any) -> Any:
        return _check_against(ConvLayer, "dropout", value)

    @field_validator("pool_size")
    @classmethod
    def _pool_size(cls, value: Any) -> Any:
        return _check_against(PoolLayer, "size", value)

    @field_validator("units")
    @classmethod
    def _units(cls, value: Any) -> Any:
        return _check_against(DenseLayer, "units", value)


SEARCHED_TRAIN_FIELDS = (
    "lr",
    "weight_decay",
    "batch_size",
    "optimizer",
    "lr_schedule",
    "lr_decay",
    "lr_factor",
    "lr_patience",
    "epochs",
    "early_stopping",
    "patience",
    "min_delta",
    "ensemble",
    "centre_networks",
    "shift",
    "mask",
    "ema_decay",
    "label_smoothing",
)
"""Training options a search space may vary; each maps to the TrainConfig field."""


class SearchSpace(_Strict):
    """What a search varies. Every entry is one fixed value, a list of choices or a
    range ``{low, high, log, step}``; entries left out keep the train stage default."""

    lr: FloatSpace | None = Field(
        FloatRange(low=1e-4, high=1e-2, log=True), description="(Peak) learning rate."
    )
    weight_decay: FloatSpace | None = Field(None, description="L2 / decoupled weight decay.")
    batch_size: IntSpace | None = Field([32, 64, 128], description="Samples per step.")
    optimizer: ChoiceSpace | None = Field(
        ["adam", "adamw", "sgd"], description="sgd, rmsprop, adam, adamw."
    )
    lr_schedule: ChoiceSpace | None = Field(
        ["fixed", "one-cycle"], description="fixed, decay, plateau, one-cycle."
    )
    lr_decay: FloatSpace | None = Field(None, description="Per-epoch factor for decay.")
    lr_factor: FloatSpace | None = Field(None, description="Factor on each plateau.")
    lr_patience: IntSpace | None = Field(
        None, description="Epochs without improvement before a plateau's drop."
    )
    epochs: IntSpace | None = Field(30, description="Maximum epochs of each trial.")
    early_stopping: BoolSpace | None = Field(True, description="Stop trials early.")
    patience: IntSpace | None = Field(5, description="Early-stopping patience in epochs.")
    min_delta: FloatSpace | None = Field(None, description="Early-stopping minimum change.")
    ensemble: IntSpace | None = Field(
        1, description="Networks per trial model (1: trials compare single networks)."
    )
    centre_networks: IntSpace | None = Field(
        0, description="Networks per trial model on the windows' centres (0: none)."
    )
    shift: IntSpace | None = Field(
        None, description="Random training shift of the windows, in bases (augmentation)."
    )
    mask: FloatSpace | None = Field(
        None, description="Share of training positions read as unknown (augmentation)."
    )
    ema_decay: FloatSpace | None = Field(
        None, description="Decay of the moving average of the weights (0: none)."
    )
    label_smoothing: FloatSpace | None = Field(
        None, description="Share of the target probability spread over all classes."
    )
    preset: ChoiceSpace = Field(
        ["enngene", "1layer", "1layer_64motif", "deepbind", "2layer"],
        description="Presets to try; 'custom' stands for the architecture section.",
    )
    branches: list[list[str]] | None = Field(
        None,
        description="Branch combinations to try, e.g. [[seq], [seq, fold]] "
        "(default: all branches of the dataset).",
    )
    architecture: ArchitectureSpace | None = Field(
        None, description="A searched architecture (the 'custom' preset choice)."
    )

    @field_validator(
        "batch_size",
        "epochs",
        "patience",
        "lr_patience",
        "ensemble",
        "centre_networks",
        "shift",
        mode="before",
    )
    @classmethod
    def _int_ranges(cls, value: Any) -> Any:
        return _range_from_mapping(value, IntRange)

    @field_validator(
        "lr",
        "weight_decay",
        "lr_decay",
        "lr_factor",
        "min_delta",
        "mask",
        "ema_decay",
        "label_smoothing",
        mode="before",
    )
    @classmethod
    def _float_ranges(cls, value: Any) -> Any:
        return _range_from_mapping(value, FloatRange)

    @field_validator(*SEARCHED_TRAIN_FIELDS)
    @classmethod
    def _train_values(cls, value: Any, info: Any) -> Any:
        return _check_against(TrainConfig, info.field_name, value)

    @field_validator("preset")
    @classmethod
    def _presets(cls, value: Any) -> Any:
        for name in _check_list(value if isinstance(value, list) else [value]):
            if name != CUSTOM_ARCHITECTURE:
                _check_against(TrainConfig, "preset", name)
        return value

    @field_validator("branches", mode="before")
    @classmethod
    def _branch_sets(cls, value: Any) -> Any:
        if isinstance(value, list):
            # "seq,fold" and [seq, fold] both name one combination.
            value = [
                [b.strip() for b in v.split(",") if b.strip()] if isinstance(v, str) else v
                for v in value
            ]
        return value

    @field_validator("branches")
    @classmethod
    def _known_branch_sets(cls, value: list[list[str]] | None) -> list[list[str]] | None:
        if value is None:
            return value
        if not value:
            raise ValueError("give at least one branch combination, e.g. [[seq]]")
        seen = set()
        for combination in value:
            PreprocessConfig._branch_names(combination)
            key = tuple(sorted(combination))
            if key in seen:
                raise ValueError(f"the combination {','.join(combination)} is listed twice")
            seen.add(key)
        return value

    @model_validator(mode="before")
    @classmethod
    def _custom_by_default(cls, data: Any) -> Any:
        # An architecture section without a preset list means: search that architecture.
        if isinstance(data, dict) and data.get("architecture") is not None:
            data.setdefault("preset", CUSTOM_ARCHITECTURE)
        return data

    @model_validator(mode="after")
    def _architecture_source(self) -> SearchSpace:
        if CUSTOM_ARCHITECTURE in self.presets and self.architecture is None:
            raise ValueError(
                "preset 'custom' needs an architecture section in the space "
                "(the architecture to search)"
            )
        return self

    @property
    def presets(self) -> list[str]:
        """The preset choices (``custom`` = the searched architecture)."""
        return list(self.preset) if isinstance(self.preset, list) else [self.preset]


class TuneConfig(StageConfig):
    """Hyper-parameter and architecture search (Optuna) on a dataset's train and
    validation splits: a trials table, plots and the best trial's train config."""

    stage: ClassVar[str] = "tune"
    dataset: Path | None = Field(None, description="Dataset folder written by preprocess.")
    space: SearchSpace = Field(
        default_factory=SearchSpace, description="What to vary (see SearchSpace)."
    )
    objective: Literal["auroc", "auprc", "loss"] = Field(
        "auroc",
        description="Validation metric of the best epoch to optimize (macro AUROC and AUPRC "
        "are maximized, loss minimized).",
    )
    sampler: Literal["tpe", "random", "grid"] = Field(
        "tpe", description="How trials are chosen (grid needs choices or stepped ranges)."
    )
    pruner: Literal["median", "hyperband", "none"] = Field(
        "median", description="Stop trials whose per-epoch validation metric is hopeless."
    )
    prune_warmup: int = Field(2, ge=0, description="Epochs every trial runs before pruning.")
    prune_startup: int = Field(
        5, ge=0, description="Finished trials before the median pruner starts pruning."
    )
    n_trials: int | None = Field(
        None,
        ge=1,
        description="Finished (complete or pruned) trials the study should have in total, "
        "counting earlier runs and all workers (default: 20; grid: the grid size).",
    )
    timeout: float | None = Field(
        None, gt=0, description="Stop starting new trials after this many seconds."
    )
    storage: str | None = Field(
        None,
        description="Optuna database URL shared by workers, e.g. postgresql://user@host/db "
        "(default: SQLite study.db in the run folder).",
    )
    study: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Study name; workers with the same storage and study share it "
        "(default: the run folder's name).",
    )
    jobs: int = Field(1, ge=1, le=256, description="Worker processes to start here.")
    heartbeat: int = Field(
        10,
        ge=1,
        description="Seconds between a running trial's heartbeats; a trial whose worker "
        "died is marked failed once it misses them.",
    )
    grace_period: int | None = Field(
        None,
        ge=1,
        description="Seconds without heartbeat before a trial counts as dead "
        "(default: twice the heartbeat).",
    )
    retry_failed: int = Field(
        1, ge=0, le=10, description="Times a trial whose worker died is run again."
    )
    retrain: bool = Field(
        False,
        description="At the end, train the best configuration with 'gennie train' and "
        "evaluate it on the test split.",
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="auto picks CUDA, then Apple MPS, then CPU."
    )
    threads: int = Field(
        0, ge=0, description="CPU threads per worker (0 = PyTorch's default; 1 with several jobs)."
    )
    precision: Precision = Field(
        TrainConfig.model_fields["precision"].default,
        description="Arithmetic of the trials' training (see train's precision).",
    )

    @field_validator("storage")
    @classmethod
    def _storage_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value)
        except ArgumentError:
            raise ValueError(
                f"'{value}' is not a database URL (e.g. postgresql://user@host:5432/db "
                "or sqlite:///study.db)"
            ) from None
        return value

    @model_validator(mode="after")
    def _grid_needs_steps(self) -> TuneConfig:
        if self.sampler == "grid":
            for loc, dim in _dimensions(self.space):
                if isinstance(dim, FloatRange) and dim.step is None:
                    raise ValueError(
                        f"grid search needs choices or a step for space.{loc} "
                        "(a float range without step has no grid)"
                    )
        return self


def _dimensions(space: SearchSpace) -> list[tuple[str, Any]]:
    """Every dimension of a space with its dotted location, e.g. ``architecture.filters``."""
    found = [(name, getattr(space, name)) for name in SearchSpace.model_fields]
    if space.architecture is not None:
        found += [
            (f"architecture.{name}", getattr(space.architecture, name))
            for name in ArchitectureSpace.model_fields
        ]
    return found


# --------------------------------------------------------------------------- interpret


class MotifsConfig(StageConfig):
    """A model + a dataset → first-layer filters of the seq branch as motifs (PWMs)."""

    stage: ClassVar[str] = "motifs"
    model: Path | None = Field(
        None, description="A train run folder (or its model/ bundle folder)."
    )
    dataset: Path | None = Field(
        None, description="Dataset folder whose sequences are scanned by the filters."
    )
    split: Literal["all", "train", "validation", "test", "blackbox"] = Field(
        "all", description="Which samples of the dataset to scan."
    )
    max_samples: int = Field(
        20_000, ge=1, description="Scan at most this many samples (a seeded random subset)."
    )
    threshold: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="A window is a site of a filter when the filter's activation there "
        "exceeds threshold × its largest activation over the scanned samples.",
    )
    database: Path | None = Field(
        None, description="MEME motif file to compare the filters with (TOMTOM)."
    )
    batch_size: int = Field(256, ge=1, le=65536, description="Samples per batch.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="Where to compute.")


class IsmConfig(StageConfig):
    """A model + one sequence → in-silico mutagenesis: every position × base → change in
    the target log-odds, as a table and a heat map, next to Integrated Gradients."""

    stage: ClassVar[str] = "ism"
    model: Path | None = Field(
        None, description="A train run folder (or its model/ bundle folder)."
    )
    sequence: str | None = Field(
        None, description="The sequence to mutate (cut or padded to the model's window)."
    )
    target: str | None = Field(
        None, description="Class whose log-odds is scored (default: the highest-scoring class)."
    )
    steps: int = Field(
        50, ge=1, le=10_000, description="Integration steps of the Integrated Gradients beside it."
    )
    batch_size: int = Field(256, ge=1, le=65536, description="Mutants per batch.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="Where to compute.")


STAGES: dict[str, type[StageConfig]] = {
    "preprocess": PreprocessConfig,
    "train": TrainConfig,
    "evaluate": EvaluateConfig,
    "predict": PredictConfig,
    "tune": TuneConfig,
    "motifs": MotifsConfig,
    "ism": IsmConfig,
}


# --------------------------------------------------------------------------- YAML


class _Loader(yaml.SafeLoader):
    """YAML 1.2-style integers: '7:1:1:1' stays a string instead of a base-60 number."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:int"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, turning syntax errors into a :class:`UserError` with the line."""
    path = Path(path)
    if not path.is_file():
        raise UserError("file not found", file=path, hint="check the path of the YAML file")
    try:
        data = yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - safe loader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(
            f"invalid YAML: {problem}",
            file=path,
            line=line,
            hint="fix the YAML syntax (indentation, colons, quotes)",
        ) from None
    except UnicodeDecodeError:
        raise UserError("not a text file", file=path, hint="give a YAML file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError("the YAML file must hold a mapping of field: value", file=path)
    return data


def _path_fields(model: type[BaseModel]) -> set[str]:
    def mentions_path(annotation: Any) -> bool:
        if annotation is Path:
            return True
        return any(mentions_path(arg) for arg in get_args(annotation))

    return {name for name, f in model.model_fields.items() if mentions_path(f.annotation)}


def _absolute(value: Any, base: Path) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: _absolute(v, base) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_absolute(v, base) for v in value]
    if isinstance(value, (str, Path)):
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else (base / path).resolve())
    return value


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model at ``loc``, e.g. ``("space",)`` in a tune config."""

    def nested(annotation: Any) -> type[BaseModel] | None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation
        return next((m for a in get_args(annotation) if (m := nested(a))), None)

    current: type[BaseModel] | None = model
    for key in loc:
        info = current.model_fields.get(str(key)) if current else None
        current = nested(info.annotation) if info else None
    return list(current.model_fields) if current else []


def _error_from_validation(
    exc: ValidationError, model: type[BaseModel], file: Path | None
) -> UserError:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
    msg = err["msg"].removeprefix("Value error, ")
    hint = None
    if err["type"] == "extra_forbidden":
        key = str(err["loc"][-1])
        msg = f"unknown field '{key}'"
        close = difflib.get_close_matches(key, _fields_at(model, err["loc"][:-1]), n=1)
        hint = f"did you mean '{close[0]}'?" if close else "remove it; see 'gennie ... --help'"
    elif err["type"] in ("missing",):
        msg = "this field is required"
    else:
        value = err.get("input")
        if not isinstance(value, (dict, list)) and value is not None and "input" in err:
            msg = f"{msg} (got {value!r})"
    if len(exc.errors()) > 1:
        msg += f" (and {len(exc.errors()) - 1} more problem(s))"
    return UserError(msg, file=file, field=field or None, hint=hint)


def build_config(
    stage: str,
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    base_dir: Path | None = None,
) -> StageConfig:
    """Build a stage's configuration from an optional YAML file plus overrides.

    Args:
        stage: One of ``preprocess``, ``train``, ``evaluate``, ``predict``.
        config_file: YAML file; its relative paths are taken relative to its folder.
        overrides: Field values that replace the file's (e.g. from CLI flags); their
            relative paths are taken relative to ``base_dir``.
        base_dir: Folder for relative override paths (default: the working directory).

    Returns:
        The validated configuration with absolute paths.

    Raises:
        UserError: Invalid YAML, an unknown field, a wrong type or an invalid value.
    """
    model = STAGES[stage]
    paths = _path_fields(model)
    data: dict[str, Any] = {}
    if config_file is not None:
        config_file = Path(config_file)
        raw = read_yaml(config_file)
        file_stage = raw.pop("stage", stage)
        raw.pop("gennie_version", None)
        if file_stage != stage:
            raise UserError(
                f"this file configures the '{file_stage}' stage, not '{stage}'",
                file=config_file,
                field="stage",
                hint=f"use 'gennie {file_stage} --config ...' or 'gennie run FILE'",
            )
        folder = config_file.resolve().parent
        data = {k: (_absolute(v, folder) if k in paths else v) for k, v in raw.items()}
    from_file = set(data)
    base = Path(base_dir) if base_dir else Path.cwd()
    for key, value in (overrides or {}).items():
        if key == "preset" and "architecture" in data:
            data.pop("architecture")  # choosing a preset replaces the file's architecture
        data[key] = _absolute(value, base) if key in paths else value
        from_file.discard(key)
    if "out" not in data:
        data["out"] = _absolute(model.model_fields["out"].default, base)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc = exc.errors()[0]["loc"]
        blame = config_file if (not loc or loc[0] in from_file) else None
        raise _error_from_validation(exc, model, blame) from None


def load_run_config(path: Path) -> StageConfig:
    """Load a saved ``parameters.yaml`` (any stage) for ``gennie run``."""
    raw = read_yaml(Path(path))
    stage = raw.get("stage")
    if stage not in STAGES:
        raise UserError(
            f"unknown or missing stage {stage!r}",
            file=path,
            field="stage",
            hint=f"a parameters.yaml starts with 'stage: ' and one of {', '.join(STAGES)}",
        )
    return build_config(stage, Path(path))


def config_to_dict(config: StageConfig) -> dict[str, Any]:
    """The configuration as plain data, with ``stage`` first."""
    from gennie import __version__

    return {"stage": config.stage, "gennie_version": __version__, **config.model_dump(mode="json")}


def dump_config(config: StageConfig, path: Path) -> None:
    """Write the complete configuration as YAML (``gennie run PATH`` repeats the run)."""
    text = (
        f"# gennie {config.stage} parameters; repeat this run with: gennie run {Path(path).name}\n"
        + yaml.safe_dump(config_to_dict(config), sort_keys=False, allow_unicode=True)
    )
    Path(path).write_text(text)
