"""Typed records of how data was preprocessed, as saved to disk.

:class:`PreprocessingSpec` is the one description of how windows become network
inputs: window, alphabet, strand, placement, unknown-base encoding, seed, each
branch's encoder and the reference files read. Preprocess writes it into the
dataset's ``metadata.json`` (as part of :class:`DatasetMetadata`); train copies it
whole into the model bundle; evaluate and predict rebuild the encoders from it.

The on-disk layout is the one gennie has always written (every field at the top
level of ``metadata.json``, ``preprocessing:`` in ``bundle.yaml``), so datasets and
bundles written before these models existed load unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gennie.config import PreprocessConfig
from gennie.dataset.names import check_names
from gennie.encode import BranchEncoder, make_encoder
from gennie.encode.base import DESCRIPTION_KEYS
from gennie.errors import UserError
from gennie.io.files import read_text

FORMAT_VERSION = 1
"""Version of the dataset folder layout (``metadata.json`` ``format_version``)."""


def config_limit(model: type[BaseModel], field: str) -> int:
    """The upper bound (``le``) a configuration model declares for a number field, so
    that a saved record is bounded exactly as the configuration that made it.

    Args:
        model: A configuration model, e.g. :class:`~gennie.config.PreprocessConfig`.
        field: One of its fields with an ``le`` bound.

    Raises:
        LookupError: The field declares no upper bound.
    """
    for item in model.model_fields[field].metadata:
        if isinstance(item, annotated_types.Le):
            return int(item.le)
    raise LookupError(f"{model.__name__}.{field} declares no upper bound")


MAX_WINDOW = config_limit(PreprocessConfig, "window")
"""Longest window a saved spec may describe (preprocess's bound)."""

MAX_CHANNELS = 1024
"""Most input channels one branch may have (one per signal track for ``cons``)."""

MAX_BRANCHES = 16
"""Most branches a saved spec may describe."""

MAX_CLASSES = 1000
"""Most classes a dataset or model may have."""

_PATH_LENGTH = 4096


class _Record(BaseModel):
    """A saved record: unknown keys are errors, so that a typo or a damaged file shows."""

    model_config = ConfigDict(extra="forbid")


class FileReference(_Record):
    """An input file and its MD5 checksum (None where it was never read)."""

    file: str = Field(min_length=1, max_length=_PATH_LENGTH)
    md5: str | None = Field(None, max_length=128)


class ClassFileReference(FileReference):
    """A class file, its checksum and its format (``bed`` or ``fasta``)."""

    format: str = Field(max_length=40)


class References(BaseModel):
    """Files a dataset was made from.

    Attributes:
        classes: Each class file by class name.
        genome: The reference genome, if one was given.
        (more keys): Files read by branch encoders, as each encoder's
            :meth:`~gennie.encode.base.BranchEncoder.references` names them, e.g.
            ``conservation`` for signal tracks.
    """

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, list[FileReference]]

    classes: dict[str, ClassFileReference] = Field({}, max_length=MAX_CLASSES)
    genome: FileReference | None = None

    def recorded(self) -> dict[str, list[FileReference]]:
        """The files read by branch encoders, by key (e.g. ``conservation``).

        Raises:
            ValueError: More keys or files than any encoder records, or a key that is
                not a plain name.
        """
        extra = self.model_extra or {}
        if len(extra) > MAX_BRANCHES:
            raise ValueError(f"at most {MAX_BRANCHES} kinds of reference files, not {len(extra)}")
        check_names(list(extra), "reference")
        for key, files in extra.items():
            if len(files) > MAX_CHANNELS:
                raise ValueError(f"at most {MAX_CHANNELS} {key} files, not {len(files)}")
        return dict(extra)


