"""BED interval files (BED3 or BED6+, plain or gzipped, with header lines)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from gennie.errors import UserError
from gennie.io.files import open_text

BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand", "line"]

_HEADERS = ("#", "track", "browser")
"""Starts of BED lines that hold no interval."""

MAX_COORDINATE = 2**53
"""Largest start or end accepted: far beyond any chromosome, and exact in every
integer and floating-point type the coordinates pass through."""

_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def _data_lines(path: Path, field: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """The 1-based number and columns of every line that holds an interval.

    Header (``track``, ``browser``, ``#``) and empty lines are skipped; columns are
    separated by tabs, or by spaces in a line without a tab.
    """
    with open_text(path, field) as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.startswith(_HEADERS):
                continue
            yield number, line.split("\t") if "\t" in line else line.split()


def count_bed(path: Path, field: str | None = None) -> dict[str, int]:
    """Intervals per chromosome of a BED file, in the order the chromosomes appear.

    Only counts lines (as :func:`read_bed` reads them); it does not check them.

    Args:
        path: The BED file (``.gz`` accepted).
        field: Configuration field named in errors.

    Returns:
        Chromosome name → number of intervals on it.
    """
    counts: dict[str, int] = {}
    for _number, cols in _data_lines(path, field):
        chrom = cols[0].strip()
        counts[chrom] = counts.get(chrom, 0) + 1
    return counts


def _coordinates(first: str, second: str, path: Path, number: int, field: str) -> tuple[int, int]:
    """Start and end of a BED line: whole numbers with ``0 <= start <= end``, neither
    above :data:`MAX_COORDINATE`.

    Raises:
        UserError: Text that is not a whole number, or an impossible interval.
    """
    first, second = first.strip(), second.strip()
    if not (_WHOLE_NUMBER.fullmatch(first) and _WHOLE_NUMBER.fullmatch(second)):
        raise UserError(
            f"start and end must be whole numbers, found '{first}' and '{second}'",
            file=path,
            line=number,
            field=field,
        )
    start, end = int(first), int(second)
    if max(start, end) > MAX_COORDINATE:
        raise UserError(
            f"coordinate {max(start, end)} is larger than any chromosome "
            f"(at most {MAX_COORDINATE} accepted)",
            file=path,
            line=number,
            field=field,
            hint="check the start and end columns of this line",
        )
    if start < 0 or end < start:
        raise UserError(
            f"invalid interval {start}-{end}: need 0 <= start <= end",
            file=path,
            line=number,
            field=field,
        )
    return start, end


def read_bed(
    path: Path, *, field: str = "classes", label_column: int | None = None
) -> pd.DataFrame:
    """Read a BED file into a table of intervals.

    ``track``, ``browser``, ``#`` and empty lines are skipped. Columns may be separated
    by tabs (or, if a line has no tab, by spaces). Coordinates are 0-based, half-open.

    Args:
        path: The BED file (``.gz`` accepted).
        field: Configuration field that named the file, for error messages.
        label_column: 1-based column holding a class label to read as ``label``.

    Returns:
        Columns ``chrom``, ``start``, ``end`` (int64), ``name``, ``score``, ``strand``
        (``+``, ``-`` or ``.``), ``line`` (1-based line number) and, if asked,
        ``label``.

    Raises:
        UserError: A malformed line (with its number) or a file without intervals.
    """
    rows: list[tuple] = []
    labels: list[str] = []
    for number, cols in _data_lines(path, field):
        if len(cols) < 3:
            raise UserError(
                f"a BED line needs at least 3 columns (chrom, start, end), found {len(cols)}",
                file=path,
                line=number,
                field=field,
                hint="separate columns with tabs; check the file is BED",
            )
        chrom = cols[0].strip()
        start, end = _coordinates(cols[1], cols[2], path, number, field)
        name = cols[3] if len(cols) > 3 else f"{chrom}:{start}-{end}"
        score = cols[4] if len(cols) > 4 else "."
        strand = cols[5].strip() if len(cols) > 5 else "."
        if strand not in ("+", "-", "."):
            raise UserError(
                f"strand (column 6) must be +, - or ., found '{strand}'",
                file=path,
                line=number,
                field=field,
            )
        if label_column is not None:
            if len(cols) < label_column:
                raise UserError(
                    f"no class in column {label_column} (the line has {len(cols)} columns)",
                    file=path,
                    line=number,
                    field="class_column",
                    hint="put the class name in that column or set class_column",
                )
            labels.append(cols[label_column - 1].strip())
        rows.append((chrom, start, end, name, score, strand, number))
    if not rows:
        raise UserError(
            "no intervals in the file",
            file=path,
            field=field,
            hint="the file is empty or has only header lines",
        )
    table = pd.DataFrame(rows, columns=BED_COLUMNS)
    table["start"] = table["start"].astype(np.int64)
    table["end"] = table["end"].astype(np.int64)
    if label_column is not None:
        table["label"] = labels
    return table
