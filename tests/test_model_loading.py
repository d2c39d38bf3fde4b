"""Tests for gennie.model.loading and gennie.model.bundle: custom-model specs, channels,
the typed bundle spec and the dataset/model fit check."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
import yaml

from gennie.config import ArchitectureConfig, ModelInputConfig, PredictConfig
from gennie.dataset.spec import PreprocessingSpec
from gennie.dataset.store import Dataset
from gennie.encode import BranchEncoder, WindowBatch
from gennie.encode.registry import register_branch, unregister_branch
from gennie.errors import UserError
from gennie.model.bundle import BranchInput, BundleSpec, load_bundle
from gennie.model.loading import check_dataset_fits, custom_spec, load_model

LEGACY = Path(__file__).parent / "data" / "legacy"


class Pairs(BranchEncoder):
    """A toy plug-in: ``width`` channels for a custom model."""

    name: ClassVar[str] = "pairs"

    def __init__(self, width: int = 2, **_: object) -> None:
        super().__init__(width=width)
        self.channels = width

    @classmethod
    def for_custom_model(cls, config: ModelInputConfig) -> Pairs:
        return cls(width=5)

    def encode(self, batch: WindowBatch) -> np.ndarray:
        return np.zeros((len(batch.sequences), self.channels), dtype=np.uint8)

    def to_input(self, stored: np.ndarray) -> np.ndarray:
        return stored.astype(np.float32)


def _config(**options: object) -> ModelInputConfig:
    return ModelInputConfig(custom_window=20, custom_classes=["a", "b"], **options)


def test_custom_spec_channels_come_from_the_encoders(tmp_path):
    tracks = [tmp_path / "one.bw", tmp_path / "two.bw"]
    spec = custom_spec(_config(custom_branches=["seq", "fold", "cons"], conservation=tracks))
    assert spec.branches == ["seq", "fold", "cons"]
    assert spec.input_shapes() == {"seq": (4, 20), "fold": (3, 20), "cons": (2, 20)}
    assert spec.classes == ["a", "b"] and spec.architecture == ArchitectureConfig()
    params = {b: s.params for b, s in spec.preprocessing.branches.items()}
    assert params["seq"] == {"unknown_bases": "zero"}
    assert params["fold"]["temperature"] == 37.0 and params["fold"]["encoding"] == "mfe"
    assert params["cons"] == {"tracks": [str(t) for t in tracks], "strand": True}


def test_custom_spec_preprocessing():
    spec = custom_spec(_config(custom_alphabet="rna", seed=7))
    assert spec.preprocessing.model_dump() == {
        "window": 20,
        "alphabet": "rna",
        "strand": True,
        "placement": "center",
        "unknown_bases": "zero",
        "seed": 7,
        "branches": {"seq": {"channels": 4, "dtype": "uint8", "unknown_bases": "zero"}},
        "references": {"classes": {}, "genome": None},
        "dataset": None,
    }
    assert spec.window == 20


def test_custom_spec_with_a_plug_in_branch():
    register_branch(Pairs)
    try:
        spec = custom_spec(_config(custom_branches=["seq", "pairs"]))
    finally:
        unregister_branch("pairs")
    assert spec.inputs["pairs"] == BranchInput(channels=5, length=20)
    assert spec.preprocessing.branches["pairs"].params == {"width": 5}


def test_custom_spec_needs_window_and_classes():
    with pytest.raises(UserError) as caught:
        custom_spec(ModelInputConfig(custom_classes=["a", "b"]))
    assert caught.value.field == "custom_window"
    with pytest.raises(UserError) as caught:
        custom_spec(ModelInputConfig(custom_window=20, custom_classes=["a"]))
    assert caught.value.field == "custom_classes"


def test_torchscript_model_gets_the_custom_spec(tmp_path):
    class Mean(torch.nn.Module):
        def forward(self, seq: torch.Tensor, fold: torch.Tensor) -> torch.Tensor:
            return torch.stack([seq.mean((1, 2)), fold.mean((1, 2))], dim=1)

    path = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(Mean()), str(path))
    config = PredictConfig(
        model=path, custom_window=10, custom_classes=["s", "f"], custom_branches=["seq", "fold"]
    )
    model = load_model(config)
    assert (model.kind, model.outputs_are_probabilities) == ("torchscript", False)
    assert model.spec.input_shapes() == {"seq": (4, 10), "fold": (3, 10)}


def _bundle(**changes: object) -> dict:
    data = {
        "classes": ["a", "b"],
        "branches": ["seq"],
        "inputs": {"seq": {"channels": 4, "length": 10}},
        "architecture": {},
        "preprocessing": {"window": 10, "branches": {"seq": {"channels": 4, "dtype": "uint8"}}},
    }
    return data | changes


def test_bundle_spec_validation():
    spec = BundleSpec.model_validate(_bundle())
    assert (spec.ensemble, spec.centre_networks, spec.training) == (1, 0, {})
    with pytest.raises(ValueError, match="ensemble must be a positive whole number, not 'two'"):
        BundleSpec.model_validate(_bundle(ensemble="two"))
    with pytest.raises(ValueError, match="ensemble must be a positive whole number, not True"):
        BundleSpec.model_validate(_bundle(ensemble=True))
    with pytest.raises(ValueError, match="centre_networks must be a whole number, not -1"):
        BundleSpec.model_validate(_bundle(centre_networks=-1))
    with pytest.raises(ValueError, match="no input shape for the branch.es. fold"):
        BundleSpec.model_validate(_bundle(branches=["seq", "fold"]))
    shapes = {"seq": {"channels": 4, "length": 10}, "fold": {"channels": 3, "length": 10}}
    with pytest.raises(ValueError, match="no encoder for the branch.es. fold"):
        BundleSpec.model_validate(_bundle(branches=["seq", "fold"], inputs=shapes))


def test_bundle_yaml_round_trip_keeps_field_order():
    spec = BundleSpec.model_validate(_bundle())
    text = spec.to_yaml()
    assert text.startswith("classes:\n- a\n- b\nbranches:\n- seq\ninputs:\n  seq:\n")
    assert BundleSpec.model_validate(yaml.safe_load(text)) == spec


def test_damaged_bundle_is_a_user_error(tmp_path):
    bundle = tmp_path / "model"
    shutil.copytree(LEGACY / "model" / "model", bundle)
    raw = yaml.safe_load((bundle / "bundle.yaml").read_text())
    (bundle / "bundle.yaml").write_text(yaml.safe_dump(raw | {"inputs": {"seq": {}}}))
    with pytest.raises(UserError) as caught:
        load_bundle(bundle)
    assert caught.value.message.startswith(
        "the model bundle is damaged (inputs.seq.channels: Field required; "
    )
    del raw["preprocessing"]["window"]
    (bundle / "bundle.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(UserError, match=r"damaged \(preprocessing.window: Field required\)"):
        load_bundle(bundle)


def test_check_dataset_fits():
    dataset = Dataset(LEGACY / "dataset")
    _, spec = load_bundle(LEGACY / "model")
    check_dataset_fits(dataset, spec)
    narrow = spec.model_copy(update={"preprocessing": PreprocessingSpec(window=30)})
    with pytest.raises(UserError, match=r"window \(24\) differs from the model's \(30\)"):
        check_dataset_fits(dataset, narrow)
    more = spec.model_copy(update={"branches": [*spec.branches, "gc"]})
    with pytest.raises(UserError, match="lacks the model's branch.es. gc"):
        check_dataset_fits(dataset, more)
    fewer = spec.model_copy(update={"classes": ["bound"]})
    with pytest.raises(UserError, match="classes the model does not know: unbound"):
        check_dataset_fits(dataset, fewer, field="input")


def test_custom_model_class_names_must_be_safe_names():
    with pytest.raises(UserError) as caught:
        custom_spec(ModelInputConfig(custom_window=20, custom_classes=["up/../x", "b"]))
    assert caught.value.field == "custom_classes"
    assert "class name: the name 'up/../x' may only contain" in caught.value.message


def test_bundle_yaml_has_no_aliases_even_for_repeated_values():
    conv = {"type": "conv", "filters": 4, "kernel_size": 3}
    architecture = {"branches": {"seq": [conv, conv]}, "common": []}
    spec = BundleSpec.model_validate(_bundle(architecture=architecture))
    text = spec.to_yaml()
    assert "&id" not in text and "*id" not in text
    assert BundleSpec.model_validate(yaml.safe_load(text)) == spec
