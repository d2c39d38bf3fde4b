"""The multi-branch network: one branch per input, concatenation, a common part, logits.

:class:`MultiBranchNetwork` is built from an :class:`~gennie.config.ArchitectureConfig`
and the input shapes. Each branch (``seq``, ``fold``, ``cons``) runs its own layers;
the branch outputs are concatenated, along the channels when they are all sequences
of one length (so the common part may continue with convolutions or RNNs) and as
flattened features otherwise; the common part follows; whatever is left is flattened
and a final linear layer gives one logit per class. The output is always
``(n, num_classes)``; ENNGene produced a 3-D output when the common part was empty or
ended in a convolution or RNN.

Shapes are found by pushing a zero tensor through each layer as it is built, so no
shape arithmetic is repeated here and every valid configuration works. A layer that
cannot work on what it receives (a convolution after global pooling, a kernel longer
than the sequence) is a :class:`~gennie.errors.UserError` naming the field and layer.

The model returns logits; :meth:`MultiBranchNetwork.predict_proba` applies the
softmax. ``forward`` takes one positional tensor per branch, which is what
``torch.jit.trace`` and captum expect.

:class:`EnsembleNetwork` holds several such networks (``ensemble`` in the train
configuration) and returns the log of their mean class probability as its logits.
Some of its members may be centre networks (:class:`CentreNetwork`,
``centre_networks``), which read only the central positions of every input window.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gennie.config import (
    ArchitectureConfig,
    ConvLayer,
    DenseLayer,
    GlobalPoolLayer,
    PoolLayer,
    RecurrentLayer,
)
from gennie.errors import UserError
from gennie.model.layers import (
    Concatenate,
    RecurrentBlock,
    conv_block,
    dense_block,
    global_pool_block,
    pool_block,
)

AnyLayer = ConvLayer | PoolLayer | GlobalPoolLayer | RecurrentLayer | DenseLayer

_SEQUENCE_LAYERS = ("conv", "pool", "global_pool", "lstm", "gru")
"""Layer types that need a sequence ``(n, C, L)`` as input."""


def _probe(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    # Eval mode and no_grad: dropout must not consume random numbers (initialisation
    # has to depend on the seed only) and batch norm must not learn from zeros.
    module.eval()
    with torch.no_grad():
        return module(x)


def _describe(layer: AnyLayer) -> str:
    if isinstance(layer, ConvLayer):
        return f"conv, kernel_size {layer.kernel_size}, dilation {layer.dilation}"
    if isinstance(layer, PoolLayer):
        return f"pool, size {layer.size}"
    if isinstance(layer, RecurrentLayer):
        return f"{layer.type}, {layer.units} units"
    if isinstance(layer, DenseLayer):
        return f"dense, {layer.units} units"
    return "global_pool"


class _Builder:
    """Builds the blocks of one section (a branch or the common part) in order.

    Args:
        section: Human name of the section for messages ("branch 'seq'", "common part").
        field: Configuration field blamed in errors.
        x: Dummy input of the section, ``(1, C, L)`` or ``(1, F)``.
        why_flat: Why ``x`` is already 2-D, if it is.
        flat_hint: What to do about a sequence layer after that, if not the default.
    """

    def __init__(
        self,
        section: str,
        field: str,
        x: torch.Tensor,
        why_flat: str | None = None,
        flat_hint: str | None = None,
    ) -> None:
        self.section = section
        self.field = field
        self.x = x
        self.why_flat = why_flat
        self.flat_hint = flat_hint

    def add(self, index: int, layer: AnyLayer, next_layer: AnyLayer | None) -> nn.Module:
        """Build one block for ``layer`` (position ``index`` in its list) and advance."""
        where = f"layer {index + 1} of the {self.section} ({_describe(layer)})"
        x = self.x
        if layer.type in _SEQUENCE_LAYERS and x.dim() != 3:
            raise UserError(
                f"{where} needs a sequence, but its input is already flat "
                f"({x.shape[1]} features) because of {self.why_flat}",
                field=self.field,
                hint=self.flat_hint
                or "put conv, pool, global_pool, lstm and gru layers "
                "before global pooling and dense layers, or remove this layer",
            )
        if isinstance(layer, ConvLayer):
            span = layer.dilation * (layer.kernel_size - 1) + 1
            if layer.padding == "valid" and x.shape[-1] < span:
                raise UserError(
                    f"{where} needs at least {span} positions but its input has only {x.shape[-1]}",
                    field=self.field,
                    hint="use a smaller kernel_size or dilation, padding: same, less "
                    "pooling before this layer, or a longer window",
                )
            block: nn.Module = conv_block(x.shape[1], layer)
        elif isinstance(layer, PoolLayer):
            block = pool_block(layer, x.shape[-1])
        elif isinstance(layer, GlobalPoolLayer):
            block = global_pool_block(layer)
        elif isinstance(layer, RecurrentLayer):
            # The whole sequence is only useful to a layer that reads sequences;
            # before a dense layer or the output the final state summarises it.
            final_state = next_layer is None or next_layer.type not in _SEQUENCE_LAYERS
            block = RecurrentBlock(x.shape[1], layer, final_state)
        else:
            block = dense_block(tuple(x.shape[1:]), layer)
        self.x = _probe(block, x)
        if self.x.dim() == 2 and x.dim() == 3:
            self.why_flat = f"layer {index + 1} of the {self.section} ({layer.type})"
            self.flat_hint = None
        return block


class MultiBranchNetwork(nn.Module):
    """A classifier with one branch per input, a common part and a linear output.

    Args:
        architecture: Layers per branch and of the common part. A branch without an
            entry (or with an empty list) passes its input through unchanged;
            entries for branches not in ``inputs`` are ignored.
        inputs: ``{branch name: (channels, length)}`` in the order ``forward`` takes
            the tensors, e.g. ``{"seq": (4, 150), "fold": (3, 150)}``.
        num_classes: Number of classes (logits per sample), at least 2.

    Attributes:
        branch_names: Branch names in input order.
        inputs: The input shapes as given.
        num_classes: Number of output logits.
        architecture: A copy of the architecture the network was built from.
        branches: One ``nn.Sequential`` of blocks per branch.
        concat: The :class:`~gennie.model.layers.Concatenate` module.
        common: ``nn.Sequential`` of the common blocks.
        flatten: ``nn.Flatten`` when the common part ends with a sequence, else None.
        output: The final ``nn.Linear`` to ``num_classes`` logits.

    Raises:
        UserError: A layer cannot work on the shape it receives.
    """

    def __init__(
        self,
        architecture: ArchitectureConfig,
        inputs: dict[str, tuple[int, int]],
        num_classes: int,
    ) -> None:
        super().__init__()
        if not inputs:
            raise ValueError("a network needs at least one input branch")
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        for name, (channels, length) in inputs.items():
            if channels < 1 or length < 1:
                raise ValueError(f"input '{name}' has an invalid shape {(channels, length)}")
        self.branch_names: list[str] = list(inputs)
        self.inputs = {name: (int(c), int(n)) for name, (c, n) in inputs.items()}
        self.num_classes = num_classes
        self.architecture = architecture.model_copy(deep=True)

        self.branches = nn.ModuleDict()
        ends: list[torch.Tensor] = []
        why_flat: dict[str, str] = {}
        for name, (channels, length) in self.inputs.items():
            layers = self.architecture.branches.get(name, [])
            builder = _Builder(
                f"branch '{name}'",
                f"architecture.branches.{name}",
                torch.zeros(1, channels, length),
            )
            self.branches[name] = nn.Sequential(
                *(
                    builder.add(i, layer, layers[i + 1] if i + 1 < len(layers) else None)
                    for i, layer in enumerate(layers)
                )
            )
            ends.append(builder.x)
            if builder.why_flat:
                why_flat[name] = builder.why_flat

        # Channels can only be joined when every branch is still a sequence of one
        # length; anything else is joined as flat features.
        lengths = {x.shape[-1] for x in ends if x.dim() == 3}
        flat = any(x.dim() != 3 for x in ends) or len(lengths) > 1
        self.concat = Concatenate(flatten=flat)
        merged = _probe(self.concat, ends)
        reason = hint = None
        if flat and why_flat:
            reason = "; ".join(why_flat.values())
        elif flat:
            reason = (
                "the branches ending with different lengths ("
                + ", ".join(
                    f"{n}: {x.shape[-1]}" for n, x in zip(self.branch_names, ends, strict=True)
                )
                + "), which are flattened before concatenation"
            )
            hint = (
                "give every branch the same convolution padding and pooling so that they "
                "end at the same length, or start the common part with a dense layer"
            )

        common = self.architecture.common
        builder = _Builder("common part", "architecture.common", merged, reason, hint)
        self.common = nn.Sequential(
            *(
                builder.add(i, layer, common[i + 1] if i + 1 < len(common) else None)
                for i, layer in enumerate(common)
            )
        )
        x = builder.x
        # A common part that is empty or ends in conv/RNN leaves a sequence; flatten
        # it so that the output is always (n, num_classes).
        self.flatten = nn.Flatten() if x.dim() == 3 else None
        if self.flatten is not None:
            x = _probe(self.flatten, x)
        self.output = nn.Linear(x.shape[1], num_classes)
        self.train()

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        """Class logits for one batch.

        Args:
            *xs: One tensor per branch, in :attr:`branch_names` order, each of shape
                ``(n, channels, length)`` and dtype float32.

        Returns:
            Logits, shape ``(n, num_classes)``.
        """
        if len(xs) != len(self.branch_names):
            raise ValueError(
                f"expected {len(self.branch_names)} inputs ({', '.join(self.branch_names)}), "
                f"got {len(xs)}"
            )
        outs = [branch(x) for branch, x in zip(self.branches.values(), xs, strict=True)]
        x = self.common(self.concat(outs))
        if self.flatten is not None:
            x = self.flatten(x)
        return self.output(x)

    def predict_proba(self, *xs: torch.Tensor) -> torch.Tensor:
        """Class probabilities (softmax of the logits); gradients are kept.

        Args:
            *xs: As for :meth:`forward`.

        Returns:
            Probabilities, shape ``(n, num_classes)``, each row summing to 1.
        """
        return torch.softmax(self.forward(*xs), dim=1)

    def dummy_inputs(self, n: int = 1) -> tuple[torch.Tensor, ...]:
        """Zero inputs of the right shapes, on the model's device.

        Args:
            n: Batch size.

        Returns:
            One float32 tensor ``(n, channels, length)`` per branch, in order.
        """
        device = self.output.weight.device
        return tuple(
            torch.zeros(n, channels, length, device=device)
            for channels, length in self.inputs.values()
        )


class CentreNetwork(nn.Module):
    """A :class:`MultiBranchNetwork` that reads only the central ``window`` positions of
    its inputs (every branch cut alike), so it sees a site's close surroundings at the
    scale of a shorter window while the rest of an ensemble sees the whole window.

    Args:
        architecture, num_classes: As for :class:`MultiBranchNetwork`.
        inputs: ``{branch name: (channels, length)}`` of the whole inputs.
        window: Positions read, fewer than every input's length; the first one read is
            ``(length - window) // 2``.

    Attributes:
        network: The :class:`MultiBranchNetwork` on the central positions.
        window: The positions read.
        inputs: The whole input shapes, as given.

    Raises:
        ValueError: ``window`` is not shorter than an input.
        UserError: A layer cannot work on the shorter input.
    """

    def __init__(
        self,
        architecture: ArchitectureConfig,
        inputs: dict[str, tuple[int, int]],
        num_classes: int,
        window: int,
    ) -> None:
        super().__init__()
        if not all(0 < window < length for _, length in inputs.values()):
            raise ValueError(f"a centre window of {window} must be shorter than every input")
        self.window = window
        self.inputs = dict(inputs)
        self.starts = [(length - window) // 2 for _, length in inputs.values()]
        central = {name: (channels, window) for name, (channels, _) in inputs.items()}
        self.network = MultiBranchNetwork(architecture, central, num_classes)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        """Class logits from the central positions of each input, shape
        ``(n, num_classes)``."""
        window = self.window
        return self.network(
            *(x[..., start : start + window] for x, start in zip(xs, self.starts, strict=True))
        )


class EnsembleNetwork(nn.Module):
    """Several :class:`MultiBranchNetwork` of one architecture, each with its own
    initial weights, whose class probabilities are averaged.

    The members are trained together (each on its own loss, see
    :class:`gennie.training.module.Classifier`) and stored as one model, so everything
    that takes a network (evaluation, prediction, attributions, mutagenesis) takes an
    ensemble too. ``centre`` more members of the same architecture may read only the
    central ``centre_window`` positions of the inputs (:class:`CentreNetwork`); they
    come after the others.

    Args:
        architecture, inputs, num_classes: As for :class:`MultiBranchNetwork`.
        members: Number of networks on the whole inputs, at least 1.
        centre: Number of :class:`CentreNetwork` members; at least 2 members in all.
        centre_window: Positions the centre members read.

    Attributes:
        members: The networks (``nn.ModuleList``), the whole-input ones first.
        branch_names, inputs, num_classes, architecture: Those of the first member.
    """

    def __init__(
        self,
        architecture: ArchitectureConfig,
        inputs: dict[str, tuple[int, int]],
        num_classes: int,
        members: int,
        centre: int = 0,
        centre_window: int = 0,
    ) -> None:
        super().__init__()
        if members < 1 or members + centre < 2:
            raise ValueError(
                f"an ensemble needs at least 2 members, one on the whole inputs; got "
                f"{members} and {centre} centre members"
            )
        self.members = nn.ModuleList(
            [MultiBranchNetwork(architecture, inputs, num_classes) for _ in range(members)]
            + [
                CentreNetwork(architecture, inputs, num_classes, centre_window)
                for _ in range(centre)
            ]
        )
        first = self.members[0]
        self.branch_names = first.branch_names
        self.inputs = first.inputs
        self.num_classes = num_classes
        self.architecture = first.architecture

    def member_logits(self, *xs: torch.Tensor) -> torch.Tensor:
        """Each member's class logits, shape ``(members, n, num_classes)``."""
        return torch.stack([member(*xs) for member in self.members])

    @staticmethod
    def combine(member_logits: torch.Tensor) -> torch.Tensor:
        """Log of the members' mean class probability, shape ``(n, num_classes)``."""
        log_probs = torch.log_softmax(member_logits, dim=-1)
        return torch.logsumexp(log_probs, dim=0) - math.log(member_logits.shape[0])

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        """Logits of the ensemble: the log of the members' mean probabilities (their
        softmax is that mean), shape ``(n, num_classes)``."""
        return self.combine(self.member_logits(*xs))

    def predict_proba(self, *xs: torch.Tensor) -> torch.Tensor:
        """The members' mean class probabilities, shape ``(n, num_classes)``."""
        return torch.softmax(self.forward(*xs), dim=1)


