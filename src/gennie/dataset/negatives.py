"""Negative (background) examples: dinucleotide shuffles and GC-matched genomic windows.

Two ways to make a negative class when the user has only positives:

* :func:`shuffled_negatives` — shuffled copies of the positive sequences that keep
  every dinucleotide count (:func:`dinucleotide_shuffle`, the Altschul–Erickson
  algorithm used by MEME's ``fasta-dinucleotide-shuffle`` and by DeepBind), so a model
  cannot separate the classes by composition alone and has to learn order.
* :func:`gc_matched_background` — random windows of the genome whose GC-content
  histogram matches the positives' (:func:`gc_content`), so GC bias is not a shortcut.

This module owns no file formats: the genome is any object with ``chrom_lengths`` and
``fetch`` (see :class:`GenomeLike`), and results are plain Python lists.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = [
    "GenomeLike",
    "dinucleotide_shuffle",
    "gc_content",
    "gc_matched_background",
    "shuffled_negatives",
]

#: Fraction of N (or other non-ACGTU letters) above which a background window is rejected.
MAX_N_FRACTION = 0.10

#: Background sampling reads nearby windows with one fetch when they are at most
#: _MERGE_GAP apart, and never reads more than about _MAX_SPAN bases at once.
_MERGE_GAP = 32_768
_MAX_SPAN = 1 << 20
#: Most positions drawn and measured at once.
_MAX_BATCH = 100_000

_IS_STRONG = np.zeros(256, dtype=np.uint8)
_IS_STRONG[list(b"GCgc")] = 1
_IS_ACGTU = np.zeros(256, dtype=np.uint8)
_IS_ACGTU[list(b"ACGTUacgtu")] = 1


class GenomeLike(Protocol):
    """What :func:`gc_matched_background` needs from a genome.

    Attributes:
        chrom_lengths: Chromosome name -> length in bases.
    """

    chrom_lengths: dict[str, int]

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Return the sequence of ``chrom`` in the 0-based half-open range [start, end)."""
        ...


def dinucleotide_shuffle(sequence: str, rng: np.random.Generator) -> str:
    """Shuffle a sequence while keeping its exact dinucleotide counts.

    The Altschul–Erickson (1985) algorithm: the sequence is an Eulerian path through
    the multigraph whose vertices are letters and whose edges are the overlapping
    pairs. A random spanning arborescence towards the last letter is drawn (Wilson's
    algorithm, with each vertex's out-edges weighted by multiplicity) and fixes every
    other vertex's last exit; all remaining out-edges are put in random order and the
    walk from the first letter is read off. Every sequence with the same first letter
    and dinucleotide counts is equally likely.

    Args:
        sequence: Any letters; compared case-insensitively (``"a"`` and ``"A"`` are
            the same vertex), so N and soft-masked lowercase work.
        rng: Source of randomness; the same generator state gives the same result.

    Returns:
        The shuffled sequence in upper case, with the same length, first letter, last
        letter and count of every overlapping pair as ``sequence.upper()``. Sequences
        of length 0–2 have only one such arrangement and are returned upper-cased.
    """
    upper = sequence.upper()
    n_edges = len(upper) - 1
    if n_edges < 2:
        return upper

    # Code points as integers so that the grouping below runs in numpy for any letter.
    codes = np.frombuffer(upper.encode("utf-32-le"), dtype="<u4").astype(np.int64)
    src = codes[:-1]
    # Sorting by (source, random key) groups the edges by source vertex and puts each
    # group in uniformly random order in one call.
    order = np.argsort(src * 2.0 + rng.random(n_edges), kind="stable")
    src_sorted = src[order]
    dst_sorted = codes[1:][order].tolist()
    bounds = np.flatnonzero(src_sorted[1:] != src_sorted[:-1]) + 1
    starts = [0, *bounds.tolist()]
    ends = [*bounds.tolist(), n_edges]
    vertices = src_sorted[starts].tolist()
    out_edges = {v: dst_sorted[s:e] for v, s, e in zip(vertices, starts, ends, strict=True)}

    last = int(codes[-1])
    last_exit = _random_arborescence(out_edges, last, rng)

    # Swap each vertex's tree edge into the last slot. The tree edge is a position
    # chosen independently of the random order, so the edges left in front are still
    # in uniformly random order (picking e.g. the first edge to the parent would not be).
    for vertex, i in last_exit.items():
        edges = out_edges[vertex]
        edges[i], edges[-1] = edges[-1], edges[i]

    # Walk the graph; the last-exit arborescence guarantees the walk uses every edge.
    iterators = {v: iter(edges) for v, edges in out_edges.items()}
    vertex = int(codes[0])
    walk = [vertex]
    append = walk.append
    for _ in range(n_edges):
        vertex = next(iterators[vertex])
        append(vertex)
    return np.asarray(walk, dtype="<u4").tobytes().decode("utf-32-le")