class BranchSpec(BaseModel):
    """One branch's encoder, as :meth:`~gennie.encode.base.BranchEncoder.description`
    records it: ``channels``, ``dtype`` and the encoder's own parameters (other keys)."""

    model_config = ConfigDict(extra="allow")

    channels: int = Field(ge=1, le=MAX_CHANNELS)
    dtype: str = Field(pattern=r"^[a-z][a-z0-9]{0,15}$")

    @property
    def params(self) -> dict[str, Any]:
        """The encoder's parameters (every key but ``channels`` and ``dtype``)."""
        return {k: v for k, v in (self.model_extra or {}).items() if k not in DESCRIPTION_KEYS}

    @classmethod
    def of(cls, encoder: BranchEncoder) -> BranchSpec:
        """The record of an encoder."""
        return cls.model_validate(encoder.description())

    def encoder(self, name: str) -> BranchEncoder:
        """Rebuild the encoder of branch ``name`` from this record.

        Raises:
            UserError: The branch type is not installed.
        """
        return make_encoder(name, **self.params)


class SpecFields(_Record):
    """The fields of a preprocessing spec (shared by the spec and the dataset metadata).

    Attributes:
        window: Length of every window in bases.
        alphabet: ``dna`` or ``rna``.
        strand: Whether minus-strand BED windows were reverse-complemented.
        placement: ``center`` or ``random`` placement of windows.
        unknown_bases: Encoding of N and IUPAC codes in one-hot inputs.
        seed: The seed of random placement.
        branches: Each branch's encoder, in the order the dataset stores them.
        references: The files read, with checksums.
    """

    window: int = Field(ge=1, le=MAX_WINDOW)
    alphabet: Literal["dna", "rna"] = "dna"
    strand: bool = True
    placement: Literal["center", "random"] = "center"
    unknown_bases: Literal["zero", "uniform"] = "zero"
    seed: int = Field(0, ge=0, le=2**63 - 1)
    branches: dict[str, BranchSpec] = Field({}, max_length=MAX_BRANCHES)
    references: References = Field(default_factory=References)

    @field_validator("branches")
    @classmethod
    def _branch_names(cls, value: dict[str, BranchSpec]) -> dict[str, BranchSpec]:
        check_names(list(value), "branch")
        return value

    @field_validator("references")
    @classmethod
    def _references(cls, value: References) -> References:
        value.recorded()
        return value

    @property
    def genome_file(self) -> Path | None:
        """The reference genome recorded, if any."""
        genome = self.references.genome
        return Path(genome.file) if genome and genome.file else None

    def encoders(self) -> dict[str, BranchEncoder]:
        """Every branch's encoder, rebuilt from its record, in branch order.

        Raises:
            UserError: A branch type is not installed.
        """
        return {name: branch.encoder(name) for name, branch in self.branches.items()}


class PreprocessingSpec(SpecFields):
    """How a model's inputs are made from sequences (see the module docstring).

    Attributes:
        dataset: The dataset folder the model was trained on (None for a custom
            model).
    """

    dataset: str | None = Field(None, max_length=_PATH_LENGTH)

    def for_branches(self, branches: list[str]) -> PreprocessingSpec:
        """The spec with only ``branches``, in that order (the inputs a model reads).

        Raises:
            UserError: A branch is not in the spec.
        """
        missing = [b for b in branches if b not in self.branches]
        if missing:
            raise UserError(
                f"no record of the branch(es) {', '.join(missing)} "
                f"(recorded: {', '.join(self.branches) or 'none'})",
                field="branches",
            )
        return self.model_copy(update={"branches": {b: self.branches[b] for b in branches}})

    def get(self, key: str, default: Any = None) -> Any:
        """A field by name, as the untyped dictionary form of the spec was read.

        Transitional, for callers not yet reading the attributes; prefer
        ``spec.alphabet`` to ``spec.get("alphabet")``.
        """
        return getattr(self, key, default)


class ClassCounts(BaseModel):
    """What happened to one class's records on the way into the dataset.

    Other keys: ``padded_bases`` (FASTA), ``dropped_unlisted_chromosome`` (chromosome
    split), ``generated_from`` and ``method`` (an added negative class), and each
    branch encoder's counts under its branch name (e.g. missing track values).
    """

    model_config = ConfigDict(extra="allow")

    records: int
    dropped_short_chromosome: int = 0
    shifted_at_chromosome_end: int = 0
    padded: int = 0
    after_reduction: int = 0
    splits: dict[str, int] = {}


