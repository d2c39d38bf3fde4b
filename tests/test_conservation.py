"""Tests for the cons branch: gennie.io.tracks (bigWig, WIG) and gennie.encode.conservation."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np
import pyBigWig
import pytest

import gennie.io.tracks as tracks
from gennie.encode import WindowBatch, make_encoder
from gennie.errors import UserError
from gennie.io.tracks import bigwig_path, read_wig, track_format

# The same per-base values in every format: chr1 bases 0..9 (0-based) hold 0.5 * (i + 1),
# bases 10..11 have no value, base 12 holds -2; chr2 base 3 holds 7.
CHR1 = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]

FIXED_WIG = (
    "track type=wiggle_0 name=test\n"
    "# a comment\n"
    "fixedStep chrom=chr1 start=1 step=1\n"
    + "".join(f"{v}\n" for v in CHR1)
    + "fixedStep chrom=chr1 start=13 step=1\n-2\n"
    "fixedStep chrom=chr2 start=4 step=1 span=1\n7\n"
)
VARIABLE_WIG = (
    "variableStep chrom=chr2\n4 7\n"
    "variableStep chrom=chr1\n" + "".join(f"{i + 1} {v}\n" for i, v in enumerate(CHR1)) + "13 -2\n"
)


def write_bigwig(path: Path, chrom_names: tuple[str, str] = ("chr1", "chr2")) -> Path:
    """A tiny bigWig with the values above (chr1 13 bp, chr2 4 bp)."""
    one, two = chrom_names
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([(one, 13), (two, 4)], maxZooms=0)
    bw.addEntries(one, 0, values=CHR1, span=1, step=1)
    bw.addEntries([one], [12], ends=[13], values=[-2.0])
    bw.addEntries([two], [3], ends=[4], values=[7.0])
    bw.close()
    return path


def encode(encoder, windows: list[tuple[str, int, int, str]]) -> np.ndarray:
    """Encode windows given as (chrom, start, end, strand)."""
    return encoder.encode(
        WindowBatch(
            sequences=["N" * (e - s) for _, s, e, _ in windows],
            chroms=[w[0] for w in windows],
            starts=np.array([w[1] for w in windows]),
            ends=np.array([w[2] for w in windows]),
            strands=[w[3] for w in windows],
        )
    )


@pytest.fixture
def track_files(tmp_path: Path) -> dict[str, Path]:
    fixed = tmp_path / "fixed.wig"
    fixed.write_text(FIXED_WIG)
    variable_gz = tmp_path / "variable.wig.gz"
    variable_gz.write_bytes(gzip.compress(VARIABLE_WIG.encode()))
    return {
        "bigwig": write_bigwig(tmp_path / "track.bw"),
        "fixed": fixed,
        "variable_gz": variable_gz,
    }


def test_formats_are_told_by_content(track_files, tmp_path):
    assert track_format(track_files["bigwig"]) == "bigwig"
    assert track_format(track_files["fixed"]) == "wig"
    assert track_format(track_files["variable_gz"]) == "wig"
    bed = tmp_path / "x.bed"
    bed.write_text("chr1\t0\t10\n")
    with pytest.raises(UserError, match="not a bigWig or WIG") as err:
        track_format(bed)
    assert err.value.line == 1


@pytest.mark.parametrize("name", ["fixed", "variable_gz"])
def test_wig_entries_are_0_based(track_files, name):
    entries = read_wig(track_files[name])
    assert sorted(entries) == ["chr1", "chr2"]
    chr1 = entries["chr1"]
    assert chr1["start"].tolist() == [*range(10), 12]
    assert chr1["end"].tolist() == [*range(1, 11), 13]
    assert chr1["value"].tolist() == [*CHR1, -2.0]
    assert entries["chr2"].tolist() == [(3, 4, 7.0)]


def test_wig_span_and_step(tmp_path):
    path = tmp_path / "span.wig"
    path.write_text(
        "fixedStep chrom=chrX start=11 step=10 span=5\n1\n2\nvariableStep chrom=chrY span=3\n2 9\n"
    )
    entries = read_wig(path)
    assert entries["chrX"].tolist() == [(10, 15, 1.0), (20, 25, 2.0)]
    assert entries["chrY"].tolist() == [(1, 4, 9.0)]


def test_malformed_wig_names_the_line(tmp_path):
    path = tmp_path / "bad.wig"
    path.write_text("fixedStep chrom=chr1 start=1 step=1\n1\n2\nabc\n")
    with pytest.raises(UserError, match="malformed fixedStep data line 'abc'") as err:
        read_wig(path)
    assert err.value.line == 4
    path.write_text("1.5\n")
    with pytest.raises(UserError, match="before any fixedStep"):
        read_wig(path)
    path.write_text("variableStep chrom=chr1\n3 1\n3 2\n")
    with pytest.raises(UserError, match="overlap on chr1 at position 3"):
        read_wig(path)


@pytest.mark.parametrize("name", ["bigwig", "fixed", "variable_gz"])
def test_values_on_both_strands_in_every_format(track_files, tmp_path, name):
    encoder = make_encoder("cons", tracks=[str(track_files[name])], strand=True)
    encoder.attach_cache(tmp_path / "cache")
    out = encode(
        encoder,
        [("chr1", 2, 6, "+"), ("chr1", 2, 6, "-"), ("chr1", 9, 13, "+"), ("chr2", 0, 4, "-")],
    )
    assert out.shape == (4, 1, 4) and out.dtype == np.float32
    assert out[:, 0].tolist() == [
        [1.5, 2.0, 2.5, 3.0],
        [3.0, 2.5, 2.0, 1.5],  # minus strand: reversed
        [5.0, 0.0, 0.0, -2.0],  # bases 10, 11 have no value
        [7.0, 0.0, 0.0, 0.0],
    ]
    assert encoder.counts["missing_values"] == 2 + 3


def test_missing_values_become_zero_and_are_counted(track_files, tmp_path):
    encoder = make_encoder("cons", tracks=[str(track_files["variable_gz"])], strand=True)
    encoder.attach_cache(tmp_path / "cache")
    out = encode(
        encoder,
        [("chr1", 8, 13, "+"), ("chr2", 1, 6, "-"), ("chr1", 0, 5, "+")],
    )
    assert out[0, 0].tolist() == [4.5, 5.0, 0.0, 0.0, -2.0]
    # chr2 bases 1..5: 1, 2 missing, 3 = 7, 4, 5 past the track's end; then reversed.
    assert out[1, 0].tolist() == [0.0, 0.0, 7.0, 0.0, 0.0]
    assert out[2, 0].tolist() == [0.5, 1.0, 1.5, 2.0, 2.5]
    assert encoder.counts == {"missing_values": 2 + 4, "windows_with_missing": 2, "values": 15}


def test_strand_ignored_keeps_order(track_files):
    encoder = make_encoder("cons", tracks=[str(track_files["bigwig"])], strand=False)
    assert encode(encoder, [("chr1", 2, 6, "-")])[0, 0].tolist() == [1.5, 2.0, 2.5, 3.0]


def test_several_tracks_are_channels(track_files, tmp_path):
    paths = [str(track_files["bigwig"]), str(track_files["fixed"])]
    encoder = make_encoder("cons", tracks=paths)
    encoder.attach_cache(tmp_path / "cache")
    assert encoder.channels == 2 and encoder.stored_shape(4) == (2, 4)
    out = encode(encoder, [("chr1", 0, 4, "+")])
    assert out.shape == (1, 2, 4)
    assert out[0].tolist() == [[0.5, 1.0, 1.5, 2.0]] * 2
    assert encoder.to_input(out).shape == (1, 2, 4)


def test_wig_is_converted_once_and_reused(track_files, tmp_path, monkeypatch):
    cache = tmp_path / "tracks"
    first = bigwig_path(track_files["variable_gz"], cache)
    assert first.parent == cache and first.suffix == ".bw"

    def no_parsing(*args, **kwargs):
        raise AssertionError("WIG parsed again")

    monkeypatch.setattr(tracks, "read_wig", no_parsing)
    assert bigwig_path(track_files["variable_gz"], cache) == first
    assert bigwig_path(track_files["bigwig"], cache) == track_files["bigwig"]


def test_chromosome_name_mismatch_is_explained(tmp_path):
    track = write_bigwig(tmp_path / "ensembl.bw", ("1", "2"))
    encoder = make_encoder("cons", tracks=[str(track)])
    with pytest.raises(UserError) as err:
        encode(encoder, [("chr1", 0, 4, "+")])
    text = str(err.value)
    assert "'chr1'" in text and "'1'" in text and "ensembl.bw" in text
    assert "chr" in err.value.hint and err.value.field == "conservation"


def test_unrelated_chromosomes_are_an_error(track_files):
    encoder = make_encoder("cons", tracks=[str(track_files["bigwig"])])
    with pytest.raises(UserError, match="none of the windows' chromosomes"):
        encode(encoder, [("scaffold_9", 0, 4, "+")])


def test_chromosome_missing_from_track_is_zero_and_warned(track_files, caplog):
    encoder = make_encoder("cons", tracks=[str(track_files["bigwig"])])
    with caplog.at_level(logging.WARNING, logger="gennie"):
        out = encode(encoder, [("chr1", 0, 2, "+"), ("chr9", 0, 2, "+")])
    assert out[:, 0].tolist() == [[0.5, 1.0], [0.0, 0.0]]
    assert encoder.counts["missing_values"] == 2
    assert "chr9" in caplog.text


def test_fasta_input_has_no_coordinates(track_files):
    encoder = make_encoder("cons", tracks=[str(track_files["bigwig"])])
    with pytest.raises(UserError, match="genomic coordinates"):
        encoder.encode(WindowBatch(sequences=["ACGT"]))


def test_cache_identity_uses_checksums_not_paths(track_files, tmp_path):
    copy = tmp_path / "copy.bw"
    copy.write_bytes(track_files["bigwig"].read_bytes())
    a = make_encoder("cons", tracks=[str(track_files["bigwig"])])
    b = make_encoder("cons", tracks=[str(copy)])
    assert a.cache_identity() == b.cache_identity()
    assert a.description()["track_md5"] == a.cache_identity()["tracks"]
