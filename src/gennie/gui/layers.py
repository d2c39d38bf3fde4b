"""The Train page's layer editor: a network's architecture as a list of layers per
input branch and for the common part, each layer a box of widgets generated from its
schema (:mod:`gennie.config.layers`), with buttons to add, remove and reorder layers.

The architecture's YAML text stays the one value of the field (what is saved, loaded
and validated by the model, as in the YAML view, the alternative to this editor): every
edit here rewrites it, and the editor is drawn from it. Widgets are keyed with a
version number that changes whenever the list of layers changes (a layer added,
removed, moved or of another type; the text edited in the YAML view; a preset filled
in), so that no widget keeps the value of the layer that was at its place before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, get_args

import streamlit as st
from pydantic import BaseModel

from gennie.config.layers import BranchLayer, CommonLayer
from gennie.config.options import Option, options
from gennie.gui.fields import parse_yaml_field
from gennie.gui.runinfo import to_yaml

COMMON = "common"
"""The section of the layers after the branches are concatenated."""

Writer = Callable[[str], None]
"""Stores the architecture's new YAML text as the field's value."""


# --------------------------------------------------------------------------- the schema


@functools.cache
def layer_models(section: str) -> dict[str, type[BaseModel]]:
    """The layer types a section may hold (a branch, or ``common``), each with its
    schema, in the order the configuration declares them."""
    union = get_args(CommonLayer if section == COMMON else BranchLayer)[0]
    models: dict[str, type[BaseModel]] = {}
    for model in get_args(union):
        for kind in get_args(model.model_fields["type"].annotation):
            models[kind] = model
    return models


def new_layer(section: str, kind: str, keep: dict[str, Any] | None = None) -> dict[str, Any]:
    """A layer of type ``kind`` with the schema's defaults, taking over the values of
    ``keep`` (the layer it replaces) for the fields both types have."""
    layer = layer_models(section)[kind](type=kind).model_dump(mode="json")
    for name, value in (keep or {}).items():
        if name != "type" and name in layer:
            layer[name] = value
    return layer


# --------------------------------------------------------------------------- the value


def read_architecture(text: str, branches: list[str]) -> dict[str, Any]:
    """The architecture of the YAML text as ``{branches: {name: [layer...]}, common:
    [layer...]}``, with an empty list for each of ``branches`` it does not have.

    Raises:
        ValueError: Text that is not YAML, or not of that shape.
    """
    data = parse_yaml_field(text) or {}
    if not isinstance(data, dict) or set(data) - {"branches", COMMON}:
        raise ValueError("the architecture has keys other than 'branches' and 'common'")
    named = data.get("branches") or {}
    common = data.get(COMMON) or []
    if not isinstance(named, dict) or not isinstance(common, list):
        raise ValueError("'branches' must map branch names to lists, 'common' be a list")
    arch = {"branches": {b: list(v or []) for b, v in named.items()}, COMMON: list(common)}
    for branch in branches:
        arch["branches"].setdefault(branch, [])
    for layers in [*arch["branches"].values(), arch[COMMON]]:
        if not all(isinstance(layer, dict) for layer in layers):
            raise ValueError("every layer must be a mapping with a type, e.g. {type: conv}")
    return arch


def section_layers(arch: dict[str, Any], section: str) -> list[dict[str, Any]]:
    """The layers of a section (a branch name or ``common``)."""
    return arch[COMMON] if section == COMMON else arch["branches"][section]


def edit(arch: dict[str, Any], section: str, action: str, index: int, value: Any = None) -> None:
    """Change the layers of a section in place.

    Args:
        arch: The architecture (see :func:`read_architecture`).
        section: A branch name or ``common``.
        action: ``add`` (a layer of type ``value`` at the end), ``remove``, ``up``,
            ``down`` or ``type`` (the layer at ``index`` becomes of type ``value``).
        index: The layer's position.
        value: The type for ``add`` and ``type``.
    """
    layers = section_layers(arch, section)
    if action == "add":
        layers.append(new_layer(section, value))
    elif action == "remove":
        del layers[index]
    elif action in ("up", "down"):
        other = index - 1 if action == "up" else index + 1
        if 0 <= other < len(layers):
            layers[index], layers[other] = layers[other], layers[index]
    elif action == "type":
        layers[index] = new_layer(section, value, keep=layers[index])
    else:
        raise ValueError(f"unknown action '{action}'")


# --------------------------------------------------------------------------- widgets


def _version(key: str) -> int:
    return st.session_state.get(f"{key}.layers.version", 0)


def _save(key: str, arch: dict[str, Any], write: Writer, structural: bool) -> None:
    """Write the architecture as the field's YAML text; a structural change gives the
    widgets new keys (see the module docstring)."""
    text = to_yaml(arch)
    write(text)
    st.session_state[f"{key}.layers.synced"] = text
    st.session_state[f"{key}.layers.text"] = text  # a second callback before the next run
    if structural:
        st.session_state[f"{key}.layers.version"] = _version(key) + 1


def _current(key: str, branches: list[str]) -> dict[str, Any]:
    return read_architecture(st.session_state.get(f"{key}.layers.text", ""), branches)


def _on_edit(key: str, branches: list[str], write: Writer, section: str, action: str, i: int):
    """A button's or type choice's callback: change the list of layers."""
    arch = _current(key, branches)
    value = None
    if action == "type":
        value = st.session_state[_widget_key(key, section, i, "type")]
    elif action == "add":
        value = st.session_state[f"{key}.layers.{_version(key)}.{section}.new"]
    edit(arch, section, action, i, value)
    _save(key, arch, write, structural=True)


def _on_field(key: str, branches: list[str], write: Writer, section: str, i: int, name: str):
    """A layer field's callback: store its new value."""
    arch = _current(key, branches)
    section_layers(arch, section)[i][name] = st.session_state[_widget_key(key, section, i, name)]
    _save(key, arch, write, structural=False)


