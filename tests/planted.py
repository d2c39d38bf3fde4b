"""Tiny FASTA datasets with a planted TGTAAATA site, shared by several test modules."""

from pathlib import Path

import numpy as np

from gennie.config import PreprocessConfig
from gennie.preprocessing.stage import preprocess


def planted_motif_dataset(folder: Path, per_class: int, seed: int) -> Path:
    """Preprocess ``per_class`` random 40-mers per class, the positives carrying TGTAAATA
    in the middle (window 40, split 6:2:2).

    Args:
        folder: Empty folder for the FASTA files and the dataset run.
        per_class: Sequences per class.
        seed: Seed of the random bases.

    Returns:
        The dataset run folder.
    """
    rng = np.random.default_rng(seed)

    def random_seq(n: int) -> str:
        return "".join(rng.choice(list("ACGT"), size=n))

    pos = "".join(f">p{i}\n{random_seq(16)}TGTAAATA{random_seq(16)}\n" for i in range(per_class))
    neg = "".join(f">n{i}\n{random_seq(40)}\n" for i in range(per_class))
    (folder / "pos.fa").write_text(pos)
    (folder / "neg.fa").write_text(neg)
    config = PreprocessConfig(
        classes={"pos": folder / "pos.fa", "neg": folder / "neg.fa"},
        window=40,
        ratio="6:2:2",
        out=folder / "out",
    )
    return preprocess(config).run_dir
