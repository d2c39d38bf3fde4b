"""Form fields generated from the configuration models, and their validation.

The GUI never re-declares an option: every field of a stage's pydantic model becomes a
form field whose widget kind, default, choices and help come from the model. This
module holds the part without Streamlit (so it is unit-testable): field kinds, value
conversion, which fields show for the current values, path checks, and validation of a
whole page into a configuration plus per-field messages.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from gennie.config import KNOWN_BRANCHES, STAGES, StageConfig, build_config
from gennie.errors import UserError

OUTPUT_FIELDS = {"out", "cache_dir"}
"""Path fields that name something gennie writes (they need not exist)."""

RUN_FOLDER_FIELDS = {"dataset": "preprocess", "model": "train", "blackbox": "preprocess"}
"""Path fields that take a run folder, and the stage of that run."""

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
}


def label(name: str) -> str:
    """The label shown for a field (``batch_size`` → ``Batch size``)."""
    return LABELS.get(name, name.replace("_", " ").capitalize())


def _is_optional(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def _strip_optional(annotation: Any) -> Any:
    if _is_optional(annotation):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


@dataclass(frozen=True)
class FormField:
    """One option of a stage, as the form shows it.

    Attributes:
        name: The configuration field.
        kind: Widget kind: ``bool``, ``choice``, ``int``, ``float``, ``text``, ``path``,
            ``paths``, ``branches``, ``list``, ``lines``, ``classes``, ``numbers``, ``chromosomes``
            or ``yaml`` (anything else, edited as YAML).
        default: The model's default.
        help: The model's description.
        optional: ``None`` is a valid value.
        choices: The allowed values of a ``choice`` field.
        minimum, maximum: Bounds of a number field.
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

    @property
    def label(self) -> str:
        """The field's label."""
        return label(self.name)


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


def form_field(name: str, info: FieldInfo) -> FormField:
    """The form field of one model field (kind chosen from its type annotation)."""
    annotation = info.annotation
    optional = _is_optional(annotation)
    inner = _strip_optional(annotation)
    origin, args = get_origin(inner), get_args(inner)
    default = info.get_default(call_default_factory=True)
    help_text = info.description or ""
    low, high = _bounds(info)
    common = {"default": default, "help": help_text, "optional": optional}
    if inner is bool:
        return FormField(name, "bool", **common)
    if origin is Literal:
        return FormField(name, "choice", choices=args, **common)
    if inner is int:
        return FormField(name, "int", minimum=low, maximum=high, **common)
    if inner is float:
        return FormField(name, "float", minimum=low, maximum=high, **common)
    if inner is str and name == "preset":
        from gennie.config.presets import PRESETS  # plain data; does not import torch

        return FormField(name, "choice", choices=tuple(PRESETS), **common)
    if inner is str:
        return FormField(name, "text", **common)
    if inner is Path:
        return FormField(name, "path", **common)
    if origin is list and args == (Path,):
        return FormField(name, "paths", **common)
    if origin is list and args == (str,):
        kind = "branches" if name.endswith("branches") else "list"
        kind = "lines" if name == "sequences" else kind
        return FormField(name, kind, choices=KNOWN_BRANCHES if kind == "branches" else (), **common)
    if origin is dict and args == (str, Path):
        return FormField(name, "classes", **common)
    if origin is dict and args[0] is str and args[1] in (float, int):
        return FormField(name, "numbers", **common)
    if origin is dict and get_origin(args[0]) is Literal and get_origin(args[1]) is list:
        return FormField(name, "chromosomes", keys=get_args(args[0]), **common)
    return FormField(name, "yaml", **common)


@functools.cache
def form_fields(stage: str) -> tuple[FormField, ...]:
    """The form fields of a stage, in the model's field order."""
    model = STAGES[stage]
    return tuple(form_field(name, info) for name, info in model.model_fields.items())


# --------------------------------------------------------------------------- visibility


def _is_custom_model(values: dict[str, Any]) -> bool:
    model = str(values.get("model") or "")
    return model.endswith((".pt", ".pth", ".ts", ".onnx"))


