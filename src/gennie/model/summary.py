"""Describe a built network: a per-layer table of output shapes and parameters, and a
picture of the architecture (one column per branch, concatenation, common part,
softmax output), like ENNGene's Fig. 3.

Shapes are measured, not computed: a zero batch is pushed through the model with
forward hooks, in eval mode and without gradients, and the model's mode is restored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from torch import nn

from gennie.model.network import MultiBranchNetwork


def _shape_text(output: Any) -> str:
    """``(n, 40, 147)`` for a tensor (or the first tensor of a tuple, as RNNs return)."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    return "(" + ", ".join(["n", *(str(s) for s in output.shape[1:])]) + ")"


def _run_with_hooks(
    model: nn.Module,
    inputs: dict[str, tuple[int, int]],
    modules: list[tuple[str, nn.Module]],
) -> list[tuple[str, nn.Module, str]]:
    """Run a zero batch through ``model`` and record the output shape of ``modules``.

    Returns:
        ``(name, module, shape text)`` per call, in the order the modules ran.
    """
    calls: list[tuple[str, nn.Module, str]] = []
    handles = []
    for name, module in modules:

        def hook(mod: nn.Module, args: Any, output: Any, name: str = name) -> None:
            calls.append((name, mod, _shape_text(output)))

        handles.append(module.register_forward_hook(hook))
    try:
        parameter = next(model.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        xs = [torch.zeros(1, c, n, device=device) for c, n in inputs.values()]
        was_training = model.training
        # Eval mode: batch norm must not update its statistics and dropout must not
        # consume random numbers just because someone printed a summary.
        model.eval()
        try:
            with torch.no_grad():
                model(*xs)
        finally:
            model.train(was_training)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def layer_table(model: nn.Module, inputs: dict[str, tuple[int, int]]) -> list[dict[str, Any]]:
    """Output shape and parameter count of every leaf module, in the order they run.

    Args:
        model: A network whose ``forward`` takes one ``(n, channels, length)`` tensor
            per input, in the order of ``inputs`` (a :class:`MultiBranchNetwork` or any
            such module).
        inputs: ``{branch name: (channels, length)}``.

    Returns:
        One row per leaf module call: ``{"layer": "branches.seq.0.conv", "type":
        "Conv1d", "output_shape": "(n, 40, 147)", "parameters": 680}``. For an RNN the
        shape is that of its output sequence, ``(n, length, units * directions)``.
    """
    # An empty container (a branch or common part without layers) has no children
    # either, but it is no layer.
    containers = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
    leaves = [
        (name, m)
        for name, m in model.named_modules()
        if name and not any(m.children()) and not isinstance(m, containers)
    ]
    return [
        {
            "layer": name,
            "type": type(module).__name__,
            "output_shape": shape,
            "parameters": sum(p.numel() for p in module.parameters()),
        }
        for name, module, shape in _run_with_hooks(model, inputs, leaves)
    ]


def format_layer_table(rows: list[dict[str, Any]]) -> str:
    """The layer table as fixed-width text with a total parameter count.

    Args:
        rows: Rows from :func:`layer_table`.

    Returns:
        Lines of ``layer  type  output shape  parameters``, a rule, and the total.
    """
    header = {
        "layer": "layer",
        "type": "type",
        "output_shape": "output shape",
        "parameters": "parameters",
    }
    cells = [header] + [{**row, "parameters": f"{row['parameters']:,}"} for row in rows]
    widths = {key: max(len(str(c[key])) for c in cells) for key in header}

    def line(cell: dict[str, Any]) -> str:
        return "  ".join(
            [
                str(cell["layer"]).ljust(widths["layer"]),
                str(cell["type"]).ljust(widths["type"]),
                str(cell["output_shape"]).ljust(widths["output_shape"]),
                str(cell["parameters"]).rjust(widths["parameters"]),
            ]
        )

    total = sum(row["parameters"] for row in rows)
    rule = "-" * len(line(header))
    return "\n".join(
        [line(header), rule, *(line(c) for c in cells[1:]), rule, f"total parameters: {total:,}"]
    )


_COLOURS = {
    "input": "#ffffff",
    "conv": "#cfe2f3",
    "pool": "#d9ead3",
    "global_pool": "#b6d7a8",
    "lstm": "#fce5cd",
    "gru": "#fce5cd",
    "dense": "#d9d2e9",
    "concat": "#eeeeee",
    "flatten": "#eeeeee",
    "output": "#f4cccc",
}


def _wrap_label(label: str, width: int) -> list[str]:
    """Break a label into lines of about ``width`` characters, only after its commas."""
    lines: list[str] = []
    for part in label.split(", "):
        if lines and len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += ", " + part
        else:
            if lines:
                lines[-1] += ","
            lines.append(part)
    return lines


def _architecture_boxes(
    model: MultiBranchNetwork, inputs: dict[str, tuple[int, int]]
) -> tuple[list[list[tuple[str, str, str]]], list[tuple[str, str, str]]]:
    """Boxes ``(kind, label, shape)`` per branch column and for the common column."""
    blocks: list[tuple[str, nn.Module]] = []
    for name in model.branch_names:
        blocks += [(f"{name}.{i}", b) for i, b in enumerate(model.branches[name])]
    blocks.append(("concat", model.concat))
    blocks += [(f"common.{i}", b) for i, b in enumerate(model.common)]
    if model.flatten is not None:
        blocks.append(("flatten", model.flatten))
    blocks.append(("output", model.output))
    shapes = {name: shape for name, _, shape in _run_with_hooks(model, inputs, blocks)}

    columns = []
    for name, (channels, length) in inputs.items():
        column = [("input", f"{name} input", f"(n, {channels}, {length})")]
        column += [
            (b.kind, b.label, shapes[f"{name}.{i}"]) for i, b in enumerate(model.branches[name])
        ]
        columns.append(column)
    common = [("concat", model.concat.label, shapes["concat"])]
    common += [(b.kind, b.label, shapes[f"common.{i}"]) for i, b in enumerate(model.common)]
    if model.flatten is not None:
        common.append(("flatten", "flatten", shapes["flatten"]))
    k = model.num_classes
    common.append(("output", f"dense {k} + softmax ({k} classes)", shapes["output"]))
    return columns, common


# Sizes of the architecture picture, in inches.
_COLUMN_WIDTH, _BOX_WIDTH, _BOX_HEIGHT, _ROW_HEIGHT, _MARGIN = 3.0, 2.7, 0.56, 0.85, 0.25
_TITLE_HEIGHT = 0.35


def _draw_box(ax: Any, x: float, y: float, kind: str, label: str, shape: str) -> None:
    """One layer: a rounded box centred on (x, y) with its label and output shape."""
    ax.add_patch(
        FancyBboxPatch(
            (x - _BOX_WIDTH / 2, y - _BOX_HEIGHT / 2),
            _BOX_WIDTH,
            _BOX_HEIGHT,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=_COLOURS.get(kind, "#ffffff"),
            edgecolor="#444444",
            linewidth=0.8,
        )
    )
    # Long labels (many options) wrap onto a second line, and shrink only if
    # even that does not fit the box.
    lines = _wrap_label(label, 38)
    size = 8.0 if len(lines) == 1 else 7.0
    if len(lines) > 2:
        lines = _wrap_label(label, (len(label) + 1) // 2)
        size = max(5.0, 7.0 * 38 / max(len(line) for line in lines))
    ax.text(
        x,
        y + 0.09,
        "\n".join(lines),
        ha="center",
        va="center",
        fontsize=size,
        fontweight="bold",
        linespacing=1.1,
    )
    ax.text(
        x,
        y - (0.14 if len(lines) == 1 else 0.19),
        shape,
        ha="center",
        va="center",
        fontsize=7,
        family="monospace",
    )


def _draw_arrow(ax: Any, x0: float, y0: float, x1: float, y1: float) -> None:
    """From the bottom of the box at (x0, y0) to the top of the box at (x1, y1)."""
    ax.annotate(
        "",
        xy=(x1, y1 + _BOX_HEIGHT / 2),
        xytext=(x0, y0 - _BOX_HEIGHT / 2),
        arrowprops={
            "arrowstyle": "-|>",
            "color": "#444444",
            "lw": 0.8,
            "shrinkA": 1,
            "shrinkB": 1,
        },
    )


def _draw_boxes(
    ax: Any,
    columns: list[list[tuple[str, str, str]]],
    common: list[tuple[str, str, str]],
    width: float,
    height: float,
) -> None:
    """The branch columns side by side, joined into the common column below them."""
    branch_rows = max(len(c) for c in columns)

    def row_y(row: int) -> float:
        return height - _MARGIN - _TITLE_HEIGHT - _ROW_HEIGHT * (row + 0.5)

    centre = width / 2
    concat_y = row_y(branch_rows)
    for i, column in enumerate(columns):
        x = _MARGIN + _COLUMN_WIDTH * (i + 0.5)
        for row, (kind, label, shape) in enumerate(column):
            _draw_box(ax, x, row_y(row), kind, label, shape)
            if row:
                _draw_arrow(ax, x, row_y(row - 1), x, row_y(row))
        if len(columns) == 1:
            _draw_arrow(ax, x, row_y(len(column) - 1), centre, concat_y)
            continue
        # A shorter branch runs straight down to the level of the deepest one first,
        # so that its arrow into the concatenation does not cross other columns.
        bottom = row_y(len(column) - 1)
        if len(column) < branch_rows:
            last = row_y(branch_rows - 1)
            ax.plot(
                [x, x], [bottom - _BOX_HEIGHT / 2, last - _BOX_HEIGHT / 2], color="#444444", lw=0.8
            )
            bottom = last
        _draw_arrow(ax, x, bottom, centre, concat_y)
    for row, (kind, label, shape) in enumerate(common):
        _draw_box(ax, centre, row_y(branch_rows + row), kind, label, shape)
        if row:
            _draw_arrow(ax, centre, row_y(branch_rows + row - 1), centre, row_y(branch_rows + row))


def draw_architecture(
    model: MultiBranchNetwork,
    inputs: dict[str, tuple[int, int]],
    path_png: str | Path,
    path_svg: str | Path | None = None,
) -> None:
    """Draw the network as boxes: one column per branch, then the common part.

    Each box is one configured layer with its output shape; arrows lead from the
    branches into the concatenation (left out for a single branch), then down
    through the common layers to the softmax output.

    Args:
        model: The network to draw.
        inputs: ``{branch name: (channels, length)}`` in input order.
        path_png: Where to write the PNG picture.
        path_svg: Where to also write an SVG copy, if given.
    """
    columns, common = _architecture_boxes(model, inputs)
    if len(columns) == 1:
        common = common[1:]  # joining a single branch is a no-op; leave the box out
    branch_rows = max(len(c) for c in columns)
    width = max(len(columns), 1) * _COLUMN_WIDTH + 2 * _MARGIN
    height = (branch_rows + len(common)) * _ROW_HEIGHT + 2 * _MARGIN + _TITLE_HEIGHT

    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    total = sum(p.numel() for p in model.parameters())
    ax.text(
        width / 2,
        height - _MARGIN,
        f"{total:,} parameters",
        ha="center",
        va="top",
        fontsize=8,
        color="#555555",
    )
    _draw_boxes(ax, columns, common, width, height)

    Path(path_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path_png, dpi=150)
    if path_svg is not None:
        Path(path_svg).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path_svg)
