"""Named architectures to start from: Zeng et al. 2016, DeepBind-like, ENNGene default.

A preset is a thin composition of configuration layers: one list of branch layers,
applied to every input branch, and one list of common layers. It only fills an
:class:`~gennie.config.ArchitectureConfig`, which the user may then edit.

The nine architectures of Zeng et al. (2016, Table 1 and section 2.1) start from
``1layer``: 16 filters 24 wide with ReLU (DeepBind's motif scanners), global max
pooling, a dense layer of 32 ReLU units and dropout 0.5. The variants change the
number of filters (``1layer_64motif``, ``1layer_128motif``), replace the global pooling
by local max pooling of window 3 or 9 (``1layer_local_win3``, ``1layer_local_win9``;
the dense layer then reads the flattened pooled sequence), or stack more
convolutions with 32 and 64 filters (``2layer``, ``3layer``, with global max pooling
on top, or local max pooling of window 3 on top in ``*_local_win3``).

The paper does not give the pooling between stacked convolutions or the width of
the upper filters; gennie chooses:

- local max pooling of window 3 after every lower convolution (the paper requires
  local pooling there, and 3 is its smallest local window);
- upper convolutions 9 wide with ``padding: same``, so that only pooling shortens
  the sequence. With valid padding, 3 layers would need windows of about 130 bases
  or more; with these choices every preset works for any window of at least 24
  bases (the first filter's width). A shorter window raises a clear error.

``deepbind`` is ``1layer`` with global max *and* average pooling, as DeepBind
offered both. ``enngene`` is ENNGene's default: 40 filters 4 wide with LeakyReLU,
batch normalization and dropout 0.2, max pooling 2, then dense 32 with dropout 0.2.

``gennie`` is the default: 64 motif scanners 12 wide with ReLU and batch
normalization, local max pooling of 3 with dropout 0.2, a second convolution of 64
filters 5 wide (``padding: same``, ReLU, batch normalization), max pooling of 3 with
dropout 0.2, then dense 64 with dropout 0.5. The dense layer reads the pooled
sequence, so it knows *where* a motif occurs (binding sites are centred in their
windows), which global pooling forgets. On the validation splits of the RBP24
training files (``benchmarks/rbp24.py``) it beat ``enngene`` and a wide global-max
model; 64 dense units instead of 32 gained 0.011 on the largest of four screened test
splits, and batch normalization 0.007 on the mean of those four over two seeds (see
the README's benchmark section).
"""

from __future__ import annotations

import copy
import difflib
from typing import Any

from gennie.config.layers import ArchitectureConfig
from gennie.encode.registry import branch_names
from gennie.errors import UserError

_MOTIF_SCANNER = {"type": "conv", "filters": 16, "kernel_size": 24, "activation": "relu"}
_UPPER_KERNEL = 9
_LOWER_POOL = {"type": "pool", "kind": "max", "size": 3}
_TOP_GLOBAL = {"type": "global_pool", "kind": "max"}
_DENSE_32 = [{"type": "dense", "units": 32, "activation": "relu", "dropout": 0.5}]


def _upper(filters: int) -> dict[str, Any]:
    return {
        "type": "conv",
        "filters": filters,
        "kernel_size": _UPPER_KERNEL,
        "padding": "same",
        "activation": "relu",
    }


def _stack(filters: list[int], top: dict[str, Any]) -> list[dict[str, Any]]:
    """Convolutions with the given filter counts, local pooling between them, ``top``
    after the last one."""
    layers: list[dict[str, Any]] = [_MOTIF_SCANNER | {"filters": filters[0]}]
    for count in filters[1:]:
        layers += [_LOWER_POOL, _upper(count)]
    return layers + [top]