def build_network(
    architecture: ArchitectureConfig,
    inputs: dict[str, tuple[int, int]],
    num_classes: int,
    members: int = 1,
    centre: int = 0,
    centre_window: int = 0,
) -> MultiBranchNetwork | EnsembleNetwork:
    """Build a network (initialised from torch's global seed).

    Args:
        architecture: Layers per branch and of the common part.
        inputs: ``{branch name: (channels, length)}`` in input order.
        num_classes: Number of classes.
        members: Networks on the whole inputs: 1 (and no ``centre``) for a
            :class:`MultiBranchNetwork`, more for an :class:`EnsembleNetwork`.
        centre: More ensemble members that read only the central ``centre_window``
            positions (:class:`CentreNetwork`).
        centre_window: Positions the centre members read.

    Returns:
        The network in training mode.

    Raises:
        UserError: A layer cannot work on the shape it receives (for a centre member:
            the shorter input).
    """
    if members + centre > 1:
        try:
            return EnsembleNetwork(
                architecture, inputs, num_classes, members, centre, centre_window
            )
        except UserError as exc:
            if not centre:
                raise
            raise UserError(
                f"{exc.message} — in the centre networks, which read {centre_window} positions",
                field=exc.field,
                hint=exc.hint,
            ) from None
    return MultiBranchNetwork(architecture, inputs, num_classes)


def first_member(network: nn.Module) -> nn.Module:
    """The first network of an ensemble, or the network itself (for drawing it and for
    reading its filters)."""
    return network.members[0] if isinstance(network, EnsembleNetwork) else network
