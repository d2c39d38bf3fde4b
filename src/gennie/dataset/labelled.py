"""Labelled single files: one file holding samples of several classes.

Researchers keep labelled data as one file: FASTA with the label in each header
(``>seq1 class:1``, ``>seq1|label=bound``, ``>seq1 bound``), a TSV/CSV table with a
header line (a sequence column, or chrom/start/end[/strand] columns, plus a label
column), or BED with the label in a column. :func:`read_labelled` reads such files into
one :class:`LabelledRecords`; :func:`class_names` turns label texts into safe class
names; :func:`write_records` writes records as FASTA or BED, so that the mapping of
class files (:func:`gennie.dataset.mapping.map_class`) can read them, and
:func:`restore_provenance` puts the labelled file's own name and line back into the
mapped windows' table.
"""

from __future__ import annotations

import difflib
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from gennie.dataset.labels import header_class
from gennie.dataset.names import name_problem, safe_file_name
from gennie.encode.alphabet import first_invalid
from gennie.errors import UserError
from gennie.io.bed import read_bed
from gennie.io.fasta import read_fasta
from gennie.io.files import open_text, read_text, require_file

log = logging.getLogger("gennie.labels")

KEY_VALUE = re.compile(r"(?:^|[\s|;,])(?:class|label)\s*[:=]\s*([^\s|;,]+)", re.IGNORECASE)
"""``class:1``, ``label=bound``, ``class=x`` anywhere in a header."""

LAST_WORD = re.compile(r"[\s|]([^\s|]+)\s*$")
"""The last word of a header (after a space or ``|``), when it has more than one."""

COLUMN_NAMES = {
    "sequence_column": ("sequence", "seq", "sequences"),
    "chrom_column": ("chrom", "chr", "chromosome", "seqnames", "#chrom"),
    "start_column": ("start", "chromstart", "begin"),
    "end_column": ("end", "stop", "chromend"),
    "strand_column": ("strand",),
    "label_column": ("label", "class", "labels", "target", "y"),
    "name_column": ("name", "id", "identifier"),
}
"""Header names recognised for each column of a labelled table (any case)."""


@dataclass
class LabelledRecords:
    """The records of labelled files, in file order.

    Attributes:
        format: ``fasta`` (rows are ``(header, sequence)``) or ``bed`` (rows are
            ``(chrom, start, end, name, score, strand)``).
        labels: The label text of each record.
        sources: The file, the 1-based line (BED, tables) or record number (FASTA),
            and which of the two (``line`` or ``record``), of each record.
        rows: The records.
        forms: How the labels were found in each file, for the log.
    """

    format: str
    labels: list[str] = field(default_factory=list)
    sources: list[tuple[str, int]] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    forms: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- FASTA headers


def suggest_pattern(header: str) -> str:
    """A ``--label-pattern`` that reads the text after the header's last separator
    (``seq1_bound`` → ``_([^_]+)$``), or ``class:(\\S+)`` for a header of one word."""
    separators = [c for c in header.strip() if not c.isalnum()]
    if not separators:
        return r"class:(\S+)"
    sep = re.escape(separators[-1])
    return f"{sep}([^{sep}]+)$"


def _no_label(
    header: str, path: Path, number: int, expected: str, known: list[str] | None, field: str
) -> UserError:
    if known:
        return UserError(
            f"header '{header}' names none (or several) of the model's classes "
            f"({', '.join(known)})",
            file=path,
            record=number,
            field=field,
            hint="put the class as a separate word in each header, e.g. '>id1 bound', "
            "or give one file per class",
        )
    pattern = suggest_pattern(header)
    return UserError(
        f"no label in header '{header}' ({expected})",
        file=path,
        record=number,
        field="label_pattern",
        hint=f"put the label in every header, e.g. '>id1 class:bound', or give "
        f"--label-pattern REGEX whose first group is the label, e.g. --label-pattern '{pattern}'",
    )


def header_forms(known: list[str] | None) -> list[tuple[str, Any]]:
    """The header forms tried when no pattern is given, most specific first: each a
    description and a function of a header returning its label or None."""
    forms: list[tuple[str, Any]] = [
        ("'class:LABEL' or 'label=LABEL'", lambda h: _group(KEY_VALUE, h))
    ]
    if known:
        forms.append(("a word that is a class name", lambda h: header_class(h, known)))
    forms.append(("the last word", lambda h: _group(LAST_WORD, h)))
    return forms


def _group(pattern: re.Pattern, header: str) -> str | None:
    found = pattern.search(header)
    return found.group(1) if found and found.group(1) else None


