"""File-level helpers: opening plain or gzipped text, sniffing formats, checksums.

Every text file gennie reads (BED, FASTA class files, WIG, sequence lists, YAML) is
opened with :func:`open_text` (or read whole with :func:`read_text`). It is the one
place that turns what can go wrong below the format into a
:class:`~gennie.errors.UserError` naming the file and line: a path that is a folder,
a named pipe or a device; a truncated or damaged gzip stream; bytes that are not
UTF-8 text (e.g. Latin-1); binary content (control bytes, or a file of another kind
such as bzip2 or bigWig). Readers built on other libraries (pysam) pass their
failures through :func:`decoding_error`.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import re
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Literal

from gennie.errors import UserError

Format = Literal["bed", "fasta", "sequences"]

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = codecs.BOM_UTF8

_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f]")
"""Bytes that do not occur in text (every ASCII control but tab and line breaks)."""

_COMPRESSED = "gennie reads plain or gzip-compressed text"
_OTHER_KINDS: dict[bytes, tuple[str, str]] = {
    b"BZh": (f"the file is bzip2-compressed; {_COMPRESSED}", "bunzip2 it, or gzip it instead"),
    b"\xfd7zXZ\x00": (f"the file is xz-compressed; {_COMPRESSED}", "unxz it, or gzip it instead"),
    b"\x28\xb5\x2f\xfd": (f"the file is zstd-compressed; {_COMPRESSED}", "unzstd it"),
    b"PK\x03\x04": ("the file is a ZIP archive, not text", "unzip it and give the file inside"),
    b"\x26\xfc\x8f\x88": ("this is a bigWig file, not text", "a bigWig is a signal track"),
    b"\x88\x8f\xfc\x26": ("this is a bigWig file, not text", "a bigWig is a signal track"),
    b"\x93NUMPY": ("this is a NumPy array file, not text", "give the text file instead"),
    b"\xff\xfe": ("the file is UTF-16 text, not UTF-8", "save it as UTF-8"),
    b"\xfe\xff": ("the file is UTF-16 text, not UTF-8", "save it as UTF-8"),
}
"""Starts of files that are not plain or gzipped text: what they are, what to do."""

_PIECE = 1 << 20
"""Bytes read at a time when looking for the line of a problem (bounds memory)."""

_READ_ERRORS = (EOFError, zlib.error, OSError, UnicodeDecodeError)


class _NotText(ValueError):
    """Raised inside the byte stream when it holds a control byte."""


def is_gzipped(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes (also true for bgzip)."""
    with open(path, "rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def _not_regular(mode: int) -> str:
    """What a path that is not a regular file or folder is, in words."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _a(what: str) -> str:
    """``what`` with its indefinite article."""
    return f"an {what}" if what[:1].lower() in "aeiou" else f"a {what}"


def require_file(path: Path | None, field: str | None, what: str = "file") -> Path:
    """Return ``path`` if it is an existing, readable, regular file, else raise a clear
    error. Folders, named pipes, devices (such as ``/dev/zero``) and sockets are
    refused: a reader would fail on them, block, or read forever.

    Args:
        path: The path to check (``None`` counts as missing).
        field: The configuration field that named it.
        what: What the file is, for the message (e.g. "genome FASTA").
    """
    if path is None:
        raise UserError(f"no {what} given", field=field, hint=f"set {field}")
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise UserError(
            f"{what} not found",
            file=path,
            field=field,
            hint="check the path (relative paths are taken from the working folder)",
        ) from None
    except ValueError:
        raise UserError(
            f"the path of the {what} holds a NUL character", file=path, field=field
        ) from None
    except OSError as exc:
        raise UserError(
            f"cannot read the {what} ({exc.strerror})", file=path, field=field
        ) from None
    if stat.S_ISDIR(mode):
        raise UserError(f"this is a folder, not {_a(what)}", file=path, field=field)
    if not stat.S_ISREG(mode):
        raise UserError(
            f"this is {_not_regular(mode)}, not {_a(what)}",
            file=path,
            field=field,
            hint="give a regular file (save the data into a file first)",
        )
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise UserError(
            f"cannot read the {what} ({exc.strerror})", file=path, field=field
        ) from None
    return path


# --------------------------------------------------------------------------- decoding


def _byte_text(value: int) -> str:
    return f"\\x{value:02x}"


def _other_kind(path: Path) -> tuple[str, str] | None:
    """What a file that is not text is, by its first bytes (decompressed if gzipped)."""
    try:
        with open(path, "rb") as raw:
            head = raw.read(8)
            if head.startswith(_GZIP_MAGIC):
                raw.seek(0)
                with gzip.GzipFile(fileobj=raw) as unpacked:
                    head = unpacked.read(8)
    except _READ_ERRORS:
        return None
    return next((kind for magic, kind in _OTHER_KINDS.items() if head.startswith(magic)), None)


def _binary_error(path: Path, number: int, value: int, field: str | None) -> UserError:
    kind = _other_kind(path)
    if kind is not None:
        return UserError(kind[0], file=path, field=field, hint=kind[1])
    return UserError(
        f"the file looks binary, not text: byte {_byte_text(value)} in this line",
        file=path,
        line=number,
        field=field,
        hint="give a plain or gzip-compressed text file",
    )


def _encoding_error(
    path: Path, number: int, piece: bytes, exc: UnicodeDecodeError, field: str | None
) -> UserError:
    kind = _other_kind(path)
    if kind is not None:
        return UserError(kind[0], file=path, field=field, hint=kind[1])
    bad = piece[exc.start : exc.end]
    around = piece[max(0, exc.start - 20) : exc.end + 20].rstrip(b"\r\n")
    shown = around.decode("utf-8", errors="backslashreplace")
    return UserError(
        f"not UTF-8 text: byte {''.join(_byte_text(b) for b in bad)} in '{shown}'",
        file=path,
        line=number,
        field=field,
        hint="save the file as UTF-8 (it may be Latin-1 or Windows-1252 text; e.g. "
        "iconv -f latin1 -t utf-8 FILE > NEW)",
    )


def _stream_error(path: Path, number: int, exc: Exception, field: str | None) -> UserError:
    """A decompression or read failure at line ``number`` as a user error."""
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile)):
        return UserError(
            f"the gzip-compressed file is truncated or damaged: the text breaks off in this "
            f"line ({reason})",
            file=path,
            line=number,
            field=field,
            hint="compress the file again (gzip or bgzip), or copy or download it again",
        )
    return UserError(f"cannot read the file ({reason})", file=path, line=number, field=field)


def find_problem(path: Path, field: str | None = None) -> UserError | None:
    """The first reason the file cannot be read as UTF-8 text, with its line.

    Reads the file again, line by line (slowly; only after a faster read failed).
    Lines longer than a mebibyte are checked in pieces.

    Args:
        path: A plain or gzipped file.
        field: Configuration field named in the error.

    Returns:
        The error, or ``None`` if the whole file reads as text.
    """
    path = Path(path)
    decoder = codecs.getincrementaldecoder("utf-8")()
    number, piece = 1, b""
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            source = gzip.GzipFile(fileobj=raw) if gzipped else raw
            first = True
            while piece := source.readline(_PIECE):
                if first and piece.startswith(_BOM):
                    piece = piece[len(_BOM) :]
                first = False
                control = _CONTROL.search(piece)
                if control:
                    return _binary_error(path, number, piece[control.start()], field)
                decoder.decode(piece)
                number += piece.endswith(b"\n")
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return _encoding_error(path, number, exc.object, exc, field)
    except (EOFError, zlib.error, OSError) as exc:
        return _stream_error(path, number, exc, field)
    return None


def decoding_error(path: Path, exc: BaseException, field: str | None = None) -> UserError:
    """The user error for a failure to decompress or decode a file.

    Used by :class:`TextFile` and by readers built on other libraries (pysam), so that
    a truncated gzip stream, bytes that are not UTF-8 or binary content read the same
    whatever read the file.

    Args:
        path: The file.
        exc: What the reading library raised.
        field: Configuration field named in the error.

    Returns:
        A user error naming the file and, where it can be found, the line.
    """
    found = find_problem(path, field)
    if found is not None:
        return found
    reason = str(exc) or type(exc).__name__
    return UserError(f"cannot read the file ({reason})", file=path, field=field)


class _CheckedBytes(io.RawIOBase):
    """The bytes of a file (decompressed if gzipped), refusing control bytes."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001 - a writable buffer
        data = self._source.read(len(buffer))
        if _CONTROL.search(data):
            raise _NotText
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._source.close()
        super().close()


class TextFile:
    """A plain or gzipped UTF-8 text file, read as lines (see the module docstring).

    Universal newlines; a UTF-8 byte-order mark, as some editors save, is not part of
    the text. Iterating, :meth:`read` and :meth:`readlines` raise a
    :class:`~gennie.errors.UserError` naming the file and line for anything that is
    not text.

    Args:
        path: The file (must be a regular file).
        field: Configuration field named in errors.
    """

    def __init__(self, path: Path, field: str | None = None) -> None:
        self.path = require_file(path, field)
        self.field = field
        raw = open(self.path, "rb")  # noqa: SIM115 - closed with the text stream
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        source = gzip.GzipFile(fileobj=raw) if gzipped else raw
        self._raw = raw
        self._text = io.TextIOWrapper(
            io.BufferedReader(_CheckedBytes(source)), encoding="utf-8-sig", newline=None
        )

    def _problem(self, exc: BaseException) -> UserError:
        return decoding_error(self.path, exc, self.field)

    def __iter__(self) -> Iterator[str]:
        try:
            yield from self._text
        except (_NotText, *_READ_ERRORS) as exc:
            raise self._problem(exc) from None

    def read(self, size: int = -1) -> str:
        """The remaining text, or at most ``size`` characters of it."""
        try:
            return self._text.read(size)
        except (_NotText, *_READ_ERRORS) as exc:
            raise self._problem(exc) from None

    def readlines(self) -> list[str]:
        """Every (remaining) line, with its line break."""
        return list(self)

    def close(self) -> None:
        """Release the file."""
        self._text.close()
        self._raw.close()

    def __enter__(self) -> TextFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_text(path: Path, field: str | None = None) -> TextFile:
    """Open a plain or gzipped UTF-8 text file for reading (see :class:`TextFile`).

    Raises:
        UserError: The path is not a readable regular file (when opening), or the file
            is not text (while reading).
    """
    return TextFile(path, field)


def read_text(path: Path, field: str | None = None) -> str:
    """The whole text of a plain or gzipped UTF-8 file (see :class:`TextFile`)."""
    with open_text(path, field) as handle:
        return handle.read()


# --------------------------------------------------------------------------- formats


def sniff_format(path: Path, field: str = "input") -> Format:
    """Tell BED, FASTA and a plain list of sequences apart from the first data line.

    Raises:
        UserError: The file is empty, not text, or none of these formats.
    """
    with open_text(path, field) as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith(("#", "track", "browser")):
                continue
            if line.startswith(">"):
                return "fasta"
            if line.startswith("@"):
                raise UserError(
                    "this looks like FASTQ (a '@' header line), not FASTA",
                    file=path,
                    line=number,
                    field=field,
                    hint="convert the reads to FASTA (e.g. seqtk seq -a FILE)",
                )
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
    stat_result = Path(path).stat()
    return f"{Path(path).resolve()}:{stat_result.st_size}:{stat_result.st_mtime_ns}"


__all__ = [
    "TextFile",
    "decoding_error",
    "find_problem",
    "fingerprint",
    "is_gzipped",
    "md5sum",
    "open_text",
    "read_text",
    "require_file",
    "sniff_format",
]
