"""The model bundle: everything evaluate and predict need, and nothing executable.

A bundle folder holds ``weights.safetensors`` (tensors only) and ``bundle.yaml`` (the
architecture, classes, branch inputs and the preprocessing spec). Loading rebuilds the
network from the YAML and copies the tensors in; no pickle, no code from the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from safetensors.torch import load_file, save_file

from gennie.config import ArchitectureConfig
from gennie.dataset.spec import PreprocessingSpec, validation_message
from gennie.errors import UserError
from gennie.version import VERSION

WEIGHTS_FILE = "weights.safetensors"
BUNDLE_FILE = "bundle.yaml"
BUNDLE_DIR = "model"


class BranchInput(BaseModel):
    """The shape of one network input: (channels, length) per sample."""

    model_config = ConfigDict(extra="forbid")

    channels: int = Field(ge=1)
    length: int = Field(ge=1)


class BundleSpec(BaseModel):
    """What a trained model expects and produces (``bundle.yaml``).

    Attributes:
        classes: Class names in output order.
        branches: Branch names in the order the network takes its inputs.
        inputs: Per branch: ``channels`` and ``length`` of the network input.
        architecture: The layer configuration (rebuilds the network).
        preprocessing: How inputs are made from sequences: the training dataset's
            spec (window, alphabet, strand, placement, unknown-base encoding, seed,
            branch encoders, reference files with checksums), with the model's
            branches only.
        gennie_version: The gennie version that wrote the bundle.
        training: How training went (best epoch, epochs run, monitored value).
        ensemble: Networks of the architecture whose probabilities are averaged.
        centre_networks: More networks of the ensemble that read only the central
            ``centre_window`` positions of the inputs.
        centre_window: Positions the centre networks read.
    """

    model_config = ConfigDict(extra="forbid")

    classes: list[str]
    branches: list[str]
    inputs: dict[str, BranchInput]
    architecture: dict[str, Any]
    preprocessing: PreprocessingSpec
    gennie_version: str = VERSION
    training: dict[str, Any] = {}
    ensemble: int = 1
    centre_networks: int = 0
    centre_window: int = 0

    @field_validator("ensemble", mode="before")
    @classmethod
    def _ensemble(cls, value: Any) -> Any:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"ensemble must be a positive whole number, not {value!r}")
        return value

    @field_validator("centre_networks", mode="before")
    @classmethod
    def _centre_networks(cls, value: Any) -> Any:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"centre_networks must be a whole number, not {value!r}")
        return value

    @model_validator(mode="after")
    def _every_branch_described(self) -> BundleSpec:
        for what, known in (("input shape", self.inputs), ("encoder", self.preprocessing.branches)):
            missing = [b for b in self.branches if b not in known]
            if missing:
                raise ValueError(f"no {what} for the branch(es) {', '.join(missing)}")
        return self

    @property
    def window(self) -> int:
        """Length of every input window in bases."""
        return self.preprocessing.window

    def input_shapes(self) -> dict[str, tuple[int, int]]:
        """(channels, length) of each input, in input order."""
        return {b: (self.inputs[b].channels, self.inputs[b].length) for b in self.branches}

    def to_yaml(self) -> str:
        """The spec as YAML, in field order (for people as much as for gennie)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def save_bundle(folder: Path, network: torch.nn.Module, spec: BundleSpec) -> Path:
    """Write ``weights.safetensors`` and ``bundle.yaml`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"gennie_version": VERSION})
    (folder / BUNDLE_FILE).write_text(spec.to_yaml())
    return folder


def find_bundle(path: Path, field: str = "model") -> Path:
    """The bundle folder for a train run folder or a bundle folder itself."""
    path = Path(path)
    for candidate in (path, path / BUNDLE_DIR):
        if (candidate / BUNDLE_FILE).is_file() and (candidate / WEIGHTS_FILE).is_file():
            return candidate
    if not path.exists():
        raise UserError(
            "model not found",
            file=path,
            field=field,
            hint="give the run folder that 'gennie train' printed",
        )
    raise UserError(
        f"not a gennie model: no {BUNDLE_DIR}/{BUNDLE_FILE} with {WEIGHTS_FILE}",
        file=path,
        field=field,
        hint="give a train run folder, or a TorchScript/ONNX file with --custom-* settings",
    )


def load_bundle(path: Path, field: str = "model") -> tuple[torch.nn.Module, BundleSpec]:
    """Rebuild a trained network from its bundle (weights only, no code executed).

    Args:
        path: A train run folder or its ``model/`` folder.

    Returns:
        The network in eval mode and its :class:`BundleSpec`.
    """
    from gennie.model.network import build_network

    folder = find_bundle(path, field)
    try:
        raw = yaml.safe_load((folder / BUNDLE_FILE).read_text())
        spec = BundleSpec.model_validate(raw)
        architecture = ArchitectureConfig.model_validate(spec.architecture)
        network = build_network(
            architecture,
            spec.input_shapes(),
            len(spec.classes),
            spec.ensemble,
            spec.centre_networks,
            spec.centre_window,
        )
    except ValidationError as exc:
        raise UserError(
            f"the model bundle is damaged ({validation_message(exc)})",
            file=folder / BUNDLE_FILE,
            field=field,
        ) from None
    except (yaml.YAMLError, TypeError, ValueError, KeyError) as exc:
        raise UserError(
            f"the model bundle is damaged ({exc})", file=folder / BUNDLE_FILE, field=field
        ) from None
    try:
        state = load_file(str(folder / WEIGHTS_FILE))
        network.load_state_dict(state, strict=True)
    except (RuntimeError, OSError) as exc:
        raise UserError(
            f"the weights do not fit the architecture ({exc})",
            file=folder / WEIGHTS_FILE,
            field=field,
        ) from None
    network.eval()
    return network, spec
