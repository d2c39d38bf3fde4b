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

Several processes (data-parallel training, one process per device) each read their own
shard of the batches (:class:`ShardedBatches`): every process takes the same number of
optimizer steps, and the shuffled order depends only on the seed and the epoch, so the
processes agree on it without talking to each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

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


class IndexedSamples(BatchedSamples):
    """As :class:`BatchedSamples`, with the batch's positions as a third item
    ``(inputs, labels, positions)``, so that results gathered from several processes
    can be put back in order and padding duplicates dropped."""

    def __getitem__(self, positions: Sequence[int]) -> tuple:  # type: ignore[override]
        xs, y = super().__getitem__(positions)
        return xs, y, torch.as_tensor(np.asarray(positions, dtype=np.int64))


class BatchGroups(torch.utils.data.Dataset):
    """Indexable by a group of batches (a list of position lists): reads them in one go
    and returns them as a list of ``(inputs, labels)`` batches.

    Args:
        samples: The samples to read.
    """

    def __init__(self, samples: BatchedSamples) -> None:
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(
        self, batches: Sequence[Sequence[int]]
    ) -> list[tuple[tuple[torch.Tensor, ...], torch.Tensor]]:
        xs, y = self.samples[[p for batch in batches for p in batch]]
        ends = np.cumsum([len(batch) for batch in batches])
        starts = ends - [len(batch) for batch in batches]
        return [
            (tuple(x[lo:hi] for x in xs), y[lo:hi])
            for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True)
        ]


class ShardedBatches(Sampler):
    """Batches of the positions ``0..n-1`` for one of ``world`` processes, in an order
    that depends only on the seed and the epoch (as PyTorch's ``DistributedSampler``).

    Training (``pad=False``): the epoch's order is dealt round-robin, so each position
    goes to exactly one process; every process gets the same number of batches (a
    process with one sample more puts it into its last batch). Only when there are
    fewer samples than processes does a process read a sample that another one reads
    too. Validation (``pad=True``): the order is padded with its first positions to a
    multiple of ``world`` (as ``DistributedSampler``), so every process gets the same
    number of samples; the duplicates are dropped when the results are gathered.

    With ``group`` above 1, each item is a list of up to ``group`` batches (lists of
    positions), else one batch. Lightning calls :meth:`set_epoch` before every epoch.

    Args:
        n: Number of samples.
        batch_size: Samples per batch, per process.
        shuffle: A new random order every epoch (else ``0..n-1``).
        seed: Seed of the shuffling; the order of an epoch is seeded with seed + epoch.
        group: Batches per item; 0 yields single batches.
        rank: This process's rank, ``0..world-1``.
        world: Number of processes.
        pad: Pad for equal shards (validation) instead of dealing each sample once.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        group: int = 0,
        rank: int = 0,
        world: int = 1,
        pad: bool = False,
    ) -> None:
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} is not in 0..{world - 1}")
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.group, self.rank, self.world, self.pad = group, rank, world, pad
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the order of this epoch (counted from 0)."""
        self.epoch = epoch

    def order(self) -> np.ndarray:
        """The epoch's order of all positions (the same in every process)."""
        if not self.shuffle:
            return np.arange(self.n)
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        return torch.randperm(self.n, generator=generator).numpy()

    def shard(self) -> np.ndarray:
        """This process's positions for the epoch, in order."""
        order = self.order()
        if self.n == 0:
            return order
        if self.pad or self.n < self.world:
            total = -(-self.n // self.world) * self.world
            order = np.resize(order, total)  # repeats the first positions
        return order[self.rank :: self.world]

    def batches(self) -> list[np.ndarray]:
        """This process's batches for the epoch."""
        shard = self.shard()
        # Every process has n // world or one more samples: the batch count of the
        # smaller shard holds for all, so that all take the same number of steps.
        smallest = len(shard) if self.pad else max(1, self.n // self.world)
        count = -(-smallest // self.batch_size) if shard.size else 0
        cuts = [self.batch_size * i for i in range(1, count)]
        return np.split(shard, cuts) if count else []

    def __iter__(self) -> Iterator[list]:
        batches = [b.tolist() for b in self.batches()]
        if not self.group:
            yield from batches
            return
        for lo in range(0, len(batches), self.group):
            yield batches[lo : lo + self.group]

    def __len__(self) -> int:
        count = len(self.batches())
        return -(-count // self.group) if self.group else count


def batch_loader(
    samples: BatchedSamples,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    group: int = 0,
    rank: int = 0,
    world: int = 1,
    workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """A DataLoader yielding whole batches of this process's shard (see
    :class:`ShardedBatches`); shuffled with its own seeded generator, so the order
    depends only on the seed and the epoch.

    Args:
        samples: The samples to batch.
        batch_size: Samples per batch (per process).
        shuffle: A new random order every epoch (else the samples' order).
        seed: Seed of the shuffling.
        group: If above 0, yield lists of up to this many consecutive batches instead
            of single batches (the same batches in the same order).
        rank: This process's rank among ``world`` processes.
        world: Processes that share the samples (1: all samples here).
        workers: Worker processes reading batches (0: read in this process).
        pin_memory: Put batches in page-locked memory (faster copies to a GPU).
    """
    sampler = ShardedBatches(
        len(samples),
        batch_size,
        shuffle=shuffle,
        seed=seed,
        group=group,
        rank=rank,
        world=world,
        pad=not shuffle and world > 1,
    )
    dataset = BatchGroups(samples) if group else samples
    return DataLoader(
        dataset,
        sampler=sampler,
        batch_size=None,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=workers > 0,
    )