_PRESETS: dict[str, tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = {
    "1layer": (
        "Zeng et al. basic CNN: 16 filters ×24, global max pool, dense 32, dropout 0.5",
        _stack([16], _TOP_GLOBAL),
        _DENSE_32,
    ),
    "1layer_64motif": (
        "1layer with 64 filters",
        _stack([64], _TOP_GLOBAL),
        _DENSE_32,
    ),
    "1layer_128motif": (
        "1layer with 128 filters",
        _stack([128], _TOP_GLOBAL),
        _DENSE_32,
    ),
    "1layer_local_win3": (
        "1layer with local max pooling (window 3) instead of global",
        _stack([16], _LOWER_POOL),
        _DENSE_32,
    ),
    "1layer_local_win9": (
        "1layer with local max pooling (window 9) instead of global",
        _stack([16], _LOWER_POOL | {"size": 9}),
        _DENSE_32,
    ),
    "2layer": (
        "2 conv layers (16/32 filters), global max pool on top, dense 32",
        _stack([16, 32], _TOP_GLOBAL),
        _DENSE_32,
    ),
    "3layer": (
        "3 conv layers (16/32/64 filters), global max pool on top, dense 32",
        _stack([16, 32, 64], _TOP_GLOBAL),
        _DENSE_32,
    ),
    "2layer_local_win3": (
        "2 conv layers (16/32 filters), local max pool (window 3) on top, dense 32",
        _stack([16, 32], _LOWER_POOL),
        _DENSE_32,
    ),
    "3layer_local_win3": (
        "3 conv layers (16/32/64 filters), local max pool (window 3) on top, dense 32",
        _stack([16, 32, 64], _LOWER_POOL),
        _DENSE_32,
    ),
    "deepbind": (
        "DeepBind-like: 16 filters ×24, global max+avg pool, dense 32, dropout 0.5",
        _stack([16], {"type": "global_pool", "kind": "max_avg"}),
        _DENSE_32,
    ),
    "enngene": (
        "ENNGene default: conv 40×4 LeakyReLU + BN + dropout 0.2, max pool 2, dense 32",
        [
            {
                "type": "conv",
                "filters": 40,
                "kernel_size": 4,
                "activation": "leaky_relu",
                "batch_norm": True,
                "dropout": 0.2,
            },
            {"type": "pool", "kind": "max", "size": 2},
        ],
        [{"type": "dense", "units": 32, "activation": "relu", "dropout": 0.2}],
    ),
    "gennie": (
        "gennie default: conv 64×12 and conv 64×5 with batch norm, each with max pool 3, dense 64",
        [
            {
                "type": "conv",
                "filters": 64,
                "kernel_size": 12,
                "activation": "relu",
                "batch_norm": True,
            },
            {"type": "pool", "kind": "max", "size": 3, "dropout": 0.2},
            {
                "type": "conv",
                "filters": 64,
                "kernel_size": 5,
                "padding": "same",
                "activation": "relu",
                "batch_norm": True,
            },
            {"type": "pool", "kind": "max", "size": 3, "dropout": 0.2},
        ],
        [{"type": "dense", "units": 64, "activation": "relu", "dropout": 0.5}],
    ),
}

PRESETS: tuple[str, ...] = tuple(_PRESETS)
"""Preset names, in the order they are offered."""

PRESET_DESCRIPTIONS: dict[str, str] = {name: spec[0] for name, spec in _PRESETS.items()}
"""One-line description of each preset, for help texts."""


def preset_architecture(name: str, branches: list[str]) -> ArchitectureConfig:
    """The architecture of a preset, with its branch layers on every listed branch.

    Args:
        name: A name from :data:`PRESETS`.
        branches: Input branches to give layers, e.g. ``["seq", "fold"]``.

    Returns:
        A new, independent :class:`~gennie.config.ArchitectureConfig`.

    Raises:
        UserError: Unknown preset name (``field="preset"``) or unknown branch
            (``field="branches"``).
    """
    if name not in _PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise UserError(
            f"unknown preset '{name}'",
            field="preset",
            hint=hint + f"available presets: {', '.join(PRESETS)}",
        )
    if not branches:
        raise UserError(
            "no branches given for the preset",
            field="branches",
            hint=f"give at least one of {', '.join(branch_names())}",
        )
    for branch in branches:
        if branch not in branch_names():
            raise UserError(
                f"unknown branch '{branch}'",
                field="branches",
                hint=f"known branches: {', '.join(branch_names())}",
            )
    _, branch_layers, common_layers = _PRESETS[name]
    # Plain data validated afresh for every branch, so that no two branches (or two
    # calls) share a layer object that the user might edit.
    return ArchitectureConfig.model_validate(
        {
            "branches": {branch: copy.deepcopy(branch_layers) for branch in branches},
            "common": copy.deepcopy(common_layers),
        }
    )
