"""A stage's form in Streamlit, generated from its configuration model.

Every widget is keyed ``<stage>.<field>`` in the session state, and its value is also
kept in a store that outlives the widget (``_keep``): Streamlit forgets the state of a
widget that is not drawn in a run, so without it a field hidden by another choice, or
a page left and re-opened, would fall back to its default.

Each widget is created with its current value as the widget's own default (``value=``,
``index=``), not only through the session state: the browser shows and sends back the
widget's own default whenever it draws a widget it has no value for, which can happen when
a run is cut short by the next one (streamlit/streamlit#4247). A number field without
an explicit default would then silently become its minimum (patience 1, seed 0).
"""

from __future__ import annotations

import contextlib
import functools
import json
from pathlib import Path
from typing import Any

import streamlit as st
from pydantic import BaseModel

from gennie.config import SPLITS, STAGES, PreprocessConfig, StageConfig, class_name_from_file
from gennie.config.options import ADVANCED_PANEL, Option, options
from gennie.config.presets import preset_architecture
from gennie.config.search import mask_storage_url
from gennie.config.stages import LabelOptions
from gennie.dataset.store import Dataset
from gennie.encode.registry import branch_names
from gennie.errors import UserError
from gennie.gui.common import relative, workspace
from gennie.gui.fields import (
    OUTPUT_FIELDS,
    RUN_FOLDER_FIELDS,
    PageCheck,
    PathCheck,
    parse_yaml_field,
    resolve_path,
    stage_options,
    visible,
)
from gennie.gui.layers import draw_layer_editor
from gennie.gui.preview import has_preview
from gennie.gui.runinfo import to_yaml, workspace_files
from gennie.jobs import STATE_DIR
from gennie.runs import find_runs

NONE = "(none)"
"""The choice that stands for "not set" in a list of options."""

BASE_FIELDS = tuple(StageConfig.model_fields)
"""Fields every stage has (``out``, ``name``, ``seed``, ``threads``); drawn last, under
"Output"."""

CLASS_ROWS = 2
"""Class rows a page shows at least (more are added with "Number of classes")."""

ARCHITECTURE = "architecture"
"""The layers field: edited only on request (layer by layer, or as YAML), else the
preset's layers apply."""

LAYER_VIEWS = ("Layer editor", "YAML")
"""The two ways to edit the layers (see :mod:`gennie.gui.layers`)."""


# --------------------------------------------------------------------------- kept state


def _keep() -> dict[str, Any]:
    return st.session_state.setdefault("_keep", {})


def kept_value(key: str, default: Any) -> Any:
    """The value a widget is to be drawn with: its state in this session, else its kept
    value, else ``default``. Pass it as the widget's own default (see the module
    docstring)."""
    if key in st.session_state:
        return st.session_state[key]
    return _keep().get(key, default)


def remember(key: str) -> None:
    """Keep a widget's value after it is drawn (see the module docstring)."""
    _keep()[key] = st.session_state.get(key)


def set_widget(key: str, value: Any) -> None:
    """Set a widget's value (call from a callback, before the widget is drawn)."""
    st.session_state[key] = value
    _keep()[key] = value


# --------------------------------------------------------------------------- conversion


def _path_text(value: Any) -> str:
    return "" if value in (None, "") else relative(value)


def to_raw(ff: Option, value: Any) -> Any:
    """A configuration value as its widget holds it."""
    if ff.kind in ("path",):
        return _path_text(value)
    if ff.kind == "paths":
        return "\n".join(_path_text(v) for v in value or [])
    if ff.kind == "text":
        return "" if value is None else str(value)
    if ff.kind == "list":
        return ", ".join(str(v) for v in value or [])
    if ff.kind == "lines":
        return "\n".join(str(v) for v in value or [])
    if ff.kind == "branches":
        return list(value or [])
    if ff.kind == "choice":
        return NONE if value is None else value
    if ff.kind == "numbers":
        return "\n".join(f"{k}={v:g}" for k, v in (value or {}).items())
    if ff.kind == "yaml":
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        return "" if value is None else to_yaml(value)
    return value


