"""How each configuration field is offered to a person: as a CLI flag and a form field.

The CLI's options and the GUI's widgets are both generated from :func:`options`, which
reads a configuration model's fields: the kind of value (from the type annotation),
the default, the description, the bounds and choices, and the flag name. Nothing
about an option is declared here; adding a field to a model adds its flag and its
widget.

A field may carry hints in ``json_schema_extra`` where its type alone does not say how
to offer it:

- ``{"choices": [...]}`` — allowed values of a plain ``str`` field (presets);
- ``{"widget": "branches"}`` — a list of branch names (choices: the branch registry);
- ``{"widget": "lines"}`` — a list of free texts entered one per line (``--x`` repeated);
- ``{"when": {...}}`` — the values of other fields for which it matters (see
  :func:`shown_when`);
- ``{"run_of": "train"}`` — a folder field that takes a run folder of that stage;
- ``{"output": True}`` — a path that gennie writes (it need not exist);
- ``{"level": "advanced"}`` — an option a first-time user need not set (centre
  networks, masking, weight averaging, schedulers, precision, …): the CLI's help lists
  it under "Advanced options" and the GUI draws it in the "Advanced options" expander.
  Options without the hint are ``basic`` (inputs, classes, branches, window, preset,
  epochs, learning rate, batch size, output, threads, …); see :data:`LEVELS`.

Flag names are the field names with dashes; the few that differ (``--class``) are
declared with the stage in :data:`gennie.config.registry.STAGES`.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from gennie.config.stages import is_custom_model
from gennie.encode.registry import branch_names, encoder_class

KINDS = (
    "bool",
    "choice",
    "int",
    "float",
    "text",
    "path",
    "paths",
    "branches",
    "list",
    "lines",
    "classes",
    "numbers",
    "chromosomes",
    "yaml",
)
"""Every kind of option: how its value is typed and shown."""

LEVELS = ("basic", "advanced")
"""The levels of an option: what a first-time user sets, and what only some need."""

ADVANCED_PANEL = "Advanced options"
"""The heading of the advanced options, in the CLI's help and the GUI's form."""

REPEATED = {"paths", "lines", "classes", "numbers", "chromosomes"}
"""Kinds given as a repeated flag (one value per flag) on the command line."""

LABELS = {
    "out": "Output folder",
    "name": "Run name",
    "lr": "Learning rate",
    "lr_schedule": "Learning-rate schedule",
    "lr_decay": "Learning-rate decay",
    "lr_factor": "Learning-rate factor on a plateau",
    "lr_patience": "Learning-rate patience (epochs)",
    "ema_decay": "Weight averaging (EMA decay)",
    "precision": "Arithmetic (32-bit or bfloat16)",
    "mask": "Random masking (share of positions)",
    "classes": "Class files",
    "ratio": "Split ratio",
    "jobs": "Parallel processes",
    "cache_dir": "Cache folder",
    "custom_window": "Custom model: window",
    "custom_classes": "Custom model: classes",
    "custom_branches": "Custom model: branches",
    "custom_alphabet": "Custom model: alphabet",
    "blackbox": "Blackbox dataset",
    "input": "Input file",
    "n_trials": "Number of trials",
    "database": "Motif database (MEME)",
    "top": "Top predictions drawn per class",
    "steps": "Integration steps",
    "vcf": "VCF file",
    "sites": "Sites (BED)",
    "ref_mismatch": "REF differing from the genome",
}
"""Labels that say more than the field name (others: ``batch_size`` → ``Batch size``)."""


def label(name: str) -> str:
    """The label shown for a field (``batch_size`` → ``Batch size``)."""
    return LABELS.get(name, name.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Option:
    """One field of a configuration model, as a person sets it.

    Attributes:
        name: The configuration field.
        kind: One of :data:`KINDS`.
        default: The model's default.
        help: The model's description.
        optional: ``None`` is a valid value.
        choices: The allowed values of a ``choice`` or ``branches`` field.
        minimum, maximum: Bounds of a number field.
        keys: Allowed keys of a ``chromosomes`` mapping.
        flag: The CLI flag's name by default, e.g. ``batch-size``.
        run_of: For a folder field that takes a run folder: the stage of that run.
        output: A path that gennie writes (it need not exist).
        level: One of :data:`LEVELS` (the ``level`` hint; ``basic`` without one).
    """

    name: str
    kind: str
    default: Any
    help: str
    optional: bool = False
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    keys: tuple = field(default=())
    flag: str = ""
    run_of: str | None = None
    output: bool = False
    level: str = "basic"

    @property
    def advanced(self) -> bool:
        """Whether the option is listed under "Advanced options"."""
        return self.level == "advanced"

    @property
    def label(self) -> str:
        """The field's label in the GUI."""
        return label(self.name)

    @property
    def repeated(self) -> bool:
        """Whether the CLI flag is repeated, one value each time."""
        return self.kind in REPEATED

    @property
    def cli(self) -> bool:
        """Whether the option has a CLI flag (nested sections are YAML-only)."""
        return self.kind != "yaml"


