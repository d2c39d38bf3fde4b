"""Training-time augmentation: random shifts of the training windows, and random
masking of their positions.

A binding site is rarely exactly in the middle of its window (peak callers and
crosslink positions are off by a few bases), so a network that learnt *where* in the
window a motif sits can over-fit to the training set's placements. Moving every
training window by a few bases, anew each epoch, teaches it that a motif a few bases
off is the same motif. Masking a random share of each window's positions (reading
them as unknown, anew each epoch) keeps a network from leaning on any single base.
"""

from __future__ import annotations

import torch


def random_shift(
    xs: tuple[torch.Tensor, ...], max_shift: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, ...]:
    """Move each sample's window by its own random offset in ``[-max_shift, max_shift]``.

    All branches of a sample move together, so sequence, structure and conservation
    stay aligned. A window moved by ``d`` reads ``out[..., i] = x[..., i - d]``; the
    positions it moves in from outside are all-zero, which every encoding reads as
    unknown (N, no structure, no signal).

    Args:
        xs: Branch tensors, each shape=(n, channels, length) with the same n and length.
        max_shift: Largest offset either way; 0 returns ``xs`` unchanged.
        generator: Random source for the offsets (default: PyTorch's global one).

    Returns:
        The moved tensors, shapes unchanged.
    """
    if max_shift == 0:
        return xs
    offsets = torch.randint(
        -max_shift, max_shift + 1, (xs[0].shape[0],), generator=generator, device=xs[0].device
    )
    return shift_windows(xs, offsets)


def shift_windows(xs: tuple[torch.Tensor, ...], offsets: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Move sample ``i``'s window by ``offsets[i]`` bases: ``out[..., j] = x[..., j - d]``,
    all-zero where that falls outside the window.

    Args:
        xs: Branch tensors, each shape=(n, channels, length) with the same n and length.
        offsets: shape=(n,), whole numbers (negative: to the left).

    Returns:
        The moved tensors, shapes unchanged.
    """
    length = xs[0].shape[2]
    source = torch.arange(length, device=xs[0].device).unsqueeze(0) - offsets.unsqueeze(1)
    inside = ((source >= 0) & (source < length)).unsqueeze(1)
    source = source.clamp(0, length - 1).unsqueeze(1)
    return tuple(x.gather(2, source.expand(-1, x.shape[1], -1)) * inside.to(x.dtype) for x in xs)


def random_mask(
    xs: tuple[torch.Tensor, ...], rate: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, ...]:
    """Set each position of each sample's window to all-zero (unknown) with probability
    ``rate``, the same positions in every branch.

    Args:
        xs: Branch tensors, each shape=(n, channels, length) with the same n and length.
        rate: Probability that a position is masked; 0 returns ``xs`` unchanged.
        generator: Random source (default: PyTorch's global one).

    Returns:
        The masked tensors, shapes unchanged.
    """
    if rate == 0:
        return xs
    n, _, length = xs[0].shape
    draws = torch.rand((n, 1, length), generator=generator, device=xs[0].device)
    kept = draws >= rate
    return tuple(x * kept.to(x.dtype) for x in xs)


def augment(xs: tuple[torch.Tensor, ...], shift: int, mask: float) -> tuple[torch.Tensor, ...]:
    """A training batch's random shifts (:func:`random_shift`), then its random masking
    (:func:`random_mask`)."""
    return random_mask(random_shift(xs, shift), mask)
