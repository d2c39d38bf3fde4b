"""The search space on an Optuna trial: sampled values → a complete train configuration.

:func:`parameter_dimensions` names every parameter a space can vary (the names are
the columns of ``trials.tsv``): the training options by their train-config field name
(``lr``, ``batch_size``, …), ``preset``, ``branches`` (a combination such as
``seq+fold``), and for a searched architecture one set per branch (``seq.filters``,
``fold.kernel_size``, …) and one for the common part (``common.type``,
``common.units``, …). Entries with a single value are fixed, not parameters.
:func:`trial_config` turns one trial's sample into the :class:`TrainConfig` that the
trial trains with, through the same code as ``gennie train``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna

from gennie.config import (
    CUSTOM_ARCHITECTURE,
    SEARCHED_TRAIN_FIELDS,
    ArchitectureConfig,
    ArchitectureSpace,
    FloatRange,
    IntRange,
    SearchSpace,
    TrainConfig,
)
from gennie.errors import UserError

TRAIN_DIMENSIONS: tuple[str, ...] = SEARCHED_TRAIN_FIELDS
"""Training options a space may vary, by TrainConfig field name (``lr``, …)."""

BRANCH_DIMENSIONS = (
    "conv_layers",
    "filters",
    "kernel_size",
    "dilation",
    "padding",
    "activation",
    "batch_norm",
    "dropout",
    "pool",
    "pool_size",
    "global_pool",
)
"""ArchitectureSpace entries sampled once per branch (parameter ``<branch>.<entry>``)."""

COMMON_DIMENSIONS = {
    "common": "type",
    "common_layers": "layers",
    "units": "units",
    "bidirectional": "bidirectional",
    "common_batch_norm": "batch_norm",
    "common_dropout": "dropout",
}
"""ArchitectureSpace entries of the common part → parameter ``common.<name>``."""

BRANCH_JOIN = "+"
"""Joins a branch combination into one categorical value, e.g. ``seq+fold``."""


def is_searched(dimension: Any) -> bool:
    """True if a dimension varies (a range, or a list of two or more choices)."""
    return isinstance(dimension, (FloatRange, IntRange)) or (
        isinstance(dimension, list) and len(dimension) > 1
    )


def sample(trial: optuna.Trial, name: str, dimension: Any) -> Any:
    """The trial's value of one dimension (a fixed dimension's value without asking).

    Args:
        trial: The Optuna trial (or a ``FixedTrial`` holding known parameters).
        name: The parameter name, e.g. ``lr`` or ``seq.filters``.
        dimension: A fixed value, a list of choices, an IntRange or a FloatRange.
    """
    if isinstance(dimension, FloatRange):
        return trial.suggest_float(
            name, dimension.low, dimension.high, log=dimension.log, step=dimension.step
        )
    if isinstance(dimension, IntRange):
        return trial.suggest_int(
            name, dimension.low, dimension.high, step=dimension.step, log=dimension.log
        )
    if isinstance(dimension, list):
        return dimension[0] if len(dimension) == 1 else trial.suggest_categorical(name, dimension)
    return dimension


def branch_combinations(space: SearchSpace, dataset_branches: list[str]) -> list[list[str]]:
    """The branch combinations to try (default: all the dataset's branches together).

    Raises:
        UserError: A combination names a branch the dataset does not have.
    """
    combinations = space.branches or [list(dataset_branches)]
    for combination in combinations:
        missing = [b for b in combination if b not in dataset_branches]
        if missing:
            raise UserError(
                f"the branch combination {','.join(combination)} uses {', '.join(missing)}, "
                f"which the dataset does not have (it has {', '.join(dataset_branches)})",
                field="space.branches",
                hint="preprocess with those branches, or remove the combination",
            )
    return combinations


def parameter_dimensions(space: SearchSpace, dataset_branches: list[str]) -> dict[str, Any]:
    """Every parameter the space can vary, by name, with its dimension.

    Parameters of one branch are listed for every branch in any combination, those
    of the architecture only when ``custom`` is among the presets.
    """
    found: dict[str, Any] = {}
    for field in TRAIN_DIMENSIONS:
        dimension = getattr(space, field)
        if is_searched(dimension):
            found[field] = dimension
    combinations = branch_combinations(space, dataset_branches)
    if len(combinations) > 1:
        found["branches"] = [BRANCH_JOIN.join(c) for c in combinations]
    if len(space.presets) > 1:
        found["preset"] = space.presets
    architecture = space.architecture
    if architecture is not None and CUSTOM_ARCHITECTURE in space.presets:
        branches = [b for b in dataset_branches if any(b in c for c in combinations)]
        for branch in branches:
            for entry in BRANCH_DIMENSIONS:
                if is_searched(getattr(architecture, entry)):
                    found[f"{branch}.{entry}"] = getattr(architecture, entry)
        for entry, label in COMMON_DIMENSIONS.items():
            if is_searched(getattr(architecture, entry)):
                found[f"common.{label}"] = getattr(architecture, entry)
    return found


def grid_values(dimension: Any) -> list[Any]:
    """The grid points of a dimension (choices, or a stepped range's values)."""
    if isinstance(dimension, IntRange):
        return list(range(dimension.low, dimension.high + 1, dimension.step))
    if isinstance(dimension, FloatRange):
        if dimension.step is None:
            raise UserError(
                "grid search needs choices or a step for every float range",
                field="sampler",
                hint="add step: to the range, list the values, or use the tpe sampler",
            )
        count = int(np.floor((dimension.high - dimension.low) / dimension.step + 1e-9)) + 1
        return [round(dimension.low + i * dimension.step, 12) for i in range(count)]
    return list(dimension)


def _architecture(
    trial: optuna.Trial, space: ArchitectureSpace, branches: list[str]
) -> ArchitectureConfig:
    """Sample one architecture from the searched architecture (see the module docstring)."""
    layers: dict[str, list[dict[str, Any]]] = {}
    for branch in branches:

        def value(entry: str, branch: str = branch) -> Any:
            return sample(trial, f"{branch}.{entry}", getattr(space, entry))

        conv = {
            "type": "conv",
            "filters": value("filters"),
            "kernel_size": value("kernel_size"),
            "dilation": value("dilation"),
            "padding": value("padding"),
            "activation": value("activation"),
            "batch_norm": value("batch_norm"),
            "dropout": value("dropout"),
        }
        pool = value("pool")
        block = [conv] + (
            [{"type": "pool", "kind": pool, "size": value("pool_size")}] if pool != "none" else []
        )
        top = value("global_pool")
        layers[branch] = block * value("conv_layers") + (
            [{"type": "global_pool", "kind": top}] if top != "none" else []
        )

    def common(entry: str) -> Any:
        return sample(trial, f"common.{COMMON_DIMENSIONS[entry]}", getattr(space, entry))

    kind = common("common")
    common_layers: list[dict[str, Any]] = []
    if kind != "none":
        count = common("common_layers")
        layer: dict[str, Any] = {"type": kind, "units": common("units")}
        if kind in ("lstm", "gru"):
            layer["bidirectional"] = common("bidirectional")
        layer["batch_norm"] = common("common_batch_norm")
        layer["dropout"] = common("common_dropout")
        common_layers = [dict(layer) for _ in range(count)]
    return ArchitectureConfig.model_validate({"branches": layers, "common": common_layers})


def trial_config(
    trial: optuna.Trial, space: SearchSpace, dataset_branches: list[str], **fixed: Any
) -> TrainConfig:
    """The train configuration of one trial.

    Args:
        trial: The Optuna trial that samples the parameters.
        space: The search space.
        dataset_branches: Branches of the dataset (the default combination).
        **fixed: Fields set for every trial (dataset, out, name, seed, device, …).

    Returns:
        A validated :class:`TrainConfig`; with the ``custom`` preset its architecture
        is set, otherwise the preset's architecture is resolved by the train stage.
    """
    values: dict[str, Any] = dict(fixed)
    for field in TRAIN_DIMENSIONS:
        dimension = getattr(space, field)
        if dimension is not None:
            values[field] = sample(trial, field, dimension)
    combinations = [BRANCH_JOIN.join(c) for c in branch_combinations(space, dataset_branches)]
    branches = sample(trial, "branches", combinations).split(BRANCH_JOIN)
    values["branches"] = branches
    preset = sample(trial, "preset", space.presets)
    if preset == CUSTOM_ARCHITECTURE:
        assert space.architecture is not None  # checked when the space was validated
        values["architecture"] = _architecture(trial, space.architecture, branches)
    else:
        values["preset"] = preset
    return TrainConfig.model_validate(values)
