"""Batches from a dataset folder for training and inference.

Whole batches are read at once from the memory-mapped branch arrays (one fancy-index
read per branch instead of one Python call per sample), which keeps the model fed on
CPU without worker processes. A training split small enough is encoded once and held
in memory (:meth:`BatchedSamples.in_memory`), so that an epoch only indexes arrays.

For training, :func:`batch_loader` can hand out *groups* of consecutive batches: the
training loop takes one optimizer step per batch of a group, while Lightning's
per-step machinery (hooks, progress, logging: about half a millisecond, as much as a
small network's whole step on CPU) runs once per group. The batches, their order and
the optimizer steps are the same as without groups.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

InputsFn = Callable[[np.ndarray], list[np.ndarray]]


class BatchedSamples(torch.utils.data.Dataset):
    """Indexable by a list of positions; returns ``(inputs, labels)`` for that batch.

    Args:
        inputs: Function from sample indices to one float32 array per branch, each of
            shape=(m, channels, length) (e.g. :meth:`gennie.dataset.store.Dataset.inputs`).
        indices: shape=(n,), the samples this dataset covers.
        labels: shape=(n,), class index of each covered sample (or None for inference).
    """

    def __init__(self, inputs: InputsFn, indices: np.ndarray, labels: np.ndarray | None) -> None:
        self.inputs = inputs
        self.indices = np.asarray(indices, dtype=np.int64)
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.indices.size)

    def in_memory(self, budget_bytes: int) -> BatchedSamples:
        """These samples, encoded once and held in memory, if they fit the budget.

        Args:
            budget_bytes: Largest size of the encoded arrays to hold.

        Returns:
            A BatchedSamples that only indexes in-memory arrays, or ``self`` when the
            samples would take more than ``budget_bytes`` (or there are none).
        """
        if self.indices.size == 0:
            return self
        per_sample = sum(a.nbytes for a in self.inputs(self.indices[:1]))
        if per_sample * self.indices.size > budget_bytes:
            return self
        arrays = self.inputs(self.indices)

        def held(indices: np.ndarray) -> list[np.ndarray]:
            return [a[indices] for a in arrays]

        return BatchedSamples(held, np.arange(self.indices.size), self.labels)

    def __getitem__(
        self, positions: Sequence[int]
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        positions = np.asarray(positions, dtype=np.int64)
        arrays = self.inputs(self.indices[positions])
        xs = tuple(torch.from_numpy(a) for a in arrays)
        if self.labels is None:
            return xs, torch.from_numpy(positions)
        return xs, torch.from_numpy(self.labels[positions])


class BatchGroups(torch.utils.data.Dataset):
    """Indexable by the positions of up to ``group`` consecutive batches: reads them in
    one go and returns them as a list of ``(inputs, labels)`` batches.

    Args:
        samples: The samples to read.
        batch_size: Samples per batch (the last batch of a group may be smaller).
    """

    def __init__(self, samples: BatchedSamples, batch_size: int) -> None:
        self.samples = samples
        self.batch_size = batch_size

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(
        self, positions: Sequence[int]
    ) -> list[tuple[tuple[torch.Tensor, ...], torch.Tensor]]:
        xs, y = self.samples[positions]
        size = self.batch_size
        return [
            (tuple(x[start : start + size] for x in xs), y[start : start + size])
            for start in range(0, y.shape[0], size)
        ]


def batch_loader(
    samples: BatchedSamples, batch_size: int, *, shuffle: bool, seed: int = 0, group: int = 0
) -> DataLoader:
    """A DataLoader yielding whole batches; shuffled with its own seeded generator, so
    the order depends only on the seed and the epoch.

    Args:
        samples: The samples to batch.
        batch_size: Samples per batch.
        shuffle: A new random order every epoch (else the samples' order).
        seed: Seed of the shuffling.
        group: If above 0, yield lists of up to this many consecutive batches instead
            of single batches (the same batches in the same order).
    """
    if shuffle:
        generator = torch.Generator()
        generator.manual_seed(seed)
        base = RandomSampler(range(len(samples)), generator=generator)
    else:
        base = SequentialSampler(range(len(samples)))
    if group:
        sampler = BatchSampler(base, batch_size=batch_size * group, drop_last=False)
        return DataLoader(
            BatchGroups(samples, batch_size), sampler=sampler, batch_size=None, num_workers=0
        )
    sampler = BatchSampler(base, batch_size=batch_size, drop_last=False)
    return DataLoader(samples, sampler=sampler, batch_size=None, num_workers=0)
