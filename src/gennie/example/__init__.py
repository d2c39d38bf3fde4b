"""Small example data shipped with gennie, for ``gennie quickstart`` and the tests.

Two examples live in :data:`EXAMPLE_DIR` (see its ``README.md``; regenerate with
``scripts/make_example_data.py``):

* :func:`rbp_example` — real sequences: a subset of the RBP24 PUM2 PAR-CLIP
  experiment as positive/negative FASTA files, split into train and test.
* :func:`bed_example` — a synthetic genome with a planted PUM2-like motif, BED
  files of bound and unbound intervals and a conservation track (bigWig) in which
  most planted sites are conserved.

The functions only return paths; nothing here reads the files. Opening the genome with
pysam writes ``.fai``/``.gzi`` indexes next to it, so callers that must not touch the
installed package copy ``genome.fa.gz`` somewhere writable first.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["EXAMPLE_DIR", "MOTIF", "bed_example", "rbp_example"]

#: Folder holding the example files.
EXAMPLE_DIR: Path = Path(__file__).resolve().parent / "data"

#: The motif planted at the centre of every bound interval of :func:`bed_example`
#: (DNA letters, 5'->3' on the interval's strand).
MOTIF = "TGTAAATA"


def rbp_example() -> dict[str, dict[str, Path]]:
    """Paths of the PUM2 PAR-CLIP example (RBP24 subset).

    Returns:
        ``{"train": {"positive": Path, "negative": Path}, "test": {...}}``; 1500
        sequences per training file and 250 per test file (test = RBP24's left-out set).
    """
    return {
        split: {
            "positive": EXAMPLE_DIR / f"pum2.{split}.positives.fa.gz",
            "negative": EXAMPLE_DIR / f"pum2.{split}.negatives.fa.gz",
        }
        for split in ("train", "test")
    }


def bed_example() -> dict[str, object]:
    """Paths of the synthetic genome example (BED path).

    Returns:
        ``{"genome": Path, "classes": {"bound": Path, "unbound": Path},
        "conservation": Path, "motif": str}``: a BGZF-compressed FASTA genome, two BED6
        files of 300 intervals each, a phyloP-like conservation bigWig, and the motif
        planted at the centre of every bound interval.
    """
    return {
        "genome": EXAMPLE_DIR / "genome.fa.gz",
        "classes": {
            "bound": EXAMPLE_DIR / "bound.bed",
            "unbound": EXAMPLE_DIR / "unbound.bed",
        },
        "conservation": EXAMPLE_DIR / "conservation.bw",
        "motif": MOTIF,
    }
