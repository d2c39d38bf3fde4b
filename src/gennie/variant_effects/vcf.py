"""Reading VCF records one at a time, and telling which alleles can be scored.

VCF 4.1–4.3, plain, gzipped or bgzipped (with or without an index), is read by pysam
(htslib), record by record, so a VCF of any size streams through. Sample columns are
never read. Each record's ALT alleles are kept as written; :func:`skip_reason` says
why an allele cannot be scored (symbolic, breakend, missing, letters other than
bases, or longer than the window allows).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pysam

from gennie.errors import UserError
from gennie.io.files import open_text, require_file
from gennie.variant_effects.windows import changed_length

_BASES = re.compile(r"^[ACGTNacgtn]+$")


@dataclass(frozen=True)
class VcfRecord:
    """One VCF record.

    Attributes:
        number: 1-based record number.
        line: 1-based line number in the (uncompressed) file.
        chrom: CHROM.
        pos: POS (1-based).
        id: ID (``.`` if none).
        ref: REF as written.
        alts: The ALT alleles as written (``(".",)`` when there is none).
    """

    number: int
    line: int
    chrom: str
    pos: int
    id: str
    ref: str
    alts: tuple[str, ...]


def open_vcf(path: Path, field: str = "vcf") -> pysam.VariantFile:
    """Open a VCF (plain, gzipped or bgzipped) for reading, samples dropped.

    Raises:
        UserError: The file is missing or is not a VCF.
    """
    require_file(path, field, "VCF file")
    verbosity = pysam.set_verbosity(0)
    try:
        return pysam.VariantFile(str(path), "r", drop_samples=True)
    except (OSError, ValueError) as exc:
        raise UserError(
            f"cannot read the VCF ({exc})",
            file=path,
            field=field,
            hint="give a VCF 4.1-4.3 file (plain or bgzipped) with its ##fileformat and "
            "#CHROM header lines",
        ) from None
    finally:
        pysam.set_verbosity(verbosity)


def header_lines(path: Path, field: str = "vcf") -> int:
    """Lines of a VCF's header as written (the ``##`` lines and the ``#CHROM`` line)."""
    count = 0
    with open_text(path, field) as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            count += 1
    return count


def read_vcf(path: Path, field: str = "vcf") -> Iterator[VcfRecord]:
    """The records of a VCF, in file order, one at a time.

    Args:
        path: The VCF.
        field: Configuration field that named it.

    Yields:
        :class:`VcfRecord` s.

    Raises:
        UserError: The file cannot be read, or a record is malformed (with its line).
    """
    handle = open_vcf(path, field)
    first_line = header_lines(path, field)
    number = 0
    verbosity = pysam.set_verbosity(0)
    try:
        records = iter(handle)
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except (OSError, ValueError) as exc:
                raise UserError(
                    f"record {number + 1} cannot be read ({exc})",
                    file=path,
                    line=first_line + number + 1,
                    field=field,
                    hint="check the record's columns (tab-separated CHROM POS ID REF ALT ...)",
                ) from None
            number += 1
            yield VcfRecord(
                number=number,
                line=first_line + number,
                chrom=str(record.chrom),
                pos=int(record.pos),
                id=str(record.id) if record.id else ".",
                ref=str(record.ref or ""),
                alts=tuple(str(a) for a in record.alts) if record.alts else (".",),
            )
    finally:
        pysam.set_verbosity(verbosity)
        handle.close()


def skip_reason(ref: str, alt: str, longest: int) -> str | None:
    """Why an allele cannot be scored, or None if it can.

    Args:
        ref, alt: The record's REF and one of its ALT alleles.
        longest: The most bases an allele may change (half the window).

    Returns:
        ``missing ALT allele``, ``spanning deletion (*)``, ``symbolic allele <DEL>``,
        ``breakend``, ``letters other than A, C, G, T, N``, ``changes N bases, more than
        half the window (M)``, or None.
    """
    if alt in (".", ""):
        return "missing ALT allele"
    if alt == "*":
        return "spanning deletion (*)"
    if alt.startswith("<"):
        return f"symbolic allele {alt}"
    if "[" in alt or "]" in alt or alt.startswith(".") or alt.endswith("."):
        return "breakend"
    if not _BASES.match(ref) or not _BASES.match(alt):
        return "letters other than A, C, G, T, N"
    changed = changed_length(ref.upper(), alt.upper())
    if changed > longest:
        return f"changes {changed} bases, more than half the window ({longest})"
    return None
