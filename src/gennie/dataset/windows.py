"""Fixed-length windows from intervals and sequences.

Every sample has the same length (the window). Intervals are extended or trimmed using
the real neighbouring genome sequence, never padding; FASTA sequences (which have no
neighbours) are cut, or padded with N when shorter than the window.

Centering: a window of length W on an interval [start, end) of length L starts at
``start + floor((L - W) / 2)``; when L - W is odd the extra base goes to the right.
Random placement draws the start uniformly among all windows that cover the interval
(L <= W) or lie inside it (L > W).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def place_windows(
    starts: np.ndarray,
    ends: np.ndarray,
    window: int,
    placement: str,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Window start of each interval (before chromosome-end handling).

    Args:
        starts, ends: shape=(n,), int64, 0-based half-open interval coordinates.
        window: Window length.
        placement: ``center`` or ``random``.
        rng: Random generator for ``random`` placement.

    Returns:
        shape=(n,), int64 window starts (may be negative or run past the chromosome end).
    """
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(ends, dtype=np.int64) - starts
    if placement == "center":
        return starts + np.floor_divide(lengths - window, 2)
    if rng is None:
        raise ValueError("random placement needs a random generator")
    low = np.minimum(starts, starts + lengths - window)
    high = np.maximum(starts, starts + lengths - window)
    return rng.integers(low, high + 1)


@dataclass
class FittedWindows:
    """Windows after fitting them inside their chromosomes.

    Attributes:
        starts: shape=(n,), window starts (meaningful where ``keep`` is True).
        keep: shape=(n,), False where the window is dropped (either reason below).
        shifted: shape=(n,), True where a kept window was moved inside the chromosome.
        short_chromosome: shape=(n,), True where the chromosome is shorter than the
            window.
        past_end: shape=(n,), True where the interval lies wholly past the end of its
            chromosome (on a chromosome long enough for the window).
    """

    starts: np.ndarray
    keep: np.ndarray
    shifted: np.ndarray
    short_chromosome: np.ndarray
    past_end: np.ndarray


def fit_to_chromosomes(
    starts: np.ndarray,
    chrom_lengths: np.ndarray,
    window: int,
    interval_starts: np.ndarray | None = None,
    interval_ends: np.ndarray | None = None,
) -> FittedWindows:
    """Shift windows that cross a chromosome end inside it; drop those that cannot fit
    and those whose interval lies wholly past the chromosome's end (its coordinates
    belong to another assembly or are wrong: a window at the chromosome end would hold
    none of its bases).

    Args:
        starts: shape=(n,), window starts from :func:`place_windows`.
        chrom_lengths: shape=(n,), length of each window's chromosome.
        window: Window length.
        interval_starts, interval_ends: shape=(n,), the intervals the windows were
            placed on (0-based, half-open); without them no interval counts as past
            the end. An empty interval exactly at the end is not past it.
    """
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(chrom_lengths, dtype=np.int64)
    short = lengths < window
    past_end = np.zeros(starts.shape, dtype=bool)
    if interval_starts is not None and interval_ends is not None:
        first = np.asarray(interval_starts, dtype=np.int64)
        last = np.asarray(interval_ends, dtype=np.int64)
        past_end = ~short & (first >= lengths) & (last > lengths)
    keep = ~short & ~past_end
    fitted = np.clip(starts, 0, np.maximum(lengths - window, 0))
    shifted = keep & (fitted != starts)
    return FittedWindows(
        starts=fitted, keep=keep, shifted=shifted, short_chromosome=short, past_end=past_end
    )


def fit_sequence(
    sequence: str, window: int, placement: str, rng: np.random.Generator | None = None
) -> tuple[str, int]:
    """Cut a sequence to the window, or pad it with N on both sides.

    Cutting is centered (extra base on the right, as for intervals) or at a random
    offset; padding puts floor(missing/2) Ns on the left and the rest on the right.

    Returns:
        The window-length sequence and the number of N bases added.
    """
    length = len(sequence)
    if length >= window:
        if placement == "center":
            offset = (length - window) // 2
        else:
            if rng is None:
                raise ValueError("random placement needs a random generator")
            offset = int(rng.integers(0, length - window + 1))
        return sequence[offset : offset + window], 0
    missing = window - length
    left = missing // 2
    return "N" * left + sequence + "N" * (missing - left), missing
