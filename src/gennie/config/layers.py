"""Layer schemas: the building blocks of a network's architecture configuration."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from gennie.config.base import Activation, PoolKind, StrictModel, check_branch_names

# --------------------------------------------------------------------------- architecture


class ConvLayer(StrictModel):
    """1-D convolution over positions (channels = filters)."""

    type: Literal["conv"] = "conv"
    filters: int = Field(32, ge=1, le=4096, description="Number of convolution filters.")
    kernel_size: int = Field(8, ge=1, le=1024, description="Filter width in positions.")
    dilation: int = Field(1, ge=1, le=64, description="Spacing between filter taps.")
    padding: Literal["valid", "same"] = Field(
        "valid",
        description="'valid' shortens the sequence by (kernel_size-1)*dilation; "
        "'same' keeps its length.",
    )
    activation: Activation = Field("relu", description="Non-linearity after the convolution.")
    batch_norm: bool = Field(False, description="Batch normalization after the activation.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout rate after the layer.")


class PoolLayer(StrictModel):
    """Local pooling over a window of positions (stride = window)."""

    type: Literal["pool"] = "pool"
    kind: PoolKind = Field("max", description="max, avg, or max_avg (both, concatenated).")
    size: int = Field(2, ge=1, le=1024, description="Pooling window (and stride) in positions.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout rate after pooling.")


class GlobalPoolLayer(StrictModel):
    """Pooling over all positions: one value per channel ('does the motif occur?')."""

    type: Literal["global_pool"] = "global_pool"
    kind: PoolKind = Field("max", description="max, avg, or max_avg (both, concatenated).")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout rate after pooling.")


class RecurrentLayer(StrictModel):
    """LSTM or GRU over positions; returns the whole sequence unless it is followed by a
    dense layer or ends the network, in which case it returns its final state."""

    type: Literal["lstm", "gru"] = "lstm"
    units: int = Field(32, ge=1, le=4096, description="Hidden units per direction.")
    bidirectional: bool = Field(True, description="Read the sequence in both directions.")
    batch_norm: bool = Field(False, description="Batch normalization after the layer.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout rate after the layer.")


class DenseLayer(StrictModel):
    """Fully connected layer (flattens its input first if needed)."""

    type: Literal["dense"] = "dense"
    units: int = Field(32, ge=1, le=65536, description="Number of units.")
    activation: Activation = Field("relu", description="Non-linearity after the layer.")
    batch_norm: bool = Field(False, description="Batch normalization after the activation.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout rate after the layer.")


BranchLayer = Annotated[ConvLayer | PoolLayer | GlobalPoolLayer, Field(discriminator="type")]
CommonLayer = Annotated[
    ConvLayer | PoolLayer | GlobalPoolLayer | RecurrentLayer | DenseLayer,
    Field(discriminator="type"),
]


class ArchitectureConfig(StrictModel):
    """A multi-branch network: layers per input branch, then a common part after the
    branches are concatenated. A softmax output over the classes is always added."""

    branches: dict[str, list[BranchLayer]] = Field(
        default_factory=dict, description="Layers of each input branch, by branch name."
    )
    common: list[CommonLayer] = Field(
        default_factory=list, description="Layers after the branches are concatenated."
    )

    @field_validator("branches")
    @classmethod
    def _known_branches(cls, value: dict[str, list]) -> dict[str, list]:
        check_branch_names(list(value), allow_empty=True)
        return value
