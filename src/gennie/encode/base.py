"""The branch-encoder interface and registry.

A branch encoder turns windows (sequences of the window length, strand already
applied, plus their genomic coordinates when known) into

- a compact *stored* array written to the dataset (e.g. one byte per base), and
- the float network input of shape (n, channels, length), computed batch by batch
  from the stored array at training and prediction time.

Encoders may gather counts while encoding (e.g. missing track values) in
:attr:`BranchEncoder.counts`; preprocess stores them with the cached encoding and in
the dataset metadata. The branch types are listed in :mod:`gennie.encode.registry`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from gennie.encode.registry import branch_names, encoder_class
from gennie.errors import UserError


@dataclass
class WindowBatch:
    """Windows to encode.

    Attributes:
        sequences: n strings of the window length, strand already applied.
        chroms, starts, ends, strands: genomic coordinates (0-based, half-open) of each
            window, or None for FASTA input.
        labels: a description of each window for error messages (e.g. "file, record 3").
    """

    sequences: list[str]
    chroms: list[str] | None = None
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None
    strands: list[str] | None = None
    labels: list[str] | None = None


class BranchEncoder(ABC):
    """Turns windows into one input branch.

    Attributes:
        name: Branch name (``seq``, ``fold``, ``cons``).
        channels: Channels of the float network input.
        needs_coordinates: True if the encoder reads genomic tracks (not FASTA-able).
    """

    name: ClassVar[str]
    channels: ClassVar[int]
    needs_coordinates: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = params
        self.counts: dict[str, Any] = {}

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

    @abstractmethod
    def encode(self, batch: WindowBatch) -> np.ndarray:
        """Stored form of the windows: shape=(n, ...) with n = len(batch.sequences)."""

    @abstractmethod
    def to_input(self, stored: np.ndarray) -> np.ndarray:
        """Network input from stored rows: shape=(n, channels, length), float32."""

    def stored_shape(self, window: int) -> tuple[int, ...]:
        """Shape of one stored sample."""
        return (window,)

    stored_dtype: ClassVar[np.dtype] = np.dtype(np.uint8)

    def description(self) -> dict[str, Any]:
        """What the metadata and model bundle record about this branch."""
        return {"channels": self.channels, "dtype": str(self.stored_dtype), **self.params}


def make_encoder(name: str, **params: Any) -> BranchEncoder:
    """Create the encoder of a branch (see :mod:`gennie.encode.registry`).

    Raises:
        UserError: No encoder for that branch in this installation.
    """
    encoder = encoder_class(name)
    if encoder is None:
        raise UserError(
            f"the '{name}' branch is not available in this installation of gennie",
            field="branches",
            hint=f"available branches: {', '.join(branch_names())}",
        )
    return encoder(**params)
