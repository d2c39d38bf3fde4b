"""The training loop's plumbing: batch groups, the in-memory training split, shifts,
the moving average of the weights."""

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from gennie.config import TrainConfig
from gennie.training.augment import augment, random_mask, random_shift
from gennie.training.callbacks import BestWeights
from gennie.training.data import BatchedSamples, batch_loader
from gennie.training.module import Classifier


def _samples(n: int = 70) -> BatchedSamples:
    rng = np.random.default_rng(0)
    x = rng.random((n, 4, 12), dtype=np.float32)
    labels = rng.integers(0, 2, size=n)

    def inputs(indices: np.ndarray) -> list[np.ndarray]:
        return [x[indices], x[indices, :2] * 2]

    return BatchedSamples(inputs, np.arange(n)[::-1].copy(), labels)


def test_groups_hold_the_same_batches_in_the_same_order() -> None:
    samples = _samples()
    single = list(batch_loader(samples, 16, shuffle=True, seed=3))
    groups = list(batch_loader(samples, 16, shuffle=True, seed=3, group=3))
    assert [len(g) for g in groups] == [3, 2]  # 70 samples: batches of 16,16,16 | 16,6
    flat = [batch for group in groups for batch in group]
    assert len(flat) == len(single) == 5
    for (xs_a, y_a), (xs_b, y_b) in zip(single, flat, strict=True):
        torch.testing.assert_close(y_a, y_b)
        for a, b in zip(xs_a, xs_b, strict=True):
            torch.testing.assert_close(a, b)


def test_in_memory_samples_read_the_same_and_respect_the_budget() -> None:
    samples = _samples()
    held = samples.in_memory(budget_bytes=10**6)
    assert held is not samples
    positions = [5, 0, 69]
    (a1, a2), ya = samples[positions]
    (b1, b2), yb = held[positions]
    torch.testing.assert_close(a1, b1)
    torch.testing.assert_close(a2, b2)
    torch.testing.assert_close(ya, yb)
    per_sample = (4 * 12 + 2 * 12) * 4  # float32 bytes of both branches
    assert samples.in_memory(budget_bytes=70 * per_sample) is not samples
    assert samples.in_memory(budget_bytes=70 * per_sample - 1) is samples


def test_random_shift_moves_branches_together_and_fills_with_zeros() -> None:
    x = torch.arange(1, 13, dtype=torch.float32).reshape(2, 1, 6)
    other = torch.cat([x, -x], dim=1)
    generator = torch.Generator().manual_seed(0)
    moved, moved_other = random_shift((x, other), 2, generator)
    # Offsets drawn by this generator: +2 for the first sample, +2 for the second.
    assert moved.tolist() == [[[0, 0, 1, 2, 3, 4]], [[0, 0, 7, 8, 9, 10]]]
    torch.testing.assert_close(moved_other, torch.cat([moved, -moved], dim=1))
    generator = torch.Generator().manual_seed(5)
    offsets = torch.randint(-3, 4, (2, 1), generator=generator)
    left = random_shift((x,), 3, torch.Generator().manual_seed(5))[0]
    for row, d in zip(range(2), offsets[:, 0].tolist(), strict=True):
        expected = [x[row, 0, i - d].item() if 0 <= i - d < 6 else 0.0 for i in range(6)]
        assert left[row, 0].tolist() == expected
    assert random_shift((x,), 0)[0] is x


def test_random_mask_zeroes_the_same_positions_in_every_branch() -> None:
    x = torch.arange(1, 13, dtype=torch.float32).reshape(2, 1, 6)
    other = torch.cat([x, -x], dim=1)
    masked, masked_other = random_mask((x, other), 0.5, torch.Generator().manual_seed(0))
    # Draws of this generator below 0.5: positions 1, 3, 4, 5 of the first sample and
    # 1, 3, 5, 6 of the second.
    assert masked.tolist() == [[[0, 2, 0, 0, 0, 6]], [[0, 8, 0, 10, 0, 0]]]
    torch.testing.assert_close(masked_other, torch.cat([masked, -masked], dim=1))
    assert random_mask((x,), 0.0)[0] is x


