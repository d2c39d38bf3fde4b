"""Networks built from an architecture configuration, bundles, and summaries.

- :mod:`gennie.model.layers`: one block per configuration layer type.
- :mod:`gennie.model.network`: :class:`MultiBranchNetwork`, branches → concatenation →
  common part → logits.
- :mod:`gennie.config.presets`: named architectures (Zeng et al. 2016, DeepBind-like,
  ENNGene default).
- :mod:`gennie.model.summary`: per-layer shapes and parameters, architecture picture.

The names below are imported lazily: importing this package does not import torch.
Presets are plain data in :mod:`gennie.config.presets`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "MultiBranchNetwork": "gennie.model.network",
    "build_network": "gennie.model.network",
    "draw_architecture": "gennie.model.summary",
    "format_layer_table": "gennie.model.summary",
    "layer_table": "gennie.model.summary",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gennie.model' has no attribute {name!r}")
