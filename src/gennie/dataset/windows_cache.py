"""On-disk cache of mapped windows, so that changing only reduction or split re-reads
nothing: no genome access, no re-encoding.

One entry per (class file content, genome, window settings) holds the provenance
table of the class's usable windows, their base codes (the canonical form from which
every branch is derived) and each branch's stored encoding.

Several runs may share one cache at the same time (two preprocess runs with one
``--out``). So:

- an entry is built under a temporary name (``.<key>.partial-…``) and renamed into
  place when complete, so readers never see a partial entry;
- whoever builds an entry, or adds a branch's array to it, holds the entry's lock
  (``flock`` on ``.<key>.lock``); a second writer waits for it and then finds the work
  done (:meth:`CacheEntry.writing`, :meth:`CacheEntry.locked`);
- arrays and small files are written to temporary names and renamed;
- what a killed run left behind (partial entries and arrays whose writer is gone: its
  lock is free) is removed when the cache is opened.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gennie.io.files import fingerprint, md5sum

_COMPLETE = "complete"
_PARTIAL = ".partial"
"""Part of the name of everything still being written (entries, arrays)."""


def cache_key(data: dict[str, Any]) -> str:
    """A short stable key for a JSON-serialisable description."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def temporary_name(path: Path) -> Path:
    """A name next to ``path`` that no other writer uses, marked as partial (e.g.
    ``seq-1a2b.partial-812-9f3c.npy`` for ``seq-1a2b.npy``)."""
    path = Path(path)
    tag = f"{_PARTIAL}-{os.getpid()}-{secrets.token_hex(4)}"
    return path.with_name(f"{path.stem}{tag}{path.suffix}")


@contextlib.contextmanager
def file_lock(path: Path, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` (created when missing) for the block.

    Args:
        path: The lock file.
        blocking: Wait for the lock; else yield False at once when another holds it.

    Yields:
        Whether the lock is held.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


class WindowCache:
    """The cache folder.

    Opening it removes what killed runs left half-written (see the module docstring).

    Args:
        root: Cache folder; created on demand.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0
        self.clean_stale()

    @property
    def windows(self) -> Path:
        """The folder of the entries."""
        return self.root / "windows"

    def checksum(self, path: Path) -> str:
        """MD5 of a file, remembered by (path, size, mtime) so big genomes are read once."""
        memo_path = self.root / "checksums.json"
        key = fingerprint(path)
        memo = _read_json(memo_path)
        if key in memo:
            return memo[key]
        value = md5sum(path)
        self.root.mkdir(parents=True, exist_ok=True)
        with file_lock(self.root / ".checksums.lock"):
            memo = _read_json(memo_path)  # other runs may have added theirs meanwhile
            memo[key] = value
            _write_atomic(memo_path, json.dumps(memo, indent=1))
        return value

    def entry(self, key: str) -> CacheEntry:
        """The entry for a key (it may not exist yet)."""
        return CacheEntry(self.windows / key)

    def clean_stale(self) -> list[Path]:
        """Remove partial entries and arrays whose writer is gone (its entry's lock is
        free); entries being written by a live run are left alone.

        Returns:
            What was removed.
        """
        if not self.windows.is_dir():
            return []
        removed: list[Path] = []
        for path in sorted(self.windows.iterdir()):
            if path.name.endswith(".lock") or not path.is_dir():
                continue
            key = path.name.lstrip(".").split(_PARTIAL)[0]
            entry = self.entry(key)
            stale = entry.stale_parts(path)
            if not stale:
                continue
            with file_lock(entry.lock_path, blocking=False) as held:
                if not held:
                    continue  # its writer lives
                for part in entry.stale_parts(path):
                    _remove(part)
                    removed.append(part)
        return removed


class CacheEntry:
    """One cached class: ``table.tsv``, ``codes.npy``, ``info.json``, ``<branch>-<key>.npy``.

    While it is being built (inside :meth:`writing`), :attr:`path` is the temporary
    folder the files go to; afterwards it is the entry's own folder.
    """

    def __init__(self, path: Path) -> None:
        self.final = Path(path)
        self.path = self.final

    @property
    def complete(self) -> bool:
        """Whether the entry was written to the end (a killed run leaves it incomplete)."""
        return (self.final / _COMPLETE).is_file()

    @property
    def lock_path(self) -> Path:
        """The entry's lock file, held by whoever writes the entry."""
        return self.final.parent / f".{self.final.name}.lock"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the entry's lock (wait for another writer to finish first)."""
        self.final.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self.lock_path):
            yield

    @contextlib.contextmanager
    def writing(self) -> Iterator[bool]:
        """Build the entry unless it is complete.

        Yields:
            True when the caller builds it: write into :attr:`path`, then call
            :meth:`finish`; if the block raises, what was written is removed. False
            when the entry is complete, possibly built meanwhile by another run.
        """
        if self.complete:
            yield False
            return
        with self.locked():
            if self.complete:
                yield False
                return
            if self.final.exists():  # left incomplete by an older gennie
                shutil.rmtree(self.final)
            staging = self.final.parent / f".{self.final.name}{_PARTIAL}-{os.getpid()}"
            _remove(staging)
            staging.mkdir(parents=True)
            self.path = staging
            try:
                yield True
            finally:
                self.path = self.final
                _remove(staging)  # gone already when finished

    def finish(self, table: pd.DataFrame, info: dict[str, Any]) -> None:
        """Write the table and info, mark the entry complete, and (inside
        :meth:`writing`) move it into place."""
        table.to_csv(self.path / "table.tsv", sep="\t", index=False)
        (self.path / "info.json").write_text(json.dumps(info, indent=1, default=str))
        (self.path / _COMPLETE).write_text("")
        if self.path != self.final:
            self.path.rename(self.final)
            self.path = self.final

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

    def stale_parts(self, folder: Path) -> list[Path]:
        """What a writer of this entry left in ``folder`` (the entry or a temporary
        folder of it) if that writer is gone: the temporary folder, an entry never
        completed, or partial arrays of a complete entry."""
        if folder != self.final:
            return [folder]
        if not self.complete:
            return [folder]
        return [p for p in folder.iterdir() if _PARTIAL in p.name]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_atomic(path: Path, text: str) -> None:
    """Write a small text file under a temporary name, then rename it into place."""
    tmp = temporary_name(path)
    try:
        tmp.write_text(text)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