def fasta_labels(
    path: Path, pattern: str | None, known: list[str] | None = None, field: str = "input"
) -> LabelledRecords:
    """The labelled records of a FASTA file.

    Args:
        path: The FASTA file.
        pattern: A regular expression whose first group is the label; None to
            recognise the common forms (see :func:`header_forms`), the form of the
            first header being used for every header.
        known: Class names a header may name as a word (a model's classes).
        field: Configuration field named in errors.

    Raises:
        UserError: A header without a label (naming its record, with a suggested
            ``--label-pattern``), or a sequence with a letter that is no base.
    """
    out = LabelledRecords("fasta")
    form: tuple[str, Any] | None = None
    if pattern is not None:
        compiled = re.compile(pattern)
        form = (f"the pattern '{pattern}'", lambda h: _group(compiled, h))
    for record in read_fasta(path, field=field):
        if form is None:
            form = next((f for f in header_forms(known) if f[1](record.header)), None)
            if form is None:
                raise _no_label(
                    record.header, path, record.number, "no form recognised", known, field
                )
        label = form[1](record.header)
        if not label:
            raise _no_label(record.header, path, record.number, f"expected {form[0]}", known, field)
        _check_sequence(record.sequence, path, field, record=record.number)
        out.labels.append(label)
        out.sources.append((str(path), record.number, "record"))
        out.rows.append((record.header, record.sequence))
    assert form is not None  # read_fasta raises on a file without records
    out.forms[str(path)] = form[0]
    return out


def _check_sequence(
    sequence: str, path: Path, field: str, record: int | None = None, line: int | None = None
) -> None:
    where = f"record {record}" if record is not None else f"line {line}"
    if not sequence:
        raise UserError(
            f"{where} has no sequence", file=path, record=record, line=line, field=field
        )
    bad = first_invalid(sequence)
    if bad is not None:
        raise UserError(
            f"letter '{sequence[bad]}' at position {bad + 1} is not a nucleotide or IUPAC code",
            file=path,
            record=record,
            line=line,
            field=field,
            hint="sequences may contain A, C, G, T, U and IUPAC codes such as N",
        )


# --------------------------------------------------------------------------- BED


def bed_labels(path: Path, column: int, field: str = "input") -> LabelledRecords:
    """The labelled intervals of a BED file, the label in 1-based ``column``."""
    bed = read_bed(path, field=field, label_column=column)
    out = LabelledRecords("bed")
    out.labels = [str(v) for v in bed["label"]]
    out.sources = [(str(path), int(n), "line") for n in bed["line"]]
    out.rows = list(
        zip(
            bed["chrom"],
            bed["start"].astype(int),
            bed["end"].astype(int),
            bed["name"],
            bed["score"],
            bed["strand"],
            strict=True,
        )
    )
    out.forms[str(path)] = f"column {column}"
    return out


# --------------------------------------------------------------------------- tables