def _from_raw(ff: Option, raw: Any) -> Any:
    """A widget's value as the configuration takes it (a ValueError if unreadable)."""
    if ff.kind in ("path", "text"):
        # Empty means not given: the model's default (an emptied Output folder is the
        # default folder, as the run-name check takes it, not the workspace itself).
        return (raw or "").strip() or None
    if ff.kind in ("paths", "lines"):
        items = [line.strip() for line in (raw or "").splitlines() if line.strip()]
        return items if items or not ff.optional else None
    if ff.kind == "list":
        items = [v.strip() for v in (raw or "").split(",") if v.strip()]
        return items if items or not ff.optional else None
    if ff.kind == "branches":
        return list(raw) if raw or not ff.optional else None
    if ff.kind == "choice":
        return None if raw == NONE else raw
    if ff.kind == "numbers":
        result: dict[str, float] = {}
        for line in (raw or "").splitlines():
            if not line.strip():
                continue
            name, sep, amount = line.partition("=")
            try:
                result[name.strip()] = float(amount)
            except ValueError:
                return ValueError(f"'{line.strip()}' is not NAME=NUMBER (e.g. bound=5000)")
            if not sep or not name.strip():
                return ValueError(f"'{line.strip()}' is not NAME=NUMBER (e.g. bound=5000)")
        return result
    if ff.kind == "yaml":
        try:
            return parse_yaml_field(raw)
        except ValueError as exc:
            return exc
    return raw


# --------------------------------------------------------------------------- loading


def load_into_form(stage: str, parameters: dict[str, Any]) -> list[str]:
    """Fill every field of a page from saved parameters (e.g. a run's parameters.yaml).

    Fields the file does not mention get the model's default.

    Returns:
        Keys of the file that are not fields of this stage (ignored).
    """
    unknown = [k for k in parameters if k not in ("stage", "gennie_version")]
    for ff in stage_options(stage):
        value = parameters.get(ff.name, ff.default)
        if ff.name in unknown:
            unknown.remove(ff.name)
        key = f"{stage}.{ff.name}"
        if ff.kind == "classes":
            items = list((value or {}).items())
            set_widget(f"{key}.n", max(CLASS_ROWS, len(items)))
            for i in range(max(len(items), 20)):
                name, path = items[i] if i < len(items) else ("", "")
                set_widget(f"{key}.{i}.name", name)
                set_widget(f"{key}.{i}.file", _path_text(path))
        elif ff.kind == "chromosomes":
            for split in ff.keys:
                set_widget(f"{key}.{split}", ", ".join((value or {}).get(split, [])))
        else:
            set_widget(key, to_raw(ff, value))
    if _has_layer_editor(stage):
        set_widget(f"{stage}.custom_{ARCHITECTURE}", parameters.get(ARCHITECTURE) is not None)
    return unknown


def _has_layer_editor(stage: str) -> bool:
    """Whether a stage's page has the layers editor (an architecture with a preset)."""
    names = {opt.name for opt in stage_options(stage)}
    return {ARCHITECTURE, "preset"} <= names


# --------------------------------------------------------------------------- widgets


def _help(ff: Option) -> str:
    default = ff.default
    if default in (None, [], {}, ""):
        return ff.help
    if isinstance(default, list):
        default = ", ".join(map(str, default))
    return f"{ff.help}  \nDefault: {default}"


def _browse(ff: Option, key: str) -> None:
    """A 'Browse' popover that puts a workspace file or run folder into a path field."""
    if ff.name in RUN_FOLDER_FIELDS:
        wanted = RUN_FOLDER_FIELDS[ff.name]
        runs = [r for r in find_runs(workspace()) if r.stage == wanted and r.complete]
        options = [relative(r.dir) for r in runs]
        what = f"complete {wanted} runs"
    elif ff.name in OUTPUT_FIELDS:
        options = workspace_files(workspace(), folders=True)
        what = "folders"
    else:
        options = workspace_files(workspace())
        what = "files"
    with st.popover("Browse", help=f"Pick from the {what} in the workspace"):
        if not options:
            st.caption(f"No {what} in the workspace yet.")
            return
        choice = st.selectbox(f"{what.capitalize()} in the workspace", options, key=f"{key}.pick")
        st.button("Use", key=f"{key}.use", on_click=set_widget, args=(key, choice))


