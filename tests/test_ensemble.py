"""Ensembles: several networks trained together, their probabilities averaged."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from cli_run import run_gennie
from planted import planted_motif_dataset

from gennie.config import ArchitectureConfig, TrainConfig
from gennie.model.bundle import load_bundle
from gennie.model.network import EnsembleNetwork, MultiBranchNetwork, build_network
from gennie.training.module import Classifier

ARCH = ArchitectureConfig.model_validate(
    {
        "branches": {"seq": [{"type": "conv", "filters": 3, "kernel_size": 4}]},
        "common": [{"type": "global_pool", "kind": "max"}],
    }
)


pytestmark = pytest.mark.usefixtures("one_thread")


def test_build_network_makes_an_ensemble_of_differently_initialised_members() -> None:
    torch.manual_seed(0)
    single = build_network(ARCH, {"seq": (4, 10)}, 2)
    assert isinstance(single, MultiBranchNetwork)
    torch.manual_seed(0)
    ensemble = build_network(ARCH, {"seq": (4, 10)}, 2, members=3)
    assert isinstance(ensemble, EnsembleNetwork) and len(ensemble.members) == 3
    first, second = (m.output.weight for m in ensemble.members[:2])
    assert not torch.equal(first, second)
    assert ensemble.branch_names == ["seq"] and ensemble.inputs == {"seq": (4, 10)}


def test_ensemble_output_is_the_log_of_the_members_mean_probability() -> None:
    torch.manual_seed(1)
    ensemble = build_network(ARCH, {"seq": (4, 10)}, 3, members=2).eval()
    # Hand-set outputs: member 0 always says (0.7, 0.2, 0.1), member 1 (0.1, 0.3, 0.6).
    for member, probs in zip(ensemble.members, ([0.7, 0.2, 0.1], [0.1, 0.3, 0.6]), strict=True):
        member.output.weight.data.zero_()
        member.output.bias.data = torch.log(torch.tensor(probs))
    x = torch.rand(5, 4, 10)
    expected = torch.tensor([0.4, 0.25, 0.35]).expand(5, 3)
    torch.testing.assert_close(ensemble.predict_proba(x), expected)
    torch.testing.assert_close(ensemble(x), torch.log(expected))


def test_each_member_learns_from_its_own_loss_only() -> None:
    torch.manual_seed(2)
    ensemble = build_network(ARCH, {"seq": (4, 10)}, 2, members=2)
    config = TrainConfig(dataset="unused", shift=0)
    module = Classifier(ensemble, 2, config, steps_per_epoch=1)
    x, y = torch.rand(6, 4, 10), torch.tensor([0, 1, 0, 1, 1, 0])
    module._train_loss((x,), y).backward()
    for member in ensemble.members:
        alone = [p.detach().clone().requires_grad_() for p in member.parameters()]
        names = [n for n, _ in member.named_parameters()]
        logits = torch.func.functional_call(member, dict(zip(names, alone, strict=True)), (x,))
        grads = torch.autograd.grad(F.cross_entropy(logits, y), alone)
        for param, grad in zip(member.parameters(), grads, strict=True):
            torch.testing.assert_close(param.grad, grad)


def _members_inputs(members: int, config: TrainConfig) -> list[torch.Tensor]:
    """The windows each member of a fresh ensemble trains on for one batch of 64 all-one
    windows (4 channels × 10 positions)."""
    ensemble = build_network(ARCH, {"seq": (4, 10)}, 2, members=members)
    seen: list[torch.Tensor] = []
    for member in ensemble.members:
        member.register_forward_pre_hook(lambda _, args: seen.append(args[0].clone()))
    module = Classifier(ensemble, 2, config, steps_per_epoch=1)
    module._train_loss((torch.ones(64, 4, 10),), torch.zeros(64, dtype=torch.long))
    return seen


def test_each_member_sees_its_own_shifts() -> None:
    torch.manual_seed(3)
    seen = _members_inputs(3, TrainConfig(dataset="unused", shift=3))
    assert len(seen) == 3
    # A window moved by d lost |d| of its 10 positions: every member saw moves of 0 to
    # 3 bases, and no two members the same ones.
    lost = [10 - s[:, 0].sum(dim=1) for s in seen]
    assert all(set(lo.tolist()) == {0.0, 1.0, 2.0, 3.0} for lo in lost)
    assert not torch.equal(lost[0], lost[1]) and not torch.equal(lost[1], lost[2])


def test_each_member_sees_its_own_masks() -> None:
    torch.manual_seed(4)
    seen = _members_inputs(2, TrainConfig(dataset="unused", shift=0, mask=0.5))
    masked = [s[:, 0] == 0 for s in seen]
    # About half of the 640 positions masked for each member, not the same ones.
    assert all(250 < m.sum().item() < 390 for m in masked)
    assert not torch.equal(masked[0], masked[1])
    # A masked position is masked in all four channels.
    assert all(bool((s.sum(dim=1)[m] == 0).all()) for s, m in zip(seen, masked, strict=True))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A two-member ensemble trained through the CLI on the planted-motif data."""
    work = tmp_path_factory.mktemp("ensemble")
    dataset = planted_motif_dataset(work, 200, seed=0)
    done = run_gennie(
        "train", "--dataset", str(dataset), "--ensemble", "2", "--preset",
        "1layer", "--lr", "0.01", "--epochs", "4", "--batch-size", "32", "--threads", "1",
        "--out", str(work), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {"work": work, "dataset": dataset, "summary": json.loads(done.stdout)}


def test_cli_ensemble_bundle_and_evaluation(trained: dict) -> None:
    run = Path(trained["summary"]["run_dir"])
    network, spec = load_bundle(run)
    assert spec.ensemble == 2 and isinstance(network, EnsembleNetwork)
    assert "(one of the ensemble's 2 networks)" in (run / "architecture.txt").read_text()
    assert trained["summary"]["metrics"]["auroc"] > 0.9  # the planted motif is easy

    # Evaluating the bundle gives the mean of its members' probabilities.
    done = run_gennie(
        "evaluate", "--model", str(run), "--blackbox", str(trained["dataset"]),
        "--blackbox-split", "test", "--out", str(trained["work"]), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    evaluation = json.loads(done.stdout)
    assert evaluation["metrics"]["auroc"] == trained["summary"]["metrics"]["auroc"]
    table = pd.read_csv(Path(evaluation["run_dir"]) / "predictions.tsv", sep="\t")

    from gennie.dataset.store import Dataset

    data = Dataset(trained["dataset"])
    x = torch.from_numpy(data.inputs(data.indices("test"), ["seq"])[0])
    with torch.no_grad():
        members = [torch.softmax(m(x), dim=1) for m in network.members]
    mean = torch.stack(members).mean(dim=0)[:, 0].numpy()
    np.testing.assert_allclose(table["p_pos"].to_numpy(), mean, atol=1e-5)
    assert not np.allclose(members[0].numpy(), members[1].numpy(), atol=1e-3)


def test_cli_ensemble_predict_attributions_and_motifs(trained: dict) -> None:
    run = Path(trained["summary"]["run_dir"])
    work = trained["work"]
    done = run_gennie(
        "predict", "--model", str(run), "--sequence", "ACGT" * 10,
        "--attributions", "--steps", "10", "--top", "1", "--out", str(work), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    predicted = Path(json.loads(done.stdout)["run_dir"])
    assert np.load(predicted / "attributions.npz")["attr_seq"].shape[-2:] == (4, 40)
    done = run_gennie(
        "interpret", "motifs", "--model", str(run), "--dataset",
        str(trained["dataset"]), "--out", str(work), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    motifs = Path(json.loads(done.stdout)["run_dir"])
    # The filters of the ensemble's first network (the 1layer preset has 16); the
    # planted motif is among the best.
    table = pd.read_csv(motifs / "motifs.tsv", sep="\t")
    assert sorted(table["filter"]) == list(range(16))
    assert table["consensus"].head(3).str.upper().str.contains("TGTAAATA").any()


def test_a_damaged_ensemble_size_is_a_user_error(trained: dict, tmp_path: Path) -> None:
    import shutil

    import yaml

    from gennie.errors import UserError

    bundle = tmp_path / "model"
    shutil.copytree(Path(trained["summary"]["run_dir"]) / "model", bundle)
    spec = yaml.safe_load((bundle / "bundle.yaml").read_text())
    (bundle / "bundle.yaml").write_text(yaml.safe_dump(spec | {"ensemble": "three"}))
    with pytest.raises(UserError, match="damaged .*ensemble must be a positive whole number"):
        load_bundle(bundle)
    (bundle / "bundle.yaml").write_text(yaml.safe_dump(spec | {"ensemble": 3}))
    with pytest.raises(UserError, match="the weights do not fit the architecture"):
        load_bundle(bundle)
