"""Class files → fixed-length windows → encoded branches, cached on disk.

The mapping steps shared by the preprocess stage and by every stage that applies a
model to new data (evaluate, predict, interpret): read the intervals (BED) or records
(FASTA) and validate them; place fixed-length windows (BED: real flanking sequence from
the genome, shifted inside chromosome ends, dropped on chromosomes shorter than the
window; FASTA: cut, or padded with N); encode the windows for every branch. Results
are kept in a :class:`~gennie.dataset.windows_cache.WindowCache`.
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gennie.config import PreprocessConfig
from gennie.dataset.npyfiles import allocate_npy
from gennie.dataset.spec import FORMAT_VERSION
from gennie.dataset.windows import (
    FittedWindows,
    fit_sequence,
    fit_to_chromosomes,
    place_windows,
)
from gennie.dataset.windows_cache import CacheEntry, WindowCache, cache_key, temporary_name
from gennie.encode import BranchEncoder, WindowBatch
from gennie.encode.alphabet import (
    INVALID,
    UNKNOWN,
    base_codes,
    decode,
    first_invalid,
    reverse_complement,
)
from gennie.errors import UserError
from gennie.io.bed import read_bed
from gennie.io.fasta import Genome, read_fasta
from gennie.progress import track

log = logging.getLogger("gennie.preprocess")

CHUNK = 50_000
"""Windows mapped and encoded at a time, which bounds memory for millions of samples."""

TABLE_COLUMNS = [
    "source_file",
    "source_line",
    "name",
    "chrom",
    "start",
    "end",
    "strand",
    "interval_start",
    "interval_end",
    "shifted",
    "padded",
]


@dataclass(frozen=True)
class WindowSettings:
    """How windows are placed on intervals and records.

    Attributes:
        window: Length of every window in bases.
        placement: ``center`` or ``random`` (seeded) placement on each interval/record.
        strand: Reverse-complement minus-strand BED windows.
        seed: Seed of random placement.
    """

    window: int
    placement: str = "center"
    strand: bool = True
    seed: int = 0

    @classmethod
    def of(cls, source: Any) -> WindowSettings:
        """The settings of a preprocess configuration or a preprocessing spec (anything
        with ``window``, ``placement``, ``strand`` and ``seed`` attributes)."""
        return cls(
            window=int(source.window),
            placement=str(source.placement),
            strand=bool(source.strand),
            seed=int(source.seed),
        )


def _no_rows() -> pd.DataFrame:
    return pd.DataFrame({"line": pd.Series(dtype=np.int64), "reason": pd.Series(dtype=str)})


@dataclass
class ClassWindows:
    """The usable windows of one class, as cached.

    Attributes:
        dropped: The input lines that got no window, with the reason (a key of
            :data:`DROP_REASONS`); empty for FASTA.
    """

    name: str
    entry: CacheEntry
    table: pd.DataFrame
    counts: dict[str, Any] = field(default_factory=dict)
    references: dict[str, Any] = field(default_factory=dict)
    dropped: pd.DataFrame = field(default_factory=_no_rows)


# --------------------------------------------------------------------------- mapping


DROP_REASONS = {
    "dropped_short_chromosome": "chromosome shorter than the window",
    "dropped_past_chromosome_end": "interval past the end of its chromosome",
}
"""Why a BED interval got no window, by the name of its counter in a class's counts."""


def _dropped_rows(bed: pd.DataFrame, fitted: FittedWindows) -> pd.DataFrame:
    """The line and the reason (a key of :data:`DROP_REASONS`) of every dropped interval."""
    reasons = np.where(fitted.past_end, "dropped_past_chromosome_end", "dropped_short_chromosome")
    return pd.DataFrame(
        {"line": bed["line"].to_numpy()[~fitted.keep], "reason": reasons[~fitted.keep]}
    )


