"""FASTA records (class files, prediction input) and indexed reference genomes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path

import pysam

from gennie.errors import UserError
from gennie.io.files import decoding_error, find_problem, is_gzipped, open_text, require_file

_HEAD = 1 << 16
"""Characters of a genome checked as text before pysam indexes it."""


@dataclass(frozen=True, slots=True)
class FastaRecord:
    """One FASTA record: its 1-based number in the file, header and sequence, and the
    1-based line of its header (not compared: two records are equal by content)."""

    number: int
    header: str
    sequence: str
    line: int = dataclass_field(default=0, compare=False)


def _header(text: str) -> str:
    """A header line without ``>``: its name and description separated by one space."""
    return " ".join(text.split(maxsplit=1))


def read_fasta(path: Path, *, field: str = "classes") -> Iterator[FastaRecord]:
    """Iterate the records of a FASTA file (plain or gzipped, multi-line, any length).

    Sequence lines are joined without their surrounding spaces; empty lines are
    skipped. Read through :func:`~gennie.io.files.open_text`, so that a file that is
    not text is reported with its line.

    Raises:
        UserError: The file is not text, is FASTQ, has text before its first header,
            or has no records.
    """
    path = Path(path)
    count, header, header_line, parts = 0, None, 0, []
    stray = None  # the first line of text before any header
    with open_text(path, field) as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if line.startswith(">"):
                if header is not None:
                    yield FastaRecord(count, header, "".join(parts), header_line)
                elif stray is not None:
                    raise UserError(
                        "text before the first '>' header line belongs to no record",
                        file=path,
                        line=stray,
                        field=field,
                        hint="remove it, or put a '>' header line above it",
                    )
                count, header, header_line, parts = count + 1, _header(line[1:]), number, []
            elif header is not None:
                if line:
                    parts.append(line)
            elif line.startswith("@"):
                raise UserError(
                    "this is a FASTQ file, not FASTA", file=path, line=number, field=field
                )
            elif line and stray is None:
                stray = number
    if header is not None:
        yield FastaRecord(count, header, "".join(parts), header_line)
    if count == 0:
        raise UserError(
            "no FASTA records in the file",
            file=path,
            field=field,
            hint="records start with a '>' header line",
        )


def count_fasta(path: Path, field: str | None = None) -> int:
    """The number of records of a FASTA file: from its ``.fai`` index when it has one,
    else by counting its ``>`` header lines (plain or gzipped)."""
    path = Path(path)
    fai = Path(str(path) + ".fai")
    if fai.is_file():
        return sum(1 for line in fai.read_text(errors="replace").splitlines() if line.strip())
    with open_text(path, field) as handle:
        return sum(1 for line in handle if line.startswith(">"))


def sequence_lines(path: Path, field: str | None = None) -> Iterator[str]:
    """The sequences of a file with one sequence per line (plain or gzipped): every
    line that is neither empty nor a ``#`` comment, without surrounding spaces."""
    with open_text(path, field) as handle:
        for raw in handle:
            line = raw.strip()
            if line and not line.startswith("#"):
                yield line


