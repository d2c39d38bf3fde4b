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
import json
from pathlib import Path
from typing import Any

import streamlit as st
from pydantic import BaseModel

from gennie.config import SPLITS, class_name_from_file
from gennie.gui.common import relative, workspace
from gennie.gui.fields import (
    OUTPUT_FIELDS,
    RUN_FOLDER_FIELDS,
    FormField,
    PageCheck,
    form_fields,
    parse_yaml_field,
    visible,
)
from gennie.gui.jobs import STATE_DIR
from gennie.gui.runinfo import find_runs, to_yaml, workspace_files

NONE = "(none)"
"""The choice that stands for "not set" in a list of options."""

BASE_FIELDS = ("out", "name", "seed")
"""Fields every stage has; drawn last, under "Output"."""


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


def _fewest_classes(stage: str) -> int:
    """Class rows a page shows at least (preprocess needs two classes)."""
    return 2 if stage == "preprocess" else 1


def set_widget(key: str, value: Any) -> None:
    """Set a widget's value (call from a callback, before the widget is drawn)."""
    st.session_state[key] = value
    _keep()[key] = value


# --------------------------------------------------------------------------- conversion


def _path_text(value: Any) -> str:
    return "" if value in (None, "") else relative(value)


def to_raw(ff: FormField, value: Any) -> Any:
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


def _from_raw(ff: FormField, raw: Any) -> Any:
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
    for ff in form_fields(stage):
        value = parameters.get(ff.name, ff.default)
        if ff.name in unknown:
            unknown.remove(ff.name)
        key = f"{stage}.{ff.name}"
        if ff.kind == "classes":
            items = list((value or {}).items())
            set_widget(f"{key}.n", max(_fewest_classes(stage), len(items)))
            for i in range(max(len(items), 20)):
                name, path = items[i] if i < len(items) else ("", "")
                set_widget(f"{key}.{i}.name", name)
                set_widget(f"{key}.{i}.file", _path_text(path))
        elif ff.kind == "chromosomes":
            for split in ff.keys:
                set_widget(f"{key}.{split}", ", ".join((value or {}).get(split, [])))
        else:
            set_widget(key, to_raw(ff, value))
    if stage == "train":
        set_widget("train.custom_architecture", parameters.get("architecture") is not None)
    return unknown


# --------------------------------------------------------------------------- widgets


def _help(ff: FormField) -> str:
    default = ff.default
    if default in (None, [], {}, ""):
        return ff.help
    if isinstance(default, list):
        default = ", ".join(map(str, default))
    return f"{ff.help}  \nDefault: {default}"


def _browse(ff: FormField, key: str) -> None:
    """A 'Browse' popover that puts a workspace file or run folder into a path field."""
    if ff.name in RUN_FOLDER_FIELDS:
        wanted = RUN_FOLDER_FIELDS[ff.name]
        runs = [r for r in find_runs(workspace()) if r.stage == wanted and r.status == "complete"]
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


