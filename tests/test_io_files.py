"""Tests for gennie.io.files: gzip detection, opening text, format sniffing, required
files, checksums and fingerprints."""

from __future__ import annotations

import gzip
from pathlib import Path

import pysam
import pytest

import gennie.io.files as files
from gennie.errors import UserError
from gennie.io.files import (
    fingerprint,
    is_gzipped,
    md5sum,
    open_text,
    require_file,
    sniff_format,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def error_of(call) -> dict:
    """The ``to_dict()`` of the UserError that ``call()`` raises."""
    with pytest.raises(UserError) as err:
        call()
    return err.value.to_dict()


# --------------------------------------------------------------------------- gzip, text


def test_is_gzipped_reads_the_magic_bytes_not_the_name(tmp_path):
    plain = write(tmp_path / "plain.txt.gz", "ACGT\n")
    packed = tmp_path / "packed.txt"
    packed.write_bytes(gzip.compress(b"ACGT\n"))
    bgzipped = tmp_path / "bgzipped.fa.gz"
    pysam.tabix_compress(str(write(tmp_path / "source.fa", ">a\nACGT\n")), str(bgzipped))
    empty = write(tmp_path / "empty", "")
    assert [is_gzipped(p) for p in (plain, packed, bgzipped, empty)] == [False, True, True, False]


def test_open_text_plain_with_universal_newlines(tmp_path):
    path = tmp_path / "newlines.txt"
    path.write_bytes(b"a\r\nb\rc\n")
    with open_text(path) as handle:
        assert handle.read() == "a\nb\nc\n"


def test_open_text_gzip_with_universal_newlines(tmp_path):
    path = tmp_path / "newlines.txt.gz"
    path.write_bytes(gzip.compress(b"a\r\nb\n"))
    with open_text(path) as handle:
        assert handle.readlines() == ["a\n", "b\n"]


def test_open_text_refuses_bytes_that_are_not_utf8_with_their_line(tmp_path):
    plain = tmp_path / "latin1.txt"
    plain.write_bytes(b"ok\ncaf\xe9 au lait\n")
    packed = tmp_path / "latin1.txt.gz"
    packed.write_bytes(gzip.compress(b"ok\ncaf\xe9 au lait\n"))
    for path in (plain, packed):
        with open_text(path, "classes.a") as handle:
            assert error_of(handle.read) == {
                "error": "not UTF-8 text: byte \\xe9 in 'caf\\xe9 au lait'",
                "file": str(path),
                "line": 2,
                "record": None,
                "field": "classes.a",
                "hint": "save the file as UTF-8 (it may be Latin-1 or Windows-1252 text; "
                "e.g. iconv -f latin1 -t utf-8 FILE > NEW)",
            }


# --------------------------------------------------------------------------- sniff_format


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (">r1\nACGT\n", "fasta"),
        ("  >r1 with leading spaces\nACGT\n", "fasta"),
        ('track name="x"\nbrowser position chr1\n# note\n\n>r1\nAC\n', "fasta"),
        ("chr1\t10\t20\n", "bed"),
        ("chr1 10 20 name\n", "bed"),
        ("chr1\t-1\t20\n", "bed"),  # read_bed reports the negative start with its line
        ("track x\nchr1\t0\t5\tname\t0\t+\n", "bed"),
        ("ACGU\nACGT\n", "sequences"),
        ("# sequences\nacgtn\n", "sequences"),
    ],
    ids=[
        "fasta",
        "fasta-indented",
        "fasta-after-headers",
        "bed-tabs",
        "bed-spaces",
        "bed-negative-start",
        "bed-after-track",
        "sequences",
        "sequences-lower-case",
    ],
)
def test_sniff_format_from_the_first_data_line(tmp_path, text, expected):
    assert sniff_format(write(tmp_path / "input", text)) == expected


def test_sniff_format_of_gzipped_files(tmp_path):
    path = tmp_path / "input.gz"
    path.write_bytes(gzip.compress(b"# c\nchr1\t1\t2\n"))
    assert sniff_format(path) == "bed"
    path.write_bytes(gzip.compress(b">r\nAC\n"))
    assert sniff_format(path) == "fasta"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("ACGT NNNN\n", 1),
        ("chr1\t100\n", 1),
        ("ACG-T\n", 1),
        ("chr1\t1.5\t20\n", 1),
        ("# comment\n\ntrack x\nchr1\tstart\tend\n", 4),
    ],
    ids=["two-words", "two-columns", "dash", "fractional", "bed-header-row"],
)
def test_sniff_format_names_the_line_it_cannot_tell(tmp_path, text, line):
    path = write(tmp_path / "mystery.txt", text)
    assert error_of(lambda: sniff_format(path, field="classes.a")) == {
        "error": "cannot tell the format: not BED (chrom, start, end), FASTA ('>' headers) "
        "or one sequence per line",
        "file": str(path),
        "line": line,
        "record": None,
        "field": "classes.a",
        "hint": "give a BED, FASTA or sequence-per-line file",
    }


