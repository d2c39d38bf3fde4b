"""Tests for gennie.dataset.negatives: dinucleotide shuffles and GC-matched background."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from gennie.dataset.negatives import (
    _bin_quotas,
    _IntervalIndex,
    _window_counts,
    dinucleotide_shuffle,
    gc_content,
    gc_matched_background,
    shuffled_negatives,
)


def dinucleotides(sequence: str) -> Counter:
    """Count overlapping letter pairs."""
    return Counter(zip(sequence, sequence[1:], strict=False))


class FakeGenome:
    """In-memory genome with the interface gc_matched_background expects."""

    def __init__(self, chroms: dict[str, str]) -> None:
        self.sequences = chroms
        self.chrom_lengths = {name: len(seq) for name, seq in chroms.items()}
        self.fetched: list[tuple[str, int, int]] = []

    def fetch(self, chrom: str, start: int, end: int) -> str:
        assert 0 <= start < end <= self.chrom_lengths[chrom]
        self.fetched.append((chrom, start, end))
        return self.sequences[chrom][start:end]


def random_dna(rng: np.random.Generator, length: int, gc: float) -> str:
    """Random DNA with the given expected GC fraction."""
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    return "".join(rng.choice(list("ACGT"), size=length, p=p))


def gc_gradient_genome(seed: int = 0) -> FakeGenome:
    """Three chromosomes of 1-kb blocks with GC from 20 % to 80 %, plus a tiny and an N one."""
    rng = np.random.default_rng(seed)
    chroms = {}
    for name, n_blocks in [("chr1", 40), ("chr2", 30), ("chr3", 20)]:
        gcs = rng.uniform(0.2, 0.8, size=n_blocks)
        chroms[name] = "".join(random_dna(rng, 1000, gc) for gc in gcs)
    chroms["chrTiny"] = "GCGCGCGCGC"
    chroms["chrN"] = "N" * 5000
    return FakeGenome(chroms)


# --- dinucleotide_shuffle ---------------------------------------------------------


def test_shuffle_preserves_dinucleotides_and_ends_for_many_sequences():
    rng = np.random.default_rng(1)
    alphabet = list("ACGTNacgtn")
    for length in [3, 4, 5, 10, 50, 150, 301]:
        for _ in range(40):
            source = "".join(rng.choice(alphabet, size=length))
            shuffled = dinucleotide_shuffle(source, rng)
            upper = source.upper()
            assert len(shuffled) == length
            assert shuffled[0] == upper[0]
            assert shuffled[-1] == upper[-1]
            assert dinucleotides(shuffled) == dinucleotides(upper)


def test_shuffle_handles_rna_and_other_letters():
    rng = np.random.default_rng(2)
    source = "ggcuaUUAGCRYKMnnacgu"
    shuffled = dinucleotide_shuffle(source, rng)
    assert dinucleotides(shuffled) == dinucleotides(source.upper())
    assert shuffled == shuffled.upper()


def test_shuffle_fixed_points():
    rng = np.random.default_rng(0)
    assert dinucleotide_shuffle("", rng) == ""
    assert dinucleotide_shuffle("a", rng) == "A"
    assert dinucleotide_shuffle("gT", rng) == "GT"
    assert dinucleotide_shuffle("AAAA", rng) == "AAAA"
    # A path through distinct letters is the only Eulerian path of its graph.
    assert dinucleotide_shuffle("ACGT", rng) == "ACGT"
    assert dinucleotide_shuffle("acgtn", rng) == "ACGTN"


def test_shuffle_same_seed_same_output_different_seed_differs():
    source = "ACGTTGCAAGCTTAGCCGATATCGGCATTACGGATC" * 3
    first = dinucleotide_shuffle(source, np.random.default_rng(42))
    assert first == dinucleotide_shuffle(source, np.random.default_rng(42))
    others = {dinucleotide_shuffle(source, np.random.default_rng(seed)) for seed in range(10)}
    assert len(others) == 10


def test_shuffle_is_uniform_over_all_arrangements():
    # Exactly these 6 sequences share the first letter and dinucleotide counts of
    # the source (brute-force enumeration). Moving e.g. the *first* edge to the tree
    # parent into the last slot, instead of an independently chosen one, skews these
    # counts to between ~2200 and ~8900 of 30000.
    source = "ACGTACGTTACGA"
    arrangements = {
        "ACGACGTACGTTA",
        "ACGACGTTACGTA",
        "ACGTACGACGTTA",
        "ACGTACGTTACGA",
        "ACGTTACGACGTA",
        "ACGTTACGTACGA",
    }
    assert all(dinucleotides(s) == dinucleotides(source) for s in arrangements)
    rng = np.random.default_rng(7)
    counts = Counter(dinucleotide_shuffle(source, rng) for _ in range(30_000))
    assert set(counts) == arrangements
    # Expected 5000 each, standard deviation ~65.
    assert all(4700 < c < 5300 for c in counts.values())


# --- shuffled_negatives -----------------------------------------------------------


SOURCES = ["ACGTACGTAA", "GGGCCCATAT", "TTTTAAAACG", "CAGTCAGTCA", "ATATATGCGC", "GATTACAGAT"]


@pytest.mark.parametrize(
    ("per_sequence", "expected_total"),
    [(1.0, 6), (0.5, 3), (2, 12), (2.5, 15), (0.0, 0), (1 / 3, 2), (0.25, 2)],
)
def test_shuffled_negatives_counts(per_sequence, expected_total):
    shuffled, source = shuffled_negatives(SOURCES, np.random.default_rng(3), per_sequence)
    assert len(shuffled) == len(source) == expected_total
    assert source == sorted(source)
    per_source = Counter(source)
    whole = int(per_sequence)
    # Every source gets the whole part; the remainder goes to distinct sources.
    assert all(whole <= per_source.get(i, 0) <= whole + 1 for i in range(len(SOURCES)))
    for text, i in zip(shuffled, source, strict=True):
        assert dinucleotides(text) == dinucleotides(SOURCES[i])
        assert (text[0], text[-1]) == (SOURCES[i][0], SOURCES[i][-1])


def test_shuffled_negatives_half_picks_random_distinct_sources():
    picks = {
        tuple(shuffled_negatives(SOURCES, np.random.default_rng(seed), 0.5)[1])
        for seed in range(20)
    }
    assert all(len(set(p)) == 3 for p in picks)
    assert len(picks) > 1


def test_shuffled_negatives_reproducible_and_validates():
    a = shuffled_negatives(SOURCES, np.random.default_rng(9), 1.5)
    b = shuffled_negatives(SOURCES, np.random.default_rng(9), 1.5)
    assert a == b
    assert shuffled_negatives([], np.random.default_rng(0), 2.0) == ([], [])
    with pytest.raises(ValueError, match="per_sequence"):
        shuffled_negatives(SOURCES, np.random.default_rng(0), -1)


# --- gc_content -------------------------------------------------------------------


def test_gc_content_exact_values():
    gc = gc_content(["GGCC", "ATAT", "ACGN", "NNNN", "acgu", "", "gcAUNN"])
    np.testing.assert_array_equal(gc, [1.0, 0.0, 2 / 3, 0.0, 0.5, 0.0, 0.5])
    assert gc.dtype == np.float64
    assert gc_content([]).shape == (0,)


# --- helpers of gc_matched_background ---------------------------------------------


def test_bin_quotas_largest_remainder():
    # Counts 3, 0, 1 of 4 targets scaled to 6: exact shares 4.5, 0, 1.5 -> 5, 0, 1
    # (tie on the remainder goes to the lower bin).
    np.testing.assert_array_equal(_bin_quotas(np.array([0, 0, 0, 2]), 3, 6), [5, 0, 1])
    np.testing.assert_array_equal(_bin_quotas(np.array([0, 1, 1, 2]), 3, 4), [1, 2, 1])
    np.testing.assert_array_equal(_bin_quotas(np.array([0, 1, 2]), 3, 2), [1, 1, 0])


def test_interval_index_half_open_overlap():
    index = _IntervalIndex([(10, 20), (50, 60), (15, 40), (70, 70)])
    assert not index.overlaps(0, 10)  # touches 10 but [0, 10) ends before it
    assert index.overlaps(0, 11)
    assert index.overlaps(39, 45)  # inside (15, 40) although (10, 20) ended
    assert not index.overlaps(40, 50)
    assert not index.overlaps(60, 100)  # the empty (70, 70) blocks nothing
    assert not _IntervalIndex([]).overlaps(0, 100)
    np.testing.assert_array_equal(
        index.overlaps_many(np.array([0, 0, 39, 40, 60]), np.array([10, 11, 45, 50, 100])),
        [False, True, True, False, False],
    )


def test_window_counts_match_direct_counts_across_fetch_groups():
    rng = np.random.default_rng(12)
    chroms = {"a": random_dna(rng, 200_000, 0.4).lower(), "b": "ACGTN" * 100 + "GGUU" * 25}
    genome = FakeGenome(chroms)
    # Windows close together (one fetch), far apart (several) and on both chromosomes.
    chrom_idx = np.array([0, 0, 0, 0, 1, 1, 0])
    starts = np.array([10, 15, 120_000, 199_950, 0, 540, 10])
    strong, acgtu = _window_counts(genome, ["a", "b"], chrom_idx, starts, 50)
    for k, (ci, start) in enumerate(zip(chrom_idx, starts, strict=True)):
        text = chroms["ab"[ci]][start : start + 50].upper()
        assert strong[k] == text.count("G") + text.count("C")
        assert acgtu[k] == sum(text.count(x) for x in "ACGTU")
    assert acgtu[4] == 40 and strong[4] == 20  # "ACGTN" * 10
    assert acgtu[5] == 50 and strong[5] == 26  # inside the "GGUU" run
    assert len(genome.fetched) == 4


# --- gc_matched_background --------------------------------------------------------


def target_from_genome(genome: FakeGenome, n: int, window: int, seed: int) -> np.ndarray:
    """GC fractions of n random windows of chr1, as a stand-in for a positive class."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, genome.chrom_lengths["chr1"] - window, size=n)
    return gc_content([genome.sequences["chr1"][s : s + window] for s in starts])