def _widget_key(key: str, section: str, i: int, name: str) -> str:
    return f"{key}.layers.{_version(key)}.{section}.{i}.{name}"


def _field_widget(ff: Option, wkey: str, value: Any, on_change: Callable, args: tuple) -> None:
    """One layer field's widget, from its schema (kinds bool, choice, int, float)."""
    common = {"key": wkey, "help": ff.help, "on_change": on_change, "args": args}
    if ff.kind == "bool":
        st.checkbox(ff.label, value=bool(value), **common)
    elif ff.kind == "choice":
        choices = list(ff.choices)
        index = choices.index(value) if value in choices else choices.index(ff.default)
        st.selectbox(ff.label, choices, index=index, **common)
    elif ff.kind in ("int", "float"):
        cast = int if ff.kind == "int" else float
        try:
            number = cast(value)
        except (TypeError, ValueError):
            number = cast(ff.default)
        st.number_input(
            ff.label,
            value=number,
            min_value=cast(ff.minimum) if ff.minimum is not None else None,
            max_value=cast(ff.maximum) if ff.maximum is not None else None,
            step=1 if cast is int else 0.05,
            format=None if cast is int else "%g",
            **common,
        )
    else:  # no layer field is of another kind; shown as text to stay editable
        st.text_input(ff.label, value=str(value), **common)


def _layer_box(key: str, branches: list[str], write: Writer, section: str, i: int, layer: dict):
    """One layer: its type, its fields, and buttons to move or remove it."""
    models = layer_models(section)
    kind = layer.get("type")
    with st.container(border=True):
        head = st.columns([3, 1, 1, 1], vertical_alignment="bottom")
        args = (key, branches, write, section)
        if kind not in models:
            head[0].error(f"layer {i + 1}: unknown type '{kind}' (types: {', '.join(models)})")
        else:
            head[0].selectbox(
                f"Layer {i + 1}",
                list(models),
                index=list(models).index(kind),
                key=_widget_key(key, section, i, "type"),
                on_change=_on_edit,
                args=(*args, "type", i),
            )
        for column, action, icon, text in (
            (head[1], "up", ":material/arrow_upward:", "Move up"),
            (head[2], "down", ":material/arrow_downward:", "Move down"),
            (head[3], "remove", ":material/delete:", "Remove this layer"),
        ):
            column.button(
                "",
                icon=icon,
                help=text,
                key=_widget_key(key, section, i, action),
                on_click=_on_edit,
                args=(*args, action, i),
            )
        if kind not in models:
            return
        fields = [ff for ff in options(models[kind]) if ff.name != "type"]
        columns = st.columns(4)
        for n, ff in enumerate(fields):
            with columns[n % 4]:
                _field_widget(
                    ff,
                    _widget_key(key, section, i, ff.name),
                    layer.get(ff.name, ff.default),
                    _on_field,
                    (*args, i, ff.name),
                )


def draw_layer_editor(key: str, text: str, branches: list[str], write: Writer) -> None:
    """Draw the layer editor of an architecture field.

    Args:
        key: The field's widget key (its YAML text's).
        text: The field's YAML text now.
        branches: Input branches that get a section even without layers.
        write: Stores a new YAML text as the field's value.
    """
    if st.session_state.get(f"{key}.layers.synced") != text:
        st.session_state[f"{key}.layers.version"] = _version(key) + 1  # edited elsewhere
        st.session_state[f"{key}.layers.synced"] = text
    st.session_state[f"{key}.layers.text"] = text
    try:
        arch = read_architecture(text, branches)
    except ValueError as exc:
        st.error(f"The layers cannot be shown: {exc}. Fix them in the YAML view.")
        return
    sections = [*arch["branches"], COMMON]
    for section in sections:
        title = "Common part (after the branches)" if section == COMMON else f"Branch {section}"
        st.markdown(f"**{title}**")
        layers = section_layers(arch, section)
        if not layers:
            st.caption("No layers.")
        for i, layer in enumerate(layers):
            _layer_box(key, branches, write, section, i, layer)
        models = list(layer_models(section))
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        left.selectbox(
            f"New layer for {section}",
            models,
            key=f"{key}.layers.{_version(key)}.{section}.new",
        )
        right.button(
            "Add layer",
            icon=":material/add:",
            key=f"{key}.layers.{_version(key)}.{section}.add",
            on_click=_on_edit,
            args=(key, branches, write, section, "add", len(layers)),
        )