@pytest.mark.parametrize("text", ["", "\n  \n", "# only\ntrack x\nbrowser y\n"])
def test_sniff_format_of_a_file_without_data_lines(tmp_path, text):
    path = write(tmp_path / "empty.bed", text)
    assert error_of(lambda: sniff_format(path)) == {
        "error": "the file has no data lines",
        "file": str(path),
        "line": None,
        "record": None,
        "field": "input",
        "hint": None,
    }


def test_sniff_format_of_a_broken_gzip_file(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    error = error_of(lambda: sniff_format(path, field="input"))
    assert error["error"].startswith("the gzip-compressed file is truncated or damaged")
    assert (error["file"], error["line"], error["field"], error["hint"]) == (
        str(path),
        1,
        "input",
        "compress the file again (gzip or bgzip), or copy or download it again",
    )


def test_sniff_format_ignores_a_byte_order_mark(tmp_path):
    path = tmp_path / "bom.fa"
    path.write_bytes(b"\xef\xbb\xbf>r1\nACGT\n")
    assert sniff_format(path) == "fasta"


# --------------------------------------------------------------------------- require_file


def test_require_file_returns_the_path(tmp_path):
    path = write(tmp_path / "classes.fa", ">a\nAC\n")
    assert require_file(str(path), "classes.a") == path
    assert isinstance(require_file(str(path), "classes.a"), Path)


def test_require_file_without_a_path():
    assert error_of(lambda: require_file(None, "genome", "genome FASTA")) == {
        "error": "no genome FASTA given",
        "file": None,
        "line": None,
        "record": None,
        "field": "genome",
        "hint": "set genome",
    }


def test_require_file_of_a_folder(tmp_path):
    assert error_of(lambda: require_file(tmp_path, "genome", "genome FASTA")) == {
        "error": "this is a folder, not a genome FASTA",
        "file": str(tmp_path),
        "line": None,
        "record": None,
        "field": "genome",
        "hint": None,
    }


def test_require_file_of_a_missing_file(tmp_path):
    path = tmp_path / "no_such_file.fa"
    assert error_of(lambda: require_file(path, "classes.a", "class file")) == {
        "error": "class file not found",
        "file": str(path),
        "line": None,
        "record": None,
        "field": "classes.a",
        "hint": "check the path (relative paths are taken from the working folder)",
    }
    assert error_of(lambda: require_file(path, "input"))["error"] == "file not found"


def test_require_file_of_an_unreadable_file(tmp_path, monkeypatch):
    # Permissions do not stop root, so the refusal is simulated at open().
    path = write(tmp_path / "locked.fa", ">a\nAC\n")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files, "open", refuse, raising=False)
    assert error_of(lambda: require_file(path, "classes.a", "class file")) == {
        "error": "cannot read the class file (Permission denied)",
        "file": str(path),
        "line": None,
        "record": None,
        "field": "classes.a",
        "hint": None,
    }


# --------------------------------------------------------------------------- identity


def test_md5sum_in_any_chunk_size(tmp_path):
    path = tmp_path / "hello"
    path.write_bytes(b"hello")
    assert md5sum(path) == "5d41402abc4b2a76b9719d911017c592"
    assert md5sum(path, chunk=2) == "5d41402abc4b2a76b9719d911017c592"
    path.write_bytes(b"")
    assert md5sum(path) == "d41d8cd98f00b204e9800998ecf8427e"


def test_fingerprint_is_path_size_and_modification_time(tmp_path):
    path = tmp_path / "data.bed"
    path.write_bytes(b"chr1\t1\t2\n")
    stat = path.stat()
    assert fingerprint(path) == f"{path.resolve()}:9:{stat.st_mtime_ns}"
    path.write_bytes(b"chr1\t1\t20\n")
    assert fingerprint(path).rsplit(":", 2)[1] == "10"