def test_background_matches_gc_histogram_exactly_when_n_equals_target():
    genome = gc_gradient_genome()
    target = target_from_genome(genome, 200, 100, seed=5)
    windows = gc_matched_background(genome, 200, 100, target, np.random.default_rng(0))
    assert len(windows) == 200
    got = np.histogram(gc_content([w[3] for w in windows]), bins=20, range=(0, 1))[0]
    want = np.histogram(target, bins=20, range=(0, 1))[0]
    np.testing.assert_array_equal(got, want)


def test_background_scaled_histogram_within_one_per_bin():
    genome = gc_gradient_genome()
    target = target_from_genome(genome, 300, 80, seed=6)
    windows = gc_matched_background(genome, 130, 80, target, np.random.default_rng(1), bins=10)
    assert len(windows) == 130
    got = np.histogram(gc_content([w[3] for w in windows]), bins=10, range=(0, 1))[0]
    want = np.histogram(target, bins=10, range=(0, 1))[0] * 130 / 300
    assert np.all(np.abs(got - want) < 1)


def test_background_windows_are_valid_and_avoid_excluded_intervals():
    genome = gc_gradient_genome()
    exclude = {
        "chr1": [(0, 15_000), (20_000, 20_500), (30_000, 39_990)],
        "chr2": [(5_000, 25_000)],
        "chrUnknown": [(0, 10)],
    }
    target = target_from_genome(genome, 150, 120, seed=7)
    windows = gc_matched_background(
        genome, 150, 120, target, np.random.default_rng(2), exclude=exclude
    )
    assert len(windows) == 150
    assert len({(c, s) for c, s, _, _ in windows}) == 150
    for chrom, start, end, sequence in windows:
        assert chrom in {"chr1", "chr2", "chr3"}  # chrTiny < window, chrN all N
        assert end - start == 120 == len(sequence)
        assert 0 <= start and end <= genome.chrom_lengths[chrom]
        assert sequence == genome.sequences[chrom][start:end]
        for ex_start, ex_end in exclude.get(chrom, []):
            assert end <= ex_start or start >= ex_end


