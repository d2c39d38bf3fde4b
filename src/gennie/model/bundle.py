"""The model bundle: everything evaluate and predict need, and nothing executable.

A bundle folder holds ``weights.safetensors`` (tensors only) and ``bundle.yaml`` (the
architecture, classes, branch inputs and the preprocessing spec). Loading rebuilds the
network from the YAML and copies the tensors in; no pickle, no code from the file.

A bundle may come from someone else, so loading trusts nothing in it: ``bundle.yaml``
is read as plain YAML of bounded size without aliases and validated field by field
(:class:`BundleSpec`: safe class and branch names, sizes bounded as the train
configuration bounds them, inputs that agree with the preprocessing spec); both files
must lie in the bundle folder; the network's size is worked out before anything is
allocated (:mod:`gennie.model.budget`); and the weights file's tensors are checked
against the network, name by name and shape by shape, before they are read. Every
problem is a :class:`~gennie.errors.UserError` naming the file, and the bundle field
in its message.
"""

from __future__ import annotations

import math
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
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from gennie.config import ArchitectureConfig, TrainConfig
from gennie.dataset.names import check_names
from gennie.dataset.spec import (
    MAX_BRANCHES,
    MAX_CHANNELS,
    MAX_CLASSES,
    MAX_WINDOW,
    PreprocessingSpec,
    config_limit,
    validation_message,
)
from gennie.errors import UserError
from gennie.model.budget import MAX_LAYERS, cost_problem, network_cost
from gennie.version import VERSION

WEIGHTS_FILE = "weights.safetensors"
BUNDLE_FILE = "bundle.yaml"
BUNDLE_DIR = "model"

MAX_MEMBERS = config_limit(TrainConfig, "ensemble")
"""Most networks of an ensemble (the train configuration's bound)."""

MAX_CENTRE_NETWORKS = config_limit(TrainConfig, "centre_networks")
"""Most centre networks of an ensemble (the train configuration's bound)."""

MAX_BUNDLE_BYTES = 1 << 20
"""Largest ``bundle.yaml`` read (gennie writes a few kilobytes)."""

_DAMAGED_HINT = "bundle.yaml is written by 'gennie train': train the model again, or restore it"


class _PlainDumper(yaml.SafeDumper):
    """Safe YAML that writes a repeated value out again instead of as an alias."""

    def ignore_aliases(self, data: Any) -> bool:
        """Never use an alias."""
        return True


class BranchInput(BaseModel):
    """The shape of one network input: (channels, length) per sample."""

    model_config = ConfigDict(extra="forbid")

    channels: int = Field(ge=1, le=MAX_CHANNELS)
    length: int = Field(ge=1, le=MAX_WINDOW)


