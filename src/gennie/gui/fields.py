"""The forms' part without Streamlit: a page's options, which of them show for the
current values, what a typed path holds, and checking a whole page.

Nothing here declares an option or a rule; the page asks the library:

- the options, their kinds, defaults and help: :func:`gennie.config.options.options`;
- which options matter for the current values: :func:`gennie.config.options.shown_when`;
- what is wrong with the values: the model's validation, by field
  (:func:`gennie.config.field_errors`);
- what the stage needs before it can run: the stage's ``check(config)``
  (:meth:`gennie.config.Stage.checker`), each problem naming its field;
- whether the run's folder name is free: :func:`gennie.runs.check_run_folder`;
- what a file is and how many records it holds: :mod:`gennie.io`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gennie.config import STAGES, StageConfig, build_config, field_errors
from gennie.config.loading import parse_yaml
from gennie.config.options import Option, options, shown_when
from gennie.config.stages import is_custom_model
from gennie.errors import UserError
from gennie.io.bed import count_bed
from gennie.io.fasta import count_fasta, sequence_lines
from gennie.io.files import sniff_format
from gennie.io.tracks import track_format
from gennie.runs import check_run_folder, read_run, require_complete

OUTPUT_FIELDS = {o.name for s in STAGES.values() for o in options(s.config) if o.output}
"""Path fields that name a folder gennie writes (it need not exist; Browse offers
folders), as the configuration models declare them."""

RUN_FOLDER_FIELDS = {
    o.name: o.run_of for s in STAGES.values() for o in options(s.config) if o.run_of
}
"""Path fields that take a run folder, and the stage of that run (Browse offers those
runs), as the configuration models declare them."""

LARGE = 300 * 1024 * 1024
"""Files above this size (bytes) are described without reading them through."""


def stage_options(stage: str) -> tuple[Option, ...]:
    """The options of a stage's page: its configuration model's fields, in order."""
    return options(STAGES[stage].config)


@functools.cache
def _rules(stage: str) -> dict[str, Callable[[dict[str, Any]], bool]]:
    return shown_when(STAGES[stage].config)


def visible(stage: str, name: str, values: dict[str, Any]) -> bool:
    """Whether a field is shown (and sent) for the current values of the page; a
    hidden field keeps its value in the form, and the model's default applies."""
    rule = _rules(stage).get(name)
    return True if rule is None else bool(rule(values))


# --------------------------------------------------------------------------- paths


def resolve_path(text: str | Path, workspace: Path) -> Path:
    """A path as typed: ``~`` expanded, relative paths taken from the workspace."""
    path = Path(str(text).strip()).expanduser()
    return path if path.is_absolute() else Path(workspace) / path


@dataclass
class PathCheck:
    """What a typed path holds: ``ok`` and a one-line description or problem.

    Attributes:
        ok: False when the path cannot be what the field takes (missing, a folder
            for a file, a run of another stage).
        message: The description (``BED, 3 intervals on 2 chromosomes``) or problem.
        format: ``bed``, ``fasta``, ``sequences``, ``track``, ``model``, ``run`` or
            ``bundle`` when known.
        records: Intervals, sequences or lines, when counted.
        chromosomes: Intervals per chromosome of a BED file.
    """

    ok: bool
    message: str
    format: str | None = None
    records: int | None = None
    chromosomes: dict[str, int] = field(default_factory=dict)


