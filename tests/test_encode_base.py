"""Tests for gennie.encode.base and gennie.encode.registry: the branch-encoder interface,
its defaults, the built-in encoders' answers to it, and the branch registry."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from gennie.config import ModelInputConfig, PreprocessConfig
from gennie.encode import BranchEncoder, WindowBatch, encoder_type, make_encoder
from gennie.encode.conservation import ConservationEncoder
from gennie.encode.registry import (
    BUILTIN,
    branch_names,
    encoder_class,
    register_branch,
    unregister_branch,
)
from gennie.encode.sequence import SequenceEncoder
from gennie.encode.structure import FoldEncoder
from gennie.errors import UserError


class Twice(BranchEncoder):
    """A toy branch that reads coordinates: one stored value per window (its length
    times ``factor``), one channel."""

    name: ClassVar[str] = "twice"
    channels = 1
    needs_coordinates: ClassVar[bool] = True

    def __init__(self, factor: int = 2, **_: object) -> None:
        super().__init__(factor=factor)
        self.factor = factor

    def encode(self, batch: WindowBatch) -> np.ndarray:
        return np.array([[len(s) * self.factor] for s in batch.sequences], dtype=np.uint8)

    def to_input(self, stored: np.ndarray) -> np.ndarray:
        return stored[:, None, :].astype(np.float32)


@pytest.fixture
def twice():
    register_branch(Twice)
    yield Twice
    unregister_branch("twice")


def _track(path: Path) -> Path:
    path.write_text("fixedStep chrom=chr1 start=1 step=1\n1\n2\n3\n")
    return path


# --------------------------------------------------------------------------- registry


def test_builtin_branches_come_first_in_order():
    assert branch_names()[:3] == ("seq", "fold", "cons")
    assert list(BUILTIN) == ["seq", "fold", "cons"]


def test_builtin_encoder_classes():
    assert encoder_class("seq") is SequenceEncoder
    assert encoder_class("fold") is FoldEncoder
    assert encoder_class("cons") is ConservationEncoder
    assert encoder_class("nothing") is None


def test_register_and_forget_a_branch(twice):
    assert branch_names()[-1] == "twice"
    assert encoder_class("twice") is Twice
    unregister_branch("twice")
    assert "twice" not in branch_names() and encoder_class("twice") is None


def test_register_refuses_builtin_and_odd_names():
    with pytest.raises(ValueError, match="'seq' is a built-in branch"):
        register_branch(Twice, "seq")
    with pytest.raises(ValueError, match="plain identifier"):
        register_branch(Twice, "g-c")


def test_unknown_branch_is_a_user_error_listing_the_known_ones():
    with pytest.raises(UserError) as caught:
        make_encoder("nothing")
    assert caught.value.field == "branches"
    assert caught.value.message == (
        "the 'nothing' branch is not available in this installation of gennie"
    )
    assert caught.value.hint.startswith("available branches: seq, fold, cons")
    with pytest.raises(UserError) as caught:
        encoder_type("nothing", field="custom_branches")
    assert caught.value.field == "custom_branches"


# --------------------------------------------------------------------------- defaults


def test_defaults_of_the_interface(twice):
    encoder = Twice(factor=3)
    assert encoder.description() == {"channels": 1, "dtype": "uint8", "factor": 3}
    assert encoder.references(lambda p: "md5") == {}
    assert encoder.cache_stats() == {}
    assert encoder.channel_letters("dna") is None
    assert encoder.cache_identity() == {"factor": 3}
    assert encoder.stored_shape(7) == (7,)
    assert encoder.resolve_references([Path("x")]) is None
    assert (Twice.option_fields, Twice.stores_base_codes) == ((), False)


def test_from_config_reads_the_branch_options(twice):
    config = PreprocessConfig(branches=["twice"], branch_options={"twice": {"factor": 5}})
    assert Twice.from_config(config).factor == 5
    assert Twice.from_config(PreprocessConfig(branches=["twice"])).factor == 2


def test_for_custom_model_uses_the_defaults(twice):
    encoder = Twice.for_custom_model(ModelInputConfig())
    assert encoder.params == {"factor": 2}


def test_from_description_drops_channels_and_dtype(twice):
    rebuilt = Twice.from_description({"channels": 1, "dtype": "uint8", "factor": 4})
    assert rebuilt.params == {"factor": 4}


def test_check_config_refuses_fasta_for_a_branch_that_reads_coordinates(twice):
    config = PreprocessConfig(branches=["twice"])
    assert Twice.check_config(config, {"a": "bed", "b": "bed"}) == []
    (problem,) = Twice.check_config(config, {"a": "bed", "b": "fasta", "c": "fasta"})
    assert problem.field == "branches"
    assert problem.message == (
        "the 'twice' branch needs genomic coordinates (BED input); FASTA classes (b, c) have none"
    )
    assert SequenceEncoder.check_config(config, {"b": "fasta"}) == []


# --------------------------------------------------------------------------- seq


def test_seq_answers():
    config = PreprocessConfig(unknown_bases="uniform")
    encoder = SequenceEncoder.from_config(config)
    assert encoder.params == {"unknown_bases": "uniform"}
    assert SequenceEncoder.option_fields == ("unknown_bases",)
    assert SequenceEncoder.stores_base_codes is True
    assert encoder.channel_letters("dna") == ["A", "C", "G", "T"]
    assert encoder.channel_letters("rna") == ["A", "C", "G", "U"]
    stored = encoder.encode(WindowBatch(sequences=["ACGN"]))
    assert stored.tolist() == [[0, 1, 2, 4]]
    expected = [
        [1.0, 0.0, 0.0, 0.25],
        [0.0, 1.0, 0.0, 0.25],
        [0.0, 0.0, 1.0, 0.25],
        [0.0, 0.0, 0.0, 0.25],
    ]
    assert encoder.to_input(stored).tolist() == [expected]


# --------------------------------------------------------------------------- fold


def test_fold_answers():
    config = PreprocessConfig(branches=["fold"], fold_temperature=50.0, jobs=2)
    encoder = FoldEncoder.from_config(config)
    assert (encoder.temperature, encoder.jobs) == (50.0, 2)
    assert FoldEncoder.option_fields == ("fold_temperature",)
    assert encoder.channel_letters("rna") == ["(", ")", "."]
    assert encoder.cache_stats() == {"folded": 0, "fold_cache_hits": 0}
    codes = encoder.encode(WindowBatch(sequences=["GGGGAAAACCCC", "GGGGAAAACCCC"]))
    assert codes.tolist() == [[0, 0, 0, 0, 2, 2, 2, 2, 1, 1, 1, 1]] * 2
    assert encoder.cache_stats() == {"folded": 1, "fold_cache_hits": 0}


def test_fold_from_config_with_jobs_zero_uses_every_core():
    encoder = FoldEncoder.from_config(PreprocessConfig(branches=["fold"], jobs=0))
    assert encoder.jobs >= 1


# --------------------------------------------------------------------------- cons


def test_cons_from_config_and_for_custom_model(tmp_path):
    tracks = [_track(tmp_path / "a.wig"), _track(tmp_path / "b.wig")]
    config = PreprocessConfig(branches=["cons"], conservation=tracks, strand=False)
    encoder = ConservationEncoder.from_config(config)
    assert encoder.params == {"tracks": [str(t) for t in tracks], "strand": False}
    assert encoder.channels == 2
    custom = ConservationEncoder.for_custom_model(ModelInputConfig(conservation=tracks[:1]))
    assert custom.params == {"tracks": [str(tracks[0])], "strand": True}
    assert custom.channels == 1
    assert ConservationEncoder.option_fields == ("conservation",)
    assert encoder.channel_letters("dna") is None


def test_cons_check_config_finds_every_problem(tmp_path):
    config = PreprocessConfig(branches=["cons"])
    problems = ConservationEncoder.check_config(config, {"a": "fasta"})
    assert [(p.field, p.message) for p in problems] == [
        (
            "branches",
            "the 'cons' branch needs genomic coordinates (BED input); FASTA classes (a) have none",
        ),
        ("conservation", "the cons branch needs at least one signal track"),
    ]
    (tmp_path / "bad.wig").write_text("chr1\t0\t10\t1.0\n")
    config = PreprocessConfig(
        branches=["cons"],
        conservation=[_track(tmp_path / "good.wig"), tmp_path / "absent.wig", tmp_path / "bad.wig"],
    )
    problems = ConservationEncoder.check_config(config, {"a": "bed"})
    assert [p.field for p in problems] == ["conservation.1", "conservation.2"]
    assert problems[0].message == "signal track not found"
    assert problems[1].line == 1


def test_cons_references_and_description(tmp_path):
    track = _track(tmp_path / "a.wig")
    encoder = ConservationEncoder(tracks=[str(track)], track_md5=["abc"])
    assert encoder.references(lambda path: f"md5 of {path.name}") == {
        "conservation": [{"file": str(track), "md5": "md5 of a.wig"}]
    }
    assert encoder.description() == {
        "channels": 1,
        "dtype": "float32",
        "tracks": [str(track)],
        "strand": True,
        "track_md5": ["abc"],
    }


def test_cons_resolve_references_uses_given_tracks(tmp_path):
    trained = ConservationEncoder(tracks=["gone/a.wig"], track_md5=["abc"])
    given = _track(tmp_path / "here.wig")
    trained.resolve_references([given])
    assert trained.tracks == [str(given)]
    assert trained.track_md5 == []  # the given file's checksum is taken anew


def test_cons_resolve_references_falls_back_to_the_training_tracks(tmp_path):
    track = _track(tmp_path / "a.wig")
    encoder = ConservationEncoder(tracks=[str(track)])
    encoder.resolve_references(None)
    assert encoder.tracks == [str(track)]


def test_cons_resolve_references_errors(tmp_path):
    encoder = ConservationEncoder(tracks=["gone/a.wig", "gone/b.wig"])
    with pytest.raises(UserError) as caught:
        encoder.resolve_references([_track(tmp_path / "one.wig")])
    assert caught.value.field == "conservation"
    assert caught.value.message == (
        "the model's cons branch has 2 track channel(s) (a.wig, b.wig) but 1 track(s) were given"
    )
    with pytest.raises(UserError) as caught:
        encoder.resolve_references(None)
    assert caught.value.message == (
        "the model's cons branch needs 2 signal track(s) (trained with a.wig, b.wig), and "
        "gone/a.wig is not there"
    )
    with pytest.raises(UserError, match="needs signal tracks, and none were given"):
        ConservationEncoder().resolve_references(None)