def is_bgzf(path: Path) -> bool:
    """True when the file starts with a BGZF block (bgzip), which random access needs."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    extra = len(head) == 18 and bool(head[3] & 4)  # the FEXTRA flag, then a BC subfield
    return head[:2] == b"\x1f\x8b" and extra and head[12:14] == b"BC"


class Genome:
    """Indexed random access to a reference FASTA (plain or bgzip-compressed).

    The index (``.fai``, and ``.gzi`` for bgzip) is created next to the file on first
    use, as samtools does, or in ``index_dir`` when one is given: a genome gennie was
    not given by the user in this run (one a model bundle recorded) gets its index in
    gennie's own folder and nothing is written beside it.

    Args:
        path: The reference FASTA.
        field: Configuration field that named it, for error messages.
        index_dir: Folder for the index files instead of the genome's folder.
    """

    def __init__(self, path: Path, field: str = "genome", index_dir: Path | None = None) -> None:
        self.path = require_file(path, field, "genome FASTA")
        self.field = field
        self.index_dir = Path(index_dir) if index_dir is not None else None
        folder = self.path.resolve().parent
        fai = Path(str(self.path) + ".fai")
        if self.index_dir is None and not fai.exists() and not os.access(folder, os.W_OK):
            raise UserError(
                "the genome has no index (.fai) and its folder is not writable",
                file=self.path,
                field=field,
                hint=f"run 'samtools faidx {self.path.name}' where you can write, or copy it",
            )
        if self.path.stat().st_size == 0:
            raise UserError("the genome FASTA is empty", file=self.path, field=field)
        if is_gzipped(self.path) and not is_bgzf(self.path):
            raise UserError(
                "cannot index the genome FASTA: it is gzip-compressed, not bgzip-compressed",
                file=self.path,
                field=field,
                hint="gzip-compressed FASTA must be bgzip-compressed for random access: "
                f"run 'gunzip {self.path.name} && bgzip {self.path.stem}'",
            )
        with open_text(self.path, field) as head:
            head.read(_HEAD)  # binary content or another encoding shows here, with its line
        self._fasta = self._open()
        self.chrom_lengths: dict[str, int] = dict(
            zip(self._fasta.references, self._fasta.lengths, strict=True)
        )

    def _open(self) -> pysam.FastaFile:
        """The pysam handle (indexing the file first if needed), htslib kept quiet."""
        verbosity = pysam.set_verbosity(0)
        try:
            return pysam.FastaFile(str(self.path), **self._index_files())
        except UnicodeDecodeError as exc:
            raise decoding_error(self.path, exc, self.field) from None
        except (OSError, ValueError, pysam.utils.SamtoolsError) as exc:
            problem = find_problem(self.path, self.field)
            if problem is not None:
                raise problem from None
            raise UserError(
                f"cannot index the genome FASTA ({exc})",
                file=self.path,
                field=self.field,
                hint="check that this is a FASTA file",
            ) from None
        finally:
            pysam.set_verbosity(verbosity)

    def _index_files(self) -> dict[str, str]:
        """pysam's index arguments: none (next to the genome), or the files in
        ``index_dir``, built there first (under temporary names, then renamed, so that
        a reader never sees half an index)."""
        if self.index_dir is None:
            return {}
        compressed = is_gzipped(self.path)
        files = {"filepath_index": self.index_dir / f"{self.path.name}.fai"}
        if compressed:
            files["filepath_index_compressed"] = self.index_dir / f"{self.path.name}.gzi"
        if not all(path.is_file() for path in files.values()):
            self.index_dir.mkdir(parents=True, exist_ok=True)
            temporary = {k: v.with_name(f"{v.name}.{os.getpid()}.tmp") for k, v in files.items()}
            options = ["--fai-idx", str(temporary["filepath_index"])]
            if compressed:
                options += ["--gzi-idx", str(temporary["filepath_index_compressed"])]
            pysam.faidx(str(self.path), *options)
            for key, path in temporary.items():
                path.replace(files[key])
        return {key: str(path) for key, path in files.items()}

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """The sequence of ``chrom:start-end`` (0-based, half-open), in upper case.

        Raises:
            UserError: The genome cannot be read there (damaged, or an index that
                does not belong to it).
        """
        try:
            return self._fasta.fetch(chrom, start, end).upper()
        except (UnicodeDecodeError, OSError, ValueError) as exc:
            raise UserError(
                f"cannot read {chrom}:{start}-{end} from the genome ({exc})",
                file=self.path,
                field=self.field,
                hint="the genome or its index (.fai/.gzi) is damaged or out of date: "
                "delete the index files to rebuild them",
            ) from None

    def close(self) -> None:
        """Release the file handle."""
        self._fasta.close()

    def __enter__(self) -> Genome:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict:
        return {"path": self.path, "field": self.field, "index_dir": self.index_dir}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["field"], state.get("index_dir"))

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