def _classes_widget(stage: str, ff: Option, slot_of: dict[str, Any]) -> Any:
    key = f"{stage}.{ff.name}"
    st.markdown(f"**{ff.label}**", help=_help(ff))
    count = st.number_input(
        "Number of classes",
        value=_number(kept_value(f"{key}.n", CLASS_ROWS), int, 1, 20) or 1,
        min_value=1,
        max_value=20,
        step=1,
        key=f"{key}.n",
    )
    remember(f"{key}.n")
    files = workspace_files(workspace())
    result: dict[str, str] = {}
    for i in range(int(count)):
        left, right, pick = st.columns([2, 5, 1], vertical_alignment="bottom")
        with left:
            name = st.text_input(
                f"Class {i + 1} name",
                value=kept_value(f"{key}.{i}.name", ""),
                key=f"{key}.{i}.name",
                placeholder="from the file name",
            )
        with right:
            path = st.text_input(
                f"Class {i + 1} file",
                value=kept_value(f"{key}.{i}.file", ""),
                key=f"{key}.{i}.file",
                placeholder="e.g. data/bound.bed (BED or FASTA, may be .gz)",
            )
        with pick, st.popover("Browse"):
            if files:
                choice = st.selectbox("Files", files, key=f"{key}.{i}.pick")
                st.button(
                    "Use",
                    key=f"{key}.{i}.use",
                    on_click=set_widget,
                    args=(f"{key}.{i}.file", choice),
                )
            else:
                st.caption("No files in the workspace yet.")
        remember(f"{key}.{i}.name")
        remember(f"{key}.{i}.file")
        slot_of[f"{ff.name}.{i}"] = st.empty()
        if path.strip():
            result[name.strip() or class_name_from_file(path.strip())] = path.strip()
    slot_of[ff.name] = st.empty()
    return result


def _chromosomes_widget(stage: str, ff: Option, slot_of: dict[str, Any]) -> Any:
    key = f"{stage}.{ff.name}"
    st.markdown(f"**{ff.label}**", help=_help(ff))
    result: dict[str, list[str]] = {}
    columns = st.columns(len(ff.keys) or 1)
    for column, split in zip(columns, ff.keys or SPLITS, strict=False):
        with column:
            text = st.text_input(
                split + (" (optional)" if split == "blackbox" else ""),
                value=kept_value(f"{key}.{split}", ""),
                key=f"{key}.{split}",
                placeholder="chr1, chr2",
            )
        remember(f"{key}.{split}")
        chroms = [c.strip() for c in text.split(",") if c.strip()]
        if chroms:
            result[split] = chroms
    slot_of[ff.name] = st.empty()
    return result


def _default(model: type[StageConfig], name: str) -> Any:
    """The model's default of one field (as the options give it)."""
    return next(opt.default for opt in options(model) if opt.name == name)


def _layer_branches(values: dict[str, Any]) -> list[str]:
    """The branches the layers editor fills: those chosen, else the dataset's, else the
    branches a dataset has by default."""
    branches = values.get("branches") or []
    if not branches and values.get("dataset"):
        try:
            branches = Dataset(resolve_path(values["dataset"], workspace())).branches
        except (UserError, OSError, ValueError):
            branches = []  # not (yet) a readable dataset: the default branches
    known = branch_names()
    return [b for b in branches if b in known] or list(_default(PreprocessConfig, "branches"))


