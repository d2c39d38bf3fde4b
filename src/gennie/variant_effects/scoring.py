"""Scoring REF and ALT windows with a model: every branch encoded from the windows as
the model's preprocessing encodes BED windows, then one batched forward pass.

The REF windows of a batch are encoded and scored once each (the alleles of a
multi-allelic record share theirs); the ALT windows carry their genome positions so
that track branches keep the values of the positions ALT keeps (see
:mod:`gennie.variant_effects.windows`). A fold branch folds the ALT windows and finds
the REF windows' structures in the fold cache when they were folded before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from gennie.attribution.attributions import log_odds
from gennie.encode import BranchEncoder, WindowBatch
from gennie.variant_effects.windows import VariantWindows


@dataclass(frozen=True)
class Task:
    """One allele on one strand (and in one site's window) to score.

    Attributes:
        row: 0-based row of the output table.
        chrom: The chromosome.
        strand: ``+`` or ``-``.
        windows: Its REF and ALT windows.
    """

    row: int
    chrom: str
    strand: str
    windows: VariantWindows


@dataclass
class Scores:
    """Probabilities and log-odds of REF and ALT of some tasks.

    Attributes:
        ref, alt: shape=(n, K), float64 class probabilities.
        ref_logodds, alt_logodds: shape=(n, K), float64 log-odds of each class.
    """

    ref: np.ndarray
    alt: np.ndarray
    ref_logodds: np.ndarray
    alt_logodds: np.ndarray


def window_batch(tasks: list[Task], allele: str) -> WindowBatch:
    """The REF (``allele="ref"``) or ALT windows of some tasks, as encoders take them."""
    window = len(tasks[0].windows.ref) if tasks else 0
    if allele == "ref":
        starts = np.array([t.windows.ref_start for t in tasks], dtype=np.int64)
        return WindowBatch(
            sequences=[t.windows.ref for t in tasks],
            chroms=[t.chrom for t in tasks],
            starts=starts,
            ends=starts + window,
            strands=[t.strand for t in tasks],
        )
    spans = np.array([t.windows.alt_span for t in tasks], dtype=np.int64).reshape(-1, 2)
    return WindowBatch(
        sequences=[t.windows.alt for t in tasks],
        chroms=[t.chrom for t in tasks],
        starts=spans[:, 0],
        ends=spans[:, 1],
        strands=[t.strand for t in tasks],
        positions=np.stack([t.windows.alt_positions for t in tasks])
        if tasks
        else np.zeros((0, 0), dtype=np.int64),
    )


def encode_inputs(encoders: dict[str, BranchEncoder], batch: WindowBatch) -> list[np.ndarray]:
    """The network inputs of some windows: one float32 array per branch, in input
    order, shape=(n, channels, length)."""
    return [encoder.to_input(encoder.encode(batch)) for encoder in encoders.values()]


@dataclass
class Scorer:
    """A model with its encoders, scoring windows.

    Attributes:
        forward: The network (eval mode), ``forward(*xs) -> (n, K)``.
        encoders: The model's branch encoders, in input order.
        device: Where to compute.
        outputs_are_probabilities: Whether ``forward`` returns probabilities.
        batch_size: Windows per forward pass.
    """

    forward: Callable[..., torch.Tensor]
    encoders: dict[str, BranchEncoder]
    device: torch.device
    outputs_are_probabilities: bool
    batch_size: int

    @torch.no_grad()
    def outputs(self, inputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities and log-odds of network inputs, each shape=(n, K)."""
        n = inputs[0].shape[0] if inputs else 0
        probs, odds = [], []
        for low in range(0, n, self.batch_size):
            xs = [
                torch.from_numpy(np.ascontiguousarray(a[low : low + self.batch_size])).to(
                    self.device
                )
                for a in inputs
            ]
            out = self.forward(*xs).float()
            p = out if self.outputs_are_probabilities else out.softmax(dim=1)
            probs.append(p.double().cpu().numpy())
            odds.append(log_odds(out, self.outputs_are_probabilities).double().cpu().numpy())
        if not probs:
            return np.zeros((0, 0)), np.zeros((0, 0))
        return np.concatenate(probs), np.concatenate(odds)

    def score(self, tasks: list[Task]) -> Scores:
        """REF and ALT probabilities and log-odds of tasks (REF windows shared by several
        tasks are scored once)."""
        unique: dict[tuple[str, int, str], int] = {}
        first: list[Task] = []
        which = np.empty(len(tasks), dtype=np.int64)
        for i, task in enumerate(tasks):
            key = (task.chrom, task.windows.ref_start, task.strand)
            if key not in unique:
                unique[key] = len(first)
                first.append(task)
            which[i] = unique[key]
        ref, ref_odds = self.outputs(encode_inputs(self.encoders, window_batch(first, "ref")))
        alt, alt_odds = self.outputs(encode_inputs(self.encoders, window_batch(tasks, "alt")))
        return Scores(ref[which], alt, ref_odds[which], alt_odds)
