"""Per-base signal tracks (conservation scores and the like): bigWig and WIG.

bigWig files are read with pyBigWig. WIG files (``fixedStep`` and ``variableStep``
sections, plain or gzipped, with optional ``track``/``browser``/``#`` lines) are
converted once into a bigWig in a cache folder, named by the WIG file's MD5 checksum,
and that bigWig is used from then on. WIG coordinates are 1-based; bigWig and gennie
use 0-based half-open intervals. A chromosome's length in a converted track is the end
of its last WIG entry (reads beyond it count as missing values).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import pyBigWig

from gennie.errors import UserError
from gennie.io.files import md5sum, open_text, require_file

log = logging.getLogger("gennie.tracks")

_BIGWIG_MAGIC = (b"\x26\xfc\x8f\x88", b"\x88\x8f\xfc\x26")
_DECLARATION = re.compile(r"^(fixedStep|variableStep)(\s.*)?$")
_ENTRIES_PER_CALL = 200_000
_LINES_PER_BLOCK = 1_000_000


def track_format(path: Path, field: str = "conservation") -> Literal["bigwig", "wig"]:
    """``bigwig`` or ``wig`` by content (not by file name).

    Raises:
        UserError: Neither a bigWig nor a WIG file.
    """
    require_file(path, field, "signal track")
    with open(path, "rb") as handle:
        if handle.read(4) in _BIGWIG_MAGIC:
            return "bigwig"
    with open_text(path, field) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith(("track", "browser", "#")):
                continue
            if _DECLARATION.match(text):
                return "wig"
            raise UserError(
                "not a bigWig or WIG file: the first data line is not a fixedStep or "
                "variableStep declaration",
                file=path,
                line=number,
                field=field,
                hint="give a bigWig, or a WIG with fixedStep/variableStep sections "
                "(convert bedGraph with bedGraphToBigWig)",
            )
    raise UserError("the track file is empty", file=path, field=field)


def _declaration(text: str, path: Path, number: int, field: str) -> dict[str, str]:
    """Key=value pairs of a fixedStep/variableStep line (plus ``kind``)."""
    kind, *pairs = text.split()
    values = {"kind": kind}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UserError(
                f"'{pair}' in a {kind} line is not key=value",
                file=path,
                line=number,
                field=field,
            )
        values[key] = value
    required = ("chrom", "start", "step") if kind == "fixedStep" else ("chrom",)
    missing = [k for k in required if k not in values]
    if missing:
        raise UserError(
            f"{kind} line lacks {', '.join(missing)}",
            file=path,
            line=number,
            field=field,
            hint="e.g. 'fixedStep chrom=chr1 start=1 step=1' or 'variableStep chrom=chr1'",
        )
    for key in ("start", "step", "span"):
        if key in values and (not values[key].isdigit() or int(values[key]) < 1):
            raise UserError(
                f"{key}={values[key]} must be a positive whole number (WIG is 1-based)",
                file=path,
                line=number,
                field=field,
            )
    return values


def read_wig(path: Path, field: str = "conservation") -> dict[str, np.ndarray]:
    """All entries of a WIG file, per chromosome, sorted by start.

    Args:
        path: WIG file (plain or gzipped) with fixedStep/variableStep sections.
        field: Configuration field named in error messages.

    Returns:
        ``{chrom: array}`` in order of first appearance; each array is a structured
        array with fields ``start``, ``end`` (0-based half-open, int64) and ``value``
        (float32), NaN values left out.

    Raises:
        UserError: A malformed line (with its number), a data line before any
            declaration, or overlapping entries.
    """
    parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    section: dict[str, str] | None = None
    buffer: list[str] = []
    buffer_line = 0

    def flush() -> None:
        nonlocal buffer
        if not buffer or section is None:
            buffer = []
            return
        chrom, span = section["chrom"], int(section.get("span", 1))
        try:
            if section["kind"] == "fixedStep":
                values = np.array(buffer, dtype=np.float64)
                step, first = int(section["step"]), int(section["start"]) - 1
                starts = first + step * np.arange(len(values), dtype=np.int64)
                section["start"] = str(first + step * len(values) + 1)  # a later block goes on
            else:
                table = np.array([line.split() for line in buffer], dtype=np.float64)
                if table.ndim != 2 or table.shape[1] != 2:
                    raise ValueError("variableStep data lines need a position and a value")
                starts, values = table[:, 0].astype(np.int64) - 1, table[:, 1]
                if (starts < 0).any():
                    raise ValueError("positions are 1-based and must be at least 1")
        except ValueError as exc:
            bad = _first_bad_line(buffer, section["kind"])
            raise UserError(
                f"malformed {section['kind']} data line '{buffer[bad].strip()}' ({exc})",
                file=path,
                line=buffer_line + bad,
                field=field,
                hint="fixedStep data lines hold one number, variableStep lines 'position value'",
            ) from None
        infinite = np.flatnonzero(np.isinf(values))
        if infinite.size:
            raise UserError(
                f"value '{buffer[infinite[0]].strip()}' is not a finite number",
                file=path,
                line=buffer_line + int(infinite[0]),
                field=field,
                hint="write missing values as NaN or leave the positions out",
            )
        keep = ~np.isnan(values)
        parts.setdefault(chrom, []).append(
            (starts[keep], starts[keep] + span, values[keep].astype(np.float32))
        )
        buffer = []

    with open_text(path, field) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith(("track", "browser", "#")):
                continue
            if text[0].isalpha() and _DECLARATION.match(text):
                flush()
                section = _declaration(text, path, number, field)
                continue
            if section is None:
                raise UserError(
                    "data line before any fixedStep/variableStep declaration",
                    file=path,
                    line=number,
                    field=field,
                )
            if not buffer:
                buffer_line = number
            buffer.append(text)
            if len(buffer) >= _LINES_PER_BLOCK:
                flush()  # a fixedStep section goes on where this block ended
    flush()

    result: dict[str, np.ndarray] = {}
    for chrom, chunks in parts.items():
        starts = np.concatenate([c[0] for c in chunks])
        ends = np.concatenate([c[1] for c in chunks])
        values = np.concatenate([c[2] for c in chunks])
        order = np.argsort(starts, kind="stable")
        entries = np.empty(order.size, dtype=[("start", "i8"), ("end", "i8"), ("value", "f4")])
        entries["start"], entries["end"], entries["value"] = (
            starts[order],
            ends[order],
            values[order],
        )
        overlap = np.flatnonzero(entries["start"][1:] < entries["end"][:-1])
        if overlap.size:
            at = int(entries["start"][overlap[0] + 1]) + 1
            raise UserError(
                f"entries overlap on {chrom} at position {at} (1-based)",
                file=path,
                field=field,
                hint="each base may have one value; check span= and repeated sections",
            )
        result[chrom] = entries
    return result


def _first_bad_line(lines: list[str], kind: str) -> int:
    """Index of the first data line that does not parse."""
    for i, line in enumerate(lines):
        words = line.split()
        try:
            if kind == "fixedStep":
                float(line)
            elif len(words) != 2 or int(words[0]) < 1:
                return i
            else:
                float(words[1])
        except ValueError:
            return i
    return 0


def write_bigwig(path: Path, tracks: dict[str, np.ndarray], max_zooms: int = 10) -> None:
    """Write per-chromosome entries (as from :func:`read_wig`) into a bigWig file.

    Args:
        path: The bigWig file to write.
        tracks: ``{chrom: structured array with start, end, value}`` sorted by start;
            a chromosome's length is the end of its last entry.
        max_zooms: Zoom levels to store (0 = none; only summaries need them).
    """
    chroms = [(c, int(e["end"][-1])) for c, e in tracks.items() if len(e)]
    with _open_bigwig_for_writing(path) as bw:
        bw.addHeader(chroms, maxZooms=max_zooms)
        for chrom, _ in chroms:
            entries = tracks[chrom]
            for lo in range(0, len(entries), _ENTRIES_PER_CALL):
                part = entries[lo : lo + _ENTRIES_PER_CALL]
                bw.addEntries(
                    [chrom] * len(part),
                    part["start"].tolist(),
                    ends=part["end"].tolist(),
                    values=part["value"].astype(float).tolist(),
                )


class _open_bigwig_for_writing:
    """Context manager around ``pyBigWig.open(path, "w")``."""

    def __init__(self, path: Path) -> None:
        self.handle = pyBigWig.open(str(path), "w")
        if self.handle is None:
            raise OSError(f"cannot write {path}")

    def __enter__(self):
        return self.handle

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def bigwig_path(
    path: Path,
    cache_dir: Path,
    field: str = "conservation",
    checksum: Callable[[Path], str] = md5sum,
) -> Path:
    """The bigWig to read for a track: itself, or its cached conversion if it is WIG.

    Args:
        path: A bigWig or WIG file.
        cache_dir: Where converted WIG files are kept (``<md5 of the WIG>.bw``).
        field: Configuration field named in error messages.
        checksum: MD5 of a file (e.g. a memoizing one).

    Returns:
        Path of a bigWig file.
    """
    path = Path(path)
    if track_format(path, field) == "bigwig":
        return path
    target = Path(cache_dir) / f"{checksum(path)}.bw"
    if target.is_file():
        log.info("track %s: converted bigWig from the cache %s", path.name, target.name)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("track %s: converting WIG to bigWig (once; cached as %s)", path.name, target)
    entries = {chrom: found for chrom, found in read_wig(path, field).items() if len(found)}
    if not entries:
        raise UserError("the WIG file holds no values", file=path, field=field)
    partial = target.with_suffix(".partial.bw")
    write_bigwig(partial, entries, max_zooms=0)
    partial.replace(target)
    return target


def open_bigwig(path: Path, field: str = "conservation"):
    """Open a bigWig file for reading with pyBigWig.

    Raises:
        UserError: The file cannot be opened as bigWig.
    """
    try:
        handle = pyBigWig.open(str(path))
    except RuntimeError:
        handle = None
    if handle is None or not handle.isBigWig():
        raise UserError("cannot open the track as bigWig", file=path, field=field)
    return handle


def chrom_alias(chrom: str, names: dict[str, int] | set[str]) -> str | None:
    """The same chromosome under the other naming convention (``chr1`` ↔ ``1``,
    ``chrM`` ↔ ``MT``), if ``names`` has it."""
    candidates = [chrom[3:]] if chrom.startswith("chr") else ["chr" + chrom]
    if chrom in ("chrM", "MT", "M"):
        candidates += ["MT", "chrM", "M"]
    for candidate in candidates:
        if candidate != chrom and candidate in names:
            return candidate
    return None


__all__ = [
    "bigwig_path",
    "chrom_alias",
    "open_bigwig",
    "read_wig",
    "track_format",
    "write_bigwig",
]
