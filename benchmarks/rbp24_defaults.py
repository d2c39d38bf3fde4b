"""Choosing gennie's defaults on RBP24 without touching the left-out files.

Trains named configuration variants on RBP24 training files and reports each one's
AUROC on the *test split of the training files* (8:1:1 split, seed fixed), which is
what the defaults were chosen on. The ``ls`` (left-out) files are never read here;
``benchmarks/rbp24.py`` evaluates the chosen defaults on them.

Each variant is a set of overrides of gennie's default train configuration (and the
window). ``default`` is that configuration with the ENNGene paper's 150-nt window,
the baseline the other variants are compared with; ``window375`` (whole sequences)
became ``benchmarks/rbp24.py``'s window. Results of the runs behind the README's
table: ``benchmarks/results/rbp24-defaults/``. Results are appended to
``OUT/variants.csv`` (one row per experiment × variant × seed) and summarised per
variant (mean test AUROC over the experiments run; with several seeds also the AUROC
of their mean probability, an ensemble) in ``OUT/variants.md``; a row already in the
CSV is not run again. Each run keeps its test-split probabilities
(``test_probabilities.npy``) for those ensembles.

The variants change the *current* default, so each screen in ``benchmarks/results/``
compared against the default of its day: since batch normalization became part of
the ``gennie`` preset, ``w375-bn`` (which added it) is the same as ``w375-dense64``
(the default at window 375), and every other variant has it too.

Usage (paths relative to the repository root)::

    .venv/bin/python benchmarks/rbp24_defaults.py --data ../shared/data/rbp24 \\
        --experiments CAPRIN1_Baltz2012,PARCLIP_IGF2BP123 --variants default,wide
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import time
from pathlib import Path
from typing import Any

from rbp24 import EXPERIMENTS, train_files

from gennie.config.presets import preset_architecture

# The default preset's layers, and the variants built from them.
_PRESET = preset_architecture("gennie", ["seq"]).model_dump(mode="json")
_GENNIE = _PRESET["branches"]["seq"]
_DENSE = _PRESET["common"]
_THIRD = _GENNIE[2:4]  # one more convolution 64×5 with max pool 3


def _changed(which: int | str, **changes: Any) -> list[dict]:
    """The preset's ``seq`` layers with ``changes`` made to layer number ``which``, or
    to every layer of type ``which`` (``"conv"``, ``"pool"``)."""
    return [
        layer | changes if which in (i, layer["type"]) else layer for i, layer in enumerate(_GENNIE)
    ]


def _layers(seq: list[dict] = _GENNIE, common: list[dict] = _DENSE) -> dict[str, Any]:
    """An architecture override: ``seq`` branch layers and common layers (default: the
    preset's)."""
    return {"architecture": {"branches": {"seq": seq}, "common": common}}


VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "window375": {"window": 375},
    "wide": _layers(_changed(0, filters=128)),
    "auroc-monitor": {"monitor": "val_auroc", "min_delta": 0.0},
    "patience5-loss": {"min_delta": 0.0, "patience": 5},
    "decay": {"lr_schedule": "decay", "lr_decay": 0.9},
    "wd": {"optimizer": "adamw", "weight_decay": 0.01},
    "one-cycle": {"lr_schedule": "one-cycle", "epochs": 20, "early_stopping": False},
    "batch128": {"batch_size": 128},
    "w375-gru": {
        "window": 375,
        **_layers(common=[{"type": "gru", "units": 32, "dropout": 0.2}, *_DENSE]),
    },
    "w375-3conv": {"window": 375, **_layers(_GENNIE + _THIRD)},
    "w375-bn": {"window": 375, **_layers(_changed("conv", batch_norm=True))},
    "w375-shift5": {"window": 375, "shift": 5, "ensemble": 1},
    "w375-shift10": {"window": 375, "shift": 10, "ensemble": 1},
    "w375-shift20": {"window": 375, "shift": 20, "ensemble": 1},
    "w375-shift10-ema99": {"window": 375, "shift": 10, "ensemble": 1, "ema_decay": 0.99},
    **{
        f"w375-shift10-{activation}": {
            "window": 375,
            "shift": 10,
            "ensemble": 1,
            **_layers(common=[_DENSE[0] | {"activation": activation}]),
        }
        for activation in ("elu", "gelu")
    },
    "w375-plateau": {"window": 375, "lr_schedule": "plateau"},
    "w375-plateau-f01p2": {
        "window": 375,
        "lr_schedule": "plateau",
        "lr_factor": 0.1,
        "lr_patience": 2,
    },
    "w375-min-delta-0.001": {"window": 375, "min_delta": 0.001},
    "w375-dense64": {"window": 375, **_layers(common=[_DENSE[0] | {"units": 64}])},
    "w375-dense128": {"window": 375, **_layers(common=[_DENSE[0] | {"units": 128}])},
    "w375-adamw": {"window": 375, "optimizer": "adamw", "weight_decay": 0.05},
    "w375-ens4": {"window": 375, "ensemble": 4},
    "w375-smooth": {"window": 375, "label_smoothing": 0.1},
    "w375-mask05": {"window": 375, "mask": 0.05},
    "w375-mask15": {"window": 375, "mask": 0.15},
    "w375-ens-shift5": {"window": 375, "shift": 5},
    "w375-ens-shift20": {"window": 375, "shift": 20},
    "w375-dense-drop03": {"window": 375, **_layers(common=[_DENSE[0] | {"dropout": 0.3}])},
    "w375-k16": {"window": 375, **_layers(_changed(0, kernel_size=16))},
    "w375-dense2": {"window": 375, **_layers(common=[_DENSE[0], _DENSE[0]])},
    "w375-lr5e4": {"window": 375, "lr": 5e-4},
    **{
        f"w375-one-cycle30{suffix}": {
            "window": 375,
            "lr_schedule": "one-cycle",
            "epochs": 30,
            "early_stopping": False,
            "lr": lr,
        }
        for suffix, lr in (("", 1e-3), ("-lr3e3", 3e-3))
    },
    "w375-dil2": {"window": 375, **_layers(_changed(2, dilation=2))},
    "w375-maxavg2": {"window": 375, **_layers(_changed(3, kind="max_avg"))},
    "w375-pool-drop03": {"window": 375, **_layers(_changed("pool", dropout=0.3))},
    "w375-b32": {"window": 375, "batch_size": 32},
    "w375-centre150": {"window": 375, "centre_networks": 1, "centre_window": 150},
    "w375-bf16": {"window": 375, "precision": "bf16"},
    "deepbind375": {"window": 375, "preset": "deepbind"},
    "deepbind150": {"preset": "deepbind"},
}
"""Named variants: keys of the train configuration (plus ``window``) to override."""