def _random_arborescence(
    out_edges: dict[int, list[int]], root: int, rng: np.random.Generator
) -> dict[int, int]:
    """Draw a random spanning arborescence towards ``root`` with Wilson's algorithm.

    Each step leaves a vertex by one of its out-edges chosen uniformly, so a tree's
    probability is proportional to the product of its edges' multiplicities — the same
    law as Altschul–Erickson's "pick a random last edge per vertex, reject non-trees".

    Args:
        out_edges: Vertex -> destinations of its out-edges (repeats = multiplicity).
        root: The vertex every tree path leads to (the sequence's last letter).
        rng: Source of randomness.

    Returns:
        Vertex -> index into ``out_edges[vertex]`` of its tree edge, for every vertex
        with out-edges other than ``root``.
    """
    in_tree = {root}
    choice: dict[int, int] = {}
    # Loop-erased random walks need an unknown number of draws; a small pre-drawn pool
    # avoids one generator call per step.
    pool = rng.random(4 * len(out_edges) + 8).tolist()
    used = 0
    for start in out_edges:
        vertex = start
        while vertex not in in_tree:
            if used == len(pool):
                pool = rng.random(len(pool)).tolist()
                used = 0
            edges = out_edges[vertex]
            # Overwriting the choice on a revisit erases the loop just walked.
            choice[vertex] = int(pool[used] * len(edges))
            used += 1
            vertex = edges[choice[vertex]]
        vertex = start
        while vertex not in in_tree:
            in_tree.add(vertex)
            vertex = out_edges[vertex][choice[vertex]]
    return {v: choice[v] for v in out_edges if v != root}


