"""Tests of gennie.model: network building, shapes, errors, presets, summaries."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gennie.config import ArchitectureConfig
from gennie.config.presets import PRESET_DESCRIPTIONS, PRESETS, preset_architecture
from gennie.errors import UserError
from gennie.model import (
    build_network,
    draw_architecture,
    format_layer_table,
    layer_table,
)
from gennie.model.layers import LEAKY_RELU_SLOPE, GlobalPool, LocalPool, make_activation

# Channels per branch; the window is chosen by each test.
ONE = {"seq": 4}
THREE = {"seq": 4, "fold": 3, "cons": 1}


def arch(branches: dict | None = None, common: list | None = None) -> ArchitectureConfig:
    """An architecture from plain data, as a YAML file would give it."""
    return ArchitectureConfig.model_validate({"branches": branches or {}, "common": common or []})


def zeros(inputs: dict[str, tuple[int, int]], n: int = 2) -> list[torch.Tensor]:
    return [torch.zeros(n, c, length) for c, length in inputs.values()]


def randn(inputs: dict[str, tuple[int, int]], n: int = 3) -> list[torch.Tensor]:
    return [torch.randn(n, c, length) for c, length in inputs.values()]


CONV3 = {"type": "conv", "filters": 2, "kernel_size": 3}


pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------- presets


@pytest.mark.parametrize("window", [101, 150])
@pytest.mark.parametrize("shapes", [ONE, THREE], ids=["seq", "seq+fold+cons"])
@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_gives_2d_logits(name: str, shapes: dict, window: int) -> None:
    inputs = {b: (c, window) for b, c in shapes.items()}
    model = build_network(preset_architecture(name, list(inputs)), inputs, 3)
    model.eval()
    assert model(*zeros(inputs, n=2)).shape == (2, 3)


def test_preset_names_and_descriptions() -> None:
    assert PRESETS[:9] == (
        "1layer",
        "1layer_64motif",
        "1layer_128motif",
        "1layer_local_win3",
        "1layer_local_win9",
        "2layer",
        "3layer",
        "2layer_local_win3",
        "3layer_local_win3",
    )
    assert set(PRESETS[9:]) == {"deepbind", "enngene", "gennie"}
    assert set(PRESET_DESCRIPTIONS) == set(PRESETS)
    assert all(d and "\n" not in d for d in PRESET_DESCRIPTIONS.values())


def test_preset_layers() -> None:
    one = preset_architecture("1layer", ["seq"])
    conv, pool = one.branches["seq"]
    assert (conv.filters, conv.kernel_size, conv.activation) == (16, 24, "relu")
    assert (pool.type, pool.kind) == ("global_pool", "max")
    assert [(d.type, d.units, d.dropout) for d in one.common] == [("dense", 32, 0.5)]
    assert preset_architecture("1layer_128motif", ["seq"]).branches["seq"][0].filters == 128
    assert preset_architecture("1layer_local_win9", ["seq"]).branches["seq"][1].size == 9
    three = preset_architecture("3layer", ["seq"]).branches["seq"]
    assert [layer.filters for layer in three if layer.type == "conv"] == [16, 32, 64]
    assert three[-1].type == "global_pool"
    assert preset_architecture("3layer_local_win3", ["seq"]).branches["seq"][-1].size == 3
    assert preset_architecture("deepbind", ["seq"]).branches["seq"][1].kind == "max_avg"
    enn = preset_architecture("enngene", ["seq"]).branches["seq"]
    assert (enn[0].filters, enn[0].kernel_size, enn[0].activation) == (40, 4, "leaky_relu")
    assert (enn[1].type, enn[1].size) == ("pool", 2)


def test_preset_branches_are_independent_copies() -> None:
    config = preset_architecture("enngene", ["seq", "fold"])
    config.branches["seq"][0].filters = 7
    assert config.branches["fold"][0].filters == 40
    assert preset_architecture("enngene", ["seq"]).branches["seq"][0].filters == 40


def test_unknown_preset_lists_the_available_ones() -> None:
    with pytest.raises(UserError) as info:
        preset_architecture("2layers", ["seq"])
    assert info.value.field == "preset"
    assert "2layer" in info.value.hint and "enngene" in info.value.hint


def test_preset_on_too_short_window_is_a_user_error() -> None:
    with pytest.raises(UserError) as info:
        build_network(preset_architecture("1layer", ["seq"]), {"seq": (4, 20)}, 2)
    assert info.value.field == "architecture.branches.seq"


# --------------------------------------------------------------------------- shapes


def test_hand_checked_shapes_and_parameters() -> None:
    # window 10, conv 4→2 k=3 valid → length 8, max pool 2 → length 4, flatten 8 → 3.
    inputs = {"seq": (4, 10)}
    config = arch({"seq": [CONV3, {"type": "pool", "size": 2}]})
    model = build_network(config, inputs, 3)
    rows = layer_table(model, inputs)
    assert rows == [
        {
            "layer": "branches.seq.0.conv",
            "type": "Conv1d",
            "output_shape": "(n, 2, 8)",
            "parameters": 4 * 2 * 3 + 2,
        },
        {
            "layer": "branches.seq.0.activation",
            "type": "ReLU",
            "output_shape": "(n, 2, 8)",
            "parameters": 0,
        },
        {
            "layer": "branches.seq.1.pool",
            "type": "LocalPool",
            "output_shape": "(n, 2, 4)",
            "parameters": 0,
        },
        {"layer": "concat", "type": "Concatenate", "output_shape": "(n, 2, 4)", "parameters": 0},
        {"layer": "flatten", "type": "Flatten", "output_shape": "(n, 8)", "parameters": 0},
        {"layer": "output", "type": "Linear", "output_shape": "(n, 3)", "parameters": 8 * 3 + 3},
    ]
    assert sum(p.numel() for p in model.parameters()) == 26 + 27
    text = format_layer_table(rows)
    assert "branches.seq.0.conv" in text and text.endswith("total parameters: 53")


def test_empty_architecture_is_flatten_and_linear() -> None:
    inputs = {"seq": (4, 10), "cons": (1, 10)}
    model = build_network(arch(), inputs, 2)
    assert not model.concat.flatten  # same length: joined along channels, (n, 5, 10)
    assert model.output.in_features == 50
    assert model(*zeros(inputs)).shape == (2, 2)


def test_empty_common_part_gives_2d_output() -> None:
    inputs = {"seq": (4, 12), "fold": (3, 12)}
    model = build_network(arch({"seq": [CONV3], "fold": [CONV3]}), inputs, 4)
    assert model.output.in_features == (2 + 2) * 10
    assert model(*randn(inputs)).shape == (3, 4)


@pytest.mark.parametrize(
    ("last", "features"),
    [
        ({"type": "conv", "filters": 5, "kernel_size": 3}, 5 * 6),
        ({"type": "lstm", "units": 3, "bidirectional": False}, 3),
        ({"type": "gru", "units": 3, "bidirectional": True}, 2 * 3),
    ],
    ids=["conv", "lstm", "bigru"],
)
def test_common_part_ending_in_a_sequence_layer_gives_2d_output(last: dict, features: int) -> None:
    inputs = {"seq": (4, 12), "fold": (3, 12)}
    model = build_network(arch({"seq": [CONV3], "fold": [CONV3]}, [CONV3, last]), inputs, 2)
    # conv: 12 → 10 → 8 → (n, 5, 6) flattened; RNN: final state, not the flattened sequence.
    assert model.output.in_features == features
    assert model(*randn(inputs)).shape == (3, 2)


def test_recurrent_layer_returns_sequence_only_before_sequence_layers() -> None:
    inputs = {"seq": (4, 12)}
    gru = {"type": "gru", "units": 3}
    model = build_network(
        arch(common=[gru, CONV3, gru, {"type": "global_pool"}, {"type": "dense", "units": 4}]),
        inputs,
        2,
    )
    assert [block.readout.final_state for block in (model.common[0], model.common[2])] == [
        False,
        False,
    ]
    rows = {r["layer"]: r["output_shape"] for r in layer_table(model, inputs)}
    assert rows["common.0.readout"] == "(n, 6, 12)"
    assert rows["common.3.pool"] == "(n, 6)"
    model = build_network(arch(common=[gru, {"type": "dense", "units": 4}]), inputs, 2)
    assert model.common[0].readout.final_state


def test_bidirectional_final_state_is_last_forward_and_last_backward() -> None:
    torch.manual_seed(0)
    model = build_network(arch(common=[{"type": "gru", "units": 3}]), {"seq": (4, 7)}, 2)
    block = model.common[0]
    x = torch.randn(2, 4, 7)
    _, h_n = block.rnn(x.transpose(1, 2))
    expected = torch.cat([h_n[0], h_n[1]], dim=1)
    torch.testing.assert_close(block(x), expected)


def test_branches_of_different_lengths_are_flattened_before_joining() -> None:
    inputs = {"seq": (4, 12), "cons": (1, 12)}
    config = arch({"seq": [CONV3]}, [{"type": "dense", "units": 4}])
    model = build_network(config, inputs, 2)
    assert model.concat.flatten
    assert model.common[0].linear.in_features == 2 * 10 + 1 * 12
    with pytest.raises(UserError) as info:
        build_network(arch({"seq": [CONV3]}, [CONV3]), inputs, 2)
    assert info.value.field == "architecture.common"
    assert "different lengths" in info.value.message


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # the reference, not gennie
def test_same_padding_keeps_length_and_matches_torch() -> None:
    torch.manual_seed(1)
    for kernel, dilation in [(4, 1), (3, 2), (5, 1), (2, 3)]:
        layer = {
            "type": "conv",
            "filters": 2,
            "kernel_size": kernel,
            "dilation": dilation,
            "padding": "same",
            "activation": "linear",
        }
        model = build_network(arch({"seq": [layer]}), {"seq": (4, 7)}, 2)
        block = model.branches["seq"][0]
        x = torch.randn(1, 4, 7)
        expected = nn.functional.conv1d(
            x, block.conv.weight, block.conv.bias, padding="same", dilation=dilation
        )
        torch.testing.assert_close(block(x), expected)


# --------------------------------------------------------------------------- layers


def test_pooling_values() -> None:
    x = torch.tensor([[[1.0, 3.0, 2.0, 0.0, 5.0]]])
    torch.testing.assert_close(LocalPool("max", 2)(x), torch.tensor([[[3.0, 2.0]]]))
    torch.testing.assert_close(LocalPool("max_avg", 2)(x), torch.tensor([[[3.0, 2.0], [2.0, 1.0]]]))
    torch.testing.assert_close(GlobalPool("max_avg")(x), torch.tensor([[5.0, 2.2]]))


def test_pool_window_longer_than_sequence_pools_the_whole_sequence() -> None:
    inputs = {"seq": (4, 5)}
    model = build_network(arch({"seq": [{"type": "pool", "size": 8}]}), inputs, 2)
    assert model.branches["seq"][0].pool.size == 5
    assert model.output.in_features == 4


def test_activations() -> None:
    x = torch.tensor([-2.0, 0.0, 1.5])
    assert make_activation("linear") is None
    torch.testing.assert_close(make_activation("exp")(x), torch.exp(x))
    torch.testing.assert_close(
        make_activation("leaky_relu")(x), torch.tensor([-2.0 * LEAKY_RELU_SLOPE, 0.0, 1.5])
    )
    for name in ("relu", "elu", "gelu", "sigmoid", "tanh"):
        assert make_activation(name)(x).shape == x.shape


# --------------------------------------------------------------------------- errors


def test_conv_after_global_pooling_is_a_user_error() -> None:
    config = arch({"seq": [CONV3, {"type": "global_pool"}]}, [CONV3])
    with pytest.raises(UserError) as info:
        build_network(config, {"seq": (4, 20)}, 2)
    assert info.value.field == "architecture.common"
    assert "layer 1 of the common part" in info.value.message
    assert "global_pool" in info.value.message


@pytest.mark.parametrize("layer", ["pool", "lstm", "global_pool"])
def test_sequence_layers_after_dense_are_user_errors(layer: str) -> None:
    config = arch(common=[{"type": "dense", "units": 4}, {"type": layer}])
    with pytest.raises(UserError) as info:
        build_network(config, {"seq": (4, 20)}, 2)
    assert info.value.field == "architecture.common"


def test_kernel_longer_than_window_is_a_user_error() -> None:
    config = arch({"seq": [CONV3, {"type": "conv", "filters": 2, "kernel_size": 9}]})
    with pytest.raises(UserError) as info:
        build_network(config, {"seq": (4, 10)}, 2)
    error = info.value
    assert error.field == "architecture.branches.seq"
    assert "layer 2 of the branch 'seq'" in error.message and "only 8" in error.message
    assert "smaller kernel_size" in error.hint and "same" in error.hint


def test_wrong_number_of_inputs() -> None:
    model = build_network(arch(), {"seq": (4, 10), "fold": (3, 10)}, 2)
    with pytest.raises(ValueError, match="expected 2 inputs"):
        model(torch.zeros(1, 4, 10))


# --------------------------------------------------------------------------- behaviour


def test_same_seed_gives_identical_weights() -> None:
    config = preset_architecture("enngene", ["seq", "fold"])
    inputs = {"seq": (4, 30), "fold": (3, 30)}

    def weights(seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(seed)
        return build_network(config, inputs, 2).state_dict()

    first, again, other = weights(3), weights(3), weights(4)
    assert first.keys() == again.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["output.weight"], other["output.weight"])


def test_predict_proba_rows_sum_to_one() -> None:
    inputs = {"seq": (4, 30), "cons": (1, 30)}
    model = build_network(preset_architecture("deepbind", list(inputs)), inputs, 3).eval()
    probabilities = model.predict_proba(*randn(inputs, n=5))
    assert probabilities.shape == (5, 3)
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(5))
    assert (probabilities > 0).all()


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
def test_trace_matches_eager() -> None:
    inputs = {"seq": (4, 20), "fold": (3, 20)}
    config = arch(
        {"seq": [CONV3], "fold": [CONV3]},
        [{"type": "gru", "units": 3}, {"type": "dense", "units": 4}],
    )
    model = build_network(config, inputs, 2).eval()
    traced = torch.jit.trace(model, tuple(zeros(inputs, n=2)))
    xs = randn(inputs, n=4)
    torch.testing.assert_close(traced(*xs), model(*xs))


def test_summary_keeps_mode_and_batch_norm_statistics() -> None:
    inputs = {"seq": (4, 30)}
    model = build_network(preset_architecture("enngene", ["seq"]), inputs, 2)
    assert model.training
    before = {k: v.clone() for k, v in model.state_dict().items()}
    layer_table(model, inputs)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_draw_architecture_writes_pictures(tmp_path) -> None:
    inputs = {"seq": (4, 40), "fold": (3, 40), "cons": (1, 40)}
    config = preset_architecture("enngene", list(inputs))
    config.branches["cons"] = []  # a shorter column: its arrow must still reach the join
    model = build_network(config, inputs, 3)
    png, svg = tmp_path / "arch.png", tmp_path / "arch.svg"
    draw_architecture(model, inputs, png, svg)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()