COLUMNS = ["experiment", "variant", "seed", "test_auroc", "val_auroc", "best_epoch", "seconds"]


def screening_dataset(data: Path, name: str, window: int, runs: Path) -> Path:
    """The experiment's training files preprocessed at ``window`` (8:1:1 split), in
    ``runs/NAME-wWINDOW``; made once, then reused."""
    from gennie.config import PreprocessConfig
    from gennie.preprocessing.stage import preprocess

    dataset_dir = runs / f"{name}-w{window}"
    if not (dataset_dir / "metadata.json").exists():
        preprocess(
            PreprocessConfig(
                classes=train_files(data, name),
                window=window,
                ratio="8:1:1",
                alphabet="rna",
                out=runs,
                name=dataset_dir.name,
            )
        )
    return dataset_dir


def run(data: Path, name: str, variant: str, seed: int, out: Path) -> dict[str, Any]:
    """Preprocess (once per window) and train one variant; its test-split AUROC."""
    from gennie.config import TrainConfig
    from gennie.training.stage import train

    overrides = dict(VARIANTS[variant])
    window = overrides.pop("window", 150)
    runs = out / "runs"
    started = time.time()
    dataset_dir = screening_dataset(data, name, window, runs)
    model = train(
        TrainConfig(
            dataset=dataset_dir,
            threads=1,
            seed=seed,
            out=runs,
            name=f"{name}-{variant}-s{seed}",
            **overrides,
        )
    )
    summary = model.summary
    _save_test_probabilities(model.run_dir, dataset_dir, runs)
    epochs = list(csv.DictReader((model.run_dir / "metrics.tsv").open(), delimiter="\t"))
    best = next(row for row in epochs if int(row["epoch"]) == summary["best_epoch"])
    return {
        "experiment": name,
        "variant": variant,
        "seed": seed,
        "test_auroc": f"{summary['metrics']['per_class']['positive']['auroc']:.4f}",
        "val_auroc": f"{float(best['val_auroc']):.4f}",
        "best_epoch": summary["best_epoch"],
        "seconds": f"{time.time() - started:.1f}",
    }