def _whole_number(value: Any, name: str, lowest: int, highest: int) -> Any:
    """``value`` if it is an int (not a bool) in ``lowest..highest``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < lowest:
        kind = "a positive whole number" if lowest > 0 else "a whole number"
        raise ValueError(f"{name} must be {kind}, not {value!r}")
    if value > highest:
        raise ValueError(f"{name} may be at most {highest} (as in 'gennie train'), not {value}")
    return value


class BundleSpec(BaseModel):
    """What a trained model expects and produces (``bundle.yaml``).

    Attributes:
        classes: Class names in output order (2 to 1000 safe names, see
            :func:`gennie.dataset.names.name_problem`).
        branches: Branch names in the order the network takes its inputs.
        inputs: Per branch: ``channels`` and ``length`` of the network input (the
            length is the window; the channels are the branch encoder's).
        architecture: The layer configuration (rebuilds the network).
        preprocessing: How inputs are made from sequences: the training dataset's
            spec (window, alphabet, strand, placement, unknown-base encoding, seed,
            branch encoders, reference files with checksums), with the model's
            branches only.
        gennie_version: The gennie version that wrote the bundle.
        training: How training went (best epoch, epochs run, monitored value).
        ensemble: Networks of the architecture whose probabilities are averaged
            (1 to 20, as in the train configuration).
        centre_networks: More networks of the ensemble that read only the central
            ``centre_window`` positions of the inputs (0 to 20).
        centre_window: Positions the centre networks read (shorter than the window).
    """

    model_config = ConfigDict(extra="forbid")

    classes: list[str] = Field(min_length=2, max_length=MAX_CLASSES)
    branches: list[str] = Field(min_length=1, max_length=MAX_BRANCHES)
    inputs: dict[str, BranchInput] = Field(max_length=MAX_BRANCHES)
    architecture: ArchitectureConfig = Field(default_factory=ArchitectureConfig)
    preprocessing: PreprocessingSpec
    gennie_version: str = Field(VERSION, max_length=64)
    training: dict[str, Any] = {}
    ensemble: int = 1
    centre_networks: int = 0
    centre_window: int = Field(0, ge=0, le=MAX_WINDOW)

    @field_validator("classes")
    @classmethod
    def _class_names(cls, value: list[str]) -> list[str]:
        return check_names(value, "class")

    @field_validator("branches")
    @classmethod
    def _branch_names(cls, value: list[str]) -> list[str]:
        return check_names(value, "branch")

    @field_validator("ensemble", mode="before")
    @classmethod
    def _ensemble(cls, value: Any) -> Any:
        return _whole_number(value, "ensemble", 1, MAX_MEMBERS)

    @field_validator("centre_networks", mode="before")
    @classmethod
    def _centre_networks(cls, value: Any) -> Any:
        return _whole_number(value, "centre_networks", 0, MAX_CENTRE_NETWORKS)

    @field_validator("architecture")
    @classmethod
    def _layer_counts(cls, value: ArchitectureConfig) -> ArchitectureConfig:
        sections = {f"branches.{b}": layers for b, layers in value.branches.items()}
        for where, layers in (sections | {"common": value.common}).items():
            if len(layers) > MAX_LAYERS:
                raise ValueError(f"{where} has {len(layers)} layers (at most {MAX_LAYERS})")
        return value

    @model_validator(mode="after")
    def _every_branch_described(self) -> BundleSpec:
        for where, what, known in (
            ("inputs", "input shape", self.inputs),
            ("preprocessing.branches", "encoder", self.preprocessing.branches),
        ):
            missing = [b for b in self.branches if b not in known]
            if missing:
                raise ValueError(f"{where}: no {what} for the branch(es) {', '.join(missing)}")
        extra = [b for b in self.inputs if b not in self.branches]
        if extra:
            raise ValueError(f"inputs: branch(es) the model does not read: {', '.join(extra)}")
        window = self.preprocessing.window
        for branch in self.branches:
            shape, encoder = self.inputs[branch], self.preprocessing.branches[branch]
            if shape.length != window:
                raise ValueError(
                    f"inputs.{branch}.length is {shape.length}, but the window is {window}"
                )
            if shape.channels != encoder.channels:
                raise ValueError(
                    f"inputs.{branch}.channels is {shape.channels}, but the branch's encoder "
                    f"has {encoder.channels}"
                )
        if self.centre_networks and not 0 < self.centre_window < window:
            raise ValueError(
                f"centre_window: a centre window of {self.centre_window} must be shorter "
                f"than the window ({window}), and at least 1, for centre networks"
            )
        return self

    @property
    def window(self) -> int:
        """Length of every input window in bases."""
        return self.preprocessing.window

    def input_shapes(self) -> dict[str, tuple[int, int]]:
        """(channels, length) of each input, in input order."""
        return {b: (self.inputs[b].channels, self.inputs[b].length) for b in self.branches}

    def to_yaml(self) -> str:
        """The spec as YAML, in field order (for people as much as for gennie), every
        value written out (no aliases, which reading refuses)."""
        return yaml.dump(self.model_dump(mode="json"), Dumper=_PlainDumper, sort_keys=False)


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


class _BundleLoader(yaml.SafeLoader):
    """Safe YAML without anchors and aliases: a few lines of aliases can stand for
    billions of values, and gennie never writes them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Refuse an alias; compose any other node as the safe loader does."""
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a model bundle", event.start_mark
            )
        return super().compose_node(parent, index)


def _bundle_file(folder: Path, name: str, field: str) -> Path:
    """``folder / name``, which must be a regular file in the bundle folder itself (a
    link may not lead out of it)."""
    path = folder / name
    try:
        outside = path.resolve().parent != folder.resolve()
    except (OSError, RuntimeError):  # a link loop
        raise UserError(f"{name} is a link loop", file=path, field=field) from None
    if outside:
        raise UserError(
            f"{name} is a link to a file outside the model folder",
            file=path,
            field=field,
            hint="copy the file itself into the model folder",
        )
    if not path.is_file():
        raise UserError(f"{name} is not a regular file", file=path, field=field)
    return path


def _damaged(path: Path, field: str, problem: str, line: int | None = None) -> UserError:
    """The error for a ``bundle.yaml`` that is not a valid bundle."""
    return UserError(
        f"the model bundle is damaged ({problem})",
        file=path,
        line=line,
        field=field,
        hint=_DAMAGED_HINT,
    )


def read_bundle_spec(folder: Path, field: str = "model") -> BundleSpec:
    """Read and validate a bundle folder's ``bundle.yaml`` (nothing is built).

    Args:
        folder: The bundle folder (see :func:`find_bundle`).
        field: The configuration field naming the model, for error messages.

    Returns:
        The validated spec; its encoders can be rebuilt and have the input channels.

    Raises:
        UserError: The file is too large, not YAML, uses aliases, or a field is
            missing or invalid (the message names the field).
    """
    path = _bundle_file(Path(folder), BUNDLE_FILE, field)
    size = path.stat().st_size
    if size > MAX_BUNDLE_BYTES:
        raise _damaged(
            path, field, f"{size:,} bytes; a bundle.yaml has at most {MAX_BUNDLE_BYTES:,}"
        )
    try:
        raw = yaml.load(path.read_bytes().decode("utf-8"), Loader=_BundleLoader)  # noqa: S506
    except UnicodeDecodeError as exc:
        raise _damaged(path, field, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise _damaged(
            path, field, f"not YAML: {problem}", mark.line + 1 if mark else None
        ) from None
    except RecursionError:
        raise _damaged(path, field, "nested too deeply") from None
    if not isinstance(raw, dict):
        raise _damaged(path, field, f"it holds {type(raw).__name__}, not fields and values")
    try:
        spec = BundleSpec.model_validate(raw)
    except ValidationError as exc:
        raise _damaged(path, field, validation_message(exc)) from None
    for branch in spec.branches:
        record = spec.preprocessing.branches[branch]
        try:
            encoder = record.encoder(branch)
        except (TypeError, ValueError) as exc:
            raise _damaged(path, field, f"preprocessing.branches.{branch}: {exc}") from None
        except UserError as exc:
            raise _damaged(path, field, f"preprocessing.branches.{branch}: {exc.message}") from None
        if encoder.channels != record.channels:
            raise _damaged(
                path,
                field,
                f"preprocessing.branches.{branch}.channels is {record.channels}, but its "
                f"parameters make {encoder.channels}",
            )
    return spec


def read_weight_shapes(path: Path, field: str = "model") -> dict[str, tuple[int, ...]]:
    """The name and shape of every tensor in a weights file, read from its header only.

    Raises:
        UserError: The file is not a complete safetensors file.
    """
    try:
        with safe_open(str(path), framework="pt") as handle:
            return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(
            f"the weights file is damaged or incomplete ({exc})",
            file=path,
            field=field,
            hint="copy the model folder again, or train the model again",
        ) from None


def _check_weights_fit(
    network: torch.nn.Module, stored: dict[str, tuple[int, ...]], path: Path, field: str
) -> None:
    """Every tensor the network has is in the file with its shape, and nothing else."""
    expected = {k: tuple(v.shape) for k, v in network.state_dict().items()}
    missing = [k for k in expected if k not in stored]
    extra = [k for k in stored if k not in expected]
    wrong = [k for k in expected if k in stored and stored[k] != expected[k]]
    problem = None
    if wrong:
        k = wrong[0]
        problem = (
            f"tensor '{k}' has shape {stored[k]}, but bundle.yaml's network needs "
            f"{expected[k]}" + (f" ({len(wrong) - 1} more differ)" if len(wrong) > 1 else "")
        )
    elif missing:
        problem = f"no tensor '{missing[0]}'" + (
            f" ({len(missing) - 1} more missing)" if len(missing) > 1 else ""
        )
    elif extra:
        problem = f"tensor '{extra[0]}' is not part of bundle.yaml's network"
    if problem:
        raise UserError(
            f"the weights do not fit the architecture: {problem}",
            file=path,
            field=field,
            hint="bundle.yaml and weights.safetensors must come from the same 'gennie train' run",
        )


def load_bundle(path: Path, field: str = "model") -> tuple[torch.nn.Module, BundleSpec]:
    """Rebuild a trained network from its bundle (weights only, no code executed).

    The network is built only when its size is within :mod:`gennie.model.budget`'s
    limits and no more than twice what the weights file holds; the weights are read
    only when every tensor's name and shape fits the network.

    Args:
        path: A train run folder or its ``model/`` folder.
        field: The configuration field naming the model, for error messages.

    Returns:
        The network in eval mode and its :class:`BundleSpec`.

    Raises:
        UserError: Not a bundle, a damaged or hostile ``bundle.yaml``, a network too
            large to build, or a weights file that is damaged or does not fit.
    """
    from gennie.model.network import build_network

    folder = find_bundle(path, field)
    spec = read_bundle_spec(folder, field)
    yaml_path = folder / BUNDLE_FILE
    weights = _bundle_file(folder, WEIGHTS_FILE, field)
    stored = read_weight_shapes(weights, field)
    members = (spec.ensemble, spec.centre_networks, spec.centre_window)
    cost = network_cost(spec.architecture, spec.input_shapes(), len(spec.classes), *members)
    too_large = cost_problem(cost, sum(math.prod(shape) for shape in stored.values()))
    if too_large:
        raise UserError(
            f"the model bundle describes a network too large to build: {too_large}",
            file=yaml_path,
            field=field,
            hint="a bundle that large is not one 'gennie train' wrote; check where it came from",
        )
    try:
        network = build_network(spec.architecture, spec.input_shapes(), len(spec.classes), *members)
    except UserError as exc:
        raise _damaged(yaml_path, field, f"{exc.field or 'architecture'}: {exc.message}") from None
    except ValueError as exc:
        raise _damaged(yaml_path, field, str(exc)) from None
    _check_weights_fit(network, stored, weights, field)
    try:
        network.load_state_dict(load_file(str(weights)), strict=True)
    except (SafetensorError, RuntimeError, OSError) as exc:
        raise UserError(
            f"the weights cannot be read ({exc})",
            file=weights,
            field=field,
            hint="copy the model folder again, or train the model again",
        ) from None
    network.eval()
    return network, spec
