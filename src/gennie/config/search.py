"""The search-space language of the tune stage: fixed values, choices and ranges, and
the tune stage's configuration.

The password of a database URL given as ``storage`` is a secret: every saved form of a
tune configuration (``parameters.yaml``, the runs table, a GUI job's folder) holds the
URL with the password masked as ``***`` (:func:`mask_storage_url`), and a run from such
a file takes the password from the environment (:data:`STORAGE_PASSWORD_VARIABLE`, or
for PostgreSQL libpq's ``PGPASSWORD`` or ``~/.pgpass``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from gennie.config.base import FieldError, StageConfig, StrictModel, check_branch_names
from gennie.config.layers import ConvLayer, DenseLayer, PoolLayer
from gennie.config.stages import Precision, TrainConfig

# --------------------------------------------------------------------------- search


class FloatRange(StrictModel):
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


class IntRange(StrictModel):
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


class ArchitectureSpace(StrictModel):
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


class SearchSpace(StrictModel):
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
            check_branch_names(combination)
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
            raise FieldError(
                "preset",
                "preset 'custom' needs an architecture section in the space "
                "(the architecture to search)",
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
    dataset: Path | None = Field(
        None,
        description="Dataset folder written by preprocess.",
        json_schema_extra={"run_of": "preprocess"},
    )
    space: SearchSpace = Field(
        default_factory=SearchSpace, description="What to vary (see SearchSpace)."
    )
    objective: Literal["auroc", "auprc", "loss"] = Field(
        "auroc",
        description="Validation metric of the best epoch to optimize (macro AUROC and AUPRC "
        "are maximized, loss minimized).",
    )
    sampler: Literal["tpe", "random", "grid"] = Field(
        "tpe",
        description="How trials are chosen (grid needs choices or stepped ranges).",
        json_schema_extra={"level": "advanced"},
    )
    pruner: Literal["median", "hyperband", "none"] = Field(
        "median",
        description="Stop trials whose per-epoch validation metric is hopeless.",
        json_schema_extra={"level": "advanced"},
    )
    prune_warmup: int = Field(
        2,
        ge=0,
        description="Epochs every trial runs before pruning.",
        json_schema_extra={"level": "advanced"},
    )
    prune_startup: int = Field(
        5,
        ge=0,
        description="Finished trials before the median pruner starts pruning.",
        json_schema_extra={"level": "advanced"},
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
        repr=False,  # the URL may hold a password
        description="Optuna database URL shared by workers, e.g. postgresql://user@host/db "
        "(default: SQLite study.db in the run folder). A password in the URL is never "
        "saved: parameters.yaml and the runs table show it as ***, and a run from them "
        "takes it from the environment variable GENNIE_STORAGE_PASSWORD (for "
        "PostgreSQL also from PGPASSWORD or ~/.pgpass, so it need not be in the URL).",
        json_schema_extra={"level": "advanced"},
    )
    study: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Study name; workers with the same storage and study share it "
        "(default: the run folder's name).",
        json_schema_extra={"level": "advanced"},
    )
    jobs: int = Field(1, ge=1, le=256, description="Worker processes to start here.")
    heartbeat: int = Field(
        10,
        ge=1,
        description="Seconds between a running trial's heartbeats; a trial whose worker "
        "died is marked failed once it misses them.",
        json_schema_extra={"level": "advanced"},
    )
    grace_period: int | None = Field(
        None,
        ge=1,
        description="Seconds without heartbeat before a trial counts as dead "
        "(default: twice the heartbeat).",
        json_schema_extra={"level": "advanced"},
    )
    retry_failed: int = Field(
        1,
        ge=0,
        le=10,
        description="Times a trial whose worker died is run again.",
        json_schema_extra={"level": "advanced"},
    )
    retrain: bool = Field(
        False,
        description="At the end, train the best configuration with 'gennie train' and "
        "evaluate it on the test split.",
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto",
        description="auto picks CUDA, then Apple MPS, then CPU.",
        json_schema_extra={"level": "advanced"},
    )
    precision: Precision = Field(
        TrainConfig.model_fields["precision"].default,
        description="Arithmetic of the trials' training (see train's precision).",
        json_schema_extra={"level": "advanced"},
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

    @field_serializer("storage")
    def _storage_masked(self, value: str | None) -> str | None:
        """Every dump (saved files, job folders, tables) shows the password as ***."""
        return mask_storage_url(value) if value else value

    def storage_password(self) -> str | None:
        """The password in the ``storage`` URL as given (None without one, or when it
        is the mask of a saved file)."""
        return storage_password(self.storage) if self.storage else None

    @model_validator(mode="after")
    def _grid_needs_steps(self) -> TuneConfig:
        if self.sampler == "grid":
            for loc, dim in _dimensions(self.space):
                if isinstance(dim, FloatRange) and dim.step is None:
                    raise FieldError(
                        f"space.{loc}",
                        f"grid search needs choices or a step for space.{loc} "
                        "(a float range without step has no grid)",
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


# --------------------------------------------------------------------------- secrets

PASSWORD_MASK = "***"
"""What a saved storage URL shows in place of its password."""

STORAGE_PASSWORD_VARIABLE = "GENNIE_STORAGE_PASSWORD"
"""Environment variable with the password of a storage URL whose password is masked."""

_PASSWORD_KEYS = ("password", "passwd", "pwd")
"""Query parameters of a database URL that hold a password."""


def mask_storage_url(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` query parameter)
    replaced by ``***``.

    Args:
        url: A database URL, e.g. ``postgresql://user:secret@host/db``.

    Returns:
        E.g. ``postgresql://user:***@host/db``; a URL that cannot be parsed is masked
        whole.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return PASSWORD_MASK
    if parsed.password is not None:
        parsed = parsed.set(password=PASSWORD_MASK)
    secret = {key: PASSWORD_MASK for key in parsed.query if key.lower() in _PASSWORD_KEYS}
    if secret:
        parsed = parsed.update_query_dict(secret)
    quoted = "%2A" * len(PASSWORD_MASK)
    return parsed.render_as_string(hide_password=False).replace(quoted, PASSWORD_MASK)


def storage_password(url: str) -> str | None:
    """The password a database URL carries, or None (none, or only the mask)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    candidates = [parsed.password] + [
        value for key, value in parsed.query.items() if key.lower() in _PASSWORD_KEYS
    ]
    for value in candidates:
        if isinstance(value, str) and value and value != PASSWORD_MASK:
            return value
    return None


def secret_environment(config: StageConfig) -> dict[str, str]:
    """The environment a process running ``config`` needs for the secrets its saved
    form does not hold: ``GENNIE_STORAGE_PASSWORD`` for a tune configuration whose
    storage URL has a password; nothing otherwise (or when the variable is already
    set to it).

    Args:
        config: A stage configuration.
    """
    if not isinstance(config, TuneConfig):
        return {}
    password = config.storage_password()
    if password is None or os.environ.get(STORAGE_PASSWORD_VARIABLE) == password:
        return {}
    return {STORAGE_PASSWORD_VARIABLE: password}
