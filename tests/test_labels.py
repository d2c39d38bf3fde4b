"""Tests for gennie.dataset.labels: class names in FASTA headers and for class files."""

from __future__ import annotations

import pytest

from gennie.dataset.labels import class_index, header_class
from gennie.errors import UserError

CLASSES = ["bound", "unbound"]


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


def test_class_index() -> None:
    assert class_index("unbound", CLASSES) == 1
    with pytest.raises(UserError, match="'maybe' is not a class of the model") as caught:
        class_index("maybe", CLASSES)
    assert caught.value.field == "classes.maybe"
