"""Tests for gennie.io.files: gzip detection, opening text, format sniffing, required
files, checksums and fingerprints."""

from __future__ import annotations

import bz2
import gzip
import os
import zlib
from pathlib import Path

import pysam
import pytest

import gennie.io.files as files
from gennie.errors import UserError
from gennie.io.files import (
    find_problem,
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


# --------------------------------------------------------------------------- not text


def test_require_file_refuses_pipes_and_devices(tmp_path):
    pipe = tmp_path / "pipe.bed"
    os.mkfifo(pipe)
    assert error_of(lambda: require_file(pipe, "classes.a", "class file")) == {
        "error": "this is a named pipe (FIFO), not a class file",
        "file": str(pipe),
        "line": None,
        "record": None,
        "field": "classes.a",
        "hint": "give a regular file (save the data into a file first)",
    }
    device = error_of(lambda: require_file(Path("/dev/zero"), "input", "input file"))
    assert (device["error"], device["field"]) == ("this is a device, not an input file", "input")


def test_open_text_refuses_a_pipe_before_reading_it(tmp_path):
    pipe = tmp_path / "pipe.fa"
    os.mkfifo(pipe)  # opening it for reading would block
    assert error_of(lambda: open_text(pipe, "input"))["error"] == (
        "this is a named pipe (FIFO), not a file"
    )


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_open_text_names_the_line_of_a_control_byte(tmp_path, compress):
    data = b"chr1\t1\t2\nchr1\t3\t4\nchr\x001\t5\t6\n"
    path = tmp_path / "nul.bed"
    path.write_bytes(gzip.compress(data) if compress else data)
    with open_text(path, "classes.a") as handle:
        assert error_of(lambda: list(handle)) == {
            "error": "the file looks binary, not text: byte \\x00 in this line",
            "file": str(path),
            "line": 3,
            "record": None,
            "field": "classes.a",
            "hint": "give a plain or gzip-compressed text file",
        }


def test_open_text_names_the_line_a_truncated_gzip_file_breaks_off_in(tmp_path):
    text = "".join(f"line {i}\n" for i in range(5000)).encode()
    packed = gzip.compress(text, mtime=0)
    cut = packed[: len(packed) // 2]
    whole_lines = zlib.decompressobj(wbits=31).decompress(cut).count(b"\n")
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(cut)
    with open_text(path, "input") as handle:
        error = error_of(handle.read)
    assert error["error"].startswith(
        "the gzip-compressed file is truncated or damaged: the text breaks off in this line ("
    )
    assert (error["line"], error["field"]) == (whole_lines + 1, "input")


def test_a_bad_byte_far_into_a_long_line_is_found(tmp_path):
    # Lines are checked a mebibyte at a time: the message quotes the piece it is in.
    path = tmp_path / "long.fa"
    path.write_bytes(b">r1\n" + b"A" * (3 << 20) + b"\xe9\n>r2\nAC\n")
    with open_text(path) as handle:
        error = error_of(lambda: list(handle))
    assert (error["line"], error["error"]) == (2, "not UTF-8 text: byte \\xe9 in '\\xe9'")


@pytest.mark.parametrize(
    ("data", "message", "hint"),
    [
        (
            bz2.compress(b"chr1\t1\t2\n"),
            "the file is bzip2-compressed; gennie reads plain or gzip-compressed text",
            "bunzip2 it, or gzip it instead",
        ),
        ("chr1\t1\t2\n".encode("utf-16"), "the file is UTF-16 text, not UTF-8", "save it as UTF-8"),
        (
            b"\x26\xfc\x8f\x88" + b"\x00" * 60,
            "this is a bigWig file, not text",
            "a bigWig is a signal track",
        ),
    ],
    ids=["bzip2", "utf-16", "bigwig"],
)
def test_open_text_names_files_of_other_kinds(tmp_path, data, message, hint):
    path = tmp_path / "classes.bed"
    path.write_bytes(data)
    with open_text(path, "classes.a") as handle:
        assert error_of(handle.read) == {
            "error": message,
            "file": str(path),
            "line": None,
            "record": None,
            "field": "classes.a",
            "hint": hint,
        }


def test_find_problem_of_a_good_file_is_none(tmp_path):
    path = write(tmp_path / "good.txt", "caf\u00e9\n\u00fcber\n")
    assert find_problem(path) is None
    with open_text(path) as handle:
        assert handle.read(3) == "caf"


def test_sniff_format_of_fastq(tmp_path):
    path = write(tmp_path / "reads.fa", "@r1\nACGT\n+\nIIII\n")
    assert error_of(lambda: sniff_format(path, field="input")) == {
        "error": "this looks like FASTQ (a '@' header line), not FASTA",
        "file": str(path),
        "line": 1,
        "record": None,
        "field": "input",
        "hint": "convert the reads to FASTA (e.g. seqtk seq -a FILE)",
    }
