"""Tests for gennie.encode.structure: the fold branch (ViennaRNA MFE structures)."""

from __future__ import annotations

import random
import signal

import numpy as np
import pytest

import gennie.encode.structure as structure
from gennie.encode import WindowBatch, make_encoder
from gennie.encode.structure import (
    FoldEncoder,
    fold_sequences,
    structure_codes,
    structure_input,
)

HAIRPIN = "GGGGAAAACCCC"


def test_known_hairpin_folds_to_its_dot_bracket():
    # DNA letters are read as RNA; lower case too.
    assert fold_sequences([HAIRPIN, "ggggttttcccc", "AAAA"]) == [
        "((((....))))",
        "((((....))))",
        "....",
    ]


def test_codes_and_three_channel_input_are_exact():
    codes = structure_codes(["((((....))))", "(((.....)))."], [HAIRPIN, HAIRPIN])
    assert codes.dtype == np.uint8
    assert codes.tolist() == [
        [0, 0, 0, 0, 2, 2, 2, 2, 1, 1, 1, 1],
        [0, 0, 0, 2, 2, 2, 2, 2, 1, 1, 1, 2],
    ]
    x = structure_input(codes[:1])
    assert x.shape == (1, 3, 12) and x.dtype == np.float32
    assert x[0, 0].tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]  # paired-left
    assert x[0, 1].tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]  # paired-right
    assert x[0, 2].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]  # unpaired


def test_unknown_bases_get_code_3_and_a_zero_vector():
    codes = structure_codes(["(.)."], ["GNCA"])
    assert codes.tolist() == [[0, 3, 1, 2]]
    assert structure_input(codes)[0, :, 1].tolist() == [0, 0, 0]


def test_encoder_folds_windows(tmp_path):
    encoder = make_encoder("fold", jobs=1)
    assert isinstance(encoder, FoldEncoder) and encoder.channels == 3
    stored = encoder.encode(WindowBatch(sequences=[HAIRPIN, "GGGGTTTTCCCN"]))
    assert stored.tolist()[0] == [0, 0, 0, 0, 2, 2, 2, 2, 1, 1, 1, 1]
    assert stored[1, -1] == 3  # the N
    assert encoder.to_input(stored).shape == (2, 3, 12)
    assert encoder.description()["temperature"] == 37.0
    assert "jobs" not in encoder.params  # the number of processes does not change results


def _random_sequences(n: int, length: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice("ACGU") for _ in range(length)) for _ in range(n)]


def test_parallel_folding_matches_one_process():
    sequences = _random_sequences(96, 40, 1)
    one = make_encoder("fold", jobs=1).encode(WindowBatch(sequences=sequences))
    two = make_encoder("fold", jobs=2).encode(WindowBatch(sequences=sequences))
    assert np.array_equal(one, two)
    assert np.array_equal(one, structure_codes(fold_sequences(sequences), sequences))


def test_folding_processes_restore_signals_inherited_ignored(signals_ignored):
    # The pool's exit ends its processes with SIGTERM: ignored, the exit would hang.
    pool = structure.fold_pool(2)
    try:
        action = pool.apply(signal.getsignal, (signal.SIGTERM,))
        blocked = pool.apply(signal.pthread_sigmask, (signal.SIG_BLOCK, []))
    finally:
        pool.close()
        pool.join()
    assert action == signal.SIG_DFL
    assert not blocked


def test_fold_cache_skips_folding(tmp_path, monkeypatch):
    sequences = _random_sequences(20, 30, 2) + [HAIRPIN * 2 + "A" * 6]
    first = make_encoder("fold", jobs=1)
    first.attach_cache(tmp_path)
    expected = first.encode(WindowBatch(sequences=sequences))
    assert first.folded == len(sequences) and first.cache_hits == 0

    def no_folding(*args, **kwargs):
        raise AssertionError("folded although the structures are cached")

    monkeypatch.setattr(structure, "fold_sequences", no_folding)
    second = make_encoder("fold", jobs=1)
    second.attach_cache(tmp_path)
    assert np.array_equal(second.encode(WindowBatch(sequences=sequences)), expected)
    assert second.folded == 0 and second.cache_hits == len(sequences)

    # Another temperature is another key: folding is needed (and here impossible).
    hot = make_encoder("fold", jobs=1, temperature=60)
    hot.attach_cache(tmp_path)
    with pytest.raises(AssertionError, match="folded although"):
        hot.encode(WindowBatch(sequences=sequences))


def test_temperature_changes_structure_and_cache_identity():
    cold, hot = make_encoder("fold", temperature=37), make_encoder("fold", temperature=95)
    assert cold.cache_identity() != hot.cache_identity()
    assert fold_sequences([HAIRPIN], temperature=95) == ["............"]


def test_fold_cache_runs_in_wal_mode_for_concurrent_runs(tmp_path):
    cache = structure.FoldCache(tmp_path / "fold.sqlite", {"temperature": 37.0})
    try:
        assert cache._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cache._db.execute("PRAGMA busy_timeout").fetchone()[0] == 300_000
        other = structure.FoldCache(tmp_path / "fold.sqlite", {"temperature": 37.0})
        cache.put_many([(cache.key("ACGU"), "....")])
        assert other.get_many([cache.key("ACGU")]) == {cache.key("ACGU"): "...."}
        other.close()
    finally:
        cache.close()


def test_an_interrupted_folding_keeps_what_it_folded(tmp_path, monkeypatch):
    sequences = _random_sequences(100, 20, 5)
    calls = []
    real_fold = structure.fold_sequences

    def fold_then_stop(part, temperature=37.0):
        calls.append(len(part))
        if len(calls) == 5:  # SIGTERM arrives while the 5th chunk of 16 folds
            raise KeyboardInterrupt
        return real_fold(part, temperature)

    monkeypatch.setattr(structure, "COMMIT_EVERY", 32)
    monkeypatch.setattr(structure, "fold_sequences", fold_then_stop)
    first = make_encoder("fold", jobs=1)
    first.attach_cache(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        first.encode(WindowBatch(sequences=sequences))
    assert first.folded == 64  # four chunks of 16 folded: two commits of 32
    monkeypatch.setattr(structure, "fold_sequences", real_fold)
    again = make_encoder("fold", jobs=1)
    again.attach_cache(tmp_path)
    codes = again.encode(WindowBatch(sequences=sequences))
    assert (again.cache_hits, again.folded) == (64, 36)  # only what was missing
    fresh = make_encoder("fold", jobs=1).encode(WindowBatch(sequences=sequences))
    assert np.array_equal(codes, fresh)


def test_folding_commits_chunks_as_it_goes(tmp_path, monkeypatch):
    sequences = _random_sequences(80, 20, 6)
    seen: list[int] = []
    real_put = structure.FoldCache.put_many

    def put_and_count(self, items):
        items = list(items)
        seen.append(len(items))
        real_put(self, items)

    monkeypatch.setattr(structure, "COMMIT_EVERY", 32)
    monkeypatch.setattr(structure.FoldCache, "put_many", put_and_count)
    encoder = make_encoder("fold", jobs=1)
    encoder.attach_cache(tmp_path)
    encoder.encode(WindowBatch(sequences=sequences))
    assert seen == [32, 32, 16]