def _classes_widget(stage: str, ff: FormField, slot_of: dict[str, Any]) -> Any:
    key = f"{stage}.{ff.name}"
    st.markdown(f"**{ff.label}**", help=_help(ff))
    count = st.number_input(
        "Number of classes",
        value=_number(kept_value(f"{key}.n", _fewest_classes(stage)), int, 1, 20) or 1,
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


def _chromosomes_widget(stage: str, ff: FormField, slot_of: dict[str, Any]) -> Any:
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


def _architecture_tools(values: dict[str, Any]) -> None:
    """Train page: fill the architecture editor with the chosen preset's layers."""
    from gennie.config import KNOWN_BRANCHES
    from gennie.config.presets import preset_architecture
    from gennie.errors import UserError
    from gennie.gui.fields import resolve_path

    branches = values.get("branches") or []
    if not branches and values.get("dataset"):
        try:
            import json

            meta = resolve_path(values["dataset"], workspace()) / "metadata.json"
            branches = list(json.loads(meta.read_text()).get("branches", {}))
        except (OSError, ValueError):
            branches = []
    branches = [b for b in branches if b in KNOWN_BRANCHES] or ["seq"]

    def fill() -> None:
        try:
            arch = preset_architecture(values.get("preset") or "enngene", branches)
        except UserError:
            return
        set_widget("train.architecture", to_yaml(arch.model_dump(mode="json")))

    st.button(
        f"Fill in the layers of preset '{values.get('preset')}' ({', '.join(branches)})",
        key="train.architecture.fill",
        on_click=fill,
    )


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


def field_widget(stage: str, ff: FormField, values: dict[str, Any], slot_of: dict) -> Any:
    """Draw one field's widget and return its value as the configuration takes it."""
    key = f"{stage}.{ff.name}"
    if ff.kind == "classes":
        return _classes_widget(stage, ff, slot_of)
    if ff.kind == "chromosomes":
        return _chromosomes_widget(stage, ff, slot_of)
    if stage == "train" and ff.name == "architecture":
        custom = st.checkbox(
            "Edit the layers myself (otherwise the preset's layers are used)",
            value=bool(kept_value("train.custom_architecture", False)),
            key="train.custom_architecture",
        )
        remember("train.custom_architecture")
        if not custom:
            return None
        _architecture_tools(values)
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


def draw_form(stage: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Draw every visible field of a stage (base fields last).

    Returns:
        The values by field (hidden fields left out) and the message slots by field.
    """
    restore_draft(stage)
    slots: dict[str, Any] = {}
    values: dict[str, Any] = {}
    fields = form_fields(stage)
    # values of every field first, so that visibility depends on the kept values
    for ff in fields:
        key = f"{stage}.{ff.name}"
        if ff.kind not in ("classes", "chromosomes"):
            raw = st.session_state.get(key, _keep().get(key, to_raw(ff, ff.default)))
            values[ff.name] = _from_raw(ff, raw)
    ordered = [f for f in fields if f.name not in BASE_FIELDS] + [
        f for f in fields if f.name in BASE_FIELDS
    ]
    for ff in ordered:
        if ff.name == BASE_FIELDS[0]:
            st.subheader("Output")
        if not visible(stage, ff.name, values):
            values.pop(ff.name, None)
            continue
        values[ff.name] = field_widget(stage, ff, values, slots)
    save_draft(stage)
    return values, slots


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(draft, default=str))
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


def show_messages(check: PageCheck, slots: dict[str, Any], chromosome_hint: bool = False) -> None:
    """Write each field's problem (or the result of its path check) under the field."""
    for name, slot in slots.items():
        if "." in name:
            continue
        bad_rows = isinstance(check.paths.get(name), dict) and not all(
            c.ok for c in check.paths[name].values()
        )
        if bad_rows:
            continue  # shown under each class file
        if name in check.missing:
            slot.info(check.errors[name], icon=":material/edit:")
        elif name in check.errors:
            slot.error(check.errors[name], icon=":material/error:")
        elif name in check.paths and not isinstance(check.paths[name], (list, dict)):
            slot.caption(f"✓ {check.paths[name].message}")
        elif name in check.paths and isinstance(check.paths[name], list):
            slot.caption("  \n".join(f"✓ {c.message}" for c in check.paths[name]))
    classes = check.paths.get("classes")
    if isinstance(classes, dict):
        for i, (_name, result) in enumerate(classes.items()):
            slot = slots.get(f"classes.{i}")
            if slot is not None:
                (slot.caption if result.ok else slot.error)(
                    ("✓ " if result.ok else "") + result.message
                )
    if chromosome_hint and "chromosomes" in slots and isinstance(classes, dict):
        counts: dict[str, int] = {}
        for result in classes.values():
            for chrom, n in result.chromosomes.items():
                counts[chrom] = counts.get(chrom, 0) + n
        if counts:
            listing = ", ".join(f"{c} ({n})" for c, n in sorted(counts.items()))
            message = f"Chromosomes in the class files (intervals): {listing}"
            if "chromosomes" in check.errors:
                slots["chromosomes"].error(
                    f"{check.errors['chromosomes']}  \n{message}", icon=":material/error:"
                )
            else:
                slots["chromosomes"].info(message)
