"""On-disk cache of mapped windows, so that changing only reduction or split re-reads
nothing: no genome access, no re-encoding.

One entry per (class file content, genome, window settings) holds the provenance
table of the class's usable windows, their base codes (the canonical form from which
every branch is derived) and each branch's stored encoding. An entry counts only once
its ``complete`` marker exists, so an entry left by a killed run is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gennie.io.files import fingerprint, md5sum

_COMPLETE = "complete"


def cache_key(data: dict[str, Any]) -> str:
    """A short stable key for a JSON-serialisable description."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:20]


class WindowCache:
    """The cache folder.

    Args:
        root: Cache folder; created on demand.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def checksum(self, path: Path) -> str:
        """MD5 of a file, remembered by (path, size, mtime) so big genomes are read once."""
        memo_path = self.root / "checksums.json"
        memo: dict[str, str] = {}
        if memo_path.is_file():
            try:
                memo = json.loads(memo_path.read_text())
            except (OSError, json.JSONDecodeError):
                memo = {}
        key = fingerprint(path)
        if key not in memo:
            memo[key] = md5sum(path)
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = memo_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(memo, indent=1))
            tmp.replace(memo_path)
        return memo[key]

    def entry(self, key: str) -> CacheEntry:
        """The entry for a key (it may not exist yet)."""
        return CacheEntry(self.root / "windows" / key)


class CacheEntry:
    """One cached class: ``table.tsv``, ``codes.npy``, ``info.json``, ``<branch>-<key>.npy``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def complete(self) -> bool:
        """Whether the entry was written to the end (a killed run leaves it incomplete)."""
        return (self.path / _COMPLETE).is_file()

    def reset(self) -> None:
        """Empty the entry (after a killed run, or when not complete)."""
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)

    def finish(self, table: pd.DataFrame, info: dict[str, Any]) -> None:
        """Write the table and info, then mark the entry complete."""
        table.to_csv(self.path / "table.tsv", sep="\t", index=False)
        (self.path / "info.json").write_text(json.dumps(info, indent=1, default=str))
        (self.path / _COMPLETE).write_text("")

    def table(self) -> pd.DataFrame:
        """The windows' provenance table (one row per window)."""
        return pd.read_csv(
            self.path / "table.tsv",
            sep="\t",
            keep_default_na=False,
            dtype={"chrom": str, "strand": str, "name": str},
        )

    def info(self) -> dict[str, Any]:
        """What the entry records besides its arrays (class file, cache key, counts)."""
        return json.loads((self.path / "info.json").read_text())

    @property
    def codes_path(self) -> Path:
        """The windows' base codes, shape=(n, window), uint8."""
        return self.path / "codes.npy"

    def codes(self) -> np.ndarray:
        """Base codes of the windows, shape=(n, window), memory-mapped."""
        return np.load(self.codes_path, mmap_mode="r")

    def branch_path(self, branch: str, params_key: str) -> Path:
        """The stored array of a branch encoded with the parameters keyed ``params_key``."""
        return self.path / f"{branch}-{params_key}.npy"