def shuffled_negatives(
    sequences: list[str], rng: np.random.Generator, per_sequence: float = 1.0
) -> tuple[list[str], list[int]]:
    """Make dinucleotide-shuffled copies of sequences as a negative class.

    ``round(per_sequence * len(sequences))`` copies are made (halves round up): every
    source gets ``floor`` of the average, and a random subset of distinct sources gets
    one more. So 0.5 shuffles a random half of the sources once, 2 shuffles every
    source twice, 2.5 shuffles every source twice and a random half a third time.

    Args:
        sequences: Source sequences (any letters, see :func:`dinucleotide_shuffle`).
        rng: Source of randomness for the subset choice and the shuffles.
        per_sequence: Average number of shuffled copies per source, >= 0.

    Returns:
        ``(shuffled, source_index)``: the shuffled sequences (upper case) and, for
        each, the index of its source in ``sequences``; sorted by source index.

    Raises:
        ValueError: If ``per_sequence`` is negative or not finite.
    """
    if not np.isfinite(per_sequence) or per_sequence < 0:
        raise ValueError(f"per_sequence must be a finite number >= 0, got {per_sequence!r}")
    n_sources = len(sequences)
    if n_sources == 0:
        return [], []
    total = int(np.floor(per_sequence * n_sources + 0.5))
    copies = np.full(n_sources, total // n_sources, dtype=np.int64)
    extra = rng.choice(n_sources, size=total % n_sources, replace=False)
    copies[extra] += 1
    source_index = np.repeat(np.arange(n_sources), copies).tolist()
    shuffled = [dinucleotide_shuffle(sequences[i], rng) for i in source_index]
    return shuffled, source_index


def gc_content(sequences: list[str]) -> np.ndarray:
    """GC fraction of each sequence, counting only A, C, G, T and U (any case).

    Args:
        sequences: Sequences; N and other letters are ignored.

    Returns:
        ``shape=(len(sequences),)``, float64: (G + C) / (A + C + G + T + U), or 0.0 for
        a sequence without any of those letters (e.g. all N).
    """
    gc = np.zeros(len(sequences), dtype=np.float64)
    for i, sequence in enumerate(sequences):
        upper = sequence.upper()
        strong = upper.count("G") + upper.count("C")
        total = strong + upper.count("A") + upper.count("T") + upper.count("U")
        if total:
            gc[i] = strong / total
    return gc


def gc_matched_background(
    genome: GenomeLike,
    n: int,
    window: int,
    target_gc: np.ndarray,
    rng: np.random.Generator,
    exclude: dict[str, list[tuple[int, int]]] | None = None,
    bins: int = 20,
    max_draws: int | None = None,
) -> list[tuple[str, int, int, str]]:
    """Draw random genomic windows whose GC-content histogram matches a target.

    ``target_gc`` is binned into ``bins`` equal-width GC bins on [0, 1] (as
    ``np.histogram(target_gc, bins, range=(0, 1))`` bins it) and scaled to ``n``
    windows (largest remainder, so each bin's quota is within one of its exact share
    and the quotas sum to ``n``). Window starts are drawn uniformly over all valid
    positions of the genome, i.e. chromosomes are chosen in proportion to
    ``length - window + 1``; chromosomes shorter than ``window`` are skipped. A drawn
    window is rejected if it overlaps an excluded interval, repeats an accepted window,
    has more than 10 % letters other than A/C/G/T/U, or falls into a full bin.

    Args:
        genome: Object with ``chrom_lengths`` and ``fetch(chrom, start, end)``.
        n: Number of windows wanted.
        window: Window length in bases, > 0.
        target_gc: ``shape=(m,)`` GC fractions in [0, 1] of the class to match,
            e.g. ``gc_content(positive_sequences)``.
        rng: Source of randomness.
        exclude: Chromosome -> list of 0-based half-open ``(start, end)`` intervals
            that no window may overlap (e.g. the positives themselves).
        bins: Number of GC bins.
        max_draws: Give up after this many drawn positions (default ``200 * n``).

    Returns:
        Up to ``n`` tuples ``(chrom, start, end, sequence)`` with 0-based half-open
        coordinates on the + strand and the sequence as ``genome.fetch`` returned it,
        in the order they were accepted. Fewer than ``n`` means the genome did not
        offer enough matching windows within ``max_draws``; the caller reports it.

    Raises:
        ValueError: If ``n``, ``window``, ``bins`` or ``max_draws`` is out of range,
            or ``target_gc`` is empty (with ``n > 0``) or has values outside [0, 1].
    """
    max_draws = 200 * n if max_draws is None else max_draws
    target = _background_target(n, window, bins, max_draws, target_gc)
    if n == 0:
        return []
    quota = _bin_quotas(_gc_bin(target, bins), bins, n)

    chroms = [c for c, length in genome.chrom_lengths.items() if length >= window]
    if not chroms:
        return []
    n_starts = np.array([genome.chrom_lengths[c] - window + 1 for c in chroms], dtype=np.int64)
    chrom_p = n_starts / n_starts.sum()
    blocked = {c: _IntervalIndex(exclude.get(c, [])) for c in chroms} if exclude else {}

    accepted: list[tuple[str, int, int, str]] = []
    seen: set[tuple[int, int]] = set()
    remaining = int(quota.sum())
    draws = 0
    while remaining and draws < max_draws:
        # Draw and measure positions in vectorised batches, never more than max_draws.
        batch = min(max(4 * remaining, 1024), _MAX_BATCH, max_draws - draws)
        draws += batch
        chrom_idx = rng.choice(len(chroms), size=batch, p=chrom_p)
        starts = np.floor(rng.random(batch) * n_starts[chrom_idx]).astype(np.int64)
        strong, acgtu = _window_counts(genome, chroms, chrom_idx, starts, window)
        usable = window - acgtu <= MAX_N_FRACTION * window
        if blocked:
            for ci, chrom in enumerate(chroms):
                on_chrom = chrom_idx == ci
                usable[on_chrom] &= ~blocked[chrom].overlaps_many(
                    starts[on_chrom], starts[on_chrom] + window
                )
        gc_bin = _gc_bin(strong / np.maximum(acgtu, 1), bins)
        # Accept in draw order, not chromosome order, so no chromosome is favoured
        # when a bin fills up within a batch.
        for k in np.flatnonzero(usable & (quota[gc_bin] > 0)).tolist():
            b = gc_bin[k]
            key = (int(chrom_idx[k]), int(starts[k]))
            if quota[b] == 0 or key in seen:
                continue
            quota[b] -= 1
            remaining -= 1
            seen.add(key)
            chrom, start = chroms[key[0]], key[1]
            accepted.append(
                (chrom, start, start + window, genome.fetch(chrom, start, start + window))
            )
            if not remaining:
                break
    return accepted


def _background_target(
    n: int, window: int, bins: int, max_draws: int, target_gc: np.ndarray
) -> np.ndarray:
    """The GC fractions to match, flattened, after checking every argument of
    :func:`gc_matched_background` (see its ``Raises``)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if window <= 0:
        raise ValueError(f"window must be > 0, got {window}")
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    if max_draws < 0:
        raise ValueError(f"max_draws must be >= 0, got {max_draws}")
    target = np.asarray(target_gc, dtype=np.float64).ravel()
    if n and target.size == 0:
        raise ValueError("target_gc is empty: there is no GC distribution to match")
    if n and not np.all((target >= 0.0) & (target <= 1.0)):
        raise ValueError("target_gc must hold GC fractions in [0, 1]")
    return target


def _window_counts(
    genome: GenomeLike,
    chroms: list[str],
    chrom_idx: np.ndarray,
    starts: np.ndarray,
    window: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Count G/C and A/C/G/T/U letters in many windows with few ``fetch`` calls.

    Windows on the same chromosome that lie close together are read with one fetch
    (random windows of a small genome overlap a lot; BGZF decompresses a whole block
    per fetch anyway), and counted from cumulative sums.

    Args:
        genome: Object with ``fetch(chrom, start, end)``.
        chroms: Chromosome names indexed by ``chrom_idx``.
        chrom_idx: ``shape=(k,)`` chromosome index of each window.
        starts: ``shape=(k,)`` 0-based window starts.
        window: Window length.

    Returns:
        ``(strong, acgtu)``: int64 arrays of shape ``(k,)`` with the number of G/C and
        of A/C/G/T/U letters (any case) in each window.
    """
    strong = np.zeros(len(starts), dtype=np.int64)
    acgtu = np.zeros(len(starts), dtype=np.int64)
    if len(starts) == 0:
        return strong, acgtu
    order = np.lexsort((starts, chrom_idx))
    c, s = chrom_idx[order], starts[order]
    # A new fetch begins at a chromosome change, a gap wider than _MERGE_GAP, or a
    # _MAX_SPAN boundary (which caps the memory one fetch takes).
    new_group = np.ones(len(s), dtype=bool)
    new_group[1:] = (
        (c[1:] != c[:-1])
        | (s[1:] - s[:-1] > _MERGE_GAP)
        | (s[1:] // _MAX_SPAN != s[:-1] // _MAX_SPAN)
    )
    bounds = [*np.flatnonzero(new_group).tolist(), len(s)]
    for g0, g1 in zip(bounds[:-1], bounds[1:], strict=False):
        first, last = int(s[g0]), int(s[g1 - 1])
        text = genome.fetch(chroms[int(c[g0])], first, last + window)
        codes = np.frombuffer(text.encode("ascii", errors="replace"), dtype=np.uint8)
        cum_strong = np.concatenate(([0], np.cumsum(_IS_STRONG[codes], dtype=np.int64)))
        cum_acgtu = np.concatenate(([0], np.cumsum(_IS_ACGTU[codes], dtype=np.int64)))
        offsets = s[g0:g1] - first
        idx = order[g0:g1]
        strong[idx] = cum_strong[offsets + window] - cum_strong[offsets]
        acgtu[idx] = cum_acgtu[offsets + window] - cum_acgtu[offsets]
    return strong, acgtu


def _gc_bin(gc: np.ndarray, bins: int) -> np.ndarray:
    """Bin index of each GC fraction, exactly as ``np.histogram(gc, bins, range=(0, 1))``.

    Args:
        gc: GC fractions in [0, 1].
        bins: Number of equal-width bins.

    Returns:
        int64 bin indices; a value on an inner edge goes to the upper bin, 1.0 to the
        last. Comparing with the edges (not ``floor(gc * bins)``) keeps fractions such
        as 0.35 in the same bin ``np.histogram`` puts them in despite rounding.
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.minimum(np.searchsorted(edges, gc, side="right") - 1, bins - 1).astype(np.int64)


def _bin_quotas(bin_index: np.ndarray, bins: int, n: int) -> np.ndarray:
    """Scale a histogram to ``n`` items by largest remainder.

    Args:
        bin_index: ``shape=(m,)`` bin of each target item.
        bins: Number of bins.
        n: Total the quotas must sum to.

    Returns:
        ``shape=(bins,)`` int64 quotas summing to ``n``, each within one of its exact
        share ``n * count / m``; equal to the counts when ``n == m``.
    """
    counts = np.bincount(bin_index, minlength=bins)
    exact = counts * n / counts.sum()
    quota = np.floor(exact).astype(np.int64)
    short = n - int(quota.sum())
    # Ties go to the lower bin (stable sort) so the result does not depend on the rng.
    by_remainder = np.argsort(-(exact - quota), kind="stable")
    quota[by_remainder[:short]] += 1
    return quota


class _IntervalIndex:
    """Half-open intervals of one chromosome, answering overlap queries in O(log k)."""

    def __init__(self, intervals: list[tuple[int, int]]) -> None:
        """Index the intervals.

        Args:
            intervals: 0-based half-open ``(start, end)`` pairs; empty ones are ignored.
        """
        pairs = np.array([(s, e) for s, e in intervals if e > s], dtype=np.int64).reshape(-1, 2)
        order = np.argsort(pairs[:, 0], kind="stable")
        self._starts = pairs[order, 0]
        # Running maximum of ends: among all intervals starting before a point, the
        # furthest any of them reaches.
        self._max_end = np.maximum.accumulate(pairs[order, 1]) if len(pairs) else pairs[:, 1]

    def overlaps(self, start: int, end: int) -> bool:
        """Whether [start, end) shares at least one base with any indexed interval."""
        return bool(self.overlaps_many(np.array([start]), np.array([end]))[0])

    def overlaps_many(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`overlaps`.

        Args:
            starts: ``shape=(k,)`` query starts.
            ends: ``shape=(k,)`` query ends (half-open).

        Returns:
            ``shape=(k,)`` bool, True where the query overlaps an indexed interval.
        """
        # Intervals starting before the query's end; the furthest of them must reach
        # past the query's start.
        k = np.searchsorted(self._starts, ends, side="left")
        if len(self._starts) == 0:
            return np.zeros(len(k), dtype=bool)
        reach = self._max_end[np.maximum(k - 1, 0)]
        return (k > 0) & (reach > starts)