def test_augment_shifts_then_masks() -> None:
    x = torch.ones(500, 4, 50)
    torch.manual_seed(1)
    shifted_and_masked = augment((x,), 2, 0.1)[0]
    torch.manual_seed(1)
    shifted = random_shift((x,), 2)[0]
    kept = shifted_and_masked[:, 0] == 1
    # Every kept position was inside the shifted window, and about a tenth of those
    # inside were masked.
    assert bool((shifted[:, 0][kept] == 1).all())
    share = 1 - kept.sum().item() / (shifted[:, 0] == 1).sum().item()
    assert 0.09 < share < 0.11


class FirstBranch(torch.nn.Module):
    """A linear model of the first of two branches, with fixed initial weights."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 2))

    def forward(self, x: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _lightning(
    module: Classifier, samples: BatchedSamples, epochs: int, callbacks: list | None = None
) -> pl.Trainer:
    """Fit ``module`` with Lightning on ``samples`` (groups of two batches of 16)."""
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=callbacks,
    )
    trainer.fit(
        module,
        batch_loader(samples, 16, shuffle=True, seed=3, group=2),
        batch_loader(samples, 64, shuffle=False),
    )
    return trainer


def _fit(config: TrainConfig, callbacks: list | None = None) -> tuple[Classifier, pl.Trainer]:
    """Two epochs of Lightning on :func:`_samples` with the :class:`FirstBranch` model."""
    module = Classifier(FirstBranch(), 2, config, steps_per_epoch=5)
    return module, _lightning(module, _samples(), 2, callbacks)


def _bare_adam(decay: float = 0.0) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The hand-written loop: one Adam step per batch (two epochs, the same batches), and
    the moving average of its weights with the decay of step t min(decay, (1+t)/(10+t))."""
    bare, averaged = FirstBranch(), FirstBranch()
    optimizer = torch.optim.Adam(bare.parameters(), lr=0.05)
    loader = batch_loader(_samples(), 16, shuffle=True, seed=3)
    step = 0
    for epoch in range(2):
        loader.sampler.set_epoch(epoch)  # as Lightning does before every epoch
        for xs, y in loader:
            loss = F.cross_entropy(bare(*xs), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            rate = min(decay, (1 + step) / (10 + step))
            step += 1
            with torch.no_grad():
                for kept, value in zip(averaged.parameters(), bare.parameters(), strict=True):
                    kept.copy_(rate * kept + (1 - rate) * value)
    return bare, averaged


def test_grouped_lightning_loop_takes_the_bare_loops_steps() -> None:
    """Lightning with groups of batches ends with the weights of a hand-written loop of
    one Adam step per batch over the same batches."""
    config = TrainConfig(dataset="unused", lr=0.05, epochs=2, ensemble=1, shift=0)
    module, trainer = _fit(config)
    bare, _ = _bare_adam()
    for trained, expected in zip(module.network.parameters(), bare.parameters(), strict=True):
        torch.testing.assert_close(trained, expected)
    assert module.averaged is None and module.evaluated_network is module.network
    assert set(trainer.callback_metrics) >= {"train_loss", "train_auroc", "val_auroc"}


def test_moving_average_of_the_weights_is_validated_and_kept() -> None:
    """With ema_decay, the averaged weights follow the bare loop's moving average, are
    the ones validated, and are what the best-weights callback keeps."""
    config = TrainConfig(dataset="unused", lr=0.05, epochs=2, ensemble=1, shift=0, ema_decay=0.9)
    best = BestWeights("val_loss")
    module, trainer = _fit(config, [best])
    bare, averaged = _bare_adam(decay=0.9)
    for trained, expected in zip(module.network.parameters(), bare.parameters(), strict=True):
        torch.testing.assert_close(trained, expected)
    for kept, expected in zip(module.averaged.parameters(), averaged.parameters(), strict=True):
        torch.testing.assert_close(kept, expected)
    assert module.evaluated_network is module.averaged
    assert not any(p.requires_grad for p in module.averaged.parameters())
    assert module._averaged_steps == 10  # 5 batches × 2 epochs
    # The validation loss logged at the last epoch is the averaged network's.
    samples = _samples()
    (x, other), y = samples[np.arange(70)]
    with torch.no_grad():
        loss = F.cross_entropy(averaged(x, other), y)
    torch.testing.assert_close(trainer.callback_metrics["val_loss"], loss)
    assert best.best_epoch == 2
    for key, value in averaged.state_dict().items():
        torch.testing.assert_close(best.best_state[f"averaged.{key}"], value)


def test_training_batches_are_shifted_and_validation_batches_are_not() -> None:
    seen: list[torch.Tensor] = []

    class Recorder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x)
            return x.sum(dim=2)[:, :2] * self.weight

    module = Classifier(Recorder(), 2, TrainConfig(dataset="unused", shift=3), 1)
    module.log = lambda *args, **kwargs: None
    x = torch.ones(64, 2, 8)
    torch.manual_seed(0)
    module._train_loss((x,), torch.zeros(64, dtype=torch.long))
    # Each window lost as many bases as it was moved by (0 to 3, either way).
    lost = 8 - seen[-1][:, 0].sum(dim=1)
    assert set(lost.tolist()) == {0.0, 1.0, 2.0, 3.0}
    module.validation_step(((x,), torch.zeros(64, dtype=torch.long)), 0)
    assert torch.equal(seen[-1], x)


