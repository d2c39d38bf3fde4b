"""Sites (e.g. the CLIP peaks a model was trained on) and the windows the model sees on
them, to score a variant in the window of the site it falls in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gennie.dataset.windows import fit_to_chromosomes, place_windows
from gennie.io.bed import read_bed
from gennie.io.fasta import Genome


@dataclass(frozen=True)
class Site:
    """One site's window.

    Attributes:
        label: The site's name, or ``chrom:start-end`` when it has none.
        start: Its window's start (0-based; the window ends at start + W).
        strand: ``+`` or ``-`` (``.`` in the BED file reads as ``+``).
    """

    label: str
    start: int
    strand: str


class SiteWindows:
    """The windows of a BED file's sites, as preprocess centres them on the sites (sites
    on chromosomes shorter than the window have none), looked up by overlap.

    Args:
        path: The BED file.
        genome: The genome (chromosome lengths; a chromosome it lacks is an error).
        window: The model's window length.
        field: Configuration field that named the file.
    """

    def __init__(self, path: Path, genome: Genome, window: int, field: str = "sites") -> None:
        bed = read_bed(path, field=field)
        self.window = window
        self._starts: dict[str, np.ndarray] = {}
        self._sites: dict[str, list[Site]] = {}
        for chrom, rows in bed.groupby("chrom", sort=False):
            length = genome.check_chromosome(
                str(chrom), file=path, line=int(rows["line"].iloc[0]), field=field
            )
            starts = place_windows(
                rows["start"].to_numpy(), rows["end"].to_numpy(), window, "center"
            )
            fitted = fit_to_chromosomes(
                starts,
                np.full(len(rows), length),
                window,
                rows["start"].to_numpy(),
                rows["end"].to_numpy(),
            )
            kept = rows[fitted.keep]
            order = np.argsort(fitted.starts[fitted.keep], kind="stable")
            starts = fitted.starts[fitted.keep][order]
            sites = [
                Site(
                    label=name if name not in ("", ".") else f"{chrom}:{start}-{end}",
                    start=int(window_start),
                    strand="-" if strand == "-" else "+",
                )
                for name, start, end, strand, window_start in zip(
                    kept["name"].to_numpy()[order],
                    kept["start"].to_numpy()[order],
                    kept["end"].to_numpy()[order],
                    kept["strand"].to_numpy()[order],
                    starts,
                    strict=True,
                )
            ]
            self._starts[str(chrom)] = starts
            self._sites[str(chrom)] = sites
        self.count = sum(len(s) for s in self._sites.values())

    def overlapping(self, chrom: str, pos: int, length: int) -> list[Site]:
        """The sites whose window overlaps ``length`` bases at ``pos`` (0-based), by
        window start."""
        starts = self._starts.get(chrom)
        if starts is None:
            return []
        low = int(np.searchsorted(starts, pos - self.window, side="right"))
        high = int(np.searchsorted(starts, pos + max(length, 1), side="left"))
        return self._sites[chrom][low:high]