def _save_test_probabilities(run_dir: Path, dataset_dir: Path, runs: Path) -> None:
    """Evaluate a trained run on its dataset's test split and keep the positive-class
    probabilities (``test_probabilities.npy``, in test-split order) for ensembles."""
    import numpy as np
    import pandas as pd

    from gennie.config import EvaluateConfig
    from gennie.evaluation.stage import evaluate

    result = evaluate(
        EvaluateConfig(
            model=run_dir,
            blackbox=dataset_dir,
            blackbox_split="test",
            out=runs,
            name=f"{run_dir.name}-test",
        )
    )
    table = pd.read_csv(result.run_dir / "predictions.tsv", sep="\t")
    np.save(run_dir / "test_probabilities.npy", table["p_positive"].to_numpy())
    np.save(dataset_dir / "test_labels.npy", (table["class"] == "positive").to_numpy())


def add_rows(
    table: Path, columns: list[str], rows: list[dict[str, str]], new: list[dict[str, str]]
) -> list[dict[str, str]]:
    """Print the new result rows and rewrite ``table`` (CSV) with all rows; all rows."""
    for row in new:
        print(", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    rows = [*rows, *new]
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def ensemble_auroc(out: Path, name: str, variant: str, seeds: list[str]) -> float | None:
    """AUROC on the test split of the mean probability of the variant's seeds' models."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    runs = out / "runs"
    files = [runs / f"{name}-{variant}-s{seed}" / "test_probabilities.npy" for seed in seeds]
    window = VARIANTS[variant].get("window", 150)
    labels = runs / f"{name}-w{window}" / "test_labels.npy"
    if len(files) < 2 or not labels.exists() or not all(f.exists() for f in files):
        return None
    mean = np.mean([np.load(f) for f in files], axis=0)
    return float(roc_auc_score(np.load(labels), mean))


def summarise(rows: list[dict[str, str]], out: Path) -> str:
    """Mean test AUROC per variant over the experiments it ran on (Markdown)."""
    variants = sorted({r["variant"] for r in rows}, key=list(VARIANTS).index)
    experiments = [e for e in EXPERIMENTS if any(r["experiment"] == e for r in rows)]
    lines = [
        "| variant | " + " | ".join(experiments) + " | mean |",
        "|---" * (len(experiments) + 2) + "|",
    ]
    for variant in variants:
        cells, values = [], []
        for experiment in experiments:
            scores = [
                float(r["test_auroc"])
                for r in rows
                if r["variant"] == variant and r["experiment"] == experiment
            ]
            if scores:
                values.append(sum(scores) / len(scores))
                cells.append(
                    f"{values[-1]:.3f}" + (f" (n={len(scores)})" if len(scores) > 1 else "")
                )
                seeds = [
                    r["seed"]
                    for r in rows
                    if r["variant"] == variant and r["experiment"] == experiment
                ]
                joint = ensemble_auroc(out, experiment, variant, seeds)
                if joint is not None:
                    cells[-1] += f", ensemble {joint:.3f}"
            else:
                cells.append("")
        mean = f"{sum(values) / len(values):.3f}" if len(values) == len(experiments) else ""
        lines.append(f"| {variant} | " + " | ".join(cells) + f" | {mean} |")
    text = "\n".join(lines) + "\n"
    (out / "variants.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with the RBP24 files")
    parser.add_argument("--experiments", required=True, help="comma-separated experiments")
    parser.add_argument("--variants", default="default", help=f"of: {', '.join(VARIANTS)}")
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds")
    parser.add_argument("--out", type=Path, default=Path("gennie-runs/rbp24-defaults"))
    args = parser.parse_args(argv)
    names = args.experiments.split(",")
    variants = args.variants.split(",")
    for value, known in ((names, EXPERIMENTS), (variants, VARIANTS)):
        unknown = [v for v in value if v not in known]
        if unknown:
            parser.error(f"unknown {', '.join(unknown)}; known: {', '.join(known)}")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / "variants.csv"
    rows = list(csv.DictReader(table.open())) if table.exists() else []
    for seed in (int(s) for s in args.seeds.split(",")):
        for name in names:
            for variant in variants:
                key = (name, variant, str(seed))
                if any((r["experiment"], r["variant"], r["seed"]) == key for r in rows):
                    continue
                row = {k: str(v) for k, v in run(args.data, name, variant, seed, args.out).items()}
                rows = add_rows(table, COLUMNS, rows, [row])
    print(summarise(rows, args.out))


if __name__ == "__main__":
    main()
