"""What every configuration model shares: strict validation, the run-folder fields
(``out``, ``name``, ``seed``) and the names of the dataset splits."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

SPLITS = ("train", "validation", "test", "blackbox")
"""The dataset splits, in order. ``blackbox`` is optional (ratio 0 or no chromosomes)."""


Activation = Literal["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "exp", "linear"]
PoolKind = Literal["max", "avg", "max_avg"]
Precision = Literal["32", "bf16"]
"""Training arithmetic: float32, or bfloat16 mixed precision."""


class FieldError(ValueError):
    """A problem found by a model-level validator that concerns one field.

    Raised inside validators (pydantic wraps it); :func:`gennie.config.loading.field_errors`
    and the :class:`~gennie.errors.UserError` built from it name that field.

    Args:
        field: The field (dotted for nested ones) the problem is about.
        message: What is wrong.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_branch_names(names: list[str] | Any, *, allow_empty: bool = False) -> None:
    """Check branch names against the branch registry (:mod:`gennie.encode.registry`).

    Raises:
        ValueError: No branch, an unknown branch, or a branch listed twice.
    """
    from gennie.encode.registry import branch_names

    if not names and not allow_empty:
        raise ValueError("at least one branch is needed (e.g. seq)")
    known = branch_names()
    for name in names:
        if name not in known:
            raise ValueError(f"unknown branch '{name}' (known: {', '.join(known)})")
    if len(set(names)) != len(list(names)):
        raise ValueError("a branch is listed twice")


class StrictModel(BaseModel):
    """Base for all configuration models: unknown keys are errors, assignments
    validated, and a number field takes finite numbers only (no NaN or infinity)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class StageConfig(StrictModel):
    """Fields shared by every stage."""

    stage: ClassVar[str]
    out: Path = Field(
        Path("gennie-runs"),
        description="Output folder; each run gets its own sub-folder there and one row in "
        "the folder's <stage>_parameters.tsv.",
        json_schema_extra={"output": True},
    )
    name: str | None = Field(
        None,
        description="Name of the run folder (default: <stage>_<date>-<time>).",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
    )
    seed: int = Field(
        42,
        ge=0,
        le=2**32 - 1,
        description="One seed for splits, initialisation and shuffling.",
    )
    threads: int = Field(
        1,
        ge=0,
        le=1024,
        description="CPU threads of the run for PyTorch and the numeric libraries of the "
        "processes it starts (tune: of each worker). 0 = PyTorch's default, one per core; "
        "on a machine shared with other work that was measured many times slower than "
        "1 (see benchmarks/threads.py).",
    )
