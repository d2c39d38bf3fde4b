"""Batches from a dataset folder for training and inference.

Whole batches are read at once from the memory-mapped branch arrays (one fancy-index
read per branch instead of one Python call per sample), which keeps the model fed on
CPU without worker processes.
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

    def __getitem__(
        self, positions: Sequence[int]
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        positions = np.asarray(positions, dtype=np.int64)
        arrays = self.inputs(self.indices[positions])
        xs = tuple(torch.from_numpy(a) for a in arrays)
        if self.labels is None:
            return xs, torch.from_numpy(positions)
        return xs, torch.from_numpy(self.labels[positions])


def batch_loader(
    samples: BatchedSamples, batch_size: int, *, shuffle: bool, seed: int = 0
) -> DataLoader:
    """A DataLoader yielding whole batches; shuffled with its own seeded generator, so
    the order depends only on the seed and the epoch."""
    if shuffle:
        generator = torch.Generator()
        generator.manual_seed(seed)
        base = RandomSampler(range(len(samples)), generator=generator)
    else:
        base = SequentialSampler(range(len(samples)))
    sampler = BatchSampler(base, batch_size=batch_size, drop_last=False)
    return DataLoader(samples, sampler=sampler, batch_size=None, num_workers=0)