VISIBLE_WHEN: dict[str, dict[str, Callable[[dict[str, Any]], bool]]] = {
    "preprocess": {
        "ratio": lambda v: v.get("split") != "chromosome",
        "chromosomes": lambda v: v.get("split") == "chromosome",
        "conservation": lambda v: "cons" in (v.get("branches") or []),
        "fold_temperature": lambda v: "fold" in (v.get("branches") or []),
        "negatives_from": lambda v: bool(v.get("negatives")),
        "negatives_name": lambda v: bool(v.get("negatives")),
        "negatives_ratio": lambda v: bool(v.get("negatives")),
        "cache_dir": lambda v: bool(v.get("cache", True)),
    },
    "train": {
        "lr_decay": lambda v: v.get("lr_schedule") == "decay",
        "lr_factor": lambda v: v.get("lr_schedule") == "plateau",
        "lr_patience": lambda v: v.get("lr_schedule") == "plateau",
        "patience": lambda v: bool(v.get("early_stopping", True)),
        "min_delta": lambda v: bool(v.get("early_stopping", True)),
        "centre_window": lambda v: bool(v.get("centre_networks")),
    },
    "evaluate": {
        "blackbox_split": lambda v: bool(v.get("blackbox")),
        "class_column": lambda v: bool(v.get("input")),
    },
}
"""Fields shown only when the other values make them matter (a hidden field keeps its
value in the form but is not sent, so the model's default applies)."""

for _stage in ("evaluate", "predict"):
    VISIBLE_WHEN.setdefault(_stage, {})
    for _name in ("custom_window", "custom_classes", "custom_branches", "custom_alphabet"):
        VISIBLE_WHEN[_stage][_name] = _is_custom_model
    for _name in ("target", "steps", "baseline", "top"):
        VISIBLE_WHEN[_stage][_name] = lambda v: bool(v.get("attributions"))
    VISIBLE_WHEN[_stage]["baseline_file"] = lambda v: (
        bool(v.get("attributions")) and (v.get("baseline") == "file")
    )


def visible(stage: str, name: str, values: dict[str, Any]) -> bool:
    """Whether a field is shown (and sent) for the current values of the page."""
    rule = VISIBLE_WHEN.get(stage, {}).get(name)
    return True if rule is None else bool(rule(values))


# --------------------------------------------------------------------------- paths


def resolve_path(text: str | Path, workspace: Path) -> Path:
    """A path as typed: ``~`` expanded, relative paths taken from the workspace."""
    path = Path(str(text).strip()).expanduser()
    return path if path.is_absolute() else Path(workspace) / path


@dataclass
class PathCheck:
    """What a path check found: ``ok`` and a one-line description or problem."""

    ok: bool
    message: str
    format: str | None = None
    records: int | None = None
    chromosomes: dict[str, int] = field(default_factory=dict)


_LARGE = 300 * 1024 * 1024


def _count_bed(path: Path) -> tuple[int, dict[str, int]]:
    from gennie.io.files import open_text

    chroms: dict[str, int] = {}
    records = 0
    with open_text(path) as handle:
        for raw in handle:
            if not raw.strip() or raw.startswith(("#", "track", "browser")):
                continue
            records += 1
            chrom = raw.split("\t", 1)[0].split()[0]
            chroms[chrom] = chroms.get(chrom, 0) + 1
    return records, chroms


def _count_fasta(path: Path) -> int | None:
    from gennie.io.files import open_text

    fai = Path(str(path) + ".fai")
    if fai.is_file():
        return sum(1 for line in fai.read_text().splitlines() if line.strip())
    if path.stat().st_size > _LARGE:
        return None
    with open_text(path) as handle:
        return sum(1 for line in handle if line.startswith(">"))


