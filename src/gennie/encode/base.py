"""The branch-encoder interface: everything gennie knows about one branch type.

A branch encoder turns windows (sequences of the window length, strand already
applied, plus their genomic coordinates when known) into

- a compact *stored* array written to the dataset (e.g. one byte per base), and
- the float network input of shape (n, channels, length), computed batch by batch
  from the stored array at training and prediction time.

Besides encoding, the encoder is the one place that knows its branch: which
configuration fields it reads (:meth:`BranchEncoder.from_config`,
:attr:`BranchEncoder.option_fields`), which inputs it can work with
(:meth:`BranchEncoder.check_config`), what it needs at prediction time
(:meth:`BranchEncoder.resolve_references`, :meth:`BranchEncoder.for_custom_model`), what
the dataset records about it (:meth:`BranchEncoder.description`,
:meth:`BranchEncoder.references`, :meth:`BranchEncoder.cache_stats`) and how its
channels are drawn (:meth:`BranchEncoder.channel_letters`). Code outside
:mod:`gennie.encode` asks the encoder and never names a branch.

Encoders may gather counts while encoding (e.g. missing track values) in
:attr:`BranchEncoder.counts`; preprocess stores them with the cached encoding and in
the dataset metadata. The branch types are listed in :mod:`gennie.encode.registry`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from gennie.encode.registry import branch_names, encoder_class
from gennie.errors import UserError

if TYPE_CHECKING:  # annotations only: the configuration models sit above this layer
    from gennie.config import ModelInputConfig, PreprocessConfig

DESCRIPTION_KEYS = ("channels", "dtype")
"""Keys of :meth:`BranchEncoder.description` that are not encoder parameters."""


@dataclass
class WindowBatch:
    """Windows to encode.

    Attributes:
        sequences: n strings of the window length, strand already applied.
        chroms, starts, ends, strands: genomic coordinates (0-based, half-open) of each
            window, or None for FASTA input.
        labels: a description of each window for error messages (e.g. "file, record 3").
        positions: shape=(n, length), int64, the genome position each base of a window
            comes from, in genome order (before the strand is applied), -1 for a base
            the genome does not have there (an inserted allele's); None when every
            window is the genome's ``chrom:start-end`` itself. Windows of a variant's
            ALT allele have them, so that encoders reading tracks read the positions
            the ALT window keeps.
    """

    sequences: list[str]
    chroms: list[str] | None = None
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None
    strands: list[str] | None = None
    labels: list[str] | None = None
    positions: np.ndarray | None = None


class BranchEncoder(ABC):
    """Turns windows into one input branch, and says everything else about the branch.

    Attributes:
        name: Branch name (``seq``, ``fold``, ``cons``, or a plug-in's).
        channels: Channels of the float network input.
        needs_coordinates: True if the encoder reads genomic tracks (not FASTA-able).
        stored_dtype: dtype of the stored array.
        stores_base_codes: True if the stored form is the windows' base codes
            themselves (one byte per base, see :mod:`gennie.encode.alphabet`), which
            the mapping step has already written: nothing is encoded or stored twice.
        option_fields: The preprocess configuration fields that matter only when this
            branch is chosen (forms show them with the branch; preprocess warns when
            they are set without it).
    """

    name: ClassVar[str]
    channels: int
    needs_coordinates: ClassVar[bool] = False
    stored_dtype: ClassVar[np.dtype] = np.dtype(np.uint8)
    stores_base_codes: ClassVar[bool] = False
    option_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any) -> None:
        self.params = params
        self.counts: dict[str, Any] = {}

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_config(cls, config: PreprocessConfig) -> BranchEncoder:
        """The encoder a preprocess configuration asks for.

        The default passes the branch's entry of ``config.branch_options`` (plug-in
        options, e.g. ``{gc: {width: 11}}``) to the constructor.

        Args:
            config: The preprocess configuration.

        Returns:
            A new encoder.
        """
        return cls(**config.branch_options.get(cls.name, {}))

    @classmethod
    def for_custom_model(cls, config: ModelInputConfig) -> BranchEncoder:
        """The encoder of this branch for a custom (TorchScript/ONNX) model, which
        brings no record of its preprocessing; default: the default parameters.

        Args:
            config: The evaluate/predict configuration naming the custom model.

        Returns:
            A new encoder; its :attr:`channels` are the model's input channels.
        """
        return cls()

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> BranchEncoder:
        """Rebuild the encoder from what :meth:`description` recorded.

        Args:
            description: A dataset's or bundle's record of the branch.

        Returns:
            An encoder that turns the stored arrays into the same network input.
        """
        return cls(**{k: v for k, v in description.items() if k not in DESCRIPTION_KEYS})

    # ------------------------------------------------------------------ checks

    @classmethod
    def check_config(cls, config: PreprocessConfig, formats: Mapping[str, str]) -> list[UserError]:
        """Problems of a preprocess configuration for this branch, found without work.

        The default checks that a branch that reads genomic coordinates gets no FASTA
        class files. Must stay cheap: no genome or track is read.

        Args:
            config: The preprocess configuration.
            formats: The format (``bed`` or ``fasta``) of each class file found so far.

        Returns:
            One field-tagged :class:`~gennie.errors.UserError` per problem (empty if
            none).
        """
        fasta = [name for name, fmt in formats.items() if fmt == "fasta"]
        if not (cls.needs_coordinates and fasta):
            return []
        return [
            UserError(
                f"the '{cls.name}' branch needs genomic coordinates (BED input); FASTA "
                f"classes ({', '.join(fasta)}) have none",
                field="branches",
                hint=f"give BED class files with --genome, or leave out the '{cls.name}' branch",
            )
        ]

    def resolve_references(self, given: list[Path] | None) -> None:
        """Before evaluate/predict: settle the reference files the encoder reads.

        Args:
            given: Files given for this run (the evaluate/predict ``conservation``
                option), or None to use the ones recorded at training time.

        Raises:
            UserError: The files do not fit the trained branch or are missing.
        """
        return None

    # ------------------------------------------------------------------ records

    def attach_cache(self, root: Path, checksum: Callable[[Path], str] | None = None) -> None:
        """Use ``root`` for on-disk caches (fold results, converted tracks); default: none.

        Args:
            root: Cache folder.
            checksum: MD5 of a file, memoized by the caller (for keys of input files).
        """
        return None

    def cache_identity(self) -> dict[str, Any]:
        """What determines the stored encoding (the key of its cache); default: params."""
        return dict(self.params)

    def reset_counts(self) -> None:
        """Forget the counts gathered by earlier :meth:`encode` calls."""
        self.counts = {}

    def description(self) -> dict[str, Any]:
        """What the metadata and model bundle record about this branch: ``channels``,
        ``dtype`` and the parameters :meth:`from_description` rebuilds the encoder from."""
        return {"channels": self.channels, "dtype": str(self.stored_dtype), **self.params}

    def references(self, checksum: Callable[[Path], str]) -> dict[str, list[dict[str, str]]]:
        """Input files the encoder read, for the dataset's ``references``; default: none.

        Args:
            checksum: MD5 of a file (memoized by the caller).

        Returns:
            ``{key: [{"file": path, "md5": checksum}, ...]}``.
        """
        return {}

    def cache_stats(self) -> dict[str, int]:
        """Counters of the encoder's own cache for the dataset's ``cache`` record
        (e.g. sequences folded and fold-cache hits); default: none."""
        return {}

    def channel_letters(self, alphabet: str) -> list[str] | None:
        """One letter per input channel for drawing logos, or None for signals.

        Args:
            alphabet: ``dna`` or ``rna``.
        """
        return None

    # ------------------------------------------------------------------ encoding

    @abstractmethod
    def encode(self, batch: WindowBatch) -> np.ndarray:
        """Stored form of the windows: shape=(n, ...) with n = len(batch.sequences)."""

    @abstractmethod
    def to_input(self, stored: np.ndarray) -> np.ndarray:
        """Network input from stored rows: shape=(n, channels, length), float32."""

    def stored_shape(self, window: int) -> tuple[int, ...]:
        """Shape of one stored sample."""
        return (window,)


def encoder_type(name: str, field: str = "branches") -> type[BranchEncoder]:
    """The encoder class of a branch (see :mod:`gennie.encode.registry`).

    Args:
        name: The branch name.
        field: Configuration field named in the error.

    Raises:
        UserError: No encoder for that branch in this installation.
    """
    encoder = encoder_class(name)
    if encoder is None:
        raise UserError(
            f"the '{name}' branch is not available in this installation of gennie",
            field=field,
            hint=f"available branches: {', '.join(branch_names())}",
        )
    return encoder


def make_encoder(name: str, **params: Any) -> BranchEncoder:
    """Create the encoder of a branch with the given parameters.

    Raises:
        UserError: No encoder for that branch in this installation.
    """
    return encoder_type(name)(**params)
