"""File-level helpers: opening plain or gzipped text, sniffing formats, checksums."""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path
from typing import IO, Literal

from gennie.errors import UserError

Format = Literal["bed", "fasta", "sequences"]

_GZIP_MAGIC = b"\x1f\x8b"


def is_gzipped(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes (also true for bgzip)."""
    with open(path, "rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def require_file(path: Path | None, field: str, what: str = "file") -> Path:
    """Return ``path`` if it is an existing readable file, else raise a clear error.

    Args:
        path: The path to check (``None`` counts as missing).
        field: The configuration field that named it.
        what: What the file is, for the message (e.g. "genome FASTA").
    """
    if path is None:
        raise UserError(f"no {what} given", field=field, hint=f"set {field}")
    path = Path(path)
    if path.is_dir():
        raise UserError(f"this is a folder, not a {what}", file=path, field=field)
    if not path.is_file():
        raise UserError(
            f"{what} not found",
            file=path,
            field=field,
            hint="check the path (relative paths are taken from the working folder)",
        )
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise UserError(
            f"cannot read the {what} ({exc.strerror})", file=path, field=field
        ) from None
    return path


def open_text(path: Path) -> IO[str]:
    """Open a plain or gzipped text file for reading (universal newlines; a UTF-8
    byte-order mark, as some editors save, is not part of the text)."""
    path = Path(path)
    if is_gzipped(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", errors="replace")
    return open(path, encoding="utf-8-sig", errors="replace")


def sniff_format(path: Path, field: str = "input") -> Format:
    """Tell BED, FASTA and a plain list of sequences apart from the first data line.

    Raises:
        UserError: The file is empty or is none of these formats.
    """
    try:
        with open_text(path) as handle:
            for number, raw in enumerate(handle, start=1):
                line = raw.strip()
                if not line or line.startswith(("#", "track", "browser")):
                    continue
                if line.startswith(">"):
                    return "fasta"
                fields = line.split("\t") if "\t" in line else line.split()
                if (
                    len(fields) >= 3
                    and fields[1].lstrip("-").isdigit()
                    and fields[2].lstrip("-").isdigit()
                ):
                    return "bed"
                if len(fields) == 1 and fields[0].isalpha():
                    return "sequences"
                raise UserError(
                    "cannot tell the format: not BED (chrom, start, end), FASTA ('>' headers) "
                    "or one sequence per line",
                    file=path,
                    line=number,
                    field=field,
                    hint="give a BED, FASTA or sequence-per-line file",
                )
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UserError(f"cannot read the file ({exc})", file=path, field=field) from None
    raise UserError("the file has no data lines", file=path, field=field)


def md5sum(path: Path, chunk: int = 1 << 22) -> str:
    """MD5 of a file's bytes, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(path: Path) -> str:
    """A cheap identity of a file's current content: resolved path, size, modification time."""
    stat = Path(path).stat()
    return f"{Path(path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
