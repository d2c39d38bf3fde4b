"""BED interval files (BED3 or BED6+, plain or gzipped, with header lines)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from gennie.errors import UserError
from gennie.io.files import open_text

BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand", "line"]

_HEADERS = ("#", "track", "browser")
"""Starts of BED lines that hold no interval."""


def _data_lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    """The 1-based number and columns of every line that holds an interval.

    Header (``track``, ``browser``, ``#``) and empty lines are skipped; columns are
    separated by tabs, or by spaces in a line without a tab.
    """
    with open_text(path) as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.startswith(_HEADERS):
                continue
            yield number, line.split("\t") if "\t" in line else line.split()


def count_bed(path: Path) -> dict[str, int]:
    """Intervals per chromosome of a BED file, in the order the chromosomes appear.

    Only counts lines (as :func:`read_bed` reads them); it does not check them.

    Args:
        path: The BED file (``.gz`` accepted).

    Returns:
        Chromosome name → number of intervals on it.
    """
    counts: dict[str, int] = {}
    for _number, cols in _data_lines(path):
        chrom = cols[0].strip()
        counts[chrom] = counts.get(chrom, 0) + 1
    return counts


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
    for number, cols in _data_lines(path):
        if len(cols) < 3:
            raise UserError(
                f"a BED line needs at least 3 columns (chrom, start, end), found {len(cols)}",
                file=path,
                line=number,
                field=field,
                hint="separate columns with tabs; check the file is BED",
            )
        chrom = cols[0].strip()
        try:
            start, end = int(cols[1]), int(cols[2])
        except ValueError:
            raise UserError(
                f"start and end must be whole numbers, found '{cols[1]}' and '{cols[2]}'",
                file=path,
                line=number,
                field=field,
            ) from None
        if start < 0 or end < start:
            raise UserError(
                f"invalid interval {start}-{end}: need 0 <= start <= end",
                file=path,
                line=number,
                field=field,
            )
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
