"""The dataset folder: what preprocess writes and train/evaluate read.

Layout::

    DATASET/
      parameters.yaml, run.json, gennie.log   (every run folder has these)
      metadata.json     classes (order = model outputs), window, alphabet, strand,
                        branches and their encoding, reference files with MD5
                        checksums, counts (dropped, shifted, padded, reduced, per split):
                        a :class:`~gennie.dataset.spec.DatasetMetadata`
      samples.tsv       one row per sample: provenance (source file, line/record,
                        name/header, window and original coordinates, strand),
                        class, split
      labels.npy        shape=(n,), int16 class index
      splits.npy        shape=(n,), uint8 index into SPLITS
      branches/<b>.npy  the stored encoding of branch b, shape=(n, ...), opened
                        memory-mapped so datasets larger than memory train fine;
                        its shape and dtype are the branch encoder's (e.g. one byte
                        per base for the one-hot branch)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gennie.config import SPLITS
from gennie.dataset.spec import FORMAT_VERSION, DatasetMetadata, PreprocessingSpec, read_metadata
from gennie.encode import BranchEncoder
from gennie.errors import UserError
from gennie.runs import require_complete

__all__ = ["FORMAT_VERSION", "IDENTITY_COLUMNS", "METADATA_FILE", "SAMPLES_FILE", "Dataset"]

METADATA_FILE = "metadata.json"
SAMPLES_FILE = "samples.tsv"
IDENTITY_COLUMNS = [
    "index",
    "class",
    "source_file",
    "source_line",
    "name",
    "chrom",
    "start",
    "end",
    "strand",
]
"""Columns of ``samples.tsv`` that say which input a sample came from."""


class Dataset:
    """Read access to a dataset folder; branch arrays are memory-mapped.

    Args:
        path: The dataset folder (a complete preprocess run folder).
        field: Configuration field naming it, for error messages.
    """

    def __init__(self, path: Path, field: str = "dataset") -> None:
        self.path = require_complete(Path(path), "preprocess", field)
        self.field = field
        self.metadata: DatasetMetadata = read_metadata(self.path / METADATA_FILE, field)
        labels = self._load(self.path / "labels.npy", mmap=False)
        splits = self._load(self.path / "splits.npy", mmap=False)
        if labels.shape == splits.shape == (labels.size,) != (self.metadata.samples,):
            raise self._damaged(
                self.path / METADATA_FILE,
                f"it promises {self.metadata.samples} samples, where labels.npy and "
                f"splits.npy hold {labels.size}",
            )
        self.labels = self._vector(labels, "labels.npy", len(self.metadata.classes), "class")
        self.splits = self._vector(splits, "splits.npy", len(SPLITS), "split")
        self._arrays: dict[str, np.ndarray] = {}
        self._encoders: dict[str, BranchEncoder] = {}
        self._shapes_checked: set[str] = set()
        for branch in self.metadata.branches:
            self._open_branch(branch)

    def _damaged(self, file: Path, problem: str) -> UserError:
        """The error for a dataset file that is missing or does not fit the metadata."""
        return UserError(
            f"the dataset is damaged: {problem}",
            file=file,
            field=self.field,
            hint="run preprocess again to write the dataset anew",
        )

    def _load(self, file: Path, mmap: bool) -> np.ndarray:
        """A stored array; a missing or unreadable file is a user error naming it."""
        if not file.is_file():
            raise self._damaged(file, "the file is missing")
        try:
            return np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise self._damaged(
                file, f"the file is truncated or not a NumPy array ({exc})"
            ) from None

    def _vector(self, codes: np.ndarray, name: str, limit: int, what: str) -> np.ndarray:
        """``labels.npy`` or ``splits.npy`` checked: one integer code per sample, below
        ``limit``."""
        file = self.path / name
        samples = self.metadata.samples
        if codes.shape != (samples,) or codes.dtype.kind not in "iu":
            raise self._damaged(
                file,
                f"it holds {codes.dtype} values of shape {codes.shape}, where {METADATA_FILE} "
                f"promises {samples} integer {what} codes",
            )
        if codes.size and (codes.min() < 0 or codes.max() >= limit):
            raise self._damaged(file, f"a {what} code is outside 0..{limit - 1}")
        return codes

    def _open_branch(self, branch: str) -> np.ndarray:
        """A branch's stored array, memory-mapped, checked against the metadata: one row
        per sample, the recorded dtype."""
        file = self.path / "branches" / f"{branch}.npy"
        array = self._load(file, mmap=True)
        samples, dtype = self.metadata.samples, np.dtype(self.metadata.branches[branch].dtype)
        if array.ndim < 2 or array.shape[0] != samples or array.dtype != dtype:
            raise self._damaged(
                file,
                f"it holds {array.dtype} values of shape {array.shape}, where {METADATA_FILE} "
                f"promises {samples} rows of {dtype}",
            )
        self._arrays[branch] = array
        return array

    @property
    def spec(self) -> PreprocessingSpec:
        """How the dataset's windows were made and encoded (what a model bundle keeps)."""
        return self.metadata.spec(self.path)

    @property
    def classes(self) -> list[str]:
        """Class names in model-output order."""
        return list(self.metadata.classes)

    @property
    def window(self) -> int:
        """Length of every sample in bases."""
        return self.metadata.window

    @property
    def branches(self) -> list[str]:
        """Branch names, in the order the dataset stores them."""
        return list(self.metadata.branches)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def encoder(self, branch: str) -> BranchEncoder:
        """The encoder that turns this dataset's stored branch into network input."""
        if branch not in self._encoders:
            self._encoders[branch] = self.metadata.branches[branch].encoder(branch)
        return self._encoders[branch]

    def array(self, branch: str) -> np.ndarray:
        """The stored branch array, memory-mapped, shape=(n, ...)."""
        if branch not in self._arrays:
            if branch not in self.metadata.branches:
                raise UserError(
                    f"the dataset has no '{branch}' branch (it has: {', '.join(self.branches)})",
                    file=self.path,
                    field="branches",
                    hint="choose branches the dataset was preprocessed with",
                )
            self._open_branch(branch)
        array = self._arrays[branch]
        if branch not in self._shapes_checked:
            try:
                expected = (len(self), *self.encoder(branch).stored_shape(self.window))
            except UserError:  # a branch type not installed here: its rows are still readable
                expected = array.shape
            if array.shape != expected:
                raise self._damaged(
                    self.path / "branches" / f"{branch}.npy",
                    f"it holds shape {array.shape}, where the '{branch}' branch stores {expected}",
                )
            self._shapes_checked.add(branch)
        return array

    def indices(self, split: str) -> np.ndarray:
        """Sample indices of a split (sorted), shape=(m,), int64."""
        return np.flatnonzero(self.splits == SPLITS.index(split))

    def samples(self) -> pd.DataFrame:
        """The provenance table (one row per sample).

        Raises:
            UserError: The table is missing, unreadable or has another number of rows.
        """
        file = self.path / SAMPLES_FILE
        if not file.is_file():
            raise self._damaged(file, "the file is missing")
        try:
            table = pd.read_csv(file, sep="\t", keep_default_na=False)
        except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise self._damaged(file, f"the table cannot be read ({exc})") from None
        if len(table) != len(self):
            raise self._damaged(file, f"it has {len(table)} rows for {len(self)} samples")
        return table

    def inputs(self, indices: np.ndarray, branches: list[str]) -> list[np.ndarray]:
        """Network inputs of some samples: one float32 array (m, channels, window) per branch.

        Rows are read from the memory-mapped arrays in sorted order, which keeps reads
        sequential, and returned in the order of ``indices``.
        """
        indices = np.asarray(indices)
        order = np.argsort(indices, kind="stable")
        sorted_idx = indices[order]
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        out = []
        for branch in branches:
            stored = np.asarray(self.array(branch)[sorted_idx])[inverse]
            out.append(self.encoder(branch).to_input(stored))
        return out