def test_cli_saves_the_averaged_weights(tmp_path, one_thread) -> None:
    """``train --ema-decay`` saves (and evaluates) the averaged weights: after one epoch
    the trained weights are those of a run without averaging, the saved ones are not."""
    import subprocess
    import sys
    from pathlib import Path

    import yaml
    from planted import planted_motif_dataset

    from gennie.model.bundle import load_bundle
    from gennie.training.stage import train

    dataset = planted_motif_dataset(tmp_path, 60, seed=0)
    common = {"preset": "1layer", "epochs": 1, "batch_size": 16, "ensemble": 1, "threads": 1}
    plain = train(TrainConfig(dataset=dataset, out=tmp_path, name="plain", **common))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "gennie"), "train", "--dataset", str(dataset),
         "--preset", "1layer", "--epochs", "1", "--batch-size", "16", "--ensemble", "1",
         "--threads", "1", "--ema-decay", "0.9", "--out", str(tmp_path), "--name", "averaged"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    averaged_run = tmp_path / "averaged"
    assert yaml.safe_load((averaged_run / "parameters.yaml").read_text())["ema_decay"] == 0.9
    # Without a terminal, each epoch is one line on stderr, and in gennie.log either way.
    epoch_lines = [line for line in done.stderr.splitlines() if "epoch 1/1: train loss" in line]
    assert len(epoch_lines) == 1 and "| validation loss " in epoch_lines[0], done.stderr
    assert "epoch 1/1: train loss" in (averaged_run / "gennie.log").read_text()
    plain_net, _ = load_bundle(plain.run_dir)
    averaged_net, _ = load_bundle(averaged_run)
    for a, b in zip(plain_net.parameters(), averaged_net.parameters(), strict=True):
        assert a.shape == b.shape and not torch.equal(a, b)


