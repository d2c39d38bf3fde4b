"""Sub-packages that share their name with a stage function stay callable.

``from gennie import train`` must give the train stage function. Python binds the
sub-package ``gennie.train`` to that same attribute as soon as anything imports it,
so the sub-packages named after a stage (train, evaluate, predict) call their stage
function when called, and either object behaves as the API documents.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class _StagePackage(types.ModuleType):
    """A package module that calls ``<package>.<module>.<function>`` when called."""

    _stage_function: tuple[str, str]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        module, function = self._stage_function
        return getattr(importlib.import_module(module), function)(*args, **kwargs)


def make_callable(package: str, module: str, function: str) -> None:
    """Make the already-imported ``package`` call ``module.function`` when called.

    Args:
        package: dotted name of the package (``gennie.train``).
        module: dotted name of the module holding the stage function.
        function: the function's name.
    """
    target = sys.modules[package]
    target.__class__ = _StagePackage
    target._stage_function = (module, function)
