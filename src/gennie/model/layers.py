"""Building blocks of a gennie network: one module per configuration layer.

Each block turns one layer model of :mod:`gennie.config` (``ConvLayer``, ``PoolLayer``,
``GlobalPoolLayer``, ``RecurrentLayer``, ``DenseLayer``) into PyTorch modules with
readable child names (``conv``, ``activation``, ``batch_norm``, ``dropout``, ...), so
that the layer table of :mod:`gennie.model.summary` reads like the configuration.
Every block carries a short ``label`` (e.g. ``"conv 40×4, leaky_relu, BN, dropout 0.2"``)
used in pictures of the architecture.

Shape conventions: sequences are channels-first, ``(n, channels, length)``, as
``torch.nn.Conv1d`` expects; flat features are ``(n, features)``.

Activation choices that a configuration cannot spell out:

- ``leaky_relu`` uses slope :data:`LEAKY_RELU_SLOPE` = 0.01 (PyTorch's default; Keras,
  which ENNGene used, defaults to 0.3).
- ``exp`` is the exponential activation (``torch.exp``) that makes first-layer filters
  read as motif scanners (DeepBind-style, Koo & Ploenzke 2021).
- ``linear`` adds no module at all.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from gennie.config import (
    Activation,
    ConvLayer,
    DenseLayer,
    GlobalPoolLayer,
    PoolKind,
    PoolLayer,
    RecurrentLayer,
)

LEAKY_RELU_SLOPE = 0.01
"""Negative slope of the ``leaky_relu`` activation."""


class Exp(nn.Module):
    """Exponential activation, ``y = exp(x)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply ``torch.exp`` element-wise; any shape in, the same shape out."""
        return torch.exp(x)


def make_activation(name: Activation) -> nn.Module | None:
    """The module for an activation name, or ``None`` for ``linear`` (identity).

    Args:
        name: One of ``relu``, ``leaky_relu``, ``elu``, ``gelu``, ``sigmoid``, ``tanh``,
            ``exp``, ``linear``.

    Returns:
        A fresh parameter-free module, or ``None`` when nothing needs to be applied.
    """
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(LEAKY_RELU_SLOPE)
    if name == "elu":
        return nn.ELU()
    if name == "gelu":
        return nn.GELU()
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "exp":
        return Exp()
    if name == "linear":
        return None
    raise ValueError(f"unknown activation {name!r}")


def _add_activation_norm_dropout(
    modules: dict[str, nn.Module], layer: ConvLayer | DenseLayer, channels: int
) -> None:
    """Append a layer's activation, then batch normalization, then dropout (as configured)."""
    activation = make_activation(layer.activation)
    if activation is not None:
        modules["activation"] = activation
    if layer.batch_norm:
        modules["batch_norm"] = nn.BatchNorm1d(channels)
    if layer.dropout > 0:
        modules["dropout"] = nn.Dropout(layer.dropout)


def _extras(batch_norm: bool, dropout: float) -> str:
    parts = []
    if batch_norm:
        parts.append("BN")
    if dropout > 0:
        parts.append(f"dropout {dropout:g}")
    return "".join(f", {p}" for p in parts)


class Block(nn.Sequential):
    """A sequence of modules that stands for one configuration layer.

    Attributes:
        label: Short human-readable description for pictures and logs.
        kind: The configuration layer type (``conv``, ``pool``, ``global_pool``,
            ``dense``, ...).
    """

    def __init__(self, modules: OrderedDict[str, nn.Module], *, label: str, kind: str) -> None:
        super().__init__(modules)
        self.label = label
        self.kind = kind