def check_path(value: Path, name: str) -> PathCheck:
    """Check an input path as it is typed: it exists, its format, its size.

    Args:
        value: The resolved path.
        name: The configuration field (decides what is expected there).

    Returns:
        The result; for BED files also the records per chromosome.
    """
    from gennie.io.files import sniff_format
    from gennie.runs import read_status

    path = Path(value)
    if name in OUTPUT_FIELDS:
        if path.is_file():
            return PathCheck(False, "this is a file; give a folder")
        return PathCheck(True, "exists" if path.is_dir() else "will be created")
    if not path.exists():
        return PathCheck(False, f"not found: {path}")
    if path.is_dir():
        status = read_status(path)
        wanted = RUN_FOLDER_FIELDS.get(name)
        if status:
            text = f"{status.get('stage')} run, {status.get('status')}"
            if wanted and status.get("stage") != wanted:
                return PathCheck(False, f"this is a {text}; give a {wanted} run folder")
            if status.get("status") != "complete":
                return PathCheck(False, f"this {text}: it did not finish")
            return PathCheck(True, text, format="run")
        if (path / "bundle.yaml").is_file():
            return PathCheck(True, "model bundle", format="bundle")
        if wanted:
            return PathCheck(False, f"not a gennie {wanted} run folder (no run.json)")
        return PathCheck(False, "this is a folder; give a file")
    size = path.stat().st_size
    size_text = f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"
    suffixes = "".join(path.suffixes).lower()
    if any(s in suffixes for s in (".bw", ".bigwig", ".wig")):
        return PathCheck(True, f"signal track, {size_text}", format="track")
    if suffixes.endswith((".pt", ".pth", ".ts", ".onnx")):
        return PathCheck(True, f"model file, {size_text}", format="model")
    try:
        kind = sniff_format(path, field=name)
    except UserError as exc:
        return PathCheck(False, exc.message + (f" (line {exc.line})" if exc.line else ""))
    if kind == "bed":
        records, chroms = _count_bed(path) if size <= _LARGE else (None, {})
        text = "BED" + (
            f", {records:,} intervals on {len(chroms)} chromosomes" if records is not None else ""
        )
        return PathCheck(True, text, format="bed", records=records, chromosomes=chroms)
    if kind == "fasta":
        records = _count_fasta(path)
        text = "FASTA" + (f", {records:,} sequences" if records is not None else f", {size_text}")
        return PathCheck(True, text, format="fasta", records=records)
    from gennie.io.files import open_text

    with open_text(path) as handle:
        records = sum(1 for line in handle if line.strip())
    return PathCheck(True, f"sequences, {records:,} lines", format="sequences", records=records)


# --------------------------------------------------------------------------- validation


def parse_yaml_field(text: str) -> Any:
    """A YAML-edited field's value (empty text → ``None``).

    Raises:
        ValueError: Invalid YAML, with the line.
    """
    if not text or not text.strip():
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" on line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None


@dataclass
class PageCheck:
    """The result of validating a page.

    Attributes:
        config: The validated configuration (absolute paths), or ``None`` if invalid.
        errors: Messages by field name, shown next to the field.
        general: Messages that concern no single field.
        paths: Path checks by field name (a list for multi-path fields).
        missing: Fields among ``errors`` that are only not filled in yet.
    """

    config: StageConfig | None
    errors: dict[str, str]
    general: list[str]
    paths: dict[str, Any]
    missing: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        """True when the page can run."""
        return self.config is not None and not self.errors and not self.general


_BLAME = {
    "chromosome list": "chromosomes",
    "reduction": "reduce",
    "negatives_from": "negatives_from",
    "negatives_name": "negatives_name",
    "data source": "blackbox",
    "needs baseline_file": "baseline_file",
    "input or sequences": "input",
}
"""Phrases of model-level messages and the field they are about."""


def _blame(message: str, names: list[str]) -> str | None:
    """The field a model-level message is about (a known phrase, else the first field
    name the message mentions)."""
    lowered = message.lower()
    for phrase, name in _BLAME.items():
        if phrase in lowered and name in names:
            return name
    hits = [
        (lowered.find(form), -len(name), name)
        for name in names
        for form in {name, name.replace("_", " ")}
        if lowered.find(form) >= 0
    ]
    return min(hits)[2] if hits else None


def _check_paths(
    stage: str, data: dict[str, Any], workspace: Path
) -> tuple[dict[str, Any], dict[str, str]]:
    checks: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for ff in form_fields(stage):
        value = data.get(ff.name)
        if value in (None, "", [], {}):
            continue
        if ff.kind == "path":
            check = check_path(resolve_path(value, workspace), ff.name)
            checks[ff.name] = check
            if not check.ok:
                errors[ff.name] = check.message
        elif ff.kind == "paths":
            results = [check_path(resolve_path(v, workspace), ff.name) for v in value]
            checks[ff.name] = results
            bad = [c.message for c in results if not c.ok]
            if bad:
                errors[ff.name] = "; ".join(bad)
        elif ff.kind == "classes":
            results = {k: check_path(resolve_path(v, workspace), ff.name) for k, v in value.items()}
            checks[ff.name] = results
            bad = [f"{k}: {c.message}" for k, c in results.items() if not c.ok]
            if bad:
                errors[ff.name] = "; ".join(bad)
    return checks, errors