def _size_text(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"


def _is_bundle(path: Path) -> bool:
    # imported here: the bundle module loads torch, needed only for this rare case
    from gennie.model.bundle import BUNDLE_FILE

    return (path / BUNDLE_FILE).is_file()


def _check_folder(path: Path, name: str) -> PathCheck:
    """A folder typed into a path field: a run folder of the right stage, or a bundle."""
    wanted = RUN_FOLDER_FIELDS.get(name)
    run = read_run(path)
    if wanted and run is not None:
        try:
            require_complete(path, wanted, name)
        except UserError as exc:
            return PathCheck(False, exc.message, format="run")
        return PathCheck(True, f"{run.stage} run, {run.status}", format="run")
    if wanted and _is_bundle(path):
        return PathCheck(True, "model bundle", format="bundle")
    if wanted:
        try:
            require_complete(path, wanted, name)
        except UserError as exc:
            return PathCheck(False, exc.message)
    return PathCheck(False, "this is a folder; give a file")


def _check_file(path: Path, name: str) -> PathCheck:
    """A file typed into a path field: its format and, unless it is large, its records."""
    size = path.stat().st_size
    readable = size <= LARGE
    if is_custom_model(path):
        return PathCheck(True, f"model file, {_size_text(size)}", format="model")
    try:
        kind = sniff_format(path, field=name)
    except UserError:
        try:
            kind = track_format(path, name)
        except UserError:
            return PathCheck(True, f"file, {_size_text(size)}")
        return PathCheck(True, f"signal track ({kind}), {_size_text(size)}", format="track")
    try:
        return _describe(path, kind, size, readable)
    except UserError as exc:  # a damaged file (truncated gzip, binary content...)
        return PathCheck(False, problem_text(exc))


def _describe(path: Path, kind: str, size: int, readable: bool) -> PathCheck:
    """What a readable BED, FASTA or sequence-list file holds (records, chromosomes)."""
    if kind == "bed":
        chroms = count_bed(path) if readable else {}
        records = sum(chroms.values()) if readable else None
        text = f", {records:,} intervals on {len(chroms)} chromosomes" if readable else ""
        return PathCheck(True, "BED" + text, format="bed", records=records, chromosomes=chroms)
    if kind == "fasta":
        indexed = Path(f"{path}.fai").is_file()
        records = count_fasta(path) if readable or indexed else None
        text = f", {records:,} sequences" if records is not None else f", {_size_text(size)}"
        return PathCheck(True, "FASTA" + text, format="fasta", records=records)
    records = sum(1 for _ in sequence_lines(path)) if readable else None
    text = f", {records:,} lines" if records is not None else f", {_size_text(size)}"
    return PathCheck(True, "sequences" + text, format="sequences", records=records)


def check_path(value: Path, name: str) -> PathCheck:
    """Describe an input path as it is typed: whether it exists, what it holds.

    Whether the field may take that kind of file is for the stage's check to say; this
    only finds what the path is.

    Args:
        value: The resolved path.
        name: The configuration field (a run folder field wants a run of its stage;
            an output field need not exist).

    Returns:
        The result; for BED files also the intervals per chromosome.
    """
    path = Path(value)
    if name in OUTPUT_FIELDS:
        if path.is_file():
            return PathCheck(False, "this is a file; give a folder")
        return PathCheck(True, "exists" if path.is_dir() else "will be created")
    if not path.exists():
        return PathCheck(False, f"not found: {path}")
    if path.is_dir():
        return _check_folder(path, name)
    return _check_file(path, name)


# --------------------------------------------------------------------------- validation


def parse_yaml_field(text: str) -> Any:
    """A YAML-edited field's value (empty text → ``None``).

    Raises:
        ValueError: Invalid YAML, with the line.
    """
    if not text or not text.strip():
        return None
    try:
        return parse_yaml(text)
    except UserError as exc:
        where = f" on line {exc.line}" if exc.line else ""
        raise ValueError(f"{exc.message}{where}") from None


def problem_text(problem: UserError) -> str:
    """A stage's problem as shown next to its field: the message, the file (and line)
    it is about, and the hint on a second line."""
    text = problem.message
    if problem.file:
        where = [problem.file] + [f"line {problem.line}"] * bool(problem.line)
        where += [f"record {problem.record}"] * bool(problem.record)
        text += f" ({', '.join(where)})"
    if problem.hint:
        text += f"  \nhint: {problem.hint}"
    return text


@dataclass
class PageCheck:
    """The result of checking a page.

    Attributes:
        config: The validated configuration (absolute paths), or ``None`` if invalid.
        errors: Messages by field name, shown next to the field.
        general: Messages that concern no single field.
        paths: Path checks by field name (a list or a mapping for multi-path fields).
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


def _empty(value: Any) -> bool:
    return value in (None, "", [], {})


def _check_paths(
    stage: str, data: dict[str, Any], workspace: Path
) -> tuple[dict[str, Any], dict[str, str]]:
    """Path checks of every path field that has a value, and their problems by field."""
    checks: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for opt in stage_options(stage):
        value = data.get(opt.name)
        if _empty(value):
            continue
        if opt.kind == "path":
            check = check_path(resolve_path(value, workspace), opt.name)
            checks[opt.name] = check
            bad = [check.message] if not check.ok else []
        elif opt.kind == "paths":
            checks[opt.name] = [check_path(resolve_path(v, workspace), opt.name) for v in value]
            bad = [c.message for c in checks[opt.name] if not c.ok]
        elif opt.kind == "classes":
            checks[opt.name] = {
                k: check_path(resolve_path(v, workspace), opt.name) for k, v in value.items()
            }
            bad = [f"{k}: {c.message}" for k, c in checks[opt.name].items() if not c.ok]
        else:
            continue
        if bad:
            errors[opt.name] = "; ".join(bad)
    return checks, errors


def _form_data(stage: str, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The values to validate (hidden and emptied fields left out), and the fields whose
    widget could not be read."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for opt in stage_options(stage):
        if opt.name not in values or not visible(stage, opt.name, values):
            continue
        value = values[opt.name]
        if isinstance(value, Exception):
            errors[opt.name] = str(value)
        elif value is not None or opt.optional or opt.kind == "yaml":
            data[opt.name] = value  # an emptied required widget: the model's default
    return data, errors


def _model_errors(stage: str, data: dict[str, Any], failure: UserError) -> dict[str, str]:
    """Every problem the model finds in ``data``, by field (``""``: the whole model)."""
    try:
        STAGES[stage].config.model_validate(data)
    except ValidationError as exc:
        found: dict[str, str] = {}
        for where, message in field_errors(exc).items():
            top, _, rest = where.partition(".")
            found.setdefault(top, f"{rest}: {message}" if rest else message)
        return found
    return {failure.field or "": failure.message}


def _stage_problems(stage: str, config: StageConfig) -> list[UserError]:
    """What the stage's check and the run-folder rule find in a valid configuration."""
    try:
        problems = list(STAGES[stage].checker()(config))
    except UserError as exc:  # a check that raises its first problem
        problems = [exc]
    return problems + check_run_folder(config)


def _build(stage: str, data: dict[str, Any], workspace: Path) -> StageConfig:
    return build_config(stage, None, data, base_dir=workspace)


def validate_page(stage: str, values: dict[str, Any], workspace: Path) -> PageCheck:
    """Check a page's values: the model's validation, the paths, the stage's check.

    When some fields are invalid, the stage's check still runs on the others (with the
    defaults in place of the invalid ones), so that every problem shows at once.

    Args:
        stage: The stage (a key of :data:`gennie.config.STAGES`).
        values: Field values as the form holds them (hidden fields are dropped here).
        workspace: Folder that relative paths are taken from.

    Returns:
        The :class:`PageCheck`.
    """
    names = {opt.name for opt in stage_options(stage)}
    data, errors = _form_data(stage, values)
    checks, path_errors = _check_paths(stage, data, workspace)
    general: list[str] = []
    config = checked = None
    try:
        config = checked = _build(stage, data, workspace)
    except UserError as failure:
        for where, message in _model_errors(stage, data, failure).items():
            if where in names:
                errors.setdefault(where, message)
            else:
                general.append(message)
        with_defaults = {k: v for k, v in data.items() if k not in errors}
        try:
            checked = _build(stage, with_defaults, workspace)
        except UserError:
            checked = None
    for name, message in path_errors.items():
        errors.setdefault(name, message)
    missing: set[str] = set()
    for problem in _stage_problems(stage, checked) if checked is not None else []:
        where = (problem.field or "").split(".")[0]
        if where not in names:
            general.append(problem_text(problem))
        elif where not in errors:
            errors[where] = problem_text(problem)
            if _empty(getattr(checked, where, None)):  # not filled in yet
                missing.add(where)
    if errors or general:
        config = None
    return PageCheck(config=config, errors=errors, general=general, paths=checks, missing=missing)
