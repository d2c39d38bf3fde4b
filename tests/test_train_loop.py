"""The training loop's plumbing: batch groups, the in-memory training split, shifts."""

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from gennie.config import TrainConfig
from gennie.train.augment import random_shift
from gennie.train.data import BatchedSamples, batch_loader
from gennie.train.module import Classifier


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


def test_grouped_lightning_loop_takes_the_bare_loops_steps() -> None:
    """Lightning with groups of batches ends with the weights of a hand-written loop of
    one Adam step per batch over the same batches."""
    samples = _samples()

    def network() -> torch.nn.Module:
        torch.manual_seed(1)
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 2))

    class FirstBranch(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = network()

        def forward(self, x: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
            return self.net(x)

    config = TrainConfig(dataset="unused", lr=0.05, epochs=2, ensemble=1, shift=0)
    module = Classifier(FirstBranch(), 2, config, steps_per_epoch=5)
    trainer = pl.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(
        module,
        batch_loader(samples, 16, shuffle=True, seed=3, group=2),
        batch_loader(samples, 64, shuffle=False),
    )

    bare = FirstBranch()
    optimizer = torch.optim.Adam(bare.parameters(), lr=0.05)
    loader = batch_loader(samples, 16, shuffle=True, seed=3)
    for _ in range(2):
        for xs, y in loader:
            loss = F.cross_entropy(bare(*xs), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    for trained, expected in zip(module.network.parameters(), bare.parameters(), strict=True):
        torch.testing.assert_close(trained, expected)
    assert set(trainer.callback_metrics) >= {"train_loss", "train_auroc", "val_auroc"}


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
