"""The one exception type for mistakes a user can fix.

Everything a user can get wrong (a missing file, a malformed BED line, a bad ratio,
a model that does not match the data) is raised as :class:`UserError`, carrying where
the problem is (file, line or record, field) and what to do about it. The CLI prints
it and exits with code 2; the GUI shows it next to the field. Any other exception is a
bug and surfaces with a traceback in the run's log.
"""

from __future__ import annotations

from pathlib import Path


def printable(text: str) -> str:
    """``text`` with every unprintable character written as its escape (``\\x00``,
    ``\\t``, ``\\u200b``), so that a message quoting a user's bytes shows them; line
    breaks are kept.

    Args:
        text: Any text.

    Returns:
        The text, unchanged when every character is printable.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == "\n" else repr(ch)[1:-1] for ch in text)


class UserError(Exception):
    """A problem with the user's input, reported without a traceback.

    Unprintable characters in the message and hint (e.g. bytes quoted from a binary
    file) are shown as escapes (see :func:`printable`).

    Args:
        message: What is wrong, in one sentence.
        file: The file the problem is in, if any.
        line: The 1-based line number in ``file``, if known.
        record: The 1-based record number in ``file`` (e.g. the n-th FASTA record),
            if the problem concerns a record rather than a line.
        field: The configuration field the problem concerns, if any.
        hint: What the user can do to fix it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        record: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        message = printable(str(message))
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.record = record
        self.field = field
        self.hint = printable(str(hint)) if hint is not None else None

    @property
    def location(self) -> str:
        """Where the problem is, e.g. ``peaks.bed, line 12``, ``seqs.fa, record 3`` or
        ``field 'window'``."""
        parts = []
        if self.file:
            where = [printable(self.file)]
            if self.line is not None:
                where.append(f"line {self.line}")
            if self.record is not None:
                where.append(f"record {self.record}")
            parts.append(", ".join(where))
        if self.field:
            parts.append(f"field '{self.field}'")
        return "; ".join(parts)

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, str | int | None]:
        """The error as a JSON-friendly dictionary (for ``--json`` output and the GUI)."""
        return {
            "error": self.message,
            "file": self.file,
            "line": self.line,
            "record": self.record,
            "field": self.field,
            "hint": self.hint,
        }