def test_a_dead_network_starts_again_from_new_random_weights(caplog) -> None:
    """An ensemble member whose ReLUs all died (the same output for every sample) is
    re-initialised after its first epoch; the healthy member is left alone."""
    import logging

    from gennie.config import ArchitectureConfig
    from gennie.model.network import build_network

    architecture = ArchitectureConfig.model_validate(
        {
            "branches": {"seq": [{"type": "conv", "filters": 3, "kernel_size": 4}]},
            "common": [{"type": "global_pool", "kind": "max"}, {"type": "dense", "units": 4}],
        }
    )
    torch.manual_seed(0)
    network = build_network(architecture, {"seq": (4, 12)}, 2, members=2)
    dead, healthy = network.members
    dead.common[1].linear.bias.data.fill_(-100.0)  # no input reaches above zero
    x = torch.rand(40, 4, 12)
    with torch.no_grad():
        assert dead(x).std(dim=0).max() == 0 and healthy(x).std(dim=0).max() > 0
    samples = _samples(40)
    one_branch = BatchedSamples(lambda i: [samples.inputs(i)[0]], samples.indices, samples.labels)
    config = TrainConfig(dataset="unused", epochs=1, shift=0, ema_decay=0.5)
    module = Classifier(network, 2, config, steps_per_epoch=3)
    with caplog.at_level(logging.WARNING, logger="gennie.train"):
        trainer = _lightning(module, one_branch, 1)
    assert module.restarts == [1, 0]
    assert "network 1 of 2 gave the same output for every validation sample" in caplog.text
    with torch.no_grad():
        assert dead(x).std(dim=0).max() > 0
    assert (dead.common[1].linear.bias.abs() < 1).all()
    optimizer = trainer.optimizers[0]
    assert not any(p in optimizer.state for p in dead.parameters())
    assert all(p in optimizer.state for p in healthy.parameters())
    for kept, value in zip(
        module.averaged.members[0].state_dict().values(), dead.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(kept, value)


class _FixedLogits(torch.nn.Module):
    """Logits ``[2, 0]`` and ``[0, 1]`` for the two samples, whatever the input."""

    def __init__(self) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor([[2.0, 0.0], [0.0, 1.0]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits + 0 * x.sum()


def test_label_smoothing_spreads_the_target_in_the_training_loss_only() -> None:
    """Both targets are class 0. Plain: (log(1 + e^-2) + log(1 + e)) / 2 = 0.720095.
    With two classes and label smoothing ε, a sample's loss moves by ε/2 × (its target's
    logit − the other's): (0.1 × 2 + 0.1 × −1) / 2 = +0.05 → 0.770095. Validation
    stays plain."""
    from gennie.config import ArchitectureConfig
    from gennie.model.network import build_network

    x, y = torch.zeros(2, 4, 8), torch.zeros(2, dtype=torch.long)
    losses = {}
    for smoothing in (0.0, 0.2):
        config = TrainConfig(dataset="unused", shift=0, label_smoothing=smoothing)
        module = Classifier(_FixedLogits(), 2, config, 1)
        losses[smoothing] = module._train_loss((x,), y).item()
        logged: dict[str, torch.Tensor] = {}
        module.log = lambda name, value, _logged=logged, **kwargs: _logged.setdefault(name, value)
        module.validation_step(((x,), y), 0)
        assert logged["val_loss"].item() == pytest.approx(0.720095, abs=1e-6)
    assert losses[0.0] == pytest.approx(0.720095, abs=1e-6)
    assert losses[0.2] == pytest.approx(0.770095, abs=1e-6)

    # An ensemble sums its members' smoothed losses.
    architecture = ArchitectureConfig.model_validate(
        {"branches": {"seq": [{"type": "global_pool", "kind": "max"}]}, "common": []}
    )
    ensemble = build_network(architecture, {"seq": (4, 8)}, 2, members=2)
    ensemble.members = torch.nn.ModuleList([_FixedLogits(), _FixedLogits()])
    config = TrainConfig(dataset="unused", shift=0, label_smoothing=0.2)
    module = Classifier(ensemble, 2, config, 1)
    assert module._train_loss((x,), y).item() == pytest.approx(2 * 0.770095, abs=1e-6)


@pytest.mark.parametrize("option", ["label-smoothing", "mask"])
def test_a_share_of_one_is_refused(tmp_path, option) -> None:
    """``train --label-smoothing 1`` (all the target spread away) and ``--mask 1`` (every
    position masked) are refused (exit 2) with the field's name."""
    import subprocess
    import sys
    from pathlib import Path

    gennie = str(Path(sys.executable).parent / "gennie")
    done = subprocess.run(
        [gennie, "train", "--dataset", str(tmp_path), f"--{option}", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert option.replace("-", "_") in done.stderr and "less than 1" in done.stderr
    assert "Traceback" not in done.stderr


def test_epoch_line_counts_from_one_and_names_every_value() -> None:
    from gennie.training.callbacks import epoch_line

    row = {
        "train_loss": 0.41234,
        "train_accuracy": 0.8,
        "train_auroc": "",
        "val_loss": 0.5,
        "val_accuracy": 0.75,
        "val_auroc": 0.81234,
        "lr": 0.001,
        "seconds": 12.34,
    }
    assert epoch_line(row, 3, 20) == (
        "epoch 3/20: train loss 0.4123 accuracy 0.8000 | validation loss 0.5000 "
        "accuracy 0.7500 AUROC 0.8123 | lr 0.001 | 12.3 s"
    )
    assert epoch_line({**row, "lr": ""}, 1, None).startswith("epoch 1: train loss 0.4123")
