"""Tests for gennie.dataset.labels: class labels of labelled BED and FASTA inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gennie.dataset.inputs import ModelInputs
from gennie.dataset.labels import (
    class_index,
    header_class,
    labels_from_bed,
    labels_from_fasta,
    labels_from_file,
)
from gennie.errors import UserError

CLASSES = ["bound", "unbound"]


def windows(fmt: str, names: list[str], lines: list[int]) -> ModelInputs:
    """Windows of a file as the input mapping gives them (only the table matters)."""
    table = pd.DataFrame({"name": names, "source_line": lines, "format": fmt})
    return ModelInputs(table, {}, {}, pd.DataFrame())


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("site1 bound", "bound"),
        ("site1|unbound", "unbound"),
        ("site1;x=bound", "bound"),
        ("site1 boundary", None),  # a class must be a whole word
        ("site1 bound unbound", None),  # two classes: ambiguous
        ("bound bound", "bound"),
        ("site1", None),
    ],
)
def test_header_class(header: str, expected: str | None) -> None:
    assert header_class(header, CLASSES) == expected


def test_labels_from_fasta_follow_the_windows() -> None:
    inputs = windows("fasta", ["a unbound", "b bound", "c|bound"], [1, 2, 3])
    labels = labels_from_fasta(inputs, Path("x.fa"), CLASSES)
    assert labels.tolist() == [1, 0, 0] and labels.dtype == np.int64


def test_a_fasta_header_without_a_class_names_its_record() -> None:
    inputs = windows("fasta", ["a bound", "b"], [1, 2])
    with pytest.raises(UserError, match="header 'b' names none") as caught:
        labels_from_fasta(inputs, Path("x.fa"), CLASSES)
    error = caught.value
    assert (error.file, error.line, error.record, error.field) == ("x.fa", None, 2, "input")
    assert str(error).startswith("x.fa, record 2; field 'input': header 'b' names none")


def test_labels_from_a_bed_column(tmp_path: Path) -> None:
    bed = tmp_path / "sites.bed"
    bed.write_text("chr1\t0\t10\tunbound\nchr1\t20\t30\tbound\nchr1\t40\t50\tbound\n")
    # Windows of lines 3 and 1 only (line 2 dropped), in that order.
    labels = labels_from_bed(windows("bed", ["", ""], [3, 1]), bed, 4, CLASSES)
    assert labels.tolist() == [0, 1]


def test_an_unknown_class_in_the_bed_column_names_its_line(tmp_path: Path) -> None:
    bed = tmp_path / "sites.bed"
    bed.write_text("chr1\t0\t10\tbound\nchr1\t20\t30\tmaybe\n")
    with pytest.raises(UserError, match="class 'maybe' in column 4") as caught:
        labels_from_bed(windows("bed", ["", ""], [1, 2]), bed, 4, CLASSES)
    assert (caught.value.line, caught.value.field) == (2, "class_column")


def test_labels_from_file_by_format(tmp_path: Path) -> None:
    fasta = windows("fasta", ["a unbound"], [1])
    assert labels_from_file(fasta, Path("x.fa"), 4, CLASSES).tolist() == [1]
    with pytest.raises(UserError, match="plain sequences carry no class") as caught:
        labels_from_file(windows("sequence", ["ACGT"], [1]), Path("x.txt"), 4, CLASSES)
    assert caught.value.field == "input"


def test_class_index() -> None:
    assert class_index("unbound", CLASSES) == 1
    with pytest.raises(UserError, match="'maybe' is not a class of the model") as caught:
        class_index("maybe", CLASSES)
    assert caught.value.field == "classes.maybe"
