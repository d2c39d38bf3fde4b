"""Networks of two window sizes in one ensemble: is a second scale worth a default?

Takes two screening runs of ``benchmarks/rbp24_defaults.py`` on the same experiments
and seed, one at window 375 (``--wide``, e.g. variant ``w375-dense64``) and one at
window 150 (``--narrow``, variant ``default``), both ensembles of three networks. The
test splits of the two datasets hold the same sequences (the split depends on the
seed, not the window; checked here). Each network's probabilities on that split are
computed from the saved models, and the AUROC of the mean probability of several
mixes is printed:

- ``WxN``: all networks of one window;
- ``a+b``: ``a`` networks at 375 and ``b`` at 150, averaged over every choice of them.

This was the evidence for trying ``centre_networks`` (networks of an ensemble that
read the central 150 positions of a 375-nt window) before screening it trained
together with the others. The ``ls`` files are never read.

Usage (paths relative to the repository root)::

    .venv/bin/python benchmarks/rbp24_window_mix.py --wide DIR375 --wide-variant w375-dense64 \\
        --narrow DIR150 --narrow-variant default \\
        --experiments CAPRIN1_Baltz2012,PARCLIP_IGF2BP123,C17ORF85_Baltz2012,ALKBH5_Baltz2012
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from gennie.dataset.store import Dataset
from gennie.model.bundle import load_bundle

MIXES = ((3, 0), (0, 3), (2, 0), (1, 0), (0, 1), (2, 1), (2, 2), (3, 1), (3, 2), (3, 3))
"""(networks at the wide window, networks at the narrow one)."""


def member_probabilities(run: Path, dataset_dir: Path) -> tuple[np.ndarray, np.ndarray, list]:
    """Each ensemble member's positive-class probability on the dataset's test split.

    Returns:
        ``(members, n)`` probabilities, ``(n,)`` labels (positive: True) and the
        samples' names (to check that two datasets hold the same test samples).
    """
    network, _ = load_bundle(run)
    dataset = Dataset(dataset_dir)
    test = dataset.indices("test")
    xs = [torch.from_numpy(x) for x in dataset.inputs(test, dataset.branches)]
    with torch.no_grad():
        logits = network.member_logits(*xs)
    positive = dataset.classes.index("positive")
    probs = logits.softmax(-1)[..., positive].numpy()
    names = dataset.samples().iloc[test]["name"].tolist()
    return probs, dataset.labels[test] == positive, names


def mix_auroc(wide: np.ndarray, narrow: np.ndarray, labels: np.ndarray, a: int, b: int) -> float:
    """Mean over every choice of ``a`` wide and ``b`` narrow networks of the AUROC of
    their mean probability."""
    scores = [
        roc_auc_score(labels, np.concatenate([wide[list(i)], narrow[list(j)]]).mean(axis=0))
        for i in itertools.combinations(range(len(wide)), a)
        for j in itertools.combinations(range(len(narrow)), b)
    ]
    return float(np.mean(scores))


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wide", type=Path, required=True, help="rbp24_defaults.py --out, w375")
    parser.add_argument("--wide-variant", default="w375-dense64")
    parser.add_argument("--narrow", type=Path, required=True, help="the same at window 150")
    parser.add_argument("--narrow-variant", default="default")
    parser.add_argument("--experiments", required=True, help="comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    table = {}
    for name in args.experiments.split(","):
        wide, labels, names = member_probabilities(
            args.wide / "runs" / f"{name}-{args.wide_variant}-s{args.seed}",
            args.wide / "runs" / f"{name}-w375",
        )
        narrow, labels150, names150 = member_probabilities(
            args.narrow / "runs" / f"{name}-{args.narrow_variant}-s{args.seed}",
            args.narrow / "runs" / f"{name}-w150",
        )
        if names != names150 or not np.array_equal(labels, labels150):
            raise SystemExit(f"{name}: the two test splits differ")
        table[name] = [mix_auroc(wide, narrow, labels, a, b) for a, b in MIXES]
    header = [
        "experiment",
        *(f"{a}x375" if not b else f"{b}x150" if not a else f"{a}+{b}" for a, b in MIXES),
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, row in [*table.items(), ("mean", list(np.mean(list(table.values()), axis=0)))]:
        print(f"| {name} | " + " | ".join(f"{v:.4f}" for v in row) + " |")


if __name__ == "__main__":
    main()
