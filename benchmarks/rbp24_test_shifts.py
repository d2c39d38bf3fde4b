"""Would averaging over shifted copies of each window help at prediction time?

Takes the models that ``benchmarks/rbp24.py`` trained and scores the *test split of
the training files* (the ``ls`` files are not read) with each window as it is, and
with the mean probability over copies moved by a few bases either way (test-time
augmentation, the counterpart of the training ``shift``). The bases moved in are
all-zero (N), as in training.

Usage (paths relative to the repository root)::

    .venv/bin/python benchmarks/rbp24_test_shifts.py gennie-runs/rbp24-seq
"""

from __future__ import annotations

import argparse
from pathlib import Path

SHIFTS = {"none": [0], "±5": [-5, 0, 5], "±10": [-10, 0, 10], "±5, ±10": [-10, -5, 0, 5, 10]}
"""Named sets of offsets whose probabilities are averaged."""


def test_split_aurocs(experiment: Path) -> dict[str, float]:
    """AUROC on an experiment's test split for each set of :data:`SHIFTS`."""
    import numpy as np
    import torch
    from sklearn.metrics import roc_auc_score

    from gennie.dataset.store import Dataset
    from gennie.model.bundle import load_bundle
    from gennie.training.augment import shift_windows

    network, spec = load_bundle(experiment / f"{experiment.name}-train")
    dataset = Dataset(experiment / f"{experiment.name}-preprocess")
    indices = dataset.indices("test")
    xs = [torch.from_numpy(a) for a in dataset.inputs(indices, spec.branches)]
    labels = dataset.labels[indices] == dataset.classes.index("positive")
    positive = spec.classes.index("positive")
    offsets = sorted({d for ds in SHIFTS.values() for d in ds})
    with torch.no_grad():
        probs = {
            d: network(*shift_windows(xs, torch.full((len(indices),), d)))
            .softmax(dim=1)[:, positive]
            .numpy()
            for d in offsets
        }
    return {
        name: float(roc_auc_score(labels, np.mean([probs[d] for d in ds], axis=0)))
        for name, ds in SHIFTS.items()
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output folder of benchmarks/rbp24.py")
    args = parser.parse_args(argv)
    experiments = sorted(p for p in (args.out / "runs").iterdir() if p.is_dir())
    rows = {e.name: test_split_aurocs(e) for e in experiments}
    print("| experiment | " + " | ".join(SHIFTS) + " |")
    print("|---" * (len(SHIFTS) + 1) + "|")
    for name, scores in rows.items():
        print(f"| {name} | " + " | ".join(f"{scores[s]:.4f}" for s in SHIFTS) + " |")
    means = [sum(r[s] for r in rows.values()) / len(rows) for s in SHIFTS]
    print("| **mean** | " + " | ".join(f"**{m:.4f}**" for m in means) + " |")


if __name__ == "__main__":
    main()
