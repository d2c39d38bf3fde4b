"""The dataset folder: what preprocess writes and train/evaluate read.

Layout::

    DATASET/
      parameters.yaml, run.json, gennie.log   (every run folder has these)
      metadata.json     classes (order = model outputs), window, alphabet, strand,
                        branches and their encoding, reference files with MD5
                        checksums, counts (dropped, shifted, padded, reduced, per split)
      samples.tsv       one row per sample: provenance (source file, line/record,
                        name/header, window and original coordinates, strand),
                        class, split
      labels.npy        shape=(n,), int16 class index
      splits.npy        shape=(n,), uint8 index into SPLITS
      branches/<b>.npy  the stored encoding of branch b, shape=(n, ...), opened
                        memory-mapped so datasets larger than memory train fine:
                        seq (n, window) uint8 base codes, fold (n, window) uint8
                        structure codes, cons (n, tracks, window) float32 values
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gennie.config import SPLITS
from gennie.encode import BranchEncoder, make_encoder
from gennie.errors import UserError
from gennie.runs import require_complete

FORMAT_VERSION = 1
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
        meta_path = self.path / METADATA_FILE
        try:
            self.metadata: dict[str, Any] = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(
                f"cannot read the dataset metadata ({exc})", file=meta_path, field=field
            ) from None
        if self.metadata.get("format_version") != FORMAT_VERSION:
            raise UserError(
                "this dataset was written by an incompatible gennie version",
                file=meta_path,
                field=field,
                hint="run preprocess again",
            )
        self.labels = np.load(self.path / "labels.npy")
        self.splits = np.load(self.path / "splits.npy")
        self._arrays: dict[str, np.ndarray] = {}
        self._encoders: dict[str, BranchEncoder] = {}

    @property
    def classes(self) -> list[str]:
        """Class names in model-output order."""
        return list(self.metadata["classes"])

    @property
    def window(self) -> int:
        return int(self.metadata["window"])

    @property
    def branches(self) -> list[str]:
        """Branch names, in the order the dataset stores them."""
        return list(self.metadata["branches"])

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def encoder(self, branch: str) -> BranchEncoder:
        """The encoder that turns this dataset's stored branch into network input."""
        if branch not in self._encoders:
            info = dict(self.metadata["branches"][branch])
            info.pop("channels", None)
            info.pop("dtype", None)
            self._encoders[branch] = make_encoder(branch, **info)
        return self._encoders[branch]

    def array(self, branch: str) -> np.ndarray:
        """The stored branch array, memory-mapped, shape=(n, ...)."""
        if branch not in self._arrays:
            if branch not in self.metadata["branches"]:
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
