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
        self.metadata: DatasetMetadata = read_metadata(self.path / METADATA_FILE, field)
        self.labels = np.load(self.path / "labels.npy")
        self.splits = np.load(self.path / "splits.npy")
        self._arrays: dict[str, np.ndarray] = {}
        self._encoders: dict[str, BranchEncoder] = {}

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
            self._arrays[branch] = np.load(self.path / "branches" / f"{branch}.npy", mmap_mode="r")
        return self._arrays[branch]

    def indices(self, split: str) -> np.ndarray:
        """Sample indices of a split (sorted), shape=(m,), int64."""
        return np.flatnonzero(self.splits == SPLITS.index(split))

    def samples(self) -> pd.DataFrame:
        """The provenance table (one row per sample)."""
        return pd.read_csv(self.path / SAMPLES_FILE, sep="\t", keep_default_na=False)

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