def read_table(path: Path, field: str = "input") -> tuple[pd.DataFrame, list[int]]:
    """A TSV or CSV table with a header line (tab or comma separated, told from the
    header), all cells as text, and the 1-based line of each row.

    Lines starting with ``#`` before the header are skipped; empty lines are not rows.
    """
    text = read_text(path, field)
    lines = text.split("\n")
    first = next(
        (i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")), None
    )
    if first is None:
        raise UserError("the table has no header line", file=path, field=field)
    header = lines[first]
    sep = "\t" if "\t" in header else "," if "," in header else None
    if sep is None:
        raise UserError(
            "cannot tell the table's separator: its header line has no tab or comma",
            file=path,
            line=first + 1,
            field=field,
            hint="separate columns with tabs (TSV) or commas (CSV)",
        )
    try:
        table = pd.read_csv(
            io.StringIO("\n".join(lines[first:])),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise UserError(
            f"not a table: {str(exc).strip()}", file=path, field=field, hint="check the columns"
        ) from None
    numbers = [first + 2 + i for i in range(len(table))]
    filled = table.apply(lambda row: any(str(v).strip() for v in row), axis=1).to_numpy()
    table = table[filled].reset_index(drop=True) if len(table) else table
    return table, [n for n, keep in zip(numbers, filled, strict=True) if keep]


def table_column(
    table: pd.DataFrame, given: str | None, name: str, path: Path, required: bool = True
) -> str | None:
    """The column of a table that an option names (a header name, or a 1-based number),
    or the first column with a recognised name (see :data:`COLUMN_NAMES`).

    Raises:
        UserError: The option names no column, or a required column is not found.
    """
    columns = [str(c) for c in table.columns]
    if given:
        if given in columns:
            return given
        if given.isdigit() and 1 <= int(given) <= len(columns):
            return columns[int(given) - 1]
        close = difflib.get_close_matches(given, columns, n=1)
        guess = f" (did you mean '{close[0]}'?)" if close else ""
        raise UserError(
            f"the table has no column '{given}'{guess}; its columns: {', '.join(columns)}",
            file=path,
            line=1,
            field=name,
            hint="give a header name or a 1-based column number",
        )
    lower = {c.lower(): c for c in columns}
    found = next((lower[n] for n in COLUMN_NAMES[name] if n in lower), None)
    if found is None and required:
        raise UserError(
            f"the table has no {name.removesuffix('_column')} column (looked for "
            f"{', '.join(COLUMN_NAMES[name])}); its columns: {', '.join(columns)}",
            file=path,
            field=name,
            hint=f"name it with --{name.replace('_', '-')}",
        )
    return found


def table_labels(path: Path, options: Any, field: str = "input") -> LabelledRecords:
    """The labelled records of a TSV/CSV table: sequences (a sequence column) or
    intervals (chrom, start, end and optional strand columns), with a label column.

    Args:
        path: The table.
        options: The label options (``label_column``, ``sequence_column``,
            ``chrom_column``, ``start_column``, ``end_column``, ``strand_column``).
        field: Configuration field named in errors.
    """
    table, numbers = read_table(path, field)
    label = table_column(table, options.label_column, "label_column", path)
    sequence = table_column(table, options.sequence_column, "sequence_column", path, False)
    chrom = table_column(table, options.chrom_column, "chrom_column", path, False)
    name = table_column(table, None, "name_column", path, False)
    if sequence is None and chrom is None:
        raise UserError(
            "the table has neither a sequence column nor chrom/start/end columns; its "
            f"columns: {', '.join(map(str, table.columns))}",
            file=path,
            field="sequence_column",
            hint="name them with --sequence-column, or --chrom-column, --start-column "
            "and --end-column",
        )
    out = LabelledRecords("fasta" if sequence is not None else "bed")
    if sequence is None:
        out.rows = _table_intervals(table, numbers, options, path, name)
    else:
        for number, (seq, ident) in enumerate(
            zip(table[sequence], table[name] if name else [None] * len(table), strict=True)
        ):
            seq = str(seq).strip()
            _check_sequence(seq, path, "sequence_column", line=numbers[number])
            header = str(ident).strip() if ident else f"{Path(path).name}:{numbers[number]}"
            out.rows.append((header, seq))
    for number, value in zip(numbers, table[label], strict=True):
        if not str(value).strip():
            raise UserError(
                f"no label in column '{label}'", file=path, line=number, field="label_column"
            )
        out.labels.append(str(value).strip())
        out.sources.append((str(path), number, "line"))
    out.forms[str(path)] = f"column '{label}'"
    return out


def _table_intervals(
    table: pd.DataFrame, numbers: list[int], options: Any, path: Path, name: str | None
) -> list[tuple]:
    """The intervals of a table with coordinate columns, checked like BED lines."""
    chrom = table_column(table, options.chrom_column, "chrom_column", path)
    start = table_column(table, options.start_column, "start_column", path)
    end = table_column(table, options.end_column, "end_column", path)
    strand = table_column(table, options.strand_column, "strand_column", path, False)
    rows = []
    for i, number in enumerate(numbers):
        first, second = str(table[start].iloc[i]).strip(), str(table[end].iloc[i]).strip()
        if not (first.isdigit() and second.isdigit()) or int(second) < int(first):
            raise UserError(
                f"start and end must be whole numbers with 0 <= start <= end, found "
                f"'{first}' and '{second}'",
                file=path,
                line=number,
                field="start_column",
            )
        sign = str(table[strand].iloc[i]).strip() if strand else "."
        if sign not in ("+", "-", "."):
            raise UserError(
                f"strand must be +, - or ., found '{sign}'",
                file=path,
                line=number,
                field="strand_column",
            )
        chrom_name = str(table[chrom].iloc[i]).strip()
        ident = str(table[name].iloc[i]).strip() if name else f"{chrom_name}:{first}-{second}"
        rows.append((chrom_name, int(first), int(second), ident, ".", sign))
    return rows


# --------------------------------------------------------------------------- any file


def labelled_format(path: Path, field: str = "input") -> str:
    """``fasta``, ``bed`` or ``table``: the kind of a labelled file, from its first
    data line (a ``>`` header; numbers in columns 2 and 3; else a table's header)."""
    with open_text(path, field) as handle:
        for raw in handle:
            line = raw.strip()
            if not line or line.startswith(("#", "track", "browser")):
                continue
            if line.startswith(">"):
                return "fasta"
            cols = line.split("\t") if "\t" in line else line.split()
            if len(cols) >= 3 and cols[1].strip().isdigit() and cols[2].strip().isdigit():
                return "bed"
            if len(cols) == 1 and line.isalpha():
                raise UserError(
                    "plain sequences carry no label",
                    file=path,
                    field=field,
                    hint="use FASTA with the label in each header, or a table with a label column",
                )
            return "table"
    raise UserError("the file has no data lines", file=path, field=field)


def read_labelled(
    paths: list[Path], options: Any, known: list[str] | None = None, field: str = "input"
) -> LabelledRecords:
    """The records of labelled files, concatenated in the order given.

    Args:
        paths: The labelled files (FASTA, BED or TSV/CSV tables).
        options: The label options of the stage (see
            :class:`~gennie.config.stages.LabelOptions`).
        known: Class names a FASTA header may name as a word (a model's classes).
        field: Configuration field named in errors.

    Returns:
        Every record with its label and source.

    Raises:
        UserError: A file that cannot be read, a record without a label, or files of
            which some hold sequences and others intervals.
    """
    total: LabelledRecords | None = None
    for path in paths:
        require_file(Path(path), field, "labelled file")
        kind = labelled_format(Path(path), field)
        if kind == "fasta":
            part = fasta_labels(Path(path), options.label_pattern, known, field)
        elif kind == "bed":
            part = bed_labels(Path(path), options.class_column, field)
        else:
            part = table_labels(Path(path), options, field)
        log.info("%s: labels read from %s", Path(path).name, next(iter(part.forms.values())))
        if total is None:
            total = part
        elif part.format != total.format:
            raise UserError(
                f"{Path(path).name} holds {_what(part.format)}, the files before it "
                f"{_what(total.format)}; all labelled files must hold the same kind",
                file=path,
                field=field,
            )
        else:
            total.labels += part.labels
            total.sources += part.sources
            total.rows += part.rows
            total.forms.update(part.forms)
    if total is None:
        raise UserError("no labelled files given", field=field)
    return total


def _what(fmt: str) -> str:
    return "sequences" if fmt == "fasta" else "genomic intervals"


# --------------------------------------------------------------------------- class names


def class_names(labels: list[str], label_map: dict[str, str]) -> dict[str, str]:
    """The class name of every label, in class order: the labels named in
    ``label_map`` in its order, then the others sorted.

    A label not in ``label_map`` is its own class name when it is a safe name (letters,
    digits and ``. _ + -``); otherwise it is made into one (see
    :func:`~gennie.dataset.names.safe_file_name`) and the renaming is logged.

    Raises:
        UserError: ``label_map`` names a label that no record has.
    """
    present = set(labels)
    missing = [label for label in label_map if label not in present]
    if missing:
        raise UserError(
            f"label_map names label(s) {', '.join(missing)}, which no record has "
            f"(labels: {', '.join(sorted(present)[:20])})",
            field="label_map",
            hint="map the labels found in the files",
        )
    names: dict[str, str] = {label: label_map[label] for label in label_map}
    for label in sorted(present - set(label_map)):
        name = label
        if name_problem(label) is not None or not label[0].isalnum():
            name = safe_file_name(label)
            if not name[0].isalnum():
                name = "c" + name
            log.info("label '%s' becomes class name '%s'", label, name)
        names[label] = name
    return names


def class_order(names: dict[str, str]) -> list[str]:
    """The distinct class names of :func:`class_names`, in order."""
    return list(dict.fromkeys(names.values()))


# --------------------------------------------------------------------------- writing


def write_records(records: LabelledRecords, indices: list[int], path: Path) -> list[tuple]:
    """Write some records as a FASTA or BED file (one line per interval, no header).

    Returns:
        The source (file, line or record) of each written record, in order: record
        (FASTA) or line (BED) ``i`` of the written file is ``sources[i - 1]``.
    """
    with open(path, "w", encoding="utf-8") as handle:
        for i in indices:
            row = records.rows[i]
            if records.format == "fasta":
                header = " ".join(str(row[0]).split()) or "record"
                handle.write(f">{header}\n{row[1]}\n")
            else:
                cells = [" ".join(str(v).split()) or "." for v in row]
                handle.write("\t".join(cells) + "\n")
    return [records.sources[i] for i in indices]


def restore_provenance(table: pd.DataFrame, sources: list[tuple]) -> pd.DataFrame:
    """A mapped windows' table with the labelled file's name and line (or record) of
    each window in place of the written file's (see :func:`write_records`)."""
    positions = table["source_line"].astype(int).to_numpy() - 1
    return table.assign(
        source_file=[sources[p][0] for p in positions],
        source_line=[sources[p][1] for p in positions],
    )


def source_location(source: tuple) -> dict[str, Any]:
    """The ``file`` and ``line`` or ``record`` of a record's source, for a
    :class:`~gennie.errors.UserError`."""
    file, number, kind = source
    return {"file": file, kind: number}


def relocated(error: UserError, written: Path, sources: list[tuple]) -> UserError:
    """A user error about a written record (see :func:`write_records`) moved to the
    record's place in the labelled file; any other error unchanged."""
    number = error.record if error.record is not None else error.line
    if error.file != str(written) or number is None or not 1 <= number <= len(sources):
        return error
    return UserError(
        error.message,
        **source_location(sources[number - 1]),
        field=error.field,
        hint=error.hint,
    )


# --------------------------------------------------------------------------- preview


@dataclass
class LabelledPreview:
    """What labelled files hold, to show before anything runs.

    Attributes:
        format: ``fasta`` (sequences) or ``bed`` (genomic intervals).
        forms: How the labels were found in each file.
        rows: The first records: ``file``, ``where`` (``line 3`` or ``record 2``),
            ``record`` (a FASTA header, or ``chrom:start-end(strand)``), ``label`` and
            ``class``.
        counts: Records per class, in class order.
        total: Records in all files.
        unknown: Labels whose class is not among ``classes`` (with a model's classes).
        chromosomes: Intervals per chromosome (empty for sequences).
        lengths: Shortest, median and longest sequence or interval.
    """

    format: str
    forms: dict[str, str]
    rows: list[dict[str, Any]]
    counts: dict[str, int]
    total: int
    unknown: list[str] = field(default_factory=list)
    chromosomes: dict[str, int] = field(default_factory=dict)
    lengths: tuple[int, int, int] = (0, 0, 0)


def _record_text(fmt: str, row: tuple) -> str:
    if fmt == "fasta":
        return str(row[0])
    strand = f"({row[5]})" if row[5] in ("+", "-") else ""
    return f"{row[0]}:{row[1]}-{row[2]}{strand}"


def preview_labelled(
    paths: list[Path],
    options: Any,
    classes: list[str] | None = None,
    rows: int = 8,
    field: str = "input",
) -> LabelledPreview:
    """The first records of labelled files with their labels and classes, and the
    records per class, read as :func:`read_labelled` reads them.

    Args:
        paths: The labelled files.
        options: The label options (see :class:`~gennie.config.stages.LabelOptions`).
        classes: A model's class names (evaluate): a label's class is then its
            ``label_map`` name or the label itself, and labels that name no class of
            the model are listed in ``unknown``; None to name classes as preprocess
            does (:func:`class_names`).
        rows: How many of the first records to return.
        field: Configuration field named in errors.

    Raises:
        UserError: What :func:`read_labelled` or :func:`class_names` raise (a header
            without a label, a missing column, a mapped label that no record has).
    """
    records = read_labelled(paths, options, known=classes, field=field)
    if classes is None:
        names = class_names(records.labels, options.label_names)
        order = class_order(names)
    else:
        names = {label: options.label_names.get(label, label) for label in set(records.labels)}
        order = [c for c in classes if c in names.values()]
        order += sorted({n for n in names.values() if n not in classes})
    counts = dict.fromkeys(order, 0)
    for label in records.labels:
        counts[names[label]] += 1
    first = []
    for i in range(min(rows, len(records.rows))):
        file, number, kind = records.sources[i]
        label = records.labels[i]
        first.append(
            {
                "file": Path(file).name,
                "where": f"{kind} {number}",
                "record": _record_text(records.format, records.rows[i]),
                "label": label,
                "class": names[label],
            }
        )
    if records.format == "fasta":
        sizes = sorted(len(row[1]) for row in records.rows)
        chromosomes: dict[str, int] = {}
    else:
        sizes = sorted(int(row[2]) - int(row[1]) for row in records.rows)
        chromosomes = {}
        for row in records.rows:
            chromosomes[str(row[0])] = chromosomes.get(str(row[0]), 0) + 1
    unknown = [] if classes is None else sorted(lb for lb, n in names.items() if n not in classes)
    return LabelledPreview(
        format=records.format,
        forms=records.forms,
        rows=first,
        counts=counts,
        total=len(records.labels),
        unknown=unknown,
        chromosomes=chromosomes,
        lengths=(sizes[0], sizes[len(sizes) // 2], sizes[-1]) if sizes else (0, 0, 0),
    )
