"""The model bundle: everything evaluate and predict need, and nothing executable.

A bundle folder holds ``weights.safetensors`` (tensors only) and ``bundle.yaml`` (the
architecture, classes, branch inputs and the preprocessing spec). Loading rebuilds the
network from the YAML and copies the tensors in; no pickle, no code from the file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_file, save_file

from gennie.config import ArchitectureConfig
from gennie.errors import UserError
from gennie.version import VERSION

WEIGHTS_FILE = "weights.safetensors"
BUNDLE_FILE = "bundle.yaml"
BUNDLE_DIR = "model"


@dataclass
class BundleSpec:
    """What a trained model expects and produces.

    Attributes:
        classes: Class names in output order.
        branches: Branch names in the order the network takes its inputs.
        inputs: Per branch: ``channels`` and ``length`` of the network input.
        architecture: The layer configuration (rebuilds the network).
        preprocessing: Window, alphabet, strand, placement, unknown-base encoding,
            branch encodings and reference files (with checksums) used in training.
        ensemble: Networks of the architecture whose probabilities are averaged.
        centre_networks: More networks of the ensemble that read only the central
            ``centre_window`` positions of the inputs.
        centre_window: Positions the centre networks read.
    """

    classes: list[str]
    branches: list[str]
    inputs: dict[str, dict[str, int]]
    architecture: dict[str, Any]
    preprocessing: dict[str, Any]
    gennie_version: str = VERSION
    training: dict[str, Any] = field(default_factory=dict)
    ensemble: int = 1
    centre_networks: int = 0
    centre_window: int = 0

    @property
    def window(self) -> int:
        return int(self.preprocessing["window"])

    def input_shapes(self) -> dict[str, tuple[int, int]]:
        return {b: (self.inputs[b]["channels"], self.inputs[b]["length"]) for b in self.branches}


def save_bundle(folder: Path, network: torch.nn.Module, spec: BundleSpec) -> Path:
    """Write ``weights.safetensors`` and ``bundle.yaml`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"gennie_version": VERSION})
    (folder / BUNDLE_FILE).write_text(yaml.safe_dump(asdict(spec), sort_keys=False))
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
        spec = BundleSpec(**raw)
        architecture = ArchitectureConfig.model_validate(spec.architecture)
        if not isinstance(spec.ensemble, int) or spec.ensemble < 1:
            raise ValueError(f"ensemble must be a positive whole number, not {spec.ensemble!r}")
        if not isinstance(spec.centre_networks, int) or spec.centre_networks < 0:
            raise ValueError(
                f"centre_networks must be a whole number, not {spec.centre_networks!r}"
            )
        network = build_network(
            architecture,
            spec.input_shapes(),
            len(spec.classes),
            spec.ensemble,
            spec.centre_networks,
            spec.centre_window,
        )
    except (yaml.YAMLError, TypeError, ValueError) as exc:
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