def _past_end_example(bed: pd.DataFrame, fitted: FittedWindows, lengths: np.ndarray) -> str:
    """The first interval past its chromosome's end, described for a message."""
    i = int(np.flatnonzero(fitted.past_end)[0])
    row = bed.iloc[i]
    return (
        f"line {row['line']}: {row['chrom']}:{row['start']}-{row['end']}, "
        f"the chromosome has {int(lengths[i])} bases"
    )


def _fit_bed_windows(
    bed: pd.DataFrame, lengths: np.ndarray, config: WindowSettings, rng_key: list[int]
) -> tuple[FittedWindows, dict[str, Any]]:
    """Place the windows of BED intervals and fit them into their chromosomes.

    Returns:
        The fitted windows and the class's counts (records, dropped for each reason,
        shifted).
    """
    rng = np.random.default_rng(rng_key)
    starts = place_windows(
        bed["start"].to_numpy(), bed["end"].to_numpy(), config.window, config.placement, rng
    )
    fitted = fit_to_chromosomes(
        starts, lengths, config.window, bed["start"].to_numpy(), bed["end"].to_numpy()
    )
    counts = {
        "records": int(len(bed)),
        "dropped_short_chromosome": int(fitted.short_chromosome.sum()),
        "dropped_past_chromosome_end": int(fitted.past_end.sum()),
        "shifted_at_chromosome_end": int(fitted.shifted.sum()),
        "padded": 0,
    }
    return fitted, counts


def _report_dropped(
    path: Path,
    bed: pd.DataFrame,
    fitted: FittedWindows,
    lengths: np.ndarray,
    counts: dict[str, Any],
    config: WindowSettings,
    field_name: str,
) -> None:
    """Warn about dropped intervals; a user error when none is left.

    Raises:
        UserError: Every interval was dropped.
    """
    short_chroms = sorted(set(bed.loc[fitted.short_chromosome, "chrom"]))
    if short_chroms:
        log.warning(
            "%s: %d intervals dropped: chromosome shorter than the window (%s)",
            path.name,
            counts["dropped_short_chromosome"],
            ", ".join(short_chroms),
        )
    if fitted.past_end.any():
        log.warning(
            "%s: %d intervals dropped: they lie past the end of their chromosome (e.g. %s)",
            path.name,
            counts["dropped_past_chromosome_end"],
            _past_end_example(bed, fitted, lengths),
        )
    if fitted.keep.any():
        return
    if not fitted.past_end.any():
        raise UserError(
            f"no usable intervals: every chromosome ({', '.join(short_chroms)}) is shorter "
            f"than the window of {config.window}",
            file=path,
            field="window",
            hint="choose a smaller --window",
        )
    first = int(bed["line"].to_numpy()[np.flatnonzero(fitted.past_end)[0]])
    raise UserError(
        f"no usable intervals: {counts['dropped_past_chromosome_end']} lie past the end of "
        f"their chromosome (e.g. {_past_end_example(bed, fitted, lengths)})"
        + (" and the others on chromosomes shorter than the window" if short_chroms else ""),
        file=path,
        line=first,
        field=field_name,
        hint="check that the BED file and the genome are of the same assembly",
    )


def _fetch_codes(
    codes: np.ndarray,
    genome: Genome,
    kept: pd.DataFrame,
    window_starts: np.ndarray,
    flip: np.ndarray,
    config: WindowSettings,
    label: str,
) -> None:
    """Fetch every kept window from the genome (reverse-complemented where ``flip``)
    into ``codes``, in chunks.

    Raises:
        UserError: The genome returns fewer bases than its index promised.
    """
    chroms = kept["chrom"].to_numpy()
    steps = range(0, len(kept), CHUNK)
    for lo in track(steps, len(steps), label, unit="chunk", quiet=len(kept) <= CHUNK):
        hi = min(lo + CHUNK, len(kept))
        seqs = []
        for i in range(lo, hi):
            begin = int(window_starts[i])
            seq = genome.fetch(chroms[i], begin, begin + config.window)
            if len(seq) != config.window:
                raise UserError(
                    f"the genome holds {len(seq)} bases at {chroms[i]}:{begin}-"
                    f"{begin + config.window}, where its index promised {config.window}",
                    file=genome.path,
                    field=genome.field,
                    hint="the genome or its index (.fai/.gzi) is damaged or out of date: "
                    "delete the index files to rebuild them",
                )
            seqs.append(reverse_complement(seq) if flip[i] else seq)
        block = base_codes("".join(seqs)).reshape(hi - lo, config.window)
        block[block == INVALID] = UNKNOWN  # odd letters in a reference count as unknown
        codes[lo:hi] = block


