"""Configurations from and to YAML: reading files safely, resolving relative paths,
turning validation errors into :class:`~gennie.errors.UserError`, saving runs.

Paths: relative paths in a YAML file are taken relative to that file's folder, those
given as flags or in Python relative to the working directory; the saved
``parameters.yaml`` holds absolute paths.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Hashable
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from gennie.config.base import FieldError, StageConfig
from gennie.config.registry import STAGES
from gennie.errors import UserError
from gennie.io.files import read_text
from gennie.version import VERSION

# --------------------------------------------------------------------------- YAML


MAX_ALIAS_VALUES = 10_000
"""Values that the aliases (``*name``) of one YAML file may stand for in all; more is
refused, so that a few hundred bytes of nested aliases ("billion laughs") cannot
expand into billions of values."""


class _YamlProblem(yaml.YAMLError):
    """A YAML file that parses but is refused, with the place and a hint."""

    def __init__(self, problem: str, mark: yaml.Mark, hint: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark
        self.hint = hint


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Values a node stands for with every alias in it written out (memoized by node)."""
    key = id(node)
    if key not in sizes:
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        sizes[key] = 1 + sum(_expanded_size(child, sizes) for child in children)
    return sizes[key]


class _Loader(yaml.SafeLoader):
    """gennie's YAML loader: safe, strict and bounded.

    YAML 1.2-style integers ('7:1:1:1' stays a string instead of a base-60 number); a
    key given twice in one mapping is an error (instead of the last value winning);
    aliases may stand for :data:`MAX_ALIAS_VALUES` values in all and may not refer to
    the node they are in.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._alias_values = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        """Count what each alias stands for before it is used (see the class docstring)."""
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None and node.end_mark is None:
                raise _YamlProblem(
                    f"the alias *{event.anchor} refers to the value it is in",
                    event.start_mark,
                    "an alias must refer to a value completed before it",
                )
            if node is not None:
                self._alias_values += _expanded_size(node, self._sizes)
                if self._alias_values > MAX_ALIAS_VALUES:
                    raise _YamlProblem(
                        f"the aliases stand for more than {MAX_ALIAS_VALUES:,} values "
                        "(nested aliases expand to very large data)",
                        event.start_mark,
                        "write the values out, or use fewer aliases (*name)",
                    )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping; a key given twice is an error naming the key and both lines."""
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # keys merged in with '<<' may be overridden
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, Hashable):
                    continue  # the base class reports unhashable keys
                if key in seen:
                    raise _YamlProblem(
                        f"the key '{key}' is given twice (first on line {seen[key]})",
                        key_node.start_mark,
                        "give each key once; remove or rename one of them",
                    )
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:int"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)


def parse_yaml(text: str, source: Path | None = None) -> Any:
    """Parse YAML text with gennie's loader (see :class:`_Loader`).

    Args:
        text: The YAML text.
        source: The file it came from, named in errors.

    Returns:
        The parsed value (``None`` for an empty document).

    Raises:
        UserError: Invalid YAML, a key given twice, or aliases that stand for too
            much, with the line.
    """
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, _YamlProblem):
            raise UserError(problem, file=source, line=line, hint=exc.hint) from None
        if "could not determine a constructor" in problem:
            raise UserError(
                f"invalid YAML: {problem}",
                file=source,
                line=line,
                hint="configuration files hold plain values: remove the '!' tag",
            ) from None
        raise UserError(
            f"invalid YAML: {problem}",
            file=source,
            line=line,
            hint="fix the YAML syntax (indentation, colons, quotes)",
        ) from None
    except RecursionError:
        raise UserError(
            "the YAML is nested too deeply", file=source, hint="flatten the nested values"
        ) from None
    finally:
        loader.dispose()


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping from a file (see :func:`parse_yaml`).

    Raises:
        UserError: A missing file or one that is not UTF-8 text, invalid YAML (with the
            line), or a document that is not a mapping.
    """
    path = Path(path)
    if not path.exists():
        raise UserError("file not found", file=path, hint="check the path of the YAML file")
    data = parse_yaml(read_text(path), path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError("the YAML file must hold a mapping of field: value", file=path)
    return data


def _path_fields(model: type[BaseModel]) -> set[str]:
    def mentions_path(annotation: Any) -> bool:
        if annotation is Path:
            return True
        return any(mentions_path(arg) for arg in get_args(annotation))

    return {name for name, f in model.model_fields.items() if mentions_path(f.annotation)}


def _absolute_path(key: str, value: Any, base: Path, file: Path | None) -> Any:
    """The value of path field ``key`` with absolute paths (see :func:`_absolute`).

    Raises:
        UserError: A path that cannot be a path (a NUL character, a symbolic-link loop).
    """
    try:
        return _absolute(value, base)
    except (ValueError, RuntimeError, OSError) as exc:
        raise UserError(
            f"not a usable path ({exc})",
            file=file,
            field=key,
            hint="check the path for stray characters",
        ) from None


def _absolute(value: Any, base: Path) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: _absolute(v, base) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_absolute(v, base) for v in value]
    if isinstance(value, (str, Path)):
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else (base / path).resolve())
    return value


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model at ``loc``, e.g. ``("space",)`` in a tune config."""

    def nested(annotation: Any) -> type[BaseModel] | None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation
        return next((m for a in get_args(annotation) if (m := nested(a))), None)

    current: type[BaseModel] | None = model
    for key in loc:
        info = current.model_fields.get(str(key)) if current else None
        current = nested(info.annotation) if info else None
    return list(current.model_fields) if current else []


