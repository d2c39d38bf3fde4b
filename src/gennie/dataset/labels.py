"""Class names in labelled inputs, for scoring a model on them.

:func:`header_class` finds a model's class named as a word in a FASTA header (one of
the header forms of :mod:`gennie.dataset.labelled`); :func:`class_index` checks the
class named for a whole file (``classes.NAME=FILE``).
"""

from __future__ import annotations

import re

from gennie.errors import UserError


def header_class(header: str, classes: list[str]) -> str | None:
    """The class named in a FASTA header.

    Args:
        header: The header line, without ``>``.
        classes: The model's class names.

    Returns:
        The one word (split on spaces, ``| ; , = :``) that equals a class name; None
        if no word or several different classes match.
    """
    words = set(re.split(r"[\s|;,=:]+", header))
    found = [c for c in classes if c in words]
    return found[0] if len(found) == 1 else None


def class_index(name: str, classes: list[str]) -> int:
    """The index of a class named for a whole file (``classes.NAME=FILE``).

    Args:
        name: The class name given for the file.
        classes: The model's class names.

    Returns:
        Its index among ``classes``.

    Raises:
        UserError: The name is not a class of the model.
    """
    if name not in classes:
        raise UserError(
            f"'{name}' is not a class of the model ({', '.join(classes)})",
            field=f"classes.{name}",
        )
    return classes.index(name)