def test_background_rejects_windows_with_more_than_ten_percent_n():
    # Every 20-bp window of chrA holds exactly 2 N (10 %, allowed); of chrB, 3 N.
    genome = FakeGenome({"chrA": "ACGTACGGACCTACGTAANN" * 50, "chrB": "ACGTACGTACGTACGTANNN" * 50})
    starts = np.random.default_rng(4).integers(0, 980, size=40)
    target = gc_content([genome.sequences["chrA"][s : s + 20] for s in starts])
    windows = gc_matched_background(genome, 40, 20, target, np.random.default_rng(0))
    assert len(windows) == 40
    assert {w[0] for w in windows} == {"chrA"}
    assert all(w[3].count("N") == 2 for w in windows)


def test_background_shortfall_and_max_draws():
    genome = gc_gradient_genome()
    # Nothing in the genome has 100 % GC over 200 bp: every draw is rejected.
    assert gc_matched_background(genome, 10, 200, np.ones(10), np.random.default_rng(0)) == []
    # Each draw yields at most one window, so max_draws caps the result.
    target = target_from_genome(genome, 50, 100, seed=9)
    capped = gc_matched_background(genome, 50, 100, target, np.random.default_rng(0), max_draws=7)
    assert 0 < len(capped) <= 7
    assert (
        gc_matched_background(genome, 50, 100, target, np.random.default_rng(0), max_draws=0) == []
    )
    only_n = FakeGenome({"chrN": "N" * 1000, "chrS": "ACGT"})
    assert gc_matched_background(only_n, 5, 100, np.full(5, 0.4), np.random.default_rng(0)) == []


def test_background_is_reproducible():
    genome = gc_gradient_genome()
    target = target_from_genome(genome, 50, 100, seed=8)
    a = gc_matched_background(genome, 50, 100, target, np.random.default_rng(11))
    b = gc_matched_background(genome, 50, 100, target, np.random.default_rng(11))
    assert a == b


def test_background_validates_arguments():
    genome = gc_gradient_genome()
    rng = np.random.default_rng(0)
    assert gc_matched_background(genome, 0, 100, np.array([]), rng) == []
    with pytest.raises(ValueError, match="empty"):
        gc_matched_background(genome, 5, 100, np.array([]), rng)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        gc_matched_background(genome, 5, 100, np.array([0.5, 1.5]), rng)
    with pytest.raises(ValueError, match="window"):
        gc_matched_background(genome, 5, 0, np.array([0.5]), rng)