class CacheStats(BaseModel):
    """Cache use of one preprocess run.

    Attributes:
        hits, misses: Class files whose windows came from / went into the window cache.
        genome_read: Whether the genome had to be opened.
        (more keys): Each encoder's :meth:`~gennie.encode.base.BranchEncoder.cache_stats`,
            e.g. ``folded`` and ``fold_cache_hits``.
    """

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, int]

    hits: int = 0
    misses: int = 0
    genome_read: bool = False


class DatasetMetadata(SpecFields):
    """The dataset folder's ``metadata.json``: the spec's fields plus what the dataset
    holds.

    Attributes:
        format_version: :data:`FORMAT_VERSION` of the folder layout.
        gennie_version: The gennie version that wrote it.
        classes: Class names in model-output order.
        samples: Number of samples.
        splits: Samples per split.
        counts: Per class: records, dropped, shifted, padded, reduced, per split.
        cache: Cache use of the run that wrote it.
    """

    format_version: int
    gennie_version: str = Field(max_length=64)
    classes: list[str] = Field(max_length=MAX_CLASSES)
    samples: int = Field(ge=0)
    splits: dict[str, int]
    counts: dict[str, ClassCounts] = {}
    cache: CacheStats | None = None

    def spec(self, dataset: Path | None = None) -> PreprocessingSpec:
        """The preprocessing spec of the dataset.

        Args:
            dataset: The dataset folder, recorded in the spec.
        """
        fields = self.model_dump(include=set(SpecFields.model_fields))
        return PreprocessingSpec.model_validate(
            {**fields, "dataset": str(dataset) if dataset else None}
        )

    def write(self, path: Path) -> None:
        """Write as JSON to ``path`` (what the dataset is first, then how it was made)."""
        data = self.model_dump(mode="json")
        first = {key: data[key] for key in ("format_version", "gennie_version", "classes")}
        Path(path).write_text(json.dumps(first | data, indent=2))


def validation_message(error: ValidationError) -> str:
    """A one-line summary of a pydantic validation error: ``field.path: message; ...``
    (a problem of the whole record has no field path; its message names the fields)."""
    problems = error.errors()
    parts = []
    for problem in problems[:_SHOWN_PROBLEMS]:
        where = _shorten(".".join(str(p) for p in problem["loc"]))
        message = _shorten(problem["msg"].removeprefix("Value error, "), 300)
        parts.append(f"{where}: {message}" if where else message)
    if len(problems) > _SHOWN_PROBLEMS:
        parts.append(f"{len(problems) - _SHOWN_PROBLEMS} more problem(s)")
    return "; ".join(parts)


_SHOWN_PROBLEMS = 5
"""Problems of one validation error named in a message (a damaged file may have
thousands)."""


def _shorten(text: str, length: int = 100) -> str:
    """``text`` cut to ``length`` characters (a key of a damaged file may be huge)."""
    return text if len(text) <= length else text[: length - 1] + "…"


def read_metadata(path: Path, field: str = "dataset") -> DatasetMetadata:
    """Read a dataset's ``metadata.json``.

    Args:
        path: The metadata file.
        field: Configuration field naming the dataset, for error messages.

    Raises:
        UserError: The file is missing or damaged, or of another format version.
    """
    try:
        raw = json.loads(read_text(Path(path), field))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(
            f"cannot read the dataset metadata ({exc})", file=path, field=field
        ) from None
    if not isinstance(raw, dict) or raw.get("format_version") != FORMAT_VERSION:
        raise UserError(
            "this dataset was written by an incompatible gennie version",
            file=path,
            field=field,
            hint="run preprocess again",
        )
    try:
        return DatasetMetadata.model_validate(raw)
    except ValidationError as exc:
        raise UserError(
            f"the dataset metadata is damaged ({validation_message(exc)})",
            file=path,
            field=field,
            hint="run preprocess again",
        ) from None