def _architecture_tools(stage: str, values: dict[str, Any]) -> None:
    """Fill the layers editor with the chosen preset's layers."""
    branches = _layer_branches(values)
    preset = values.get("preset") or _default(STAGES[stage].config, "preset")
    key = f"{stage}.{ARCHITECTURE}"

    def fill() -> None:
        try:
            arch = preset_architecture(preset, branches)
        except UserError:
            return
        set_widget(key, to_yaml(arch.model_dump(mode="json")))

    st.button(
        f"Fill in the layers of preset '{preset}' ({', '.join(branches)})",
        key=f"{key}.fill",
        on_click=fill,
    )


def _layer_view(stage: str) -> str:
    """The choice between the layer editor and the YAML text of the architecture."""
    key = f"{stage}.{ARCHITECTURE}.view"
    view = kept_value(key, LAYER_VIEWS[0])
    st.radio(
        "Edit the layers",
        LAYER_VIEWS,
        index=LAYER_VIEWS.index(view) if view in LAYER_VIEWS else 0,
        key=key,
        horizontal=True,
        help="Layer by layer, or as the YAML text of the architecture (the same value).",
    )
    remember(key)
    return st.session_state.get(key, LAYER_VIEWS[0])


def _number(value: Any, cast: type, minimum: Any = None, maximum: Any = None) -> Any:
    """A number field's value as its widget's own default: of the widget's type and
    within its bounds (Streamlit refuses others), ``None`` for empty."""
    if value is None:
        return None
    try:
        number = cast(value)
    except (TypeError, ValueError):
        return None
    if minimum is not None:
        number = max(number, cast(minimum))
    if maximum is not None:
        number = min(number, cast(maximum))
    return number


def field_widget(stage: str, ff: Option, values: dict[str, Any], slot_of: dict) -> Any:
    """Draw one field's widget and return its value as the configuration takes it."""
    key = f"{stage}.{ff.name}"
    if ff.kind == "classes":
        return _classes_widget(stage, ff, slot_of)
    if ff.kind == "chromosomes":
        return _chromosomes_widget(stage, ff, slot_of)
    if ff.name == ARCHITECTURE and _has_layer_editor(stage):
        toggle = f"{stage}.custom_{ARCHITECTURE}"
        custom = st.checkbox(
            "Edit the layers myself (otherwise the preset's layers are used)",
            value=bool(kept_value(toggle, False)),
            key=toggle,
        )
        remember(toggle)
        if not custom:
            return None
        _architecture_tools(stage, values)
        if _layer_view(stage) == LAYER_VIEWS[0]:
            draw_layer_editor(
                key,
                kept_value(key, "") or "",
                _layer_branches(values),
                functools.partial(set_widget, key),
            )
            slot_of[ff.name] = st.empty()
            return _from_raw(ff, kept_value(key, ""))
    default = to_raw(ff, ff.default)
    value = kept_value(key, default)
    text = ff.label
    help_text = _help(ff)
    if ff.kind == "bool":
        st.checkbox(text, value=bool(value), key=key, help=help_text)
    elif ff.kind == "choice":
        options = ([NONE] if ff.optional else []) + list(ff.choices)
        if value not in options:
            value = default
            if key in st.session_state:
                st.session_state[key] = value
        st.selectbox(text, options, index=options.index(value), key=key, help=help_text)
    elif ff.kind in ("int", "float"):
        is_int = ff.kind == "int"
        cast = int if is_int else float
        st.number_input(
            text,
            value=_number(value, cast, ff.minimum, ff.maximum),
            key=key,
            help=help_text,
            min_value=cast(ff.minimum) if ff.minimum is not None else None,
            max_value=cast(ff.maximum) if ff.maximum is not None else None,
            step=1 if is_int else None,
            format=None if is_int else "%g",
            placeholder="not set" if ff.optional else None,
        )
    elif ff.kind == "path":
        left, right = st.columns([7, 1], vertical_alignment="bottom")
        with left:
            st.text_input(
                text,
                value=value,
                key=key,
                help=help_text,
                placeholder="relative to the workspace, absolute, or ~/...",
            )
        with right:
            _browse(ff, key)
    elif ff.kind == "branches":
        st.multiselect(
            text,
            list(ff.choices),
            default=[v for v in value or [] if v in ff.choices],
            key=key,
            help=help_text,
            placeholder="empty: the default (see ?)" if ff.optional else "choose",
        )
    elif ff.kind in ("paths", "lines"):
        st.text_area(
            text,
            value=value,
            key=key,
            help=help_text,
            height=90,
            placeholder="one per line",
        )
    elif ff.kind == "numbers":
        st.text_area(
            text,
            value=value,
            key=key,
            help=help_text,
            height=90,
            placeholder="NAME=COUNT or NAME=RATIO, one per line",
        )
    elif ff.kind == "yaml":
        st.text_area(text + " (YAML)", value=value, key=key, help=help_text, height=260)
    else:
        st.text_input(text, value=value, key=key, help=help_text)
    remember(key)
    slot_of[ff.name] = st.empty()
    return _from_raw(ff, st.session_state.get(key))


