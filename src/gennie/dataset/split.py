"""Class-size reduction and train/validation/test/blackbox splits.

Both are random and seeded, and both really shuffle: ENNGene shuffled a copy and so
split chromosome-sorted tables into blocks; here the permutation is applied to the
indices that are used.
"""

from __future__ import annotations

import numpy as np

from gennie.config import SPLITS

UNASSIGNED = 255
"""Split code of samples on chromosomes listed in no split (they are dropped)."""


def reduced_size(n: int, amount: float) -> int:
    """Samples kept from ``n`` for a reduction ``amount`` (count >= 1, or ratio < 1)."""
    if amount < 1:
        return max(1, int(round(n * amount))) if n else 0
    return min(n, int(amount))


def reduce_indices(n: int, amount: float | None, rng: np.random.Generator) -> np.ndarray:
    """A random subset of ``range(n)`` of the reduced size, in ascending order.

    Args:
        n: Number of samples of the class.
        amount: Count (>= 1) or ratio (< 1); None keeps all.
        rng: Random generator (seeded by the caller).

    Returns:
        shape=(m,), int64 sorted indices.
    """
    if amount is None:
        return np.arange(n, dtype=np.int64)
    keep = reduced_size(n, amount)
    return np.sort(rng.choice(n, size=keep, replace=False)).astype(np.int64)


def split_counts(n: int, ratios: tuple[float, ...]) -> list[int]:
    """Split ``n`` samples by ratios with the largest-remainder method (sums to ``n``)."""
    total = float(sum(ratios))
    exact = [n * r / total for r in ratios]
    counts = [int(np.floor(e)) for e in exact]
    remainders = sorted(range(len(ratios)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in remainders[: n - sum(counts)]:
        counts[i] += 1
    return counts


def random_split(n: int, ratios: tuple[float, ...], rng: np.random.Generator) -> np.ndarray:
    """Assign ``n`` samples of one class to splits at random (stratify by calling per class).

    Returns:
        shape=(n,), uint8 split codes (indices into :data:`~gennie.config.SPLITS`).
    """
    counts = split_counts(n, ratios)
    codes = np.repeat(np.arange(len(ratios), dtype=np.uint8), counts)
    return codes[rng.permutation(n)]


def chromosome_split(chroms: np.ndarray, chromosomes: dict[str, list[str]]) -> np.ndarray:
    """Assign samples to splits by their chromosome.

    Args:
        chroms: shape=(n,), chromosome name of each sample.
        chromosomes: Chromosome list per split name.

    Returns:
        shape=(n,), uint8 split codes; :data:`UNASSIGNED` for unlisted chromosomes.
    """
    codes = np.full(len(chroms), UNASSIGNED, dtype=np.uint8)
    chroms = np.asarray(chroms, dtype=object)
    for split, names in chromosomes.items():
        codes[np.isin(chroms, list(names))] = SPLITS.index(split)
    return codes
