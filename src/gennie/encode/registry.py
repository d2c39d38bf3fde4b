"""The branch registry: the one list of the branch types gennie knows.

A branch type is a :class:`~gennie.encode.base.BranchEncoder` subclass. gennie's own
(``seq``, ``fold``, ``cons``) are listed here by import path; other packages add
theirs through the Python entry-point group ``gennie.branches``::

    # pyproject.toml of a plug-in package
    [project.entry-points."gennie.branches"]
    gc = "my_package.gc:GCEncoder"

and a script can add one for its own process with :func:`register_branch`. Reading the
names imports no encoder; an encoder's module is imported when it is first used.
"""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import EntryPoint, entry_points
from typing import Any

ENTRY_POINT_GROUP = "gennie.branches"
"""The entry-point group that plug-in packages list their encoders in."""

BUILTIN: dict[str, str] = {
    "seq": "gennie.encode.sequence:SequenceEncoder",
    "fold": "gennie.encode.structure:FoldEncoder",
    "cons": "gennie.encode.conservation:ConservationEncoder",
}
"""gennie's own branch types, in the order they are listed to users."""

_registered: dict[str, type] = {}


@functools.cache
def _plugins() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in BUILTIN}


def register_branch(encoder: type[Any], name: str | None = None) -> type[Any]:
    """Make a branch type known in this process (usable as a class decorator).

    Args:
        encoder: A :class:`~gennie.encode.base.BranchEncoder` subclass.
        name: The branch name (default: the encoder's ``name`` attribute).

    Returns:
        The encoder, unchanged.

    Raises:
        ValueError: The name is not a plain identifier, or belongs to a built-in branch.
    """
    name = name or encoder.name
    if not str(name).isidentifier():
        raise ValueError(f"branch name {name!r} must be a plain identifier such as 'gc'")
    if name in BUILTIN:
        raise ValueError(f"'{name}' is a built-in branch of gennie")
    _registered[name] = encoder
    return encoder


def unregister_branch(name: str) -> None:
    """Forget a branch registered with :func:`register_branch` (tests, notebooks)."""
    _registered.pop(name, None)


def branch_names() -> tuple[str, ...]:
    """Every known branch name: built-in, then plug-ins, then registered here."""
    names = list(BUILTIN) + sorted(_plugins())
    return tuple(names + [n for n in _registered if n not in names])


def encoder_class(name: str) -> type[Any] | None:
    """The encoder class of a branch, or ``None`` for an unknown name."""
    if name in _registered:
        return _registered[name]
    if name in BUILTIN:
        module, _, attribute = BUILTIN[name].partition(":")
        return getattr(importlib.import_module(module), attribute)
    if name in _plugins():
        return _plugins()[name].load()
    return None
