"""Tests for gennie.io.bed: reading BED intervals and their errors, on tiny hand-made files."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import pytest

from gennie.errors import UserError
from gennie.io.bed import BED_COLUMNS, count_bed, read_bed


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def error_of(call) -> dict:
    """The ``to_dict()`` of the UserError that ``call()`` raises."""
    with pytest.raises(UserError) as err:
        call()
    return err.value.to_dict()


# --------------------------------------------------------------------------- reading


def test_bed3_gets_a_name_from_its_coordinates_and_no_score_or_strand(tmp_path):
    bed = write(tmp_path / "three.bed", "chr1\t10\t30\nchr2\t0\t5\nchrX\t7\t7\n")
    table = read_bed(bed)
    assert list(table.columns) == BED_COLUMNS
    assert table.to_dict("list") == {
        "chrom": ["chr1", "chr2", "chrX"],
        "start": [10, 0, 7],
        "end": [30, 5, 7],
        "name": ["chr1:10-30", "chr2:0-5", "chrX:7-7"],
        "score": [".", ".", "."],
        "strand": [".", ".", "."],
        "line": [1, 2, 3],
    }
    assert table["start"].dtype == np.int64 and table["end"].dtype == np.int64


def test_bed6_columns_and_extra_columns(tmp_path):
    # A narrowPeak line (10 columns): columns 7-10 are ignored.
    bed = write(
        tmp_path / "six.bed",
        "chr1\t100\t250\tpeak1\t960\t+\n"
        "chr2\t5\t9\tpeak2\t0\t-\t3.1\t-1\t0.5\t12\n"
        "chr3\t1\t2\tpeak3\t.\t.\n",
    )
    assert read_bed(bed).to_dict("list") == {
        "chrom": ["chr1", "chr2", "chr3"],
        "start": [100, 5, 1],
        "end": [250, 9, 2],
        "name": ["peak1", "peak2", "peak3"],
        "score": ["960", "0", "."],
        "strand": ["+", "-", "."],
        "line": [1, 2, 3],
    }


def test_bed4_and_bed5_have_no_strand(tmp_path):
    bed = write(tmp_path / "four.bed", "chr1\t1\t4\tsite\nchr1\t6\t9\tsite2\t17\n")
    table = read_bed(bed)
    assert table["name"].tolist() == ["site", "site2"]
    assert table["score"].tolist() == [".", "17"]
    assert table["strand"].tolist() == [".", "."]


def test_header_lines_are_skipped_and_line_numbers_count_them(tmp_path):
    bed = write(
        tmp_path / "headers.bed",
        'track name="peaks" description="x"\n'
        "browser position chr1:1-100\n"
        "# a comment\n"
        "\n"
        "chr1\t10\t20\ta\t0\t+\n"
        "   \n"
        "#chr1\t30\t40\n"
        "chr1\t50\t60\tb\t0\t-\n",
    )
    table = read_bed(bed)
    assert table["name"].tolist() == ["a", "b"]
    assert table["line"].tolist() == [5, 8]


def test_space_separated_lines_when_there_is_no_tab(tmp_path):
    bed = write(tmp_path / "spaces.bed", "chr1 10 20 a 0 -\nchr2  3   8\n")
    table = read_bed(bed)
    assert table[["chrom", "start", "end", "name", "strand"]].values.tolist() == [
        ["chr1", 10, 20, "a", "-"],
        ["chr2", 3, 8, "chr2:3-8", "."],
    ]


def test_a_tab_separated_line_keeps_spaces_inside_a_column(tmp_path):
    bed = write(tmp_path / "names.bed", "chr1\t10\t20\tmy peak\t0\t+\n")
    assert read_bed(bed)["name"].tolist() == ["my peak"]


def test_windows_line_endings(tmp_path):
    bed = tmp_path / "crlf.bed"
    bed.write_bytes(b"track x\r\nchr1\t1\t5\ta\t0\t+\r\nchr1\t6\t9\tb\t0\t-\r\n")
    table = read_bed(bed)
    assert table["strand"].tolist() == ["+", "-"]
    assert table["line"].tolist() == [2, 3]


def test_gzipped_bed_reads_like_the_plain_file(tmp_path):
    text = "# header\nchr1\t10\t20\ta\t5\t+\nchr2\t0\t3\n"
    plain = write(tmp_path / "plain.bed", text)
    packed = tmp_path / "packed.bed.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    assert read_bed(packed).to_dict("list") == read_bed(plain).to_dict("list")
    # The content decides, not the name: gzip without .gz, plain text with .gz.
    hidden = tmp_path / "hidden.bed"
    hidden.write_bytes(gzip.compress(text.encode()))
    named = write(tmp_path / "named.bed.gz", text)
    assert read_bed(hidden)["line"].tolist() == [2, 3]
    assert read_bed(named)["line"].tolist() == [2, 3]


def test_label_column_is_read_as_label(tmp_path):
    bed = write(tmp_path / "labels.bed", "chr1\t1\t5\tbound\nchr1\t6\t9\t unbound \n")
    table = read_bed(bed, label_column=4)
    assert list(table.columns) == [*BED_COLUMNS, "label"]
    assert table["label"].tolist() == ["bound", "unbound"]
    assert table["name"].tolist() == ["bound", " unbound "]


def test_label_column_after_the_bed6_columns(tmp_path):
    bed = write(tmp_path / "labels7.bed", "chr1\t1\t5\tx\t0\t+\tA\nchr1\t6\t9\ty\t0\t-\tB\n")
    assert read_bed(bed, label_column=7)["label"].tolist() == ["A", "B"]
    assert "label" not in read_bed(bed).columns


def test_count_bed_counts_intervals_per_chromosome_in_order_of_appearance(tmp_path):
    bed = write(
        tmp_path / "count.bed",
        "track x\n# c\nchr2\t1\t2\nchr1\t1\t2\nchr2\t5\t9\n\nchr2\t7\t8\nchrM 0 1\n",
    )
    counts = count_bed(bed)
    assert counts == {"chr2": 3, "chr1": 1, "chrM": 1}
    assert list(counts) == ["chr2", "chr1", "chrM"]


def test_count_bed_does_not_check_lines(tmp_path):
    bed = write(tmp_path / "loose.bed", "chr1\tabc\nchr1\t5\t1\n")
    assert count_bed(bed) == {"chr1": 2}
    assert count_bed(write(tmp_path / "none.bed", "track only\n")) == {}


# --------------------------------------------------------------------------- errors


GOOD = "chr1\t10\t30\tx\t0\t+\nchr1\t40\t60\ty\t0\t+\n"


@pytest.mark.parametrize(
    ("bad_line", "message", "hint"),
    [
        (
            "chr1\t100\n",
            "a BED line needs at least 3 columns (chrom, start, end), found 2",
            "separate columns with tabs; check the file is BED",
        ),
        (
            "chr1\n",
            "a BED line needs at least 3 columns (chrom, start, end), found 1",
            "separate columns with tabs; check the file is BED",
        ),
        ("chr1\tabc\t120\n", "start and end must be whole numbers, found 'abc' and '120'", None),
        ("chr1\t10\t20.5\n", "start and end must be whole numbers, found '10' and '20.5'", None),
        ("chr1\t30\t20\n", "invalid interval 30-20: need 0 <= start <= end", None),
        ("chr1\t-5\t20\n", "invalid interval -5-20: need 0 <= start <= end", None),
        ("chr1\t1\t5\tx\t0\t*\n", "strand (column 6) must be +, - or ., found '*'", None),
        ("chr1\t1\t5\tx\t0\tplus\n", "strand (column 6) must be +, - or ., found 'plus'", None),
    ],
    ids=[
        "two-columns",
        "one-column",
        "non-numeric-start",
        "fractional-end",
        "end-before-start",
        "negative-start",
        "star-strand",
        "word-strand",
    ],
)
def test_malformed_line_names_file_line_and_field(tmp_path, bad_line, message, hint):
    bed = write(tmp_path / "broken.bed", GOOD + bad_line)
    assert error_of(lambda: read_bed(bed, field="classes.a")) == {
        "error": message,
        "file": str(bed),
        "line": 3,
        "record": None,
        "field": "classes.a",
        "hint": hint,
    }


def test_the_default_field_is_classes(tmp_path):
    bed = write(tmp_path / "broken.bed", "chr1\t5\n")
    assert error_of(lambda: read_bed(bed))["field"] == "classes"


def test_the_first_bad_line_is_reported(tmp_path):
    bed = write(tmp_path / "two_bad.bed", "# h\nchr1\t9\t2\nchr1\tx\t5\n")
    error = error_of(lambda: read_bed(bed))
    assert (error["line"], error["error"]) == (2, "invalid interval 9-2: need 0 <= start <= end")


def test_missing_label_column_is_blamed_on_class_column(tmp_path):
    bed = write(tmp_path / "labels.bed", "chr1\t1\t5\tbound\nchr1\t6\t9\n")
    assert error_of(lambda: read_bed(bed, field="input", label_column=4)) == {
        "error": "no class in column 4 (the line has 3 columns)",
        "file": str(bed),
        "line": 2,
        "record": None,
        "field": "class_column",
        "hint": "put the class name in that column or set class_column",
    }


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", 'track name="nothing"\n# no intervals here\nbrowser position chr1\n'],
    ids=["empty", "blank-lines", "only-header-lines"],
)
def test_a_file_without_intervals(tmp_path, text):
    bed = write(tmp_path / "empty.bed", text)
    assert error_of(lambda: read_bed(bed, field="classes.empty")) == {
        "error": "no intervals in the file",
        "file": str(bed),
        "line": None,
        "record": None,
        "field": "classes.empty",
        "hint": "the file is empty or has only header lines",
    }


def test_a_byte_order_mark_is_not_part_of_the_first_chromosome(tmp_path):
    bed = tmp_path / "bom.bed"
    bed.write_bytes(b"\xef\xbb\xbfchr1\t1\t5\nchr2\t2\t6\n")
    assert read_bed(bed)["chrom"].tolist() == ["chr1", "chr2"]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            "10\t100000000000000000000000",
            "coordinate 100000000000000000000000 is larger than any "
            "chromosome (at most 9007199254740992 accepted)",
        ),
        ("10\t1e23", "start and end must be whole numbers, found '10' and '1e23'"),
        ("1_000\t2000", "start and end must be whole numbers, found '1_000' and '2000'"),
        ("\u0661\u0660\t30", "start and end must be whole numbers, found '\u0661\u0660' and '30'"),
    ],
    ids=["huge", "exponent", "underscore", "arabic-indic-digits"],
)
def test_coordinates_are_plain_digits_of_a_sane_size(tmp_path, columns, message):
    bed = write(tmp_path / "odd.bed", f"chr1\t1\t2\nchr1\t{columns}\n")
    error = error_of(lambda: read_bed(bed))
    assert (error["error"], error["line"], error["field"]) == (message, 2, "classes")


def test_a_truncated_gzip_bed_names_its_line(tmp_path):
    path = tmp_path / "cut.bed.gz"
    cut = gzip.compress(b"chr1\t1\t2\n" * 3000, mtime=0)[:60]
    path.write_bytes(cut)
    whole_lines = zlib.decompressobj(wbits=31).decompress(cut).count(b"\n")
    error = error_of(lambda: read_bed(path, field="input"))
    assert error["error"].startswith("the gzip-compressed file is truncated or damaged")
    assert (error["line"], error["field"]) == (whole_lines + 1, "input")