def _error_field(err: dict[str, Any]) -> str:
    """The dotted field of one pydantic error (a :class:`FieldError` names its own)."""
    field = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        field = ".".join(p for p in (field, cause.field) if p)
    return field


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Every problem of a failed validation, by dotted field (``""``: the whole model)."""
    found: dict[str, str] = {}
    for err in exc.errors():
        found.setdefault(_error_field(err), err["msg"].removeprefix("Value error, "))
    return found


def _error_from_validation(
    exc: ValidationError, model: type[BaseModel], file: Path | None
) -> UserError:
    err = exc.errors()[0]
    field = _error_field(err)
    msg = err["msg"].removeprefix("Value error, ")
    hint = None
    if err["type"] == "extra_forbidden":
        key = str(err["loc"][-1])
        msg = f"unknown field '{key}'"
        close = difflib.get_close_matches(key, _fields_at(model, err["loc"][:-1]), n=1)
        hint = f"did you mean '{close[0]}'?" if close else "remove it; see 'gennie ... --help'"
    elif err["type"] in ("missing",):
        msg = "this field is required"
    elif err["type"] == "finite_number":
        msg = f"{msg} (got {err.get('input')!r})"
        hint = "NaN and infinity are not accepted; give a number such as 0.5"
    else:
        value = err.get("input")
        if not isinstance(value, (dict, list)) and value is not None and "input" in err:
            msg = f"{msg} (got {value!r})"
    if len(exc.errors()) > 1:
        msg += f" (and {len(exc.errors()) - 1} more problem(s))"
    return UserError(msg, file=file, field=field or None, hint=hint)


def build_config(
    stage: str | type[StageConfig],
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    base_dir: Path | None = None,
) -> StageConfig:
    """Build a stage's configuration from an optional YAML file plus overrides.

    Args:
        stage: A stage name (a key of :data:`~gennie.config.registry.STAGES`) or its
            configuration model.
        config_file: YAML file; its relative paths are taken relative to its folder.
        overrides: Field values that replace the file's (e.g. from CLI flags); their
            relative paths are taken relative to ``base_dir``.
        base_dir: Folder for relative override paths (default: the working directory).

    Returns:
        The validated configuration with absolute paths.

    Raises:
        UserError: Invalid YAML, an unknown field, a wrong type or an invalid value.
    """
    model = STAGES[stage].config if isinstance(stage, str) else stage
    stage = model.stage
    paths = _path_fields(model)
    data: dict[str, Any] = {}
    if config_file is not None:
        config_file = Path(config_file)
        raw = read_yaml(config_file)
        file_stage = raw.pop("stage", stage)
        raw.pop("gennie_version", None)
        if file_stage != stage:
            raise UserError(
                f"this file configures the '{file_stage}' stage, not '{stage}'",
                file=config_file,
                field="stage",
                hint=f"use 'gennie {file_stage} --config ...' or 'gennie run FILE'",
            )
        folder = config_file.resolve().parent
        data = {
            k: (_absolute_path(k, v, folder, config_file) if k in paths else v)
            for k, v in raw.items()
        }
    from_file = set(data)
    base = Path(base_dir) if base_dir else Path.cwd()
    for key, value in (overrides or {}).items():
        if key == "preset" and "architecture" in data:
            data.pop("architecture")  # choosing a preset replaces the file's architecture
        data[key] = _absolute_path(key, value, base, None) if key in paths else value
        from_file.discard(key)
    if "out" not in data:
        data["out"] = _absolute(model.model_fields["out"].default, base)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc = exc.errors()[0]["loc"]
        blame = config_file if (not loc or loc[0] in from_file) else None
        raise _error_from_validation(exc, model, blame) from None


def load_run_config(path: Path) -> StageConfig:
    """Load a saved ``parameters.yaml`` (any stage) for ``gennie run``."""
    raw = read_yaml(Path(path))
    stage = raw.get("stage")
    if stage not in STAGES:
        raise UserError(
            f"unknown or missing stage {stage!r}",
            file=path,
            field="stage",
            hint=f"a parameters.yaml starts with 'stage: ' and one of {', '.join(STAGES)}",
        )
    return build_config(stage, Path(path))


def config_to_dict(config: StageConfig) -> dict[str, Any]:
    """The configuration as plain data, with ``stage`` first."""
    return {"stage": config.stage, "gennie_version": VERSION, **config.model_dump(mode="json")}


def dump_config(config: StageConfig, path: Path) -> None:
    """Write the complete configuration as YAML (``gennie run PATH`` repeats the run)."""
    text = (
        f"# gennie {config.stage} parameters; repeat this run with: gennie run {Path(path).name}\n"
        + yaml.safe_dump(config_to_dict(config), sort_keys=False, allow_unicode=True)
    )
    Path(path).write_text(text)
