"""What building a network would cost, worked out from its configuration alone.

A model bundle is data from someone else, and its architecture decides how much
memory and time building the network takes (every layer is allocated, and a zero
sample is pushed through each one to find the next layer's input shape). Before
anything is allocated, :func:`network_cost` follows the shapes through the layers as
:class:`~gennie.model.network.MultiBranchNetwork` builds them and counts the tensors'
elements, the multiply-adds of one sample and the largest intermediate result;
:func:`cost_problem` compares them with limits that every preset stays below with
three branches, 20 + 20 ensemble members and windows of up to 10,000 bases (models
that large take tens of gigabytes to train).
"""

from __future__ import annotations

from dataclasses import dataclass

from gennie.config import (
    ArchitectureConfig,
    ConvLayer,
    DenseLayer,
    GlobalPoolLayer,
    PoolLayer,
    RecurrentLayer,
)

MAX_LAYERS = 64
"""Most layers of one branch or of the common part."""

MAX_PARAMETERS = 1_000_000_000
"""Most tensor elements (parameters and batch-norm statistics) of a whole model: 4 GB
of float32."""

MAX_OPERATIONS = 50_000_000_000
"""Most multiply-adds of one sample through the whole model."""

MAX_ACTIVATION = 50_000_000
"""Most elements of one intermediate result of one sample (200 MB of float32)."""

_SEQUENCE_LAYERS = ("conv", "pool", "global_pool", "lstm", "gru")


@dataclass
class NetworkCost:
    """Sizes of a network, for one sample.

    Attributes:
        parameters: Elements of every tensor of its state (weights, biases, batch-norm
            statistics).
        operations: Multiply-adds of one sample's forward pass.
        activation: Elements of the largest intermediate result.
    """

    parameters: int = 0
    operations: int = 0
    activation: int = 0

    def add(self, other: NetworkCost, times: int = 1) -> None:
        """Add ``times`` copies of ``other`` (the activation is a maximum, not a sum)."""
        self.parameters += other.parameters * times
        self.operations += other.operations * times
        self.activation = max(self.activation, other.activation)


def _norm(channels: int) -> int:
    """Elements of a batch norm's state: weight, bias, running mean and variance, count."""
    return 4 * channels + 1


def _layer(layer: object, shape: tuple[int, ...], following: object, cost: NetworkCost) -> tuple:
    """Add one layer's cost; return its output shape ``(C, L)`` or ``(F,)``."""
    flat = 1
    for size in shape:
        flat *= size
    if isinstance(layer, DenseLayer):
        cost.parameters += layer.units * (flat + 1) + (
            _norm(layer.units) if layer.batch_norm else 0
        )
        cost.operations += layer.units * flat
        return (layer.units,)
    channels, length = shape if len(shape) == 2 else (shape[0], 1)
    if isinstance(layer, ConvLayer):
        span = layer.dilation * (layer.kernel_size - 1)
        length = length if layer.padding == "same" else max(1, length - span)
        cost.parameters += layer.filters * (channels * layer.kernel_size + 1)
        cost.parameters += _norm(layer.filters) if layer.batch_norm else 0
        cost.operations += layer.filters * channels * layer.kernel_size * length
        return (layer.filters, length)
    cost.operations += channels * length
    if isinstance(layer, PoolLayer):
        factor = 2 if layer.kind == "max_avg" else 1
        return (channels * factor, max(1, length // max(1, min(layer.size, length))))
    if isinstance(layer, GlobalPoolLayer):
        return (channels * (2 if layer.kind == "max_avg" else 1),)
    if not isinstance(layer, RecurrentLayer):
        raise TypeError(f"unknown layer {layer!r}")
    directions = 2 if layer.bidirectional else 1
    gates = 4 if layer.type == "lstm" else 3
    per_direction = gates * layer.units * (channels + layer.units + 2)
    width = layer.units * directions
    cost.parameters += directions * per_direction + (_norm(width) if layer.batch_norm else 0)
    cost.operations += directions * per_direction * length
    final_state = following is None or getattr(following, "type", None) not in _SEQUENCE_LAYERS
    return (width,) if final_state else (width, length)


def _section(layers: list, shape: tuple[int, ...], cost: NetworkCost) -> tuple[int, ...]:
    """Follow ``shape`` through one branch or the common part, adding up the cost."""
    for index, layer in enumerate(layers):
        following = layers[index + 1] if index + 1 < len(layers) else None
        shape = _layer(layer, shape, following, cost)
        elements = 1
        for size in shape:
            elements *= size
        cost.activation = max(cost.activation, elements)
    return shape


def member_cost(
    architecture: ArchitectureConfig, inputs: dict[str, tuple[int, int]], num_classes: int
) -> NetworkCost:
    """The cost of one :class:`~gennie.model.network.MultiBranchNetwork`.

    Args:
        architecture: Layers per branch and of the common part.
        inputs: ``{branch name: (channels, length)}``.
        num_classes: Number of output logits.
    """
    cost = NetworkCost(activation=max((c * n for c, n in inputs.values()), default=0))
    ends = [
        _section(architecture.branches.get(name, []), (channels, length), cost)
        for name, (channels, length) in inputs.items()
    ]
    lengths = {end[1] for end in ends if len(end) == 2}
    if all(len(end) == 2 for end in ends) and len(lengths) == 1:
        merged: tuple[int, ...] = (sum(end[0] for end in ends), lengths.pop())
    else:
        merged = (sum(end[0] * (end[1] if len(end) == 2 else 1) for end in ends),)
    end = _section(list(architecture.common), merged, cost)
    features = end[0] * (end[1] if len(end) == 2 else 1)
    cost.parameters += num_classes * (features + 1)
    cost.operations += num_classes * features
    return cost


def network_cost(
    architecture: ArchitectureConfig,
    inputs: dict[str, tuple[int, int]],
    num_classes: int,
    members: int = 1,
    centre: int = 0,
    centre_window: int = 0,
) -> NetworkCost:
    """The cost of the network :func:`~gennie.model.network.build_network` would build
    with the same arguments (all members of an ensemble together)."""
    total = NetworkCost()
    total.add(member_cost(architecture, inputs, num_classes), members)
    if centre:
        central = {name: (channels, centre_window) for name, (channels, _) in inputs.items()}
        total.add(member_cost(architecture, central, num_classes), centre)
    return total


def cost_problem(cost: NetworkCost, stored: int | None = None) -> str | None:
    """Why a network of this cost should not be built, or None.

    Args:
        cost: The network's cost (see :func:`network_cost`).
        stored: Elements of the tensors in the weights file, if known: the network
            may not be much larger than what the file holds.

    Returns:
        A sentence naming the size and its limit, or None.
    """
    if cost.parameters > MAX_PARAMETERS:
        return f"the network would have {cost.parameters:,} parameters (at most {MAX_PARAMETERS:,})"
    if stored is not None and cost.parameters > 2 * stored + 1_000_000:
        return (
            f"the network would have {cost.parameters:,} parameters, but the weights file "
            f"holds only {stored:,} values"
        )
    if cost.operations > MAX_OPERATIONS:
        return (
            f"the network would need {cost.operations:,} multiply-adds per sample "
            f"(at most {MAX_OPERATIONS:,})"
        )
    if cost.activation > MAX_ACTIVATION:
        return (
            f"a layer of the network would output {cost.activation:,} values per sample "
            f"(at most {MAX_ACTIVATION:,})"
        )
    return None
