"""The REF and ALT windows of one variant allele.

A variant replaces the genome's REF bases at ``pos`` by the ALT bases. Its REF window
is a stretch of the genome of the model's window length W; its ALT window is the
same stretch of the ALT haplotype (the genome with REF replaced by ALT), also W long:

- **Centred** (no sites): the REF window is centred on the REF allele and the ALT
  window on the ALT allele, as a window is centred on a BED interval
  (:func:`~gennie.dataset.windows.place_windows`). An indel thus keeps the variant in
  the middle and W bases in all: a deletion takes more flank, an insertion less.
- **In a site's window**: the REF window is the site's window; the ALT window is moved
  by half the length change, so that it covers the same stretch around the site.

Windows are shifted inside the chromosome where they would cross its ends. ALT is
aligned to REF by their common prefix and suffix (the VCF padding base of an indel):
shared bases keep their genome position, substituted bases too, inserted bases have
none (-1). These positions, in genome order, go with the ALT window to the encoders
that read tracks (:attr:`gennie.encode.base.WindowBatch.positions`).

On the minus strand both windows are reverse-complemented (positions stay in genome
order, as the encoders expect them). The bases that changed are marked for the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gennie.encode.alphabet import reverse_complement


@dataclass(frozen=True)
class VariantWindows:
    """The REF and ALT windows of one allele on one strand.

    Attributes:
        genome_ref: The genome's bases where the VCF says REF (upper case).
        ref_start: Genome start of the REF window (0-based; it ends at + W).
        ref: The REF window, strand applied.
        alt: The ALT window, strand applied.
        alt_positions: shape=(W,), int64, the genome position of each ALT window base
            in genome order (-1: inserted).
        ref_changed: shape=(W,), bool, the REF window's bases that the variant
            replaces (the bases around the insertion point for an insertion), in
            window order (strand applied).
        alt_changed: shape=(W,), bool, the ALT window's new bases (the bases around
            the junction for a deletion), in window order.
    """

    genome_ref: str
    ref_start: int
    ref: str
    alt: str
    alt_positions: np.ndarray
    ref_changed: np.ndarray
    alt_changed: np.ndarray

    @property
    def alt_span(self) -> tuple[int, int]:
        """The genome stretch the ALT window's kept bases come from (start, end)."""
        kept = self.alt_positions[self.alt_positions >= 0]
        if not kept.size:
            return self.ref_start, self.ref_start + len(self.ref)
        return int(kept.min()), int(kept.max()) + 1


def trimmed(ref: str, alt: str) -> tuple[int, int]:
    """Lengths of the common prefix and of the common suffix of REF and ALT (the suffix
    taken from what the prefix leaves), e.g. ``("CA", "CTTA")`` → ``(1, 1)``."""
    shortest = min(len(ref), len(alt))
    prefix = 0
    while prefix < shortest and ref[prefix] == alt[prefix]:
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and ref[-1 - suffix] == alt[-1 - suffix]:
        suffix += 1
    return prefix, suffix


def changed_length(ref: str, alt: str) -> int:
    """Bases of the longer allele that are not shared with the other one (the size a
    window must accommodate)."""
    prefix, suffix = trimmed(ref, alt)
    return max(len(ref), len(alt)) - prefix - suffix


def allele_positions(pos: int, ref: str, alt: str) -> np.ndarray:
    """The genome position of each ALT base (-1: inserted).

    Args:
        pos: 0-based genome position of REF's first base.
        ref, alt: The alleles.

    Returns:
        shape=(len(alt),), int64: shared prefix and suffix bases keep their REF
        position, substituted bases the position they replace, extra ALT bases -1.
    """
    prefix, suffix = trimmed(ref, alt)
    r, a = len(ref), len(alt)
    middle_ref = r - prefix - suffix
    out = np.full(a, -1, dtype=np.int64)
    for i in range(a):
        if i < prefix:
            out[i] = pos + i
        elif i >= a - suffix:
            out[i] = pos + r - (a - i)
        elif i - prefix < middle_ref:
            out[i] = pos + i
    return out


def centred_start(pos: int, length: int, window: int) -> int:
    """Start of the window centred on ``length`` bases at ``pos``: the rule of
    :func:`~gennie.dataset.windows.place_windows` for BED intervals, for one interval in
    plain integers (it runs once per variant)."""
    return pos + (length - window) // 2


def _marks(length: int, first: int, last: int, fallback: tuple[int, int]) -> np.ndarray:
    """A boolean array of ``length`` set on [first, last), or on the ``fallback`` pair
    of positions where that is empty (clipped to the array)."""
    out = np.zeros(length, dtype=bool)
    if last > first:
        out[max(first, 0) : max(min(last, length), 0)] = True
    else:
        for p in fallback:
            if 0 <= p < length:
                out[p] = True
    return out


def variant_windows(
    fetch: Callable[[int, int], str],
    chrom_length: int,
    pos: int,
    ref: str,
    alt: str,
    window: int,
    flip: bool = False,
    ref_start: int | None = None,
) -> VariantWindows:
    """The REF and ALT windows of one allele (see the module docstring).

    Args:
        fetch: ``fetch(start, end)`` → the chromosome's bases (0-based, half-open,
            upper case).
        chrom_length: The chromosome's length (at least ``window``).
        pos: 0-based position of REF's first base.
        ref, alt: The alleles (upper case).
        window: The window length W.
        flip: Reverse-complement both windows (minus strand).
        ref_start: Start of the REF window (a site's window); None: centred on REF.

    Returns:
        The windows, the genome's bases at REF and the changed bases.
    """
    r, a = len(ref), len(alt)
    start = centred_start(pos, r, window) if ref_start is None else int(ref_start)
    start = min(max(start, 0), chrom_length - window)
    # The ALT window moves by the change in the centred start, so that it is centred on
    # ALT (no sites) or covers the same stretch as the site's window.
    alt_start = start + (a - window) // 2 - (r - window) // 2
    alt_start = min(max(alt_start, 0), chrom_length - r + a - window)
    low = max(0, min(start, alt_start, pos))  # a site's window may start inside REF
    high = min(chrom_length, max(start + window, alt_start + window - a + r, pos + r))
    region = fetch(low, high)
    genome_ref = region[pos - low : pos - low + r]
    left, right = region[: pos - low], region[pos + r - low :]
    haplotype = left + alt + right
    positions = np.concatenate(
        [
            np.arange(low, pos, dtype=np.int64),
            allele_positions(pos, ref, alt),
            np.arange(pos + r, high, dtype=np.int64),
        ]
    )
    prefix, suffix = trimmed(ref, alt)
    offset = alt_start - low
    ref_changed = _marks(
        window,
        pos + prefix - start,
        pos + r - suffix - start,
        (pos + prefix - 1 - start, pos + prefix - start),
    )
    alt_changed = _marks(
        window,
        pos - low + prefix - offset,
        pos - low + a - suffix - offset,
        (pos - low + prefix - 1 - offset, pos - low + prefix - offset),
    )
    ref_window = region[start - low : start - low + window]
    alt_window = haplotype[offset : offset + window]
    alt_positions = positions[offset : offset + window]
    if flip:
        ref_window, alt_window = reverse_complement(ref_window), reverse_complement(alt_window)
        ref_changed, alt_changed = ref_changed[::-1].copy(), alt_changed[::-1].copy()
    return VariantWindows(
        genome_ref=genome_ref,
        ref_start=start,
        ref=ref_window,
        alt=alt_window,
        alt_positions=alt_positions,
        ref_changed=ref_changed,
        alt_changed=alt_changed,
    )
