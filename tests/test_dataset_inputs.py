"""Tests for gennie.dataset.inputs: new data mapped to model inputs with a model's spec."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gennie.dataset.inputs import InputMapper, identity_columns, model_preprocessing, spec_encoders
from gennie.dataset.spec import PreprocessingSpec
from gennie.encode.conservation import ConservationEncoder
from gennie.errors import UserError
from gennie.io.files import md5sum
from gennie.model.bundle import BundleSpec

CHR1 = "AACCGGTTACGTACGTAAAA"
SEQ = {"channels": 4, "dtype": "uint8", "unknown_bases": "zero"}
BED = "chr1\t4\t8\ta\t0\t+\nchr1\t4\t8\tb\t0\t-\nchr1\t0\t2\tc\t0\t+\nchrM\t0\t3\td\t0\t+\n"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """gennie's cache folder (checksums, indexes of recorded genomes) for the test."""
    monkeypatch.setenv("GENNIE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def genome(tmp_path: Path) -> Path:
    path = tmp_path / "genome.fa"
    path.write_text(f">chr1\n{CHR1}\n>chrM\nACG\n")
    return path


@pytest.fixture
def bed(tmp_path: Path) -> Path:
    path = tmp_path / "input.bed"
    path.write_text(BED)
    return path


@pytest.fixture
def track(tmp_path: Path) -> Path:
    """chr1: the value of each base is its 0-based position."""
    path = tmp_path / "track.wig"
    path.write_text("fixedStep chrom=chr1 start=1 step=1\n" + "".join(f"{i}\n" for i in range(20)))
    return path


def _spec(genome: Path | None = None, **branches: dict) -> PreprocessingSpec:
    references = {"genome": {"file": str(genome), "md5": md5sum(genome)}} if genome else {}
    return PreprocessingSpec(window=6, branches=branches or {"seq": SEQ}, references=references)


def _cons(*tracks: Path | str) -> dict:
    return ConservationEncoder(tracks=[str(t) for t in tracks]).description()


def test_bed_windows_with_the_training_genome(genome, bed):
    with InputMapper(_spec(genome)) as mapper:
        assert mapper.genome == genome
        inputs = mapper.from_file(bed)
    assert inputs.table["name"].tolist() == ["a", "b", "c"]
    assert inputs.table["start"].tolist() == [3, 3, 0]
    assert inputs.table["shifted"].tolist() == [0, 0, 1]
    assert np.asarray(inputs.arrays["seq"]).tolist() == [
        [1, 2, 2, 3, 3, 0],  # CGGTTA
        [3, 0, 0, 1, 1, 2],  # TAACCG, the minus strand
        [0, 0, 1, 1, 2, 2],  # AACCGG, moved inside the chromosome
    ]
    assert inputs.dropped["name"].tolist() == ["d"]  # chrM is shorter than the window
    (one_hot,) = inputs.inputs(np.array([2]))
    assert one_hot.shape == (1, 4, 6)
    assert one_hot[0].argmax(axis=0).tolist() == [0, 0, 1, 1, 2, 2]


def test_bed_identity_columns(genome, bed):
    with InputMapper(_spec(), genome=genome) as mapper:
        identity = identity_columns(mapper.from_file(bed))
    assert identity.to_dict("list") == {
        "line": [1, 2, 3],
        "chrom": ["chr1", "chr1", "chr1"],
        "start": [4, 4, 0],
        "end": [8, 8, 2],
        "name": ["a", "b", "c"],
        "strand": ["+", "-", "+"],
        "window_start": [3, 3, 0],
        "window_end": [9, 9, 6],
    }


def test_unstranded_spec_ignores_the_strand(genome, bed):
    spec = _spec(genome).model_copy(update={"strand": False})
    with InputMapper(spec) as mapper:
        codes = np.asarray(mapper.from_file(bed).arrays["seq"])
    assert codes[1].tolist() == [1, 2, 2, 3, 3, 0]


def test_fasta_records_are_cut_or_padded(tmp_path):
    fasta = tmp_path / "input.fa"
    fasta.write_text(">r1\nACGTACGTAC\n>r2\nACG\n")
    with InputMapper(_spec()) as mapper:
        inputs = mapper.from_file(fasta)
    assert np.asarray(inputs.arrays["seq"]).tolist() == [[2, 3, 0, 1, 2, 3], [4, 0, 1, 2, 4, 4]]
    assert identity_columns(inputs).to_dict("list") == {
        "record": [1, 2],
        "header": ["r1", "r2"],
        "padded": [0, 3],
    }


def test_typed_sequences(tmp_path):
    with InputMapper(_spec()) as mapper:
        inputs = mapper.from_sequences(["ACGTACGTAC", "acg"])
    assert np.asarray(inputs.arrays["seq"]).tolist() == [[2, 3, 0, 1, 2, 3], [4, 0, 1, 2, 4, 4]]
    assert identity_columns(inputs).to_dict("list") == {
        "number": [1, 2],
        "sequence": ["ACGTACGTAC", "acg"],
    }


def test_sequence_files_are_read_as_typed_sequences(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("# two\nACGTAC\nGGGGGG\n")
    with InputMapper(_spec()) as mapper:
        inputs = mapper.from_file(listing)
    assert inputs.table["source_file"].tolist() == [str(listing)] * 2
    assert np.asarray(inputs.arrays["seq"])[1].tolist() == [2] * 6


def test_input_errors(tmp_path, bed):
    with InputMapper(_spec()) as mapper:
        with pytest.raises(UserError) as caught:
            mapper.from_sequences(["ACGT", "ACGX"])
        assert caught.value.message == (
            "sequence 2: letter 'X' at position 4 is not a nucleotide or IUPAC code"
        )
        with pytest.raises(UserError, match="no sequences given"):
            mapper.from_sequences([])
        with pytest.raises(UserError) as caught:
            mapper.from_file(bed)
        assert (caught.value.message, caught.value.field) == (
            "BED input needs a reference genome",
            "genome",
        )
        with pytest.raises(UserError, match="input file not found"):
            mapper.from_file(tmp_path / "absent.bed")


def test_track_branch_reads_the_given_track(genome, bed, track):
    spec = _spec(genome, seq=SEQ, cons=_cons("elsewhere/track.wig"))
    with InputMapper(spec, conservation=[track]) as mapper:
        values = np.asarray(mapper.from_file(bed).arrays["cons"])
    assert values.shape == (3, 1, 6)
    assert values[:, 0].tolist() == [
        [3, 4, 5, 6, 7, 8],
        [8, 7, 6, 5, 4, 3],  # reversed with the reverse-complemented sequence
        [0, 1, 2, 3, 4, 5],
    ]


def test_track_branch_errors(tmp_path, genome, bed, track):
    spec = _spec(genome, cons=_cons(tmp_path / "gone.wig"))
    with InputMapper(spec) as mapper:
        with pytest.raises(UserError, match="gone.wig is not there") as caught:
            mapper.from_file(bed)
        assert caught.value.field == "conservation"
        with pytest.raises(UserError) as caught:
            mapper.from_sequences(["ACGTAC"])
        assert caught.value.message == (
            "the model's 'cons' branch needs genomic coordinates, which typed sequences do not have"
        )
    fasta = tmp_path / "input.fa"
    fasta.write_text(">r1\nACGTAC\n")
    with InputMapper(spec, conservation=[track, track]) as mapper:
        with pytest.raises(UserError, match="which FASTA input does not have"):
            mapper.from_file(fasta)
        with pytest.raises(UserError, match="has 1 track channel.* but 2 track"):
            mapper.from_file(bed)


def test_model_spec_gives_the_input_order():
    spec = _spec(seq=SEQ, cons=_cons("a.wig"))
    bundle = BundleSpec(
        classes=["x", "y"],
        branches=["cons", "seq"],
        inputs={"cons": {"channels": 1, "length": 6}, "seq": {"channels": 4, "length": 6}},
        architecture={},
        preprocessing=spec,
    )
    assert list(model_preprocessing(bundle).branches) == ["cons", "seq"]
    assert model_preprocessing(spec) is spec
    assert list(spec_encoders(bundle)) == ["cons", "seq"]
    with InputMapper(bundle) as mapper:
        assert list(mapper.encoders) == ["cons", "seq"]
        assert mapper.genome is None
