"""Reduction and splits: exact counts, real shuffling, seeding, chromosome splits."""

import numpy as np

from gennie.dataset.split import (
    UNASSIGNED,
    chromosome_split,
    random_split,
    reduce_indices,
    reduced_size,
    split_counts,
)


def test_split_counts_largest_remainder():
    assert split_counts(10, (7, 1, 1, 1)) == [7, 1, 1, 1]
    assert split_counts(11, (7, 1, 1, 1)) == [8, 1, 1, 1]
    assert split_counts(3, (8, 1, 1, 0)) == [3, 0, 0, 0]
    assert split_counts(100, (8, 1, 1)) == [80, 10, 10]
    assert sum(split_counts(12345, (7, 1.5, 1, 0.5))) == 12345


def test_random_split_is_shuffled_not_blocks():
    codes = random_split(1000, (7, 1, 1, 1), np.random.default_rng(0))
    assert np.bincount(codes).tolist() == [700, 100, 100, 100]
    # ENNGene's defect: blocks of a sorted table. Test samples must be spread out.
    test_positions = np.flatnonzero(codes == 2)
    assert test_positions.min() < 100 and test_positions.max() > 900
    assert np.diff(test_positions).max() < 100


def test_random_split_seeded():
    a = random_split(50, (7, 1, 1, 1), np.random.default_rng([42, 2, 0]))
    b = random_split(50, (7, 1, 1, 1), np.random.default_rng([42, 2, 0]))
    c = random_split(50, (7, 1, 1, 1), np.random.default_rng([43, 2, 0]))
    assert (a == b).all() and not (a == c).all()


def test_reduction_count_and_ratio():
    assert reduced_size(100, 0.5) == 50
    assert reduced_size(100, 30) == 30
    assert reduced_size(10, 5000) == 10
    idx = reduce_indices(100, 30, np.random.default_rng(0))
    assert idx.size == 30 and (np.diff(idx) > 0).all()
    assert idx.max() > 50  # a random subset, not the first 30
    assert reduce_indices(5, None, np.random.default_rng(0)).tolist() == [0, 1, 2, 3, 4]


def test_chromosome_split():
    codes = chromosome_split(
        np.array(["chr1", "chr2", "chr3", "chrX", "chr1"]),
        {"train": ["chr1"], "validation": ["chr2"], "test": ["chr3"]},
    )
    assert codes.tolist() == [0, 1, 2, UNASSIGNED, 0]
