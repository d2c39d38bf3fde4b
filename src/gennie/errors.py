"""The one exception type for mistakes a user can fix.

Everything a user can get wrong (a missing file, a malformed BED line, a bad ratio,
a model that does not match the data) is raised as :class:`UserError`, carrying where
the problem is (file, line, field) and what to do about it. The CLI prints it and
exits with code 2; the GUI shows it next to the field. Any other exception is a bug
and surfaces with a traceback in the run's log.
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """A problem with the user's input, reported without a traceback.

    Args:
        message: What is wrong, in one sentence.
        file: The file the problem is in, if any.
        line: The 1-based line (or record) number in ``file``, if known.
        field: The configuration field the problem concerns, if any.
        hint: What the user can do to fix it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        self.hint = hint

    @property
    def location(self) -> str:
        """Where the problem is, e.g. ``peaks.bed, line 12`` or ``field 'window'``."""
        parts = []
        if self.file:
            parts.append(self.file if self.line is None else f"{self.file}, line {self.line}")
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
            "field": self.field,
            "hint": self.hint,
        }