def _map_bed(
    path: Path,
    entry: CacheEntry,
    config: WindowSettings,
    genome: Genome,
    rng_key: list[int],
    field_name: str,
) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame]:
    """Windows of a BED class: place, fit into chromosomes, fetch, encode base codes.

    Returns:
        The windows' provenance table, the class's counts, and the dropped intervals
        (line and reason).
    """
    bed = read_bed(path, field=field_name)
    lengths = np.empty(len(bed), dtype=np.int64)
    for chrom, rows in bed.groupby("chrom", sort=False).groups.items():
        first = int(bed.loc[rows[0], "line"])
        lengths[rows] = genome.check_chromosome(chrom, file=path, line=first, field=field_name)
    fitted, counts = _fit_bed_windows(bed, lengths, config, rng_key)
    _report_dropped(path, bed, fitted, lengths, counts, config, field_name)
    kept = bed[fitted.keep].reset_index(drop=True)
    window_starts = fitted.starts[fitted.keep]
    strands = kept["strand"].to_numpy()
    flip = (strands == "-") if config.strand else np.zeros(len(kept), dtype=bool)
    codes = allocate_npy(entry.codes_path, np.uint8, (len(kept), config.window))
    _fetch_codes(codes, genome, kept, window_starts, flip, config, f"map {path.name}")
    codes.flush()
    del codes
    table = pd.DataFrame(
        {
            "source_file": str(path),
            "source_line": kept["line"].to_numpy(),
            "name": kept["name"].to_numpy(),
            "chrom": kept["chrom"].to_numpy(),
            "start": window_starts,
            "end": window_starts + config.window,
            "strand": strands,
            "interval_start": kept["start"].to_numpy(),
            "interval_end": kept["end"].to_numpy(),
            "shifted": fitted.shifted[fitted.keep].astype(int),
            "padded": 0,
        }
    )
    return table, counts, _dropped_rows(bed, fitted)


DEFAULT_WINDOW = 150
"""The window of interval (BED) input when none is given."""


def choose_window(lengths: np.ndarray) -> int:
    """The window for FASTA sequences of these lengths when none is given: the longest
    (no sequence cut, the least padding), or the median when the longest is over 1.5
    times the median (a few long records should not pad every other one)."""
    longest, median = int(lengths.max()), int(np.median(lengths))
    return max(4, longest if longest <= 1.5 * median else median)


def padding_note(lengths: np.ndarray, window: int) -> str:
    """What the padding warning of a FASTA class says: how many sequences were shorter
    than the window, their length distribution and a window that would fit them.

    The suggestion is the longest sequence when all are shorter than the window (no
    sequence is cut, the least padding), else the median length when most are shorter;
    none when most sequences fill the window.

    Args:
        lengths: shape=(n,), the length of each record.
        window: The window length.

    Returns:
        One sentence, e.g. ``"3 of 3 sequences shorter than the window (150) were padded
        with N (49 N per sequence on average); lengths: median 101, max 101; use
        --window 101 to fit them"``.
    """
    short = lengths < window
    median = int(np.median(lengths))
    longest = int(lengths.max())
    note = (
        f"{int(short.sum())} of {lengths.size} sequences shorter than the window ({window}) "
        f"were padded with N ({(window - lengths[short]).mean():.0f} N per sequence on "
        f"average); lengths: median {median}, max {longest}"
    )
    if median >= window:
        return note
    return f"{note}; use --window {longest if longest < window else median} to fit them"