def _empty_chromosome_splits(
    chromosomes: dict[str, list[str]], classes: dict[str, PathCheck]
) -> str | None:
    """A problem when a BED class has no interval on the chromosomes of a split."""
    for split, chroms in chromosomes.items():
        for name, check in classes.items():
            if check.format != "bed" or not check.chromosomes:
                continue
            if not any(check.chromosomes.get(c) for c in chroms):
                return (
                    f"class '{name}' has no intervals on the {split} chromosomes "
                    f"({', '.join(chroms)}); choose chromosomes that hold intervals of every class"
                )
    return None


def _required(stage: str, data: dict[str, Any], checks: dict[str, Any]) -> dict[str, str]:
    """What each stage needs before it can run (the stages check it again)."""
    errors: dict[str, str] = {}
    if stage == "preprocess":
        classes = data.get("classes") or {}
        if not classes:
            errors["classes"] = "give at least one class file"
        elif len(classes) + (1 if data.get("negatives") else 0) < 2:
            errors["classes"] = "give two or more classes, or add negatives"
        formats = {c.format for c in (checks.get("classes") or {}).values()}
        if "bed" in formats and not data.get("genome"):
            errors["genome"] = "BED class files need the reference genome FASTA"
        if data.get("negatives") == "background" and not data.get("genome"):
            errors["genome"] = "background negatives need the reference genome FASTA"
        if "cons" in (data.get("branches") or []) and not data.get("conservation"):
            errors["conservation"] = "the cons branch needs at least one signal track"
    if stage in ("train", "tune", "motifs") and not data.get("dataset"):
        errors["dataset"] = "choose the dataset folder made by Preprocess"
    if stage == "ism" and not data.get("sequence"):
        errors["sequence"] = "type or paste the sequence to mutate"
    if stage in ("evaluate", "predict", "motifs", "ism") and not data.get("model"):
        errors["model"] = "choose a train run folder (or a model file)"
    if stage == "evaluate" and not any(data.get(k) for k in ("blackbox", "input", "classes")):
        errors["blackbox"] = "give a dataset folder, an input file or class files"
    if stage == "predict" and not data.get("input") and not data.get("sequences"):
        errors["input"] = "give an input file or type sequences"
    return errors


def validate_page(stage: str, values: dict[str, Any], workspace: Path) -> PageCheck:
    """Validate a page's values into a configuration, with messages per field.

    Args:
        stage: The stage (a key of :data:`gennie.config.STAGES`).
        values: Field values as the form holds them (hidden fields are dropped here).
        workspace: Folder that relative paths are taken from.

    Returns:
        The :class:`PageCheck`.
    """
    model: type[BaseModel] = STAGES[stage]
    names = list(model.model_fields)
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    for ff in form_fields(stage):
        if ff.name not in values or not visible(stage, ff.name, values):
            continue
        value = values[ff.name]
        if isinstance(value, Exception):
            errors[ff.name] = str(value)
            continue
        if value is None and not ff.optional and ff.kind not in ("yaml",):
            continue  # an emptied required widget: the model's default applies
        data[ff.name] = value
    checks, path_errors = _check_paths(stage, data, workspace)
    general: list[str] = []
    config = None
    try:
        config = build_config(stage, None, data, base_dir=workspace)
    except UserError:
        try:
            model.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                loc = [str(p) for p in err["loc"]]
                msg = err["msg"].removeprefix("Value error, ")
                where = loc[0] if loc and loc[0] in names else _blame(msg, names)
                if where:
                    detail = ".".join(loc[1:])
                    errors.setdefault(where, f"{detail}: {msg}" if detail else msg)
                else:
                    general.append(msg)
    missing: set[str] = set()
    for name, message in path_errors.items():
        errors.setdefault(name, message)
    if data.get("name"):
        from gennie.runs import read_status

        taken = resolve_path(data.get("out") or "gennie-runs", workspace) / str(data["name"])
        if taken.exists() and read_status(taken).get("status") != "failed":
            errors.setdefault("name", f"{taken} exists already; choose another name")
    if stage == "preprocess" and data.get("split") == "chromosome" and data.get("chromosomes"):
        problem = _empty_chromosome_splits(data["chromosomes"], checks.get("classes") or {})
        if problem:
            errors.setdefault("chromosomes", problem)
    for name, message in _required(stage, data, checks).items():
        if name not in errors:
            errors[name] = message
            missing.add(name)
    if errors or general:
        config = None
    return PageCheck(config=config, errors=errors, general=general, paths=checks, missing=missing)
