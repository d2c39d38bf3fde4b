"""Centre networks: ensemble members that read only the central positions of a window."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from cli_run import run_gennie
from planted import planted_motif_dataset

from gennie.config import ArchitectureConfig, SearchSpace, TrainConfig
from gennie.errors import UserError
from gennie.model.bundle import load_bundle
from gennie.model.network import (
    CentreNetwork,
    EnsembleNetwork,
    MultiBranchNetwork,
    build_network,
)
from gennie.training.module import Classifier

ARCH = ArchitectureConfig.model_validate(
    {
        "branches": {
            "seq": [{"type": "conv", "filters": 3, "kernel_size": 4}],
            "cons": [{"type": "conv", "filters": 2, "kernel_size": 4}],
        },
        "common": [{"type": "global_pool", "kind": "max"}],
    }
)
INPUTS = {"seq": (4, 11), "cons": (1, 11)}

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_centre_network_reads_exactly_the_central_positions_of_every_branch() -> None:
    torch.manual_seed(0)
    network = CentreNetwork(ARCH, INPUTS, 2, window=5).eval()
    # (11 - 5) // 2: positions 3 to 7 of each branch; the inner network is built for 5.
    assert network.starts == [3, 3] and network.window == 5
    assert network.network.inputs == {"seq": (4, 5), "cons": (1, 5)}
    assert network.inputs == INPUTS
    seq, cons = torch.rand(2, 4, 11), torch.rand(2, 1, 11)
    with torch.no_grad():
        expected = network.network(seq[..., 3:8], cons[..., 3:8])
        torch.testing.assert_close(network(seq, cons), expected)
        outside = seq.clone(), cons.clone()
        outside[0][..., :3] = 5.0
        outside[1][..., 8:] = -5.0
        torch.testing.assert_close(network(*outside), expected)
        inside = seq.clone()
        inside[..., 7] = 5.0
        assert not torch.allclose(network(inside, cons), expected)
    assert CentreNetwork(ARCH, {"seq": (4, 375)}, 2, window=150).starts == [112]
    with pytest.raises(ValueError, match="centre window of 11 must be shorter"):
        CentreNetwork(ARCH, INPUTS, 2, window=11)


def test_centre_members_come_after_the_whole_window_members() -> None:
    torch.manual_seed(1)
    ensemble = build_network(ARCH, INPUTS, 2, members=2, centre=1, centre_window=5)
    assert isinstance(ensemble, EnsembleNetwork)
    kinds = [type(m) for m in ensemble.members]
    assert kinds == [MultiBranchNetwork, MultiBranchNetwork, CentreNetwork]
    assert ensemble.inputs == INPUTS
    # One whole-window network and one centre network also make an ensemble.
    pair = build_network(ARCH, INPUTS, 2, members=1, centre=1, centre_window=5)
    assert [type(m) for m in pair.members] == [MultiBranchNetwork, CentreNetwork]
    with pytest.raises(ValueError, match="at least 2 members"):
        EnsembleNetwork(ARCH, INPUTS, 2, members=0, centre=2, centre_window=5)


def test_a_layer_too_long_for_the_centre_window_is_a_user_error() -> None:
    wide = ArchitectureConfig.model_validate(
        {"branches": {"seq": [{"type": "conv", "filters": 3, "kernel_size": 8}]}, "common": []}
    )
    build_network(wide, {"seq": (4, 20)}, 2, members=3)  # fits the whole window
    with pytest.raises(UserError, match="in the centre networks, which read 6 positions"):
        build_network(wide, {"seq": (4, 20)}, 2, members=3, centre=1, centre_window=6)


def test_the_centre_member_trains_on_the_centre_of_its_own_shifted_windows() -> None:
    torch.manual_seed(2)
    ensemble = build_network(ARCH, {"seq": (4, 11)}, 2, members=1, centre=1, centre_window=5)
    seen = []
    for member in (ensemble.members[0], ensemble.members[1].network):
        member.register_forward_pre_hook(lambda _, args: seen.append(args[0].clone()))
    module = Classifier(ensemble, 2, TrainConfig(dataset="unused", shift=3), steps_per_epoch=1)
    module._train_loss((torch.ones(64, 4, 11),), torch.zeros(64, dtype=torch.long))
    whole, centre = seen
    assert whole.shape == (64, 4, 11) and centre.shape == (64, 4, 5)
    # Moves of up to 3 bases empty at most 3 of the 11 positions; the central 5 stay full.
    assert set((11 - whole[:, 0].sum(dim=1)).tolist()) == {0.0, 1.0, 2.0, 3.0}
    assert bool((centre == 1).all())


def test_search_trials_have_no_centre_networks_unless_asked() -> None:
    assert SearchSpace().centre_networks == 0
    assert TrainConfig().centre_networks == 0 and TrainConfig().centre_window == 150


def _train(planted: dict, *args: object) -> dict:
    """``gennie train`` of the 1layer preset on the planted-motif dataset with ``args``;
    its JSON summary."""
    done = run_gennie(
        "train", "--dataset", planted["dataset"], "--preset", "1layer", "--threads", "1",
        "--out", planted["work"], "--json", *args,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("centre")
    return {"work": work, "dataset": planted_motif_dataset(work, 200, seed=0)}


def test_cli_trains_saves_and_evaluates_a_centre_network(planted: dict) -> None:
    work, dataset = planted["work"], planted["dataset"]
    summary = _train(
        planted, "--ensemble", "1", "--centre-networks", "1", "--centre-window", "30",
        "--lr", "0.01", "--epochs", "4", "--batch-size", "32",
    )  # fmt: skip
    run = Path(summary["run_dir"])
    network, spec = load_bundle(run)
    assert (spec.ensemble, spec.centre_networks, spec.centre_window) == (1, 1, 30)
    assert [type(m) for m in network.members] == [MultiBranchNetwork, CentreNetwork]
    assert network.members[1].starts == [5]
    assert (
        "(one of the ensemble's 2 networks; 1 of them read only the central 30 positions"
        in (run / "architecture.txt").read_text()
    )
    assert (
        "1 of the 2 networks read the central 30 of the 40 positions"
        in (run / "gennie.log").read_text()
    )
    assert summary["metrics"]["auroc"] > 0.9  # the planted motif sits in the centre

    done = run_gennie(
        "evaluate", "--model", run, "--blackbox", dataset, "--blackbox-split", "test",
        "--out", work, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(Path(json.loads(done.stdout)["run_dir"]) / "predictions.tsv", sep="\t")

    from gennie.dataset.store import Dataset

    data = Dataset(dataset)
    x = torch.from_numpy(data.inputs(data.indices("test"), ["seq"])[0])
    with torch.no_grad():
        whole = torch.softmax(network.members[0](x), dim=1)
        centre = torch.softmax(network.members[1].network(x[..., 5:35]), dim=1)
    mean = ((whole + centre) / 2)[:, 0].numpy()
    np.testing.assert_allclose(table["p_pos"].to_numpy(), mean, atol=1e-5)


def test_no_centre_network_when_the_window_is_not_wider(planted: dict) -> None:
    summary = _train(
        planted, "--ensemble", "1", "--centre-networks", "1", "--centre-window", "40",
        "--epochs", "1",
    )  # fmt: skip
    run = Path(summary["run_dir"])
    network, spec = load_bundle(run)
    assert isinstance(network, MultiBranchNetwork) and spec.centre_networks == 0
    log = (run / "gennie.log").read_text()
    assert "no centre networks: the window (40) is not wider than the centre window (40)" in log


def test_a_damaged_centre_network_count_is_a_user_error(planted: dict, tmp_path: Path) -> None:
    import shutil

    import yaml

    summary = _train(
        planted, "--ensemble", "2", "--centre-networks", "1", "--centre-window", "30",
        "--epochs", "1",
    )  # fmt: skip
    bundle = tmp_path / "model"
    shutil.copytree(Path(summary["run_dir"]) / "model", bundle)
    spec = yaml.safe_load((bundle / "bundle.yaml").read_text())
    assert (spec["ensemble"], spec["centre_networks"], spec["centre_window"]) == (2, 1, 30)
    (bundle / "bundle.yaml").write_text(yaml.safe_dump(spec | {"centre_networks": -1}))
    with pytest.raises(UserError, match="damaged .*centre_networks must be a whole number"):
        load_bundle(bundle)
    (bundle / "bundle.yaml").write_text(yaml.safe_dump(spec | {"centre_window": 40}))
    with pytest.raises(UserError, match="damaged .*centre window of 40 must be shorter"):
        load_bundle(bundle)