def _map_fasta(
    path: Path, entry: CacheEntry, config: WindowSettings, rng_key: list[int], field_name: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Windows of a FASTA class: cut or N-pad each record, encode base codes."""
    n = sum(1 for _ in read_fasta(path, field=field_name))
    rng = np.random.default_rng(rng_key)
    codes = allocate_npy(entry.codes_path, np.uint8, (n, config.window))
    headers: list[str] = []
    padded = np.zeros(n, dtype=np.int64)
    lengths = np.zeros(n, dtype=np.int64)
    batch: list[str] = []
    batch_start = 0

    def flush(batch: list[str], lo: int, codes: np.ndarray) -> None:
        """Write the base codes of a batch of windows from row ``lo`` on."""
        codes[lo : lo + len(batch)] = base_codes("".join(batch)).reshape(len(batch), config.window)

    for record in track(
        read_fasta(path, field=field_name), n, f"read {path.name}", "record", quiet=n <= CHUNK
    ):
        if not record.sequence:
            raise UserError(
                f"record '{record.header}' has no sequence",
                file=path,
                record=record.number,
                field=field_name,
                hint="remove empty records",
            )
        bad = first_invalid(record.sequence)  # the whole record, not only the window
        if bad is not None:
            raise UserError(
                f"record '{record.header}': letter '{record.sequence[bad]}' at position "
                f"{bad + 1} is not a nucleotide or IUPAC code",
                file=path,
                record=record.number,
                field=field_name,
                hint="sequences may contain A, C, G, T, U and IUPAC codes such as N",
            )
        seq, added = fit_sequence(record.sequence, config.window, config.placement, rng)
        headers.append(record.header)
        padded[record.number - 1] = added
        lengths[record.number - 1] = len(record.sequence)
        batch.append(seq)
        if len(batch) == CHUNK:
            flush(batch, batch_start, codes)
            batch_start += len(batch)
            batch = []
    if batch:
        flush(batch, batch_start, codes)
    codes.flush()
    del codes
    counts = {
        "records": n,
        "dropped_short_chromosome": 0,
        "shifted_at_chromosome_end": 0,
        "padded": int((padded > 0).sum()),
        "padded_bases": int(padded.sum()),
    }
    if counts["padded"]:
        log.warning("%s: %s", path.name, padding_note(lengths, config.window))
    table = pd.DataFrame(
        {
            "source_file": str(path),
            "source_line": np.arange(1, n + 1),
            "name": headers,
            "chrom": "",
            "start": "",
            "end": "",
            "strand": "",
            "interval_start": "",
            "interval_end": "",
            "shifted": 0,
            "padded": padded,
        }
    )
    return table, counts


def encode_branches(
    entry: CacheEntry,
    table: pd.DataFrame,
    encoders: dict[str, BranchEncoder],
    window: int,
    counts: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Stored arrays of every branch for a cached class (computed once per parameters).

    Args:
        entry: The class's cache entry (base codes; branch arrays are added to it).
        table: The class's windows (coordinates for branches that read tracks).
        encoders: Encoders by branch name.
        window: Window length.
        counts: If given, receives what each encoder counted (e.g. missing track
            values) under the branch name, also when the encoding came from the cache.

    Returns:
        Path of each branch's stored array, shape=(n, ...) in table order.
    """
    paths: dict[str, Path] = {}
    for name, encoder in encoders.items():
        if encoder.stores_base_codes:
            paths[name] = entry.codes_path  # written by the mapping step already
            continue
        path = entry.branch_path(name, cache_key(encoder.cache_identity()))
        paths[name] = path
        counts_path = path.with_suffix(".json")
        if not path.is_file():
            with entry.locked():  # one writer per entry: another run waits, then reads it
                if not path.is_file():
                    _encode_branch(entry, table, name, encoder, window, path)
                    if counts is not None and encoder.counts:
                        counts[name] = dict(encoder.counts)
                    continue
        if counts is not None and counts_path.is_file():
            counts[name] = json.loads(counts_path.read_text())
    return paths


def _encode_branch(
    entry: CacheEntry,
    table: pd.DataFrame,
    name: str,
    encoder: BranchEncoder,
    window: int,
    path: Path,
) -> None:
    """Write branch ``name``'s stored array for a cached class to ``path`` (under a
    temporary name first, so that readers never see a partial array)."""
    encoder.reset_counts()
    codes = entry.codes()
    n = codes.shape[0]
    tmp = temporary_name(path)
    try:
        out = allocate_npy(tmp, encoder.stored_dtype, (n, *encoder.stored_shape(window)))
        steps = range(0, n, CHUNK)
        for lo in track(steps, len(steps), f"encode {name}", "chunk", quiet=n <= CHUNK):
            hi = min(lo + CHUNK, n)
            rows = table.iloc[lo:hi]
            has_coords = bool(rows["chrom"].astype(str).str.len().gt(0).all())
            out[lo:hi] = encoder.encode(
                WindowBatch(
                    sequences=[decode(codes[i]) for i in range(lo, hi)],
                    chroms=rows["chrom"].tolist() if has_coords else None,
                    starts=rows["start"].to_numpy(dtype=np.int64) if has_coords else None,
                    ends=rows["end"].to_numpy(dtype=np.int64) if has_coords else None,
                    strands=rows["strand"].tolist() if has_coords else None,
                )
            )
        out.flush()
        del out
        path.with_suffix(".json").write_text(json.dumps(encoder.counts))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


class GenomeHandle:
    """Opens the genome only when something has to be read from it (a cache miss)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._genome: Genome | None = None

    def get(self) -> Genome:
        """The genome, opened on first use.

        Raises:
            UserError: No genome was given.
        """
        if self._genome is None:
            if self.path is None:
                raise UserError(
                    "BED input needs a reference genome", field="genome", hint="give --genome FASTA"
                )
            self._genome = Genome(self.path)
            log.info("opened genome %s (%d sequences)", self.path, len(self._genome.chrom_lengths))
        return self._genome

    @property
    def opened(self) -> bool:
        """Whether the genome was opened (read) at all."""
        return self._genome is not None


def map_class(
    name: str,
    path: Path,
    fmt: str,
    settings: WindowSettings,
    cache: WindowCache,
    genome: GenomeHandle,
    field: str | None = None,
) -> ClassWindows:
    """Mapped windows of one class file (base codes), from the cache when possible.

    Args:
        name: The class name.
        path: The class file.
        fmt: Its format, ``bed`` or ``fasta``.
        settings: Window length, placement, strand handling and seed.
        cache: The window cache.
        genome: The reference genome (BED), opened only on a cache miss.
        field: Configuration field named in error messages (default ``classes.<name>``).

    Returns:
        The class's windows: cache entry, provenance table, counts and references.
    """
    field = field or f"classes.{name}"
    file_md5 = cache.checksum(path)
    key_data: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "format": fmt,
        "file": file_md5,
        "window": settings.window,
        "placement": settings.placement,
    }
    references: dict[str, Any] = {"file": str(path), "md5": file_md5, "format": fmt}
    if settings.placement == "random":
        key_data["seed"] = settings.seed
    if fmt == "bed":
        key_data["genome"] = cache.checksum(genome.path)
        key_data["strand"] = settings.strand
    entry = cache.entry(cache_key(key_data))
    rng_key = [settings.seed, zlib.crc32(file_md5.encode())]
    with entry.writing() as build:  # one writer per entry; others wait, then read it
        if not build:
            cache.hits += 1
            log.info("class %s: windows from cache %s", name, entry.path.name)
            info = entry.info()
            table, counts = entry.table(), info["counts"]
            dropped = pd.DataFrame(info["dropped"]) if info.get("dropped") else _no_rows()
        else:
            cache.misses += 1
            dropped = _no_rows()
            if fmt == "bed":
                table, counts, dropped = _map_bed(
                    path, entry, settings, genome.get(), rng_key, field
                )
            else:
                table, counts = _map_fasta(path, entry, settings, rng_key, field)
            info = {"class_file": str(path), "key": key_data, "counts": counts}
            entry.finish(table, info | {"dropped": dropped.to_dict("list")})
    return ClassWindows(
        name=name,
        entry=entry,
        table=table,
        counts=dict(counts),
        references=references,
        dropped=dropped,
    )


def make_negatives(
    config: PreprocessConfig,
    source: ClassWindows,
    others: list[ClassWindows],
    cache: WindowCache,
    genome: GenomeHandle,
) -> ClassWindows:
    """The added negative class: dinucleotide shuffles of, or GC-matched background for,
    the source class (cached like a class file)."""
    key_data = {
        "version": FORMAT_VERSION,
        "negatives": config.negatives,
        "source": source.entry.path.name,
        "ratio": config.negatives_ratio,
        "seed": config.seed,
    }
    if config.negatives == "background":
        key_data["genome"] = cache.checksum(config.genome)
    entry = cache.entry(cache_key(key_data))
    with entry.writing() as build:  # one writer per entry; others wait, then read it
        if not build:
            cache.hits += 1
            return ClassWindows(config.negatives_name, entry, entry.table(), entry.info()["counts"])
        cache.misses += 1
        table, counts = _negative_windows(config, source, others, genome, entry)
        entry.finish(table, {"counts": counts, "key": key_data})
    return ClassWindows(config.negatives_name, entry, table, counts)


def _negative_windows(
    config: PreprocessConfig,
    source: ClassWindows,
    others: list[ClassWindows],
    genome: GenomeHandle,
    entry: CacheEntry,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Build the negative class's windows into ``entry``: their base codes; returns
    their table and counts."""
    from gennie.dataset.negatives import (
        gc_content,
        gc_matched_background,
        shuffled_negatives,
    )

    rng = np.random.default_rng([config.seed, 7])
    codes = source.entry.codes()
    sequences = [decode(codes[i]) for i in range(codes.shape[0])]
    if config.negatives == "shuffle":
        shuffled, origin = shuffled_negatives(sequences, rng, config.negatives_ratio)
        src = source.table.iloc[origin].reset_index(drop=True)
        table = src.assign(name="shuffle:" + src["name"].astype(str), shifted=0)
        new = shuffled
    else:
        want = int(round(len(sequences) * config.negatives_ratio))
        exclude: dict[str, list[tuple[int, int]]] = {}
        for cls in [source, *others]:
            bed_rows = cls.table[cls.table["chrom"].astype(str) != ""]
            for chrom, s, e in zip(
                bed_rows["chrom"], bed_rows["start"], bed_rows["end"], strict=True
            ):
                exclude.setdefault(str(chrom), []).append((int(s), int(e)))
        windows = gc_matched_background(
            genome.get(), want, config.window, gc_content(sequences), rng, exclude=exclude
        )
        if len(windows) < want:
            log.warning("background: found %d of %d GC-matched windows", len(windows), want)
        if not windows:
            raise UserError(
                "could not sample any background windows from the genome",
                field="negatives",
                hint="use --negatives shuffle",
            )
        table = pd.DataFrame(
            {
                "source_file": str(config.genome),
                "source_line": 0,
                "name": [f"background:{c}:{s}-{e}" for c, s, e, _ in windows],
                "chrom": [w[0] for w in windows],
                "start": [w[1] for w in windows],
                "end": [w[2] for w in windows],
                "strand": "+",
                "interval_start": [w[1] for w in windows],
                "interval_end": [w[2] for w in windows],
                "shifted": 0,
                "padded": 0,
            }
        )
        new = [w[3] for w in windows]
    block = base_codes("".join(new)).reshape(len(new), config.window)
    block[block == INVALID] = UNKNOWN
    np.save(entry.codes_path, block)
    counts = {
        "records": len(new),
        "dropped_short_chromosome": 0,
        "shifted_at_chromosome_end": 0,
        "padded": 0,
        "generated_from": source.name,
        "method": config.negatives,
    }
    return table[TABLE_COLUMNS], counts
