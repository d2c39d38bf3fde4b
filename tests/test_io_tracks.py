"""Tests for gennie.io.tracks on tiny hand-made WIG and bigWig files.

tests/test_conservation.py covers the common paths through the cons branch (format by
content for a bigWig, fixedStep and gzipped variableStep WIG; 0-based entries; span
and step; a malformed fixedStep line, a data line before any declaration, overlapping
variableStep entries; conversion cached and reused). This module covers the rest of
the module: every declaration and data-line error with its line, NaN values, long
sections read in blocks, writing and opening bigWig files, conversion naming and the
chromosome aliases.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

import gennie.io.tracks as tracks
from gennie.errors import UserError
from gennie.io.tracks import (
    bigwig_path,
    chrom_alias,
    open_bigwig,
    read_wig,
    track_format,
    write_bigwig,
)

HINT_DATA = "fixedStep data lines hold one number, variableStep lines 'position value'"
HINT_DECLARATION = "e.g. 'fixedStep chrom=chr1 start=1 step=1' or 'variableStep chrom=chr1'"
ENTRY = [("start", "i8"), ("end", "i8"), ("value", "f4")]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def error_of(call) -> dict:
    """The ``to_dict()`` of the UserError that ``call()`` raises."""
    with pytest.raises(UserError) as err:
        call()
    return err.value.to_dict()


def entries(*rows: tuple[int, int, float]) -> np.ndarray:
    return np.array(list(rows), dtype=ENTRY)


# --------------------------------------------------------------------------- track_format


@pytest.mark.parametrize(
    "magic", [b"\x26\xfc\x8f\x88", b"\x88\x8f\xfc\x26"], ids=["little-endian", "big-endian"]
)
def test_bigwig_is_told_by_its_magic_number_in_either_byte_order(tmp_path, magic):
    path = tmp_path / "track.wig"  # the name does not matter
    path.write_bytes(magic + b"\x00" * 60)
    assert track_format(path) == "bigwig"


def test_wig_after_header_lines_plain_and_gzipped(tmp_path):
    text = "track type=wiggle_0\nbrowser hide all\n# note\n\nvariableStep chrom=chr1\n1 2\n"
    assert track_format(write(tmp_path / "t.wig", text)) == "wig"
    packed = tmp_path / "t.wig.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    assert track_format(packed) == "wig"


@pytest.mark.parametrize("text", ["", "\n", "track type=wiggle_0\n# only headers\n"])
def test_a_track_without_data_lines_is_empty(tmp_path, text):
    path = write(tmp_path / "empty.wig", text)
    assert error_of(lambda: track_format(path, "conservation.1")) == {
        "error": "the track file is empty",
        "file": str(path),
        "line": None,
        "record": None,
        "field": "conservation.1",
        "hint": None,
    }


def test_a_bedgraph_is_not_a_track(tmp_path):
    path = write(tmp_path / "signal.bedGraph", "track type=bedGraph\nchr1\t0\t10\t1.5\n")
    assert error_of(lambda: track_format(path)) == {
        "error": "not a bigWig or WIG file: the first data line is not a fixedStep or "
        "variableStep declaration",
        "file": str(path),
        "line": 2,
        "record": None,
        "field": "conservation",
        "hint": "give a bigWig, or a WIG with fixedStep/variableStep sections "
        "(convert bedGraph with bedGraphToBigWig)",
    }


def test_a_broken_gzip_track(tmp_path):
    path = tmp_path / "broken.wig.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    error = error_of(lambda: track_format(path))
    assert error["error"].startswith(
        "the gzip-compressed file is truncated or damaged: the text breaks off in this line ("
    )
    assert (error["file"], error["line"], error["field"]) == (str(path), 1, "conservation")


# --------------------------------------------------------------------------- declarations


@pytest.mark.parametrize(
    ("declaration", "message", "hint"),
    [
        ("fixedStep chrom=chr1 start=1", "fixedStep line lacks step", HINT_DECLARATION),
        ("fixedStep step=1", "fixedStep line lacks chrom, start", HINT_DECLARATION),
        ("variableStep span=2", "variableStep line lacks chrom", HINT_DECLARATION),
        (
            "fixedStep chrom=chr1 start 1 step=1",
            "'start' in a fixedStep line is not key=value",
            None,
        ),
        (
            "fixedStep chrom=chr1 start=0 step=1",
            "start=0 must be a positive whole number (WIG is 1-based)",
            None,
        ),
        (
            "fixedStep chrom=chr1 start=1 step=-2",
            "step=-2 must be a positive whole number (WIG is 1-based)",
            None,
        ),
        (
            "variableStep chrom=chr1 span=x",
            "span=x must be a positive whole number (WIG is 1-based)",
            None,
        ),
    ],
    ids=[
        "no-step",
        "no-chrom-start",
        "no-chrom",
        "not-key-value",
        "start-0",
        "negative-step",
        "span-x",
    ],
)
def test_declaration_errors_name_their_line(tmp_path, declaration, message, hint):
    path = write(tmp_path / "bad.wig", f"track x\n{declaration}\n1\n")
    assert error_of(lambda: read_wig(path, "conservation.0")) == {
        "error": message,
        "file": str(path),
        "line": 2,
        "record": None,
        "field": "conservation.0",
        "hint": hint,
    }


# --------------------------------------------------------------------------- data lines


@pytest.mark.parametrize(
    ("data", "bad", "reason"),
    [
        ("1 2\n0 5\n", "0 5", "positions are 1-based and must be at least 1"),
        ("1 2\n2 x\n", "2 x", "could not convert string to float: 'x'"),
        ("1 2 3\n", "1 2 3", "variableStep data lines need a position and a value"),
    ],
    ids=["position-0", "value-x", "three-words"],
)
def test_malformed_variable_step_lines(tmp_path, data, bad, reason):
    path = write(tmp_path / "bad.wig", "# c\nvariableStep chrom=chr1\n" + data)
    line = 3 + data.count("\n") - 1
    assert error_of(lambda: read_wig(path)) == {
        "error": f"malformed variableStep data line '{bad}' ({reason})",
        "file": str(path),
        "line": line,
        "record": None,
        "field": "conservation",
        "hint": HINT_DATA,
    }


def test_a_variable_step_line_without_a_value(tmp_path):
    path = write(tmp_path / "bad.wig", "variableStep chrom=chr1\n1 2\n3\n4 1\n")
    error = error_of(lambda: read_wig(path))
    # The reason in brackets is NumPy's own words; the line and the text are ours.
    assert error["error"].startswith("malformed variableStep data line '3' (")
    assert (error["line"], error["hint"]) == (3, HINT_DATA)


def test_nan_values_are_left_out(tmp_path):
    path = write(tmp_path / "nan.wig", "fixedStep chrom=chr1 start=2 step=2\n1\nnan\n3\n")
    assert read_wig(path)["chr1"].tolist() == [(1, 2, 1.0), (5, 6, 3.0)]


def test_chromosomes_in_order_of_first_appearance_entries_sorted(tmp_path):
    path = write(
        tmp_path / "order.wig",
        "variableStep chrom=chrB\n9 1\n2 2\n"
        "fixedStep chrom=chrA start=5 step=1\n0.25\n"
        "variableStep chrom=chrB\n5 3\n",
    )
    result = read_wig(path)
    assert list(result) == ["chrB", "chrA"]
    assert result["chrB"].tolist() == [(1, 2, 2.0), (4, 5, 3.0), (8, 9, 1.0)]
    assert result["chrA"].tolist() == [(4, 5, 0.25)]
    assert result["chrA"].dtype == np.dtype(ENTRY)


def test_a_wig_with_declarations_only_has_no_entries(tmp_path):
    assert read_wig(write(tmp_path / "header.wig", "track x\n")) == {}
    assert read_wig(write(tmp_path / "bare.wig", "variableStep chrom=chr1\n")) == {}


def test_overlap_from_a_span_longer_than_the_step(tmp_path):
    path = write(tmp_path / "span.wig", "fixedStep chrom=chr1 start=1 step=1 span=2\n1\n2\n")
    assert error_of(lambda: read_wig(path)) == {
        "error": "entries overlap on chr1 at position 2 (1-based)",
        "file": str(path),
        "line": None,
        "record": None,
        "field": "conservation",
        "hint": "each base may have one value; check span= and repeated sections",
    }


def test_long_sections_are_read_in_blocks_that_go_on(tmp_path, monkeypatch):
    monkeypatch.setattr(tracks, "_LINES_PER_BLOCK", 2)
    path = write(
        tmp_path / "blocks.wig",
        "fixedStep chrom=chr1 start=3 step=2\n1\n2\n3\n4\n5\n"
        "variableStep chrom=chr2\n5 1\n1 2\n3 3\n",
    )
    result = read_wig(path)
    assert result["chr1"].tolist() == [
        (2, 3, 1.0),
        (4, 5, 2.0),
        (6, 7, 3.0),
        (8, 9, 4.0),
        (10, 11, 5.0),
    ]
    assert result["chr2"].tolist() == [(0, 1, 2.0), (2, 3, 3.0), (4, 5, 1.0)]


def test_a_malformed_line_in_a_later_block_keeps_its_line_number(tmp_path, monkeypatch):
    monkeypatch.setattr(tracks, "_LINES_PER_BLOCK", 2)
    path = write(tmp_path / "blocks.wig", "fixedStep chrom=chr1 start=1 step=1\n1\n2\n3\nx\n5\n")
    assert error_of(lambda: read_wig(path)) == {
        "error": "malformed fixedStep data line 'x' (could not convert string to float: 'x')",
        "file": str(path),
        "line": 5,
        "record": None,
        "field": "conservation",
        "hint": HINT_DATA,
    }


# --------------------------------------------------------------------------- bigWig


def test_write_then_open_a_bigwig(tmp_path):
    path = tmp_path / "out.bw"
    write_bigwig(
        path,
        {"chrA": entries((0, 2, 1.5), (5, 6, -1.0)), "chrB": entries((3, 4, 7.0))},
        max_zooms=0,
    )
    assert track_format(path) == "bigwig"
    handle = open_bigwig(path)
    try:
        # A chromosome's length is the end of its last entry.
        assert handle.chroms() == {"chrA": 6, "chrB": 4}
        assert handle.intervals("chrA") == ((0, 2, 1.5), (5, 6, -1.0))
        values = handle.values("chrA", 0, 6)
        assert values[:2] == [1.5, 1.5] and values[5] == -1.0
        assert all(np.isnan(values[2:5]))
    finally:
        handle.close()


def test_write_bigwig_in_several_calls_and_skips_empty_chromosomes(tmp_path, monkeypatch):
    monkeypatch.setattr(tracks, "_ENTRIES_PER_CALL", 2)
    path = tmp_path / "chunks.bw"
    rows = [(i, i + 1, float(i)) for i in range(5)]
    write_bigwig(path, {"chr1": entries(*rows), "chrEmpty": entries()}, max_zooms=0)
    handle = open_bigwig(path)
    try:
        assert handle.chroms() == {"chr1": 5}
        assert handle.intervals("chr1") == tuple(rows)
    finally:
        handle.close()


@pytest.mark.parametrize("name", ["track.wig", "absent.bw"], ids=["wig", "missing"])
def test_open_bigwig_of_something_else(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".wig"):
        write(path, "variableStep chrom=chr1\n1 2\n")
    assert error_of(lambda: open_bigwig(path, "conservation.2")) == {
        "error": "cannot open the track as bigWig",
        "file": str(path),
        "line": None,
        "record": None,
        "field": "conservation.2",
        "hint": None,
    }


# --------------------------------------------------------------------------- conversion


def test_a_wig_is_converted_under_its_checksum(tmp_path):
    wig = write(tmp_path / "t.wig", "variableStep chrom=chr1\n2 0.5\n4 1.5\n")
    cache = tmp_path / "cache"
    converted = bigwig_path(wig, cache, checksum=lambda _: "abc123")
    assert converted == cache / "abc123.bw"
    assert sorted(p.name for p in cache.iterdir()) == ["abc123.bw"]  # no partial file left
    handle = open_bigwig(converted)
    try:
        assert handle.chroms() == {"chr1": 4}
        assert handle.intervals("chr1") == ((1, 2, 0.5), (3, 4, 1.5))
    finally:
        handle.close()


def test_the_default_checksum_is_the_md5_of_the_wig(tmp_path):
    wig = tmp_path / "t.wig"
    wig.write_bytes(b"variableStep chrom=chr1\n1 1\n")
    converted = bigwig_path(wig, tmp_path / "cache")
    assert converted.name == f"{tracks.md5sum(wig)}.bw"


def test_a_wig_without_values_is_an_error(tmp_path):
    wig = write(tmp_path / "bare.wig", "track x\nfixedStep chrom=chr1 start=1 step=1\n")
    assert error_of(lambda: bigwig_path(wig, tmp_path / "cache", "conservation.0")) == {
        "error": "the WIG file holds no values",
        "file": str(wig),
        "line": None,
        "record": None,
        "field": "conservation.0",
        "hint": None,
    }


def test_a_wig_of_nan_values_only_is_an_error(tmp_path):
    wig = write(tmp_path / "nan.wig", "fixedStep chrom=chr1 start=1 step=1\nnan\nnan\n")
    assert error_of(lambda: bigwig_path(wig, tmp_path / "cache"))["error"] == (
        "the WIG file holds no values"
    )


# --------------------------------------------------------------------------- aliases


@pytest.mark.parametrize(
    ("chrom", "names", "alias"),
    [
        ("chr1", {"1", "2"}, "1"),
        ("1", {"chr1"}, "chr1"),
        ("chrX", {"X"}, "X"),
        ("chrM", {"MT"}, "MT"),
        ("MT", {"chrM"}, "chrM"),
        ("M", {"MT"}, "MT"),
        ("chrM", {"M"}, "M"),
        ("chr1", {"chr1"}, None),
        ("chr2", {"1", "chr1"}, None),
    ],
)
def test_chrom_alias(chrom, names, alias):
    assert chrom_alias(chrom, names) == alias
    assert chrom_alias(chrom, dict.fromkeys(names, 100)) == alias


@pytest.mark.parametrize("value", ["inf", "-inf", "1e999"])
def test_an_infinite_value_names_its_line(tmp_path, value):
    path = tmp_path / "inf.wig"
    path.write_text(f"fixedStep chrom=chr1 start=1 step=1\n0.5\n{value}\n")
    assert error_of(lambda: read_wig(path)) == {
        "error": f"value '{value}' is not a finite number",
        "file": str(path),
        "line": 3,
        "record": None,
        "field": "conservation",
        "hint": "write missing values as NaN or leave the positions out",
    }


def test_a_named_pipe_is_no_track(tmp_path):
    pipe = tmp_path / "track.bw"
    os.mkfifo(pipe)  # reading its magic bytes would block
    assert error_of(lambda: track_format(pipe, "conservation.0"))["error"] == (
        "this is a named pipe (FIFO), not a signal track"
    )
