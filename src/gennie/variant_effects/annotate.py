"""The input VCF annotated with the effects: ``variants.vcf.gz``, bgzipped and indexed.

Every record of the input is kept as written (the first eight columns; sample columns
are left out), with INFO fields added per ALT allele (``Number=A``; ``.`` for an allele
that was not scored):

- ``GENNIE_STATUS``: ``scored``, ``ref_mismatch``, ``outside_sites`` or ``skipped``;
- ``GENNIE_STRAND``: the strand of the effect reported (of the strands and site windows
  an allele was scored in, the one with the largest effect on any class);
- ``GENNIE_DELTA_<class>``: ALT − REF probability of the class;
- ``GENNIE_LOGODDS_<class>``: ALT − REF log-odds of the class.

The records are copied as text (so that INFO tags the input uses without declaring
them survive), compressed with pysam's BGZF writer and indexed with tabix (pysam); an
unsorted VCF cannot be indexed, which is logged, and the file is kept without index.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pysam

from gennie.io.files import open_text
from gennie.variant_effects.alleles import SCORED

log = logging.getLogger("gennie.variants")


def info_key(kind: str, name: str) -> str:
    """The INFO key of a class's effect (``GENNIE_DELTA_bound``); characters INFO keys
    do not allow become ``_``."""
    return f"GENNIE_{kind}_" + re.sub(r"[^0-9A-Za-z_.]", "_", name)


def header_lines(classes: list[str]) -> list[str]:
    """The ``##INFO`` lines describing the added fields."""
    lines = [
        '##INFO=<ID=GENNIE_STATUS,Number=A,Type=String,Description="gennie: scored, '
        'ref_mismatch, outside_sites or skipped (reason in variants.tsv)">',
        '##INFO=<ID=GENNIE_STRAND,Number=A,Type=String,Description="gennie: strand of the '
        'reported effect (the one with the largest effect of the strands scored)">',
    ]
    for name in classes:
        lines += [
            f"##INFO=<ID={info_key('DELTA', name)},Number=A,Type=Float,Description="
            f'"gennie: ALT - REF probability of class {name}">',
            f"##INFO=<ID={info_key('LOGODDS', name)},Number=A,Type=Float,Description="
            f'"gennie: ALT - REF log-odds of class {name}">',
        ]
    return lines


def _record_groups(table: Path) -> Iterator[list[list[str]]]:
    """The rows of ``variants.tsv`` (lists of cells, header skipped) grouped by record
    number (the last column), in order, streamed."""
    with open(table, newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        next(reader)
        group: list[list[str]] = []
        for row in reader:
            if group and row[-1] != group[0][-1]:
                yield group
                group = []
            group.append(row)
        if group:
            yield group


class _Annotator:
    """The INFO fields of a record from its rows of ``variants.tsv``.

    Args:
        columns: The table's columns.
    """

    def __init__(self, columns: list[str]) -> None:
        self.classes = [c.removeprefix("delta_") for c in columns if c.startswith("delta_")]
        where = {c: i for i, c in enumerate(columns)}
        self.alt, self.strand, self.status = where["alt"], where["strand"], where["status"]
        self.deltas = [where[f"delta_{c}"] for c in self.classes]
        self.values = [
            (info_key(kind.upper(), c), where[f"{kind}_{c}"])
            for kind in ("delta", "logodds")
            for c in self.classes
        ]

    def _size(self, row: list[str]) -> float:
        return max(abs(float(row[i])) for i in self.deltas)

    def info(self, rows: list[list[str]], alts: list[str]) -> str:
        """One value per ALT allele of each added field, as INFO text."""
        status, strand = [], []
        values: list[list[str]] = [[] for _ in self.values]
        for alt in alts:
            mine = [row for row in rows if row[self.alt] == alt]
            scored = [row for row in mine if row[self.status] == SCORED]
            if scored:
                best = max(scored, key=self._size)
                status.append(SCORED)
                strand.append(best[self.strand])
                for out, (_, i) in zip(values, self.values, strict=True):
                    out.append(best[i] or ".")
                continue
            status.append(mine[0][self.status].split(":")[0] if mine else "skipped")
            strand.append(".")
            for out in values:
                out.append(".")
        fields = [("GENNIE_STATUS", status), ("GENNIE_STRAND", strand)]
        fields += [(key, out) for (key, _), out in zip(self.values, values, strict=True)]
        return ";".join(f"{key}={','.join(v)}" for key, v in fields)


def write_annotated_vcf(vcf: Path, table: Path, out: Path) -> Path | None:
    """Write the annotated VCF (see the module docstring) and its tabix index.

    Args:
        vcf: The input VCF.
        table: The run's ``variants.tsv``.
        out: The ``.vcf.gz`` to write (``.tbi`` beside it).

    Returns:
        The index, or None if the VCF could not be indexed (unsorted).
    """
    with open(table) as handle:
        annotator = _Annotator(handle.readline().rstrip("\n").split("\t"))
    partial = out.with_name(out.name.replace(".vcf.gz", ".partial.vcf.gz"))
    groups = _record_groups(table)
    writer = pysam.BGZFile(str(partial), "wb")
    lines: list[str] = []
    try:
        with open_text(vcf, "vcf") as handle:
            for line in handle:
                line = line.rstrip("\r\n")
                if not line:
                    continue
                if line.startswith("##"):
                    lines.append(line)
                elif line.startswith("#"):
                    lines += header_lines(annotator.classes)
                    lines.append("\t".join(line.split("\t")[:8]))
                else:
                    cells = line.split("\t", 8)[:8]
                    added = annotator.info(next(groups), cells[4].split(","))
                    cells[7] = added if cells[7] in ("", ".") else f"{cells[7]};{added}"
                    lines.append("\t".join(cells))
                if len(lines) >= 2000:
                    writer.write(("\n".join(lines) + "\n").encode())
                    lines = []
            if lines:
                writer.write(("\n".join(lines) + "\n").encode())
    finally:
        writer.close()
    partial.replace(out)
    verbosity = pysam.set_verbosity(0)
    try:
        pysam.tabix_index(str(out), preset="vcf", force=True)
    except (OSError, ValueError, pysam.utils.SamtoolsError) as exc:
        log.warning("%s is not indexed (%s): sort the VCF to index it", out.name, exc)
        return None
    finally:
        pysam.set_verbosity(verbosity)
    return Path(str(out) + ".tbi")
