"""Tests for gennie.dataset.spec: the typed preprocessing spec and dataset metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from gennie.dataset.spec import (
    FORMAT_VERSION,
    BranchSpec,
    CacheStats,
    ClassCounts,
    DatasetMetadata,
    FileReference,
    PreprocessingSpec,
    References,
    read_metadata,
)
from gennie.encode.conservation import ConservationEncoder
from gennie.encode.sequence import SequenceEncoder
from gennie.errors import UserError

SEQ = {"channels": 4, "dtype": "uint8", "unknown_bases": "uniform"}
CONS = {"channels": 2, "dtype": "float32", "tracks": ["a.bw", "b.bw"], "strand": True}


def _metadata(**changes: object) -> dict:
    """A complete metadata.json as preprocess writes it."""
    data = {
        "format_version": FORMAT_VERSION,
        "gennie_version": "0.1.0",
        "classes": ["pos", "neg"],
        "window": 8,
        "alphabet": "rna",
        "strand": False,
        "placement": "random",
        "unknown_bases": "uniform",
        "seed": 3,
        "branches": {"seq": SEQ, "cons": CONS},
        "samples": 4,
        "splits": {"train": 2, "validation": 1, "test": 1, "blackbox": 0},
        "counts": {
            "pos": {"records": 2, "after_reduction": 2, "padded_bases": 5, "cons": {"values": 16}},
            "neg": {"records": 2, "after_reduction": 2},
        },
        "references": {
            "classes": {"pos": {"file": "pos.fa", "md5": "p", "format": "fasta"}},
            "genome": None,
            "conservation": [{"file": "a.bw", "md5": "a"}, {"file": "b.bw", "md5": "b"}],
        },
        "cache": {"hits": 1, "misses": 1, "genome_read": False, "folded": 7},
    }
    data.update(changes)
    return data


def test_branch_spec_keeps_the_encoder_parameters_apart():
    branch = BranchSpec.model_validate(CONS)
    assert (branch.channels, branch.dtype) == (2, "float32")
    assert branch.params == {"tracks": ["a.bw", "b.bw"], "strand": True}
    assert branch.model_dump() == CONS


def test_branch_spec_of_an_encoder_rebuilds_it():
    branch = BranchSpec.of(SequenceEncoder(unknown_bases="uniform"))
    assert branch.model_dump() == SEQ
    encoder = branch.encoder("seq")
    assert isinstance(encoder, SequenceEncoder) and encoder.unknown_bases == "uniform"
    cons = BranchSpec.model_validate(CONS).encoder("cons")
    assert isinstance(cons, ConservationEncoder) and cons.channels == 2


def test_branch_spec_of_an_uninstalled_branch_is_a_user_error():
    with pytest.raises(UserError, match="'gc' branch is not available"):
        BranchSpec(channels=1, dtype="float32").encoder("gc")


def test_spec_defaults_are_those_of_old_custom_specs():
    spec = PreprocessingSpec(window=10)
    assert spec.model_dump() == {
        "window": 10,
        "alphabet": "dna",
        "strand": True,
        "placement": "center",
        "unknown_bases": "zero",
        "seed": 0,
        "branches": {},
        "references": {"classes": {}, "genome": None},
        "dataset": None,
    }
    assert spec.genome_file is None


def test_spec_refuses_unknown_fields_and_values():
    with pytest.raises(ValidationError, match="windw"):
        PreprocessingSpec.model_validate({"window": 10, "windw": 3})
    with pytest.raises(ValidationError, match="placement"):
        PreprocessingSpec(window=10, placement="left")


def test_for_branches_keeps_the_given_order():
    spec = PreprocessingSpec(window=8, branches={"seq": SEQ, "cons": CONS})
    assert list(spec.for_branches(["cons", "seq"]).branches) == ["cons", "seq"]
    assert list(spec.for_branches(["cons"]).branches) == ["cons"]
    assert list(spec.branches) == ["seq", "cons"]  # unchanged
    with pytest.raises(UserError) as caught:
        spec.for_branches(["seq", "fold"])
    assert caught.value.message == "no record of the branch(es) fold (recorded: seq, cons)"


def test_encoders_in_branch_order():
    spec = PreprocessingSpec(window=8, branches={"cons": CONS, "seq": SEQ})
    encoders = spec.encoders()
    assert list(encoders) == ["cons", "seq"]
    assert encoders["cons"].params["tracks"] == ["a.bw", "b.bw"]


def test_genome_file_and_transitional_get():
    spec = PreprocessingSpec(
        window=8, alphabet="rna", references={"genome": {"file": "g.fa", "md5": None}}
    )
    assert spec.genome_file == Path("g.fa")
    assert spec.get("alphabet", "dna") == "rna"
    assert spec.get("nothing", 5) == 5


def test_references_type_the_encoders_files():
    references = References.model_validate(_metadata()["references"])
    assert references.classes["pos"].format == "fasta"
    assert references.model_extra == {
        "conservation": [FileReference(file="a.bw", md5="a"), FileReference(file="b.bw", md5="b")]
    }
    with pytest.raises(ValidationError):
        References.model_validate({"conservation": "a.bw"})


def test_counts_and_cache_stats():
    counts = ClassCounts.model_validate({"records": 3, "padded_bases": 5})
    assert counts.model_dump() == {
        "records": 3,
        "dropped_short_chromosome": 0,
        "shifted_at_chromosome_end": 0,
        "padded": 0,
        "after_reduction": 0,
        "splits": {},
        "padded_bases": 5,
    }
    stats = CacheStats.model_validate({"hits": 2, "misses": 0, "genome_read": False})
    assert stats.model_dump() == {"hits": 2, "misses": 0, "genome_read": False}
    with pytest.raises(ValidationError):
        CacheStats.model_validate({"folded": "many"})


def test_metadata_round_trip(tmp_path):
    metadata = DatasetMetadata.model_validate(_metadata())
    metadata.write(tmp_path / "metadata.json")
    written = json.loads((tmp_path / "metadata.json").read_text())
    assert list(written)[:4] == ["format_version", "gennie_version", "classes", "window"]
    assert written == json.loads(json.dumps(metadata.model_dump(mode="json")))
    assert written["cache"] == {"hits": 1, "misses": 1, "genome_read": False, "folded": 7}
    assert written["counts"]["pos"]["cons"] == {"values": 16}
    assert read_metadata(tmp_path / "metadata.json") == metadata


def test_metadata_spec():
    spec = DatasetMetadata.model_validate(_metadata()).spec(Path("data/set"))
    assert spec.dataset == "data/set"
    assert (spec.window, spec.alphabet, spec.strand, spec.placement, spec.seed) == (
        8,
        "rna",
        False,
        "random",
        3,
    )
    assert spec.branches["cons"].params == {"tracks": ["a.bw", "b.bw"], "strand": True}
    assert spec.references.model_extra["conservation"][1].md5 == "b"


def test_read_metadata_errors(tmp_path):
    path = tmp_path / "metadata.json"
    with pytest.raises(UserError, match="file not found") as caught:
        read_metadata(path, field="blackbox")
    assert caught.value.field == "blackbox"
    path.write_text("{")
    with pytest.raises(UserError, match="cannot read the dataset metadata"):
        read_metadata(path)
    path.write_text(json.dumps(_metadata(format_version=99)))
    with pytest.raises(UserError, match="incompatible gennie version"):
        read_metadata(path)
    path.write_text(json.dumps(_metadata(window="wide", samples=None)))
    with pytest.raises(UserError) as caught:
        read_metadata(path)
    assert caught.value.message.startswith(
        "the dataset metadata is damaged (window: Input should be a valid integer"
    )
    assert "; samples: Input should be a valid integer" in caught.value.message
