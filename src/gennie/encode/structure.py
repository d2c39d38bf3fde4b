"""The ``fold`` branch: RNA secondary structure predicted with ViennaRNA.

Every window is folded on its own (minimum free energy structure, ``RNA.fold_compound``
with the model details below) into a dot-bracket string, e.g. ``GGGGAAAACCCC`` →
``((((....))))``. DNA letters are read as RNA (T = U).

Encoding — stored as one byte per base, expanded to three channels for the network:

======  ========================  ==========================
code    dot-bracket               network input (3 channels)
======  ========================  ==========================
0       ``(`` paired, partner     (1, 0, 0)  paired-left
        downstream
1       ``)`` paired, partner     (0, 1, 0)  paired-right
        upstream
2       ``.`` unpaired            (0, 0, 1)  unpaired
3       unknown base (N, padding) (0, 0, 0)
======  ========================  ==========================

Positions whose base is unknown (N, or the N padding of short FASTA records) get
code 3 (all zero), like the ``seq`` branch's default, whatever ViennaRNA made of them.

Folding runs in ``jobs`` processes (default: all cores) with a progress bar, and its
results are cached on disk (:class:`FoldCache`) keyed by the sequence, the folding
temperature and the ViennaRNA version, so folding the same windows again — even from
another class file, window cache or dataset — computes nothing. Structures are
committed to the cache as folding goes (every :data:`COMMIT_EVERY` sequences, and
what was folded when the run is stopped), so a killed or cancelled run started again
folds only what is missing. Several runs may use one fold cache at the same time.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import multiprocessing
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import RNA

from gennie.encode.alphabet import UNKNOWN, base_codes
from gennie.encode.base import BranchEncoder, WindowBatch
from gennie.processes import restore_signals
from gennie.progress import Progress

if TYPE_CHECKING:
    from gennie.config import PreprocessConfig

log = logging.getLogger("gennie.fold")

PAIRED_LEFT, PAIRED_RIGHT, UNPAIRED, NO_BASE = 0, 1, 2, 3
"""Stored structure codes (see the module docstring)."""

CHANNEL_LETTERS = ("(", ")", ".")
"""Dot-bracket letter of each input channel (paired-left, paired-right, unpaired)."""

ENCODING_VERSION = 1
"""Bumped whenever the stored codes change meaning (part of every cache key)."""

_STRUCTURE_CODES = np.full(256, UNPAIRED, dtype=np.uint8)
_STRUCTURE_CODES[ord("(")] = PAIRED_LEFT
_STRUCTURE_CODES[ord(")")] = PAIRED_RIGHT

_INPUT_TABLE = np.zeros((4, 3), dtype=np.float32)
_INPUT_TABLE[[PAIRED_LEFT, PAIRED_RIGHT, UNPAIRED], [0, 1, 2]] = 1.0

_SMALL_BATCH = 64
"""Fewer sequences than this are folded in the calling process (no pool to start)."""

COMMIT_EVERY = 2000
"""Folded structures are committed to the fold cache in chunks of this many sequences
(a few seconds of folding each), so that a killed run loses little."""


def fold_sequences(sequences: list[str], temperature: float = 37.0) -> list[str]:
    """MFE dot-bracket structures, one ViennaRNA fold per sequence.

    Args:
        sequences: RNA or DNA letters (T is read as U), any length.
        temperature: Folding temperature in °C.

    Returns:
        One dot-bracket string per sequence, of the sequence's length.
    """
    md = RNA.md()
    md.temperature = temperature
    structures = []
    for sequence in sequences:
        structure, _ = RNA.fold_compound(sequence.upper().replace("T", "U"), md).mfe()
        structures.append(structure)
    return structures


def _fold_task(task: tuple[list[str], float]) -> tuple[list[str], float]:
    """Pool worker: fold one chunk of sequences; also return the CPU seconds it took."""
    sequences, temperature = task
    start = time.process_time()
    structures = fold_sequences(sequences, temperature)
    return structures, time.process_time() - start


def _pool_context() -> multiprocessing.context.BaseContext:
    """Worker processes that do not inherit the caller's threads (GUI, PyTorch) or any
    other state: fresh interpreters (about a second to start, once per pool)."""
    return multiprocessing.get_context("spawn")


def fold_pool(jobs: int) -> multiprocessing.pool.Pool:
    """A pool of ``jobs`` folding processes with the default SIGINT/SIGTERM actions, so
    that its exit (``terminate()``) ends them even where the caller ignores SIGTERM."""
    return _pool_context().Pool(jobs, initializer=restore_signals)


def structure_codes(structures: list[str], sequences: list[str]) -> np.ndarray:
    """Stored codes of dot-bracket structures.

    Args:
        structures: n dot-bracket strings of equal length L.
        sequences: The folded sequences (positions with an unknown base get code 3).

    Returns:
        shape=(n, L), uint8, values 0–3 (see the module docstring).
    """
    if not structures:
        return np.zeros((0, 0), dtype=np.uint8)
    length = len(structures[0])
    joined = "".join(structures).encode("ascii")
    codes = _STRUCTURE_CODES[np.frombuffer(joined, dtype=np.uint8)].reshape(-1, length)
    unknown = base_codes("".join(sequences)).reshape(-1, length) >= UNKNOWN
    codes[unknown] = NO_BASE
    return codes


def structure_input(codes: np.ndarray) -> np.ndarray:
    """Network input from stored structure codes.

    Args:
        codes: shape=(n, L), uint8, values 0–3.

    Returns:
        shape=(n, 3, L), float32: channels paired-left, paired-right, unpaired.
    """
    return np.ascontiguousarray(_INPUT_TABLE[np.asarray(codes)].transpose(0, 2, 1))


class FoldCache:
    """Folded structures on disk, one SQLite file, keyed by sequence + folding settings.

    Several processes may read and write it at once: the database runs in WAL mode
    (readers do not wait for writers) and a writer waits up to :attr:`TIMEOUT` seconds
    for another's transaction instead of failing.

    Args:
        path: The SQLite file (created on demand).
        settings: Everything besides the sequence that determines the structure.
    """

    _BATCH = 500  # parameters per SELECT (SQLite allows 999 by default)
    TIMEOUT = 300.0
    """Seconds a writer waits for the database lock."""

    def __init__(self, path: Path, settings: dict[str, Any]) -> None:
        self.path = Path(path)
        self.prefix = repr(sorted(settings.items())).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=self.TIMEOUT)
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(self.TIMEOUT * 1000)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; fast commits
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS fold (key BLOB PRIMARY KEY, structure TEXT NOT NULL)"
            )
            self._db.commit()
        except BaseException:
            self._db.close()
            raise

    def key(self, sequence: str) -> bytes:
        """16-byte key of a sequence under these settings."""
        return hashlib.blake2b(self.prefix + b"\0" + sequence.encode(), digest_size=16).digest()

    def get_many(self, keys: list[bytes]) -> dict[bytes, str]:
        """Cached structures of the keys that are cached."""
        found: dict[bytes, str] = {}
        for lo in range(0, len(keys), self._BATCH):
            part = keys[lo : lo + self._BATCH]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(f"SELECT key, structure FROM fold WHERE key IN ({marks})", part)
            found.update(rows.fetchall())
        return found

    def put_many(self, items: Iterable[tuple[bytes, str]]) -> None:
        """Store structures (existing keys are kept), committed as one transaction."""
        with self._db:  # commits, or rolls back on an error
            self._db.executemany("INSERT OR IGNORE INTO fold VALUES (?, ?)", items)

    def close(self) -> None:
        """Close the SQLite file."""
        self._db.close()


class FoldEncoder(BranchEncoder):
    """MFE structure per window: one code per base stored, (n, 3, length) for the network.

    Args:
        temperature: Folding temperature in °C (ViennaRNA's default 37).
        jobs: Folding processes (None or 0: all cores). Not part of the encoding.
    """

    name: ClassVar[str] = "fold"
    channels = 3
    option_fields: ClassVar[tuple[str, ...]] = ("fold_temperature",)

    def __init__(self, temperature: float = 37.0, jobs: int | None = None, **_: object) -> None:
        super().__init__(temperature=float(temperature))
        self.temperature = float(temperature)
        self.jobs = int(jobs or os.cpu_count() or 1)
        self.cache_path: Path | None = None
        self.folded = 0
        """Sequences actually folded (not taken from the fold cache) by this encoder."""
        self.cache_hits = 0
        """Sequences whose structure came from the fold cache."""
        self.worker_cpu_seconds = 0.0
        """CPU seconds the folding worker processes spent (not this process)."""

    @classmethod
    def from_config(cls, config: PreprocessConfig) -> FoldEncoder:
        """Folding at ``fold_temperature`` in ``jobs`` processes (0: all cores)."""
        return cls(temperature=config.fold_temperature, jobs=config.jobs or None)

    def cache_stats(self) -> dict[str, int]:
        """Sequences folded, and sequences whose structure came from the fold cache."""
        return {"folded": self.folded, "fold_cache_hits": self.cache_hits}

    def channel_letters(self, alphabet: str) -> list[str]:
        """``(``, ``)`` and ``.``: paired-left, paired-right, unpaired."""
        return list(CHANNEL_LETTERS)

    def attach_cache(self, root: Path, checksum: Callable[[Path], str] | None = None) -> None:
        """Keep fold results in ``root/fold/structures.sqlite``."""
        self.cache_path = Path(root) / "fold" / "structures.sqlite"

    def cache_identity(self) -> dict[str, Any]:
        """Temperature, ViennaRNA version and encoding version."""
        return {
            "temperature": self.temperature,
            "viennarna": RNA.__version__,
            "encoding": ENCODING_VERSION,
        }

    def description(self) -> dict[str, Any]:
        """Channels, dtype, temperature and the ViennaRNA version used."""
        return {**super().description(), "viennarna": RNA.__version__, "encoding": "mfe"}

    def encode(self, batch: WindowBatch) -> np.ndarray:
        """Structure codes, shape=(n, length), uint8 (0 '(', 1 ')', 2 '.', 3 no base)."""
        sequences = [s.upper().replace("T", "U") for s in batch.sequences]
        if not sequences:
            return np.zeros((0, 0), dtype=np.uint8)
        cache = FoldCache(self.cache_path, self.cache_identity()) if self.cache_path else None
        try:
            structures = self._structures(sequences, cache)
        finally:
            if cache is not None:
                cache.close()
        return structure_codes([structures[s] for s in sequences], sequences)

    def _structures(self, sequences: list[str], cache: FoldCache | None) -> dict[str, str]:
        """Structures of the sequences: from the cache, else folded (and committed to
        the cache in chunks as folding goes, also when it is interrupted)."""
        unique = list(dict.fromkeys(sequences))
        known: dict[str, str] = {}
        keys: dict[str, bytes] = {}
        if cache is not None:
            keys = {s: cache.key(s) for s in unique}
            by_key = cache.get_many(list(keys.values()))
            known = {s: by_key[k] for s, k in keys.items() if k in by_key}
        todo = [s for s in unique if s not in known]
        self.cache_hits += len(known)
        pending: list[str] = []  # folded, not yet in the cache

        def commit() -> None:
            if cache is not None and pending:
                cache.put_many([(keys[s], known[s]) for s in pending])
            pending.clear()

        try:
            # closing(): an interrupt stops the folding processes at once.
            with contextlib.closing(self._fold(todo)) as folding:
                for part, structures in folding:
                    known.update(zip(part, structures, strict=True))
                    self.folded += len(part)
                    pending += part
                    if len(pending) >= COMMIT_EVERY:
                        commit()
        finally:
            commit()  # keep what was folded, also when stopped
        return known

    def _fold(self, sequences: list[str]) -> Iterator[tuple[list[str], list[str]]]:
        """Fold in ``jobs`` processes, with a progress bar over the sequences.

        Yields:
            Chunks of the sequences, in order, with their structures.
        """
        if not sequences:
            return
        jobs = min(self.jobs, max(1, len(sequences) // 8))
        progress = Progress(
            len(sequences), "fold", unit="sequence", quiet=len(sequences) < _SMALL_BATCH
        )
        try:
            if jobs == 1 or len(sequences) < _SMALL_BATCH:
                for lo in range(0, len(sequences), 16):
                    part = sequences[lo : lo + 16]
                    yield part, fold_sequences(part, self.temperature)
                    progress.update(len(part))
                return
            # Chunks small enough to balance the load and move the progress bar, large
            # enough that inter-process traffic stays negligible next to folding.
            size = max(1, min(64, len(sequences) // (jobs * 8)))
            parts = [sequences[lo : lo + size] for lo in range(0, len(sequences), size)]
            pool = fold_pool(jobs)
            try:
                tasks = ((part, self.temperature) for part in parts)
                for part, (structures, seconds) in zip(
                    parts, pool.imap(_fold_task, tasks), strict=True
                ):
                    self.worker_cpu_seconds += seconds
                    yield part, structures
                    progress.update(len(part))
                # Done: let the processes end by themselves. (Terminating them could
                # reach one still starting, before it stops ignoring SIGTERM.)
                pool.close()
            except BaseException:
                pool.terminate()  # interrupted (Ctrl+C, SIGTERM) or failed: stop them now
                raise
            finally:
                pool.join()
        finally:
            progress.close()

    def to_input(self, stored: np.ndarray) -> np.ndarray:
        """Three channels (paired-left, paired-right, unpaired), shape=(n, 3, length)."""
        return structure_input(stored)