def _is_optional(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def _strip_optional(annotation: Any) -> Any:
    if _is_optional(annotation):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    low = high = None
    for meta in info.metadata:
        for attr in ("ge", "gt"):
            if getattr(meta, attr, None) is not None:
                low = getattr(meta, attr)
        for attr in ("le", "lt"):
            if getattr(meta, attr, None) is not None:
                high = getattr(meta, attr)
    return low, high


def _hints(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return dict(extra) if isinstance(extra, dict) else {}


def _kind(inner: Any, hints: dict[str, Any]) -> tuple[str, tuple]:
    """The kind of a (non-optional) annotation, and its choices."""
    origin, args = get_origin(inner), get_args(inner)
    widget = hints.get("widget")
    if inner is bool:
        return "bool", ()
    if origin is Literal:
        return "choice", args
    if inner is int:
        return "int", ()
    if inner is float:
        return "float", ()
    if inner is str:
        return ("choice", tuple(hints["choices"])) if "choices" in hints else ("text", ())
    if inner is Path:
        return "path", ()
    if origin is list and args == (Path,):
        return "paths", ()
    if origin is list and args == (str,):
        if widget == "branches":
            return "branches", branch_names()
        return ("lines" if widget == "lines" else "list"), ()
    if origin is dict and args == (str, Path):
        return "classes", ()
    if origin is dict and args[0] is str and args[1] in (float, int):
        return "numbers", ()
    if origin is dict and get_origin(args[0]) is Literal and get_origin(args[1]) is list:
        return "chromosomes", ()
    return "yaml", ()


def option(name: str, info: FieldInfo) -> Option:
    """The :class:`Option` of one model field (its kind chosen from the annotation)."""
    hints = _hints(info)
    inner = _strip_optional(info.annotation)
    kind, choices = _kind(inner, hints)
    low, high = _bounds(info)
    level = hints.get("level", LEVELS[0])
    if level not in LEVELS:
        raise ValueError(f"field {name}: level '{level}' is not one of {', '.join(LEVELS)}")
    return Option(
        name=name,
        kind=kind,
        default=info.get_default(call_default_factory=True),
        help=info.description or "",
        optional=_is_optional(info.annotation),
        choices=tuple(choices),
        minimum=low,
        maximum=high,
        keys=get_args(get_args(inner)[0]) if kind == "chromosomes" else (),
        flag=name.replace("_", "-"),
        run_of=hints.get("run_of"),
        output=bool(hints.get("output")),
        level=level,
    )


@functools.cache
def options(model: type[BaseModel]) -> tuple[Option, ...]:
    """Every field of a configuration model as an :class:`Option`, in field order."""
    return tuple(option(name, info) for name, info in model.model_fields.items())


# --------------------------------------------------------------------------- visibility


def shown_when(model: type[BaseModel]) -> dict[str, Callable[[dict[str, Any]], bool]]:
    """Fields that matter only for some values of the others, with the rule.

    A field declares the rule in ``json_schema_extra`` as ``{"when": {OTHER: VALUES}}``:
    it matters when field OTHER holds one of VALUES (``true`` for any set value;
    ``custom`` for a custom model file), or, for a list field such as ``branches``,
    contains one of them.
    """
    rules: dict[str, Callable[[dict[str, Any]], bool]] = {}
    for name, info in model.model_fields.items():
        when = _hints(info).get("when")
        if when:
            rules[name] = functools.partial(_matches, when)
    if "branches" in model.model_fields:
        # Options of a branch type (its encoder's option_fields) matter with that branch.
        for branch in branch_names():
            for name in getattr(encoder_class(branch), "option_fields", ()):
                if name in model.model_fields:
                    rules[name] = functools.partial(_matches, {"branches": [branch]})
    return rules


def _matches(when: dict[str, Any], values: dict[str, Any]) -> bool:
    for other, wanted in when.items():
        value = values.get(other)
        wanted = wanted if isinstance(wanted, list) else [wanted]
        if wanted == ["custom"]:
            if not is_custom_model(value):
                return False
        elif True in wanted:  # any value that is set (a non-empty list too)
            if not value:
                return False
        elif isinstance(value, list):
            if not any(v in wanted for v in value):
                return False
        elif value not in wanted:
            return False
    return True
