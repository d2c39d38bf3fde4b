"""Window placement, chromosome-end fitting, FASTA cutting/padding, alphabet codes."""

import numpy as np

from gennie.dataset.windows import fit_sequence, fit_to_chromosomes, place_windows
from gennie.encode.alphabet import base_codes, decode, first_invalid, one_hot, reverse_complement


def test_centered_windows_exact():
    # interval [100, 120) len 20, window 10 → start 105; len 21 → 105 (extra base right)
    starts = place_windows(np.array([100, 100, 100]), np.array([120, 121, 104]), 10, "center")
    assert starts.tolist() == [105, 105, 97]


def test_random_windows_cover_or_lie_inside():
    rng = np.random.default_rng(0)
    s = np.full(1000, 100)
    short = place_windows(s, s + 4, 10, "random", rng)  # window must cover [100, 104)
    assert short.min() == 94 and short.max() == 100
    long = place_windows(s, s + 30, 10, "random", rng)  # window must lie inside [100, 130)
    assert long.min() == 100 and long.max() == 120


def test_fit_to_chromosomes_shifts_and_drops():
    fitted = fit_to_chromosomes(np.array([-5, 995, 10, 3]), np.array([1000, 1000, 1000, 8]), 10)
    assert fitted.starts[:3].tolist() == [0, 990, 10]
    assert fitted.keep.tolist() == [True, True, True, False]
    assert fitted.shifted.tolist() == [True, True, False, False]
    assert fitted.short_chromosome.tolist() == [False, False, False, True]
    assert not fitted.past_end.any()


def test_fit_to_chromosomes_drops_intervals_past_the_chromosome_end():
    # chromosome of 100: [120, 130) and [100, 110) lie past its end; [95, 105) crosses
    # it and [100, 100) is empty at the very end (both kept, shifted inside); the last one
    # is on a chromosome shorter than the window (short, not past the end).
    interval_starts = np.array([120, 100, 95, 100, 50])
    interval_ends = np.array([130, 110, 105, 100, 60])
    starts = place_windows(interval_starts, interval_ends, 10, "center")
    fitted = fit_to_chromosomes(
        starts, np.array([100, 100, 100, 100, 8]), 10, interval_starts, interval_ends
    )
    assert fitted.past_end.tolist() == [True, True, False, False, False]
    assert fitted.short_chromosome.tolist() == [False, False, False, False, True]
    assert fitted.keep.tolist() == [False, False, True, True, False]
    assert fitted.starts[2:4].tolist() == [90, 90]
    assert fitted.shifted.tolist() == [False, False, True, True, False]


def test_fit_sequence_cut_and_pad():
    assert fit_sequence("AACCGGTT", 4, "center") == ("CCGG", 0)
    assert fit_sequence("AACCGGTTA", 4, "center") == ("CCGG", 0)
    assert fit_sequence("ACG", 6, "center") == ("NACGNN", 3)
    seq, added = fit_sequence("AACCGGTT", 4, "random", np.random.default_rng(1))
    assert added == 0 and seq in "AACCGGTT"


def test_base_codes_and_one_hot():
    codes = base_codes("ACGTUNRacgtu")
    assert codes.tolist() == [0, 1, 2, 3, 3, 4, 4, 0, 1, 2, 3, 3]
    assert first_invalid("ACGT-A") == 4
    assert first_invalid("ACGTN") is None
    x = one_hot(base_codes("ACN").reshape(1, 3), "zero")
    assert x.shape == (1, 4, 3)
    assert x[0].T.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    assert one_hot(base_codes("N").reshape(1, 1), "uniform")[0, :, 0].tolist() == [0.25] * 4
    assert decode(base_codes("ACGUN"), "rna") == "ACGUN"


def test_reverse_complement_keeps_case_and_iupac():
    assert reverse_complement("AACGTn") == "nACGTT"
    assert reverse_complement("ACGU") == "ACGT"
    assert reverse_complement("RY") == "RY"
