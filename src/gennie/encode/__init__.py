"""Branch encoders: how a window of sequence becomes one input branch of the network.

Each branch type (``seq`` one-hot, ``fold`` RNA structure, ``cons`` signal tracks, and
any plug-in) is a :class:`~gennie.encode.base.BranchEncoder` listed in
:mod:`gennie.encode.registry`. The encoder interface (and numpy) is imported when first
used, so that reading the branch names (the CLI's help) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from gennie.encode.registry import branch_names, register_branch

_FROM_BASE = ("BranchEncoder", "WindowBatch", "encoder_type", "make_encoder")

__all__ = [*_FROM_BASE, "branch_names", "register_branch"]


def __getattr__(name: str) -> Any:
    if name in _FROM_BASE:
        return getattr(import_module("gennie.encode.base"), name)
    raise AttributeError(f"module 'gennie.encode' has no attribute {name!r}")