def conv_block(in_channels: int, layer: ConvLayer) -> Block:
    """Convolution → activation → optional batch norm → optional dropout.

    ``padding: same`` keeps the length. When the total padding
    ``dilation * (kernel_size - 1)`` is odd (e.g. an even kernel), an explicit ``pad``
    module puts the extra position on the right, exactly as PyTorch's
    ``padding='same'`` would, but without the input copy and warning PyTorch issues
    in that case.

    Args:
        in_channels: Channels of the input sequence.
        layer: The convolution settings.

    Returns:
        A block mapping ``(n, in_channels, L)`` to ``(n, filters, L')`` with
        ``L' = L`` for ``same`` and ``L - dilation * (kernel_size - 1)`` for ``valid``.
    """
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    span = layer.dilation * (layer.kernel_size - 1)
    padding = 0
    if layer.padding == "same":
        if span % 2 == 0:
            padding = span // 2
        else:
            modules["pad"] = nn.ConstantPad1d((span // 2, span - span // 2), 0.0)
    modules["conv"] = nn.Conv1d(
        in_channels, layer.filters, layer.kernel_size, dilation=layer.dilation, padding=padding
    )
    _add_activation_norm_dropout(modules, layer, layer.filters)
    label = f"conv {layer.filters}×{layer.kernel_size}"
    if layer.dilation > 1:
        label += f" dil {layer.dilation}"
    if layer.padding == "same":
        label += " same"
    label += f", {layer.activation}" + _extras(layer.batch_norm, layer.dropout)
    return Block(modules, label=label, kind="conv")


class LocalPool(nn.Module):
    """Pooling over non-overlapping windows of ``size`` positions (stride = size).

    A trailing part shorter than the window is dropped (floor, as Keras'
    ``MaxPooling1D`` with ``padding='valid'``). ``max_avg`` concatenates the max- and
    the average-pooled channels, doubling the channels.

    Args:
        kind: ``max``, ``avg`` or ``max_avg``.
        size: Window and stride in positions; the network builder clamps it to the
            sequence length so that a short sequence is pooled as a whole.
    """

    def __init__(self, kind: PoolKind, size: int) -> None:
        super().__init__()
        self.kind = kind
        self.size = size

    def extra_repr(self) -> str:
        """Shown in ``print(model)``."""
        return f"kind={self.kind}, size={self.size}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool ``(n, C, L)`` to ``(n, C, L // size)`` (``2C`` channels for max_avg)."""
        if self.kind == "max":
            return nn.functional.max_pool1d(x, self.size, self.size)
        if self.kind == "avg":
            return nn.functional.avg_pool1d(x, self.size, self.size)
        return torch.cat(
            [
                nn.functional.max_pool1d(x, self.size, self.size),
                nn.functional.avg_pool1d(x, self.size, self.size),
            ],
            dim=1,
        )


class GlobalPool(nn.Module):
    """Pooling over all positions: one value per channel.

    Args:
        kind: ``max``, ``avg`` or ``max_avg`` (max then average, concatenated).
    """

    def __init__(self, kind: PoolKind) -> None:
        super().__init__()
        self.kind = kind

    def extra_repr(self) -> str:
        """Shown in ``print(model)``."""
        return f"kind={self.kind}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reduce ``(n, C, L)`` to ``(n, C)`` (``(n, 2C)`` for max_avg)."""
        if self.kind == "max":
            return x.amax(dim=-1)
        if self.kind == "avg":
            return x.mean(dim=-1)
        return torch.cat([x.amax(dim=-1), x.mean(dim=-1)], dim=1)


def pool_block(layer: PoolLayer, length: int) -> Block:
    """Local pooling → optional dropout.

    Args:
        layer: The pooling settings.
        length: Length of the incoming sequence; a window longer than it is clamped
            to it, so the whole sequence is pooled instead of failing.

    Returns:
        A block mapping ``(n, C, L)`` to ``(n, C or 2C, L // min(size, L))``.
    """
    size = min(layer.size, length)
    modules: OrderedDict[str, nn.Module] = OrderedDict(pool=LocalPool(layer.kind, size))
    if layer.dropout > 0:
        modules["dropout"] = nn.Dropout(layer.dropout)
    label = f"{layer.kind} pool {layer.size}"
    if size != layer.size:
        label += f" (clamped to {size})"
    return Block(modules, label=label + _extras(False, layer.dropout), kind="pool")


def global_pool_block(layer: GlobalPoolLayer) -> Block:
    """Global pooling → optional dropout.

    Args:
        layer: The pooling settings.

    Returns:
        A block mapping ``(n, C, L)`` to ``(n, C)`` (``(n, 2C)`` for max_avg).
    """
    modules: OrderedDict[str, nn.Module] = OrderedDict(pool=GlobalPool(layer.kind))
    if layer.dropout > 0:
        modules["dropout"] = nn.Dropout(layer.dropout)
    label = f"global {layer.kind} pool" + _extras(False, layer.dropout)
    return Block(modules, label=label, kind="global_pool")


class SequenceReadout(nn.Module):
    """Turns a batch-first recurrent output into what the next layer needs.

    Args:
        hidden: Hidden units per direction.
        bidirectional: Whether the recurrent layer read both directions.
        final_state: Return the final state (for a following dense layer or the
            output) instead of the whole sequence.
    """

    def __init__(self, hidden: int, bidirectional: bool, final_state: bool) -> None:
        super().__init__()
        self.hidden = hidden
        self.bidirectional = bidirectional
        self.final_state = final_state

    def extra_repr(self) -> str:
        """Shown in ``print(model)``."""
        return "final state" if self.final_state else "sequence"

    def forward(self, out: torch.Tensor) -> torch.Tensor:
        """Map ``(n, L, H * dirs)`` to ``(n, H * dirs)`` or ``(n, H * dirs, L)``.

        The final state of the forward direction is its output at the last position,
        that of the backward direction its output at the first position (where it
        finishes reading); for a single-layer RNN these equal ``h_n``.
        """
        if not self.final_state:
            return out.transpose(1, 2)
        if self.bidirectional:
            return torch.cat([out[:, -1, : self.hidden], out[:, 0, self.hidden :]], dim=1)
        return out[:, -1, :]


class RecurrentBlock(nn.Module):
    """LSTM or GRU over positions → readout → optional batch norm → optional dropout.

    Args:
        in_channels: Channels of the input sequence (features per position).
        layer: The recurrent settings.
        final_state: Return the final state (2-D) instead of the sequence (3-D).

    Attributes:
        label: Short description for pictures.
        kind: ``lstm`` or ``gru``.
    """

    def __init__(self, in_channels: int, layer: RecurrentLayer, final_state: bool) -> None:
        super().__init__()
        rnn_class = nn.LSTM if layer.type == "lstm" else nn.GRU
        self.rnn = rnn_class(
            in_channels, layer.units, batch_first=True, bidirectional=layer.bidirectional
        )
        self.readout = SequenceReadout(layer.units, layer.bidirectional, final_state)
        width = layer.units * (2 if layer.bidirectional else 1)
        self.batch_norm = nn.BatchNorm1d(width) if layer.batch_norm else None
        self.dropout = nn.Dropout(layer.dropout) if layer.dropout > 0 else None
        self.kind = layer.type
        self.label = (
            ("bi" if layer.bidirectional else "")
            + f"{layer.type.upper()} {layer.units}"
            + (", last state" if final_state else "")
            + _extras(layer.batch_norm, layer.dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(n, C, L)`` to ``(n, H * dirs, L)`` or, for the final state,
        ``(n, H * dirs)``."""
        out, _ = self.rnn(x.transpose(1, 2))
        x = self.readout(out)
        if self.batch_norm is not None:
            x = self.batch_norm(x)
        if self.dropout is not None:
            x = self.dropout(x)
        return x


def dense_block(in_shape: tuple[int, ...], layer: DenseLayer) -> Block:
    """Optional flatten → linear → activation → optional batch norm → optional dropout.

    Args:
        in_shape: Shape of one sample of the input, without the batch dimension:
            ``(features,)`` or ``(channels, length)`` (then flattened first).
        layer: The dense settings.

    Returns:
        A block mapping ``(n, *in_shape)`` to ``(n, units)``.
    """
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    features = 1
    for size in in_shape:
        features *= size
    if len(in_shape) > 1:
        modules["flatten"] = nn.Flatten()
    modules["linear"] = nn.Linear(features, layer.units)
    _add_activation_norm_dropout(modules, layer, layer.units)
    label = f"dense {layer.units}, {layer.activation}" + _extras(layer.batch_norm, layer.dropout)
    return Block(modules, label=label, kind="dense")


class Concatenate(nn.Module):
    """Joins the branch outputs.

    Args:
        flatten: Flatten every branch output to ``(n, features)`` and join the
            features (branches of different lengths or already flat); otherwise join
            sequences of equal length along the channels.

    Attributes:
        label: Short description for pictures.
    """

    def __init__(self, flatten: bool) -> None:
        super().__init__()
        self.flatten = flatten
        self.label = "concatenate " + ("features" if flatten else "channels")

    def extra_repr(self) -> str:
        """Shown in ``print(model)``."""
        return "features" if self.flatten else "channels"

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        """Join ``[(n, C_i, L), ...]`` to ``(n, ΣC_i, L)``, or any shapes to
        ``(n, Σ features_i)`` when flattening."""
        if self.flatten:
            return torch.cat([x.flatten(1) for x in xs], dim=1)
        return torch.cat(xs, dim=1)
