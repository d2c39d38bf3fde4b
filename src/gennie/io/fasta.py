"""FASTA records (class files, prediction input) and indexed reference genomes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pysam

from gennie.errors import UserError
from gennie.io.files import is_gzipped, open_text


@dataclass(frozen=True)
class FastaRecord:
    """One FASTA record: its 1-based number in the file, header and sequence."""

    number: int
    header: str
    sequence: str


def read_fasta(path: Path, *, field: str = "classes") -> Iterator[FastaRecord]:
    """Iterate the records of a FASTA file (plain or gzipped, multi-line, any length).

    Raises:
        UserError: The file is not FASTA or has no records.
    """
    path = Path(path)
    if path.is_dir():  # pysam would crash the interpreter on a folder
        raise UserError(
            "this is a folder, not a FASTA file", file=path, field=field, hint="give a FASTA file"
        )
    count = 0
    try:
        with pysam.FastxFile(str(path)) as handle:
            for entry in handle:
                count += 1
                header = entry.name if not entry.comment else f"{entry.name} {entry.comment}"
                sequence = entry.sequence or ""
                if entry.quality is not None:
                    raise UserError("this is a FASTQ file, not FASTA", file=path, field=field)
                yield FastaRecord(count, header, sequence)
    except OSError as exc:
        raise UserError(f"cannot read FASTA ({exc})", file=path, field=field) from None
    if count == 0:
        raise UserError(
            "no FASTA records in the file",
            file=path,
            field=field,
            hint="records start with a '>' header line",
        )


def count_fasta(path: Path) -> int:
    """The number of records of a FASTA file: from its ``.fai`` index when it has one,
    else by counting its ``>`` header lines (plain or gzipped)."""
    path = Path(path)
    fai = Path(str(path) + ".fai")
    if fai.is_file():
        return sum(1 for line in fai.read_text().splitlines() if line.strip())
    with open_text(path) as handle:
        return sum(1 for line in handle if line.startswith(">"))


def sequence_lines(path: Path) -> Iterator[str]:
    """The sequences of a file with one sequence per line (plain or gzipped): every
    line that is neither empty nor a ``#`` comment, without surrounding spaces."""
    with open_text(path) as handle:
        for raw in handle:
            line = raw.strip()
            if line and not line.startswith("#"):
                yield line


class Genome:
    """Indexed random access to a reference FASTA (plain or bgzip-compressed).

    The index (``.fai``, and ``.gzi`` for bgzip) is created next to the file on first
    use, as samtools does.

    Args:
        path: The reference FASTA.
        field: Configuration field that named it, for error messages.
    """

    def __init__(self, path: Path, field: str = "genome") -> None:
        self.path = Path(path)
        self.field = field
        if not self.path.is_file():
            raise UserError("genome FASTA not found", file=self.path, field=field)
        folder = self.path.resolve().parent
        fai = Path(str(self.path) + ".fai")
        if not fai.exists() and not os.access(folder, os.W_OK):
            raise UserError(
                "the genome has no index (.fai) and its folder is not writable",
                file=self.path,
                field=field,
                hint=f"run 'samtools faidx {self.path.name}' where you can write, or copy it",
            )
        try:
            self._fasta = pysam.FastaFile(str(self.path))
        except (OSError, ValueError) as exc:
            hint = "check that this is a FASTA file"
            if is_gzipped(self.path):
                hint = (
                    "gzip-compressed FASTA must be bgzip-compressed for random access: "
                    f"run 'gunzip {self.path.name} && bgzip {self.path.stem}'"
                )
            raise UserError(
                f"cannot index the genome FASTA ({exc})", file=self.path, field=field, hint=hint
            ) from None
        self.chrom_lengths: dict[str, int] = dict(
            zip(self._fasta.references, self._fasta.lengths, strict=True)
        )

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """The sequence of ``chrom:start-end`` (0-based, half-open), in upper case."""
        return self._fasta.fetch(chrom, start, end).upper()

    def close(self) -> None:
        """Release the file handle."""
        self._fasta.close()

    def __enter__(self) -> Genome:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict:
        return {"path": self.path, "field": self.field}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["field"])

    def check_chromosome(self, chrom: str, *, file: Path, line: int, field: str) -> int:
        """Length of ``chrom``; a clear error if the genome does not have it."""
        length = self.chrom_lengths.get(chrom)
        if length is None:
            names = list(self.chrom_lengths)
            hint = f"the genome has {len(names)} sequences, e.g. {', '.join(names[:5])}"
            if chrom.startswith("chr") and chrom[3:] in self.chrom_lengths:
                hint = f"the genome names it '{chrom[3:]}' (without 'chr'); rename one of them"
            elif "chr" + chrom in self.chrom_lengths:
                hint = f"the genome names it 'chr{chrom}'; rename one of them"
            raise UserError(
                f"chromosome '{chrom}' is not in the genome {self.path.name}",
                file=file,
                line=line,
                field=field,
                hint=hint,
            )
        return length
