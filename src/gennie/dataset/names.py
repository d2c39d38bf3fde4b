"""Names that come from data (class, branch and target names) and become file names.

A model bundle or a dataset is data written by someone else: its class names end up
in column headers, in report sections and in the names of files gennie writes (the
logo of each reported sample, for one). :func:`name_problem` is the rule a saved
name must follow (letters, digits and ``. _ + -``, not starting with a dot, at most
:data:`MAX_NAME_LENGTH` characters), so that no name is a path; :func:`safe_file_name`
turns any text into a file name that stays inside the folder it is joined to, for
every place where a name becomes part of a path.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME_LENGTH = 100
"""Longest class, branch or target name a saved record may hold."""

_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]*")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


def name_problem(name: object) -> str | None:
    """Why ``name`` is not a safe name, or None when it is.

    Args:
        name: A class, branch or target name as read from a file.

    Returns:
        A short reason (``"may only contain letters, digits and . _ + -"``), or None.
    """
    if not isinstance(name, str):
        return f"a name must be text, not {type(name).__name__}"
    if not name:
        return "a name may not be empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"a name may have at most {MAX_NAME_LENGTH} characters, not {len(name)}"
    if name.startswith("."):
        return f"the name '{name}' may not start with a dot"
    if not _NAME.fullmatch(name):
        return f"the name '{name[:40]}' may only contain letters, digits and . _ + -"
    return None


def check_names(names: list[str], what: str) -> list[str]:
    """Check a list of names for :func:`name_problem` and duplicates.

    Args:
        names: The names, e.g. a model's classes.
        what: What they are, for the message (``"class"``).

    Returns:
        ``names`` unchanged.

    Raises:
        ValueError: A name is not safe, or one is listed twice.
    """
    for name in names:
        problem = name_problem(name)
        if problem:
            raise ValueError(f"{what} name: {problem}")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"the {what} name '{name}' is listed twice")
        seen.add(name)
    return names


def safe_file_name(text: str, max_length: int = 80) -> str:
    """A file name made from ``text`` that names a file inside the folder it is
    joined to: no separators, no leading dot, bounded length.

    A safe name (see :func:`name_problem`) within ``max_length`` comes back unchanged.
    Anything else has every other character replaced by ``_``, leading dots removed,
    is cut to length, and gets a short digest of the original text, so that two
    different texts do not end up as one file name.

    Args:
        text: Any text, e.g. a class name read from a model bundle.
        max_length: Longest result (at least 16).

    Returns:
        Letters, digits and ``. _ + -`` only, not starting with a dot, never empty,
        never ``.`` or ``..``.

    Examples:
        ``safe_file_name("bound")`` is ``"bound"``; ``safe_file_name("/tmp/x")`` is
        ``"_tmp_x-"`` followed by eight hexadecimal digits.
    """
    text = str(text)
    max_length = max(16, max_length)
    if len(text) <= max_length and name_problem(text) is None:
        return text
    digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    cleaned = _UNSAFE.sub("_", text).lstrip(".")
    return f"{cleaned[: max_length - len(digest) - 1]}-{digest}"