def _draw_fields(
    stage: str, fields: list[Option], values: dict[str, Any], slots: dict[str, Any]
) -> None:
    """Draw the visible ones of ``fields`` in order (a hidden field's value is dropped)."""
    for ff in fields:
        if not visible(stage, ff.name, values):
            values.pop(ff.name, None)
            continue
        values[ff.name] = field_widget(stage, ff, values, slots)


def _in_page_order(stage: str, fields: list[Option]) -> list[Option]:
    """The fields in model order, except that the options of how labels are read
    (inherited first from :class:`~gennie.config.stages.LabelOptions`) come right after
    the labelled input files they are about."""
    names = [f.name for f in fields]
    if not has_preview(stage) or "input" not in names:
        return fields
    label = [f for f in fields if f.name in LabelOptions.model_fields]
    rest = [f for f in fields if f.name not in LabelOptions.model_fields]
    at = next(i for i, f in enumerate(rest) if f.name == "input") + 1
    return rest[:at] + label + rest[at:]


def draw_form(stage: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Draw every visible field of a stage: the basic ones, then the advanced ones in a
    closed "Advanced options" expander (the ``level`` the model declares, see
    :mod:`gennie.config.options`), then the fields every stage has under "Output".

    Returns:
        The values by field (hidden fields left out) and the message slots by field.
    """
    restore_draft(stage)
    slots: dict[str, Any] = {}
    values: dict[str, Any] = {}
    fields = stage_options(stage)
    # values of every field first, so that visibility depends on the kept values
    for ff in fields:
        key = f"{stage}.{ff.name}"
        if ff.kind not in ("classes", "chromosomes"):
            raw = st.session_state.get(key, _keep().get(key, to_raw(ff, ff.default)))
            values[ff.name] = _from_raw(ff, raw)
    own = _in_page_order(stage, [f for f in fields if f.name not in BASE_FIELDS])
    _draw_fields(stage, [f for f in own if not f.advanced], values, slots)
    advanced = [f for f in own if f.advanced]
    if any(visible(stage, f.name, values) for f in advanced):
        # keyed, so that it stays open when fields above it appear or disappear
        with st.expander(
            ADVANCED_PANEL, expanded=False, icon=":material/tune:", key=f"{stage}.advanced"
        ):
            st.caption("Options most runs leave at their defaults.")
            _draw_fields(stage, advanced, values, slots)
    else:
        _draw_fields(stage, advanced, values, slots)  # drops their values
    st.subheader("Output")
    _draw_fields(stage, [f for f in fields if f.name in BASE_FIELDS], values, slots)
    save_draft(stage)
    return values, slots


def advanced_fields(stage: str, names: set[str] | list[str]) -> list[str]:
    """The fields among ``names`` that the form shows under "Advanced options"."""
    return [o.name for o in stage_options(stage) if o.advanced and o.name in names]


# --------------------------------------------------------------------------- drafts


def _draft_path(stage: str) -> Path:
    return workspace() / STATE_DIR / "drafts" / f"{stage}.json"


def _draft(stage: str) -> dict[str, Any]:
    return {
        k: v
        for k, v in _keep().items()
        if k.startswith(f"{stage}.") and not k.endswith(".pick") and ".load." not in k
    }


def restore_draft(stage: str) -> None:
    """Once per browser session: fill the kept values from the page's last draft, so that
    reloading the page (a new session) does not empty a half-filled form."""
    flag = f"_draft_restored.{stage}"
    if st.session_state.get(flag):
        return
    st.session_state[flag] = True
    try:
        saved = json.loads(_draft_path(stage).read_text())
    except (OSError, ValueError):
        return
    keep = _keep()
    for key, value in saved.items():
        if key.startswith(f"{stage}.") and key not in st.session_state:
            keep.setdefault(key, value)
    st.session_state[f"_draft_saved.{stage}"] = saved


def save_draft(stage: str) -> None:
    """Write the page's values to ``<workspace>/.gennie/drafts/<stage>.json`` if changed."""
    draft = _draft(stage)
    if draft == st.session_state.get(f"_draft_saved.{stage}"):
        return
    path = _draft_path(stage)
    # A database password typed into a storage URL is never written to disk.
    saved = {
        k: mask_storage_url(v) if k.endswith(".storage") and v else v for k, v in draft.items()
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(saved, default=str))
        tmp.replace(path)
    except OSError:
        return  # a read-only workspace: the form still works, it just is not saved
    st.session_state[f"_draft_saved.{stage}"] = draft


def reset_form(stage: str) -> None:
    """Put every field of a page back to the model's default (a button callback)."""
    for key in list(_keep()):
        if key.startswith(f"{stage}.") and ".load." not in key:
            del _keep()[key]
    for key in list(st.session_state):
        if isinstance(key, str) and key.startswith(f"{stage}.") and ".load." not in key:
            del st.session_state[key]
    with contextlib.suppress(OSError):
        _draft_path(stage).unlink()
    st.session_state.pop(f"_draft_saved.{stage}", None)
    # set, not only forgotten: the browser replaces what a widget shows only when the
    # value comes through the session state
    load_into_form(stage, {})


def _class_rows(check: PageCheck, slots: dict[str, Any]) -> dict[str, int]:
    """Write each class file's check under its row; return the intervals per chromosome
    of all BED class files."""
    counts: dict[str, int] = {}
    for name, results in check.paths.items():
        if not isinstance(results, dict):
            continue
        for i, result in enumerate(results.values()):
            slot = slots.get(f"{name}.{i}")
            if slot is not None:
                (slot.caption if result.ok else slot.error)(
                    ("✓ " if result.ok else "") + result.message
                )
            for chrom, n in result.chromosomes.items():
                counts[chrom] = counts.get(chrom, 0) + n
    return counts


def show_messages(stage: str, check: PageCheck, slots: dict[str, Any]) -> None:
    """Write each field's problem (or the result of its path check) under the field;
    under a chromosome-lists field, the chromosomes of the BED class files."""
    for name, slot in slots.items():
        if "." in name:
            continue
        paths = check.paths.get(name)
        if isinstance(paths, dict) and not all(c.ok for c in paths.values()):
            continue  # shown under each class file
        if name in check.missing:
            slot.info(check.errors[name], icon=":material/edit:")
        elif name in check.errors:
            slot.error(check.errors[name], icon=":material/error:")
        elif isinstance(paths, PathCheck):
            slot.caption(f"✓ {paths.message}")
        elif isinstance(paths, list):
            slot.caption("  \n".join(f"✓ {c.message}" for c in paths))
    counts = _class_rows(check, slots)
    if not counts:
        return
    listing = ", ".join(f"{c} ({n})" for c, n in sorted(counts.items()))
    message = f"Chromosomes in the class files (intervals): {listing}"
    for opt in stage_options(stage):
        if opt.kind != "chromosomes" or opt.name not in slots:
            continue
        if opt.name in check.errors:
            slots[opt.name].error(f"{check.errors[opt.name]}  \n{message}", icon=":material/error:")
        else:
            slots[opt.name].info(message)
