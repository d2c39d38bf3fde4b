"""RBP24 benchmark: gennie's default configuration on ten real CLIP experiments.

For each experiment of the data folder (``NAME.train.positives.fa.gz`` and friends,
see the data folder's README):

1. preprocess the ``train`` files (FASTA) into a dataset with train/validation/test
   splits only (ratio :data:`RATIO`, no blackbox split): a window of :data:`WINDOW` bases
   centred on each sequence. The sequences are the binding site plus ~150 nt of real
   flank on each side (68-375 nt, ~320 on average), so 375 is the whole sequence;
   shorter sequences are padded with N (all-zero one-hot), as gennie does for any
   FASTA input. The whole sequence beat the ENNGene paper's 150-nt window on the test
   splits of the training files of eight of ten experiments (``rbp24_defaults.py``,
   mean +0.007 AUROC), at 2.5 times the compute;
2. train with gennie's default :class:`~gennie.config.TrainConfig` (default preset,
   optimizer, schedule and early stopping on the validation split of the train files);
3. evaluate the model on the ``ls`` (left-out) files as a blackbox: they are read only
   here, never for training, early stopping or selection.

The results table (Markdown and CSV) sets gennie's AUROC next to the published
numbers of DeepBind, iDeepE, DeepRKE and ENNGene on the same left-out sets, with the
means, and a bar plot (PNG and SVG) shows them side by side.

Every experiment in the data folder runs (``--experiments`` picks some): the ten
bundled ones, or any other of the 24 RBP24 experiments (GraphProt's files, gzipped or
not, named ``NAME.train.positives.fa`` and so on). Each is matched to its published row
(:data:`TABLE_1`, all 24) by its numbers of training positives and negatives; an
experiment that matches none gets "—" in the published columns. Results are written
after every experiment, and an experiment whose result is already in the output
folder is not run again (delete ``results.csv`` to start over). ``--seed`` reruns the
whole table with another seed for the splits and the training (default: the
configuration's), to see how far it moves by chance.

Usage (paths relative to the repository root)::

    .venv/bin/python benchmarks/rbp24.py --data ../shared/data/rbp24
    .venv/bin/python benchmarks/rbp24.py --data ../shared/data/rbp24 --quick
    .venv/bin/python benchmarks/rbp24.py --data ../shared/data/rbp24 --branches seq,fold \\
        --window 150

Folding (``--branches seq,fold``) runs at about 7 windows/s per core for 375-nt
windows and about 50 for 150-nt ones, so the sequence + structure table uses
``--window 150`` (its output folder and column name carry the window).

``--quick`` is a smoke test of a few minutes: the two smallest experiments, 1000
training sequences per class and at most 5 epochs. Experiments run ``--jobs`` (2) at a
time, each in its own process with one PyTorch thread; all ten took 37-40 minutes on
2 cores with the default configuration (73-76 minutes summed over the experiments;
seeds 42, 1 and 2).
"""

from __future__ import annotations

import argparse
import csv
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

EXPERIMENTS = [
    "ALKBH5_Baltz2012",
    "C17ORF85_Baltz2012",
    "C22ORF28_Baltz2012",
    "CAPRIN1_Baltz2012",
    "CLIPSEQ_ELAVL1",
    "PARCLIP_ELAVL1A",
    "PARCLIP_IGF2BP123",
    "PARCLIP_PUM2",
    "PARCLIP_QKI",
    "PARCLIP_TAF15",
]
"""The ten RBP24 experiments of the bundled benchmark data, in table order. Any other
experiment in the data folder (the same four files per name) runs too."""

METHODS = ["DeepBind", "iDeepE", "DeepRKE", "ENNGene"]
"""Published methods, in table order."""

TABLE_1: list[tuple[str, int, int, tuple[float, float, float, float]]] = [
    ("Ago1-4 PAR-CLIP", 36902, 31310, (0.919, 0.915, 0.932, 0.927)),
    ("Ago2 HITS-CLIP", 48095, 44251, (0.879, 0.884, 0.900, 0.940)),
    ("ALKBH5 PAR-CLIP", 1213, 1197, (0.668, 0.758, 0.740, 0.877)),
    ("C17ORF85 PAR-CLIP", 1860, 1849, (0.755, 0.830, 0.824, 0.916)),
    ("C22ORF28 PAR-CLIP", 9369, 9136, (0.809, 0.837, 0.832, 0.908)),
    ("CAPRIN1 PAR-CLIP", 8140, 7901, (0.888, 0.893, 0.869, 0.896)),
    ("ELAVL1 HITS-CLIP", 8595, 8436, (0.980, 0.964, 0.978, 0.991)),
    ("ELAVL1 PAR-CLIP (A)", 27275, 23974, (0.972, 0.988, 0.978, 0.965)),
    ("ELAVL1 PAR-CLIP (B)", 9464, 9283, (0.961, 0.971, 0.980, 0.987)),
    ("ELAVL1 PAR-CLIP (C)", 125202, 113686, (0.989, 0.979, 0.996, 0.989)),
    ("EWSR1 PAR-CLIP", 16292, 14720, (0.969, 0.969, 0.971, 0.972)),
    ("FUS PAR-CLIP", 34581, 31480, (0.983, 0.985, 0.988, 0.977)),
    ("hnRNPC iCLIP", 21472, 19794, (0.979, 0.976, 0.978, 0.977)),
    ("IGF2BP1-3 PAR-CLIP", 8539, 6838, (0.939, 0.947, 0.943, 0.946)),
    ("MOV10 PAR-CLIP", 13793, 12987, (0.899, 0.916, 0.920, 0.922)),
    ("PUM2 PAR-CLIP", 9116, 8227, (0.964, 0.967, 0.965, 0.972)),
    ("PTB HITS-CLIP", 44574, 43700, (0.944, 0.944, 0.953, 0.954)),
    ("QKI PAR-CLIP", 10276, 9142, (0.973, 0.970, 0.975, 0.984)),
    ("SFRS1 HITS-CLIP", 19438, 17195, (0.929, 0.946, 0.945, 0.939)),
    ("TAF15 PAR-CLIP", 7298, 6606, (0.978, 0.976, 0.985, 0.985)),
    ("TDP43 iCLIP", 92031, 75079, (0.930, 0.945, 0.954, 0.924)),
    ("TIA1 iCLIP", 18049, 16135, (0.929, 0.937, 0.942, 0.959)),
    ("TIAL1 iCLIP", 42332, 36652, (0.922, 0.934, 0.946, 0.950)),
    ("ZC3H7B PAR-CLIP", 20962, 20018, (0.875, 0.907, 0.914, 0.862)),
]
"""All 24 RBP24 experiments as published (ENNGene paper, Table 1): protein and CLIP
method, training positives and negatives, and the AUROC on the left-out set of each
method of :data:`METHODS`. An experiment is matched to its row by its numbers of
training positives and negatives, whatever its files are called."""

FASTA_SUFFIXES = (".fa.gz", ".fa", ".fasta.gz", ".fasta")
"""File endings of an experiment's FASTA files, in the order they are looked for."""

WINDOW = 375
"""Window length: the longest sequence, so every window holds its whole sequence."""

RATIO = "88:10:2"
"""Train:validation:test split of the train files. The ``ls`` files are the test set
here, so the test split is kept small (2 %, for the model's own report) and the
training split gets the rest beside the 10 % validation split that early stopping
needs (the defaults were chosen with 8:1:1 in ``rbp24_defaults.py``)."""

QUICK_EXPERIMENTS = ["ALKBH5_Baltz2012", "C17ORF85_Baltz2012"]
QUICK_PER_CLASS = 1000
QUICK_EPOCHS = 5


@dataclass
class Result:
    """One experiment's outcome.

    Attributes:
        experiment: Experiment name (file prefix).
        auroc: gennie's AUROC of the positive class on the left-out set.
        seconds: Wall time of preprocess + train + evaluate.
        best_epoch: Epoch whose weights were kept (best validation loss).
        epochs_run: Epochs trained before early stopping.
        published: The published AUROCs (:data:`METHODS`) on the same left-out set, if
            the experiment is one of :data:`TABLE_1`.
    """

    experiment: str
    auroc: float
    seconds: float
    best_epoch: int
    epochs_run: int
    published: tuple[float, ...] | None = None


CSV_COLUMNS = ["experiment", "gennie", *METHODS, "seconds", "best_epoch", "epochs_run"]


def _order(name: str) -> tuple[int, str]:
    """Table order: the bundled ten first, in :data:`EXPERIMENTS` order, then by name."""
    return (EXPERIMENTS.index(name), "") if name in EXPERIMENTS else (len(EXPERIMENTS), name)


def _cells(values: tuple[float, ...] | None) -> list[str]:
    """Published AUROCs as table cells ("—" for an experiment not in Table 1)."""
    return [f"{v:.3f}" for v in values] if values else ["—"] * len(METHODS)


def _mean_row(title: str, results: list[Result], published: bool) -> str:
    values = [f"**{sum(r.auroc for r in results) / len(results):.3f}**"]
    for i in range(len(METHODS)):
        mean = sum(r.published[i] for r in results) / len(results) if published else None
        values.append("—" if mean is None else f"**{mean:.3f}**")
    return f"| **{title}** | " + " | ".join(values) + " |"


def write_table(results: list[Result], out: Path, label: str = "gennie") -> tuple[Path, Path]:
    """Write the results next to the published numbers, with the means.

    Args:
        results: One result per experiment, in any order; experiments without a result
            are left out of the table and of every mean.
        out: Folder for ``results.csv`` and ``results.md``.
        label: Column title of gennie's results in the Markdown table.

    Returns:
        The CSV and the Markdown file.
    """
    out.mkdir(parents=True, exist_ok=True)
    ordered = sorted(results, key=lambda r: _order(r.experiment))
    csv_path = out / "results.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for r in ordered:
            published = _cells(r.published) if r.published else [""] * len(METHODS)
            writer.writerow(
                [r.experiment, f"{r.auroc:.4f}", *published]
                + [f"{r.seconds:.1f}", r.best_epoch, r.epochs_run]
            )
    lines = [
        f"| experiment | {label} | " + " | ".join(METHODS) + " |",
        "|---|---|" + "---|" * len(METHODS),
    ]
    for r in ordered:
        cells = [f"{r.auroc:.3f}", *_cells(r.published)]
        lines.append(f"| {r.experiment} | " + " | ".join(cells) + " |")
    if ordered:
        matched = [r for r in ordered if r.published]
        lines.append(_mean_row(f"mean of {len(ordered)}", ordered, len(matched) == len(ordered)))
        if matched and len(matched) < len(ordered):
            title = f"mean of the {len(matched)} in the paper's Table 1"
            lines.append(_mean_row(title, matched, published=True))
        total = sum(r.seconds for r in ordered)
        lines.append("")
        lines.append(f"Total time (preprocess + train + evaluate): {total / 60:.1f} min.")
    md_path = out / "results.md"
    md_path.write_text("\n".join(lines) + "\n")
    return csv_path, md_path


def read_results(out: Path) -> list[Result]:
    """The results already written to ``out/results.csv`` (empty if none)."""
    path = out / "results.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return [
            Result(
                experiment=row["experiment"],
                auroc=float(row["gennie"]),
                seconds=float(row["seconds"]),
                best_epoch=int(row["best_epoch"]),
                epochs_run=int(row["epochs_run"]),
                published=tuple(float(row[m]) for m in METHODS) if row[METHODS[0]] else None,
            )
            for row in csv.DictReader(handle)
        ]


def plot_results(results: list[Result], out: Path, label: str = "gennie") -> list[Path]:
    """Grouped bar plot of the AUROCs (gennie and the published methods) per experiment;
    the "mean" bars average the experiments with published numbers.

    Returns:
        The PNG and SVG files (``results.png``, ``results.svg`` in ``out``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ordered = sorted(results, key=lambda r: _order(r.experiment))
    names = [r.experiment.replace("_Baltz2012", "") for r in ordered] + ["mean"]
    matched = [k for k, r in enumerate(ordered) if r.published] or list(range(len(ordered)))
    series = {label: [r.auroc for r in ordered]}
    for i, method in enumerate(METHODS):
        series[method] = [r.published[i] if r.published else np.nan for r in ordered]
    fig, ax = plt.subplots(figsize=(max(12, len(names) * 0.6), 4.5))
    x = np.arange(len(names))
    width = 0.8 / len(series)
    for k, (method, values) in enumerate(series.items()):
        values = values + [float(np.mean([values[m] for m in matched]))]
        ax.bar(x + (k - (len(series) - 1) / 2) * width, values, width, label=method)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylim(0.6, 1.0)
    ax.set_ylabel("AUROC on the left-out set")
    ax.set_title(f"RBP24 ({len(ordered)} experiments): gennie default vs published")
    ax.legend(ncol=len(series), fontsize=8, loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    paths = [out / "results.png", out / "results.svg"]
    for path in paths:
        fig.savefig(path, dpi=120)
    plt.close(fig)
    return paths


def fasta_file(data: Path, name: str, part: str, cls: str) -> Path:
    """An experiment's FASTA file (``NAME.PART.CLASSs.fa.gz`` or another of
    :data:`FASTA_SUFFIXES`), or the ``.fa.gz`` path if there is none."""
    stem = f"{name}.{part}.{cls}s"
    for suffix in FASTA_SUFFIXES:
        if (data / f"{stem}{suffix}").is_file():
            return data / f"{stem}{suffix}"
    return data / f"{stem}{FASTA_SUFFIXES[0]}"


def train_files(data: Path, name: str) -> dict[str, Path]:
    """An experiment's training FASTA files by class (``positive``, ``negative``)."""
    return {c: fasta_file(data, name, "train", c) for c in ("positive", "negative")}


def find_experiments(data: Path) -> list[str]:
    """The experiments in a data folder that have all four files, in table order."""
    names = set()
    for suffix in FASTA_SUFFIXES:
        for path in data.glob(f"*.train.positives{suffix}"):
            names.add(path.name[: -len(f".train.positives{suffix}")])
    complete = [
        n
        for n in names
        if all(
            fasta_file(data, n, part, c).is_file()
            for part in ("train", "ls")
            for c in ("positive", "negative")
        )
    ]
    return sorted(complete, key=_order)


def published_aurocs(data: Path, name: str) -> tuple[float, ...] | None:
    """The published AUROCs of an experiment, found in :data:`TABLE_1` by its numbers
    of training positives and negatives; None for an experiment not in the table."""
    import gzip

    counts = []
    for path in train_files(data, name).values():
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as handle:
            counts.append(sum(line.startswith(">") for line in handle))
    for _protein, positives, negatives, aurocs in TABLE_1:
        if [positives, negatives] == counts:
            return aurocs
    return None


def run_experiment(
    data: Path,
    name: str,
    out: Path,
    branches: list[str],
    quick: bool,
    threads: int,
    window: int = WINDOW,
    seed: int | None = None,
    centre_networks: int | None = None,
    precision: str | None = None,
) -> Result:
    """Preprocess, train (default configuration) and evaluate one experiment.

    Args:
        data: Folder with the experiment's FASTA files.
        name: Experiment name (file prefix).
        out: Folder for the run folders.
        branches: Input branches, e.g. ``["seq"]`` or ``["seq", "fold"]``.
        quick: Smoke-test mode (fewer sequences and epochs).
        threads: CPU threads for PyTorch (0 = its default).
        window: Window length in bases.
        seed: Seed of the split and the training (default: the configuration's).
        centre_networks: Centre networks of the ensemble (default: the configuration's).
        precision: Training arithmetic, ``32`` or ``bf16`` (default: the configuration's).

    Returns:
        The experiment's :class:`Result`.
    """
    # The stage functions by their modules: ``gennie.train`` and ``gennie.evaluate`` are
    # also the names of sub-packages.
    from gennie.config import EvaluateConfig, PreprocessConfig, TrainConfig
    from gennie.evaluation.stage import evaluate
    from gennie.preprocessing.stage import preprocess
    from gennie.training.stage import train

    started = time.time()
    runs = out / "runs" / name  # one folder per experiment: parallel runs share no table
    files = train_files(data, name)
    reduce = {c: float(QUICK_PER_CLASS) for c in files} if quick else {}
    seeded = {} if seed is None else {"seed": seed}
    dataset = preprocess(
        PreprocessConfig(
            classes=files,
            branches=branches,
            window=window,
            ratio=RATIO,
            reduce=reduce,
            alphabet="rna",
            jobs=max(threads, 1),
            out=runs,
            name=f"{name}-preprocess",
            **seeded,
        )
    )
    extra = ({"epochs": QUICK_EPOCHS} if quick else {}) | seeded
    if centre_networks is not None:
        extra["centre_networks"] = centre_networks
    if precision is not None:
        extra["precision"] = precision
    model = train(
        TrainConfig(
            dataset=dataset.run_dir, threads=threads, out=runs, name=f"{name}-train", **extra
        )
    )
    evaluation = evaluate(
        EvaluateConfig(
            model=model.run_dir,
            classes={c: fasta_file(data, name, "ls", c) for c in ("positive", "negative")},
            out=runs,
            name=f"{name}-evaluate",
        )
    )
    auroc = evaluation.summary["metrics"]["per_class"]["positive"]["auroc"]
    return Result(
        experiment=name,
        auroc=float(auroc),
        seconds=time.time() - started,
        best_epoch=int(model.summary["best_epoch"]),
        epochs_run=int(model.summary["epochs_run"]),
        published=published_aurocs(data, name),
    )


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    from typing import get_args

    from gennie.config import Precision, StageConfig, TrainConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with the RBP24 files")
    parser.add_argument("--quick", action="store_true", help="smoke test of a few minutes")
    parser.add_argument("--branches", default="seq", help="seq (default) or seq,fold")
    parser.add_argument(
        "--window",
        type=int,
        default=WINDOW,
        help=f"window length (default {WINDOW}; folding 375-nt windows runs at about 7 "
        "windows/s per core, 150-nt ones at about 50)",
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument(
        "--experiments",
        default=None,
        help="comma-separated subset (default: every experiment in the data folder)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="experiments run at once, each in its own process (default 2, for 2 cores)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="PyTorch CPU threads (default 1: on a busy machine more threads than free "
        "cores made training ten times slower)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the splits and the training (default: the configuration's, "
        f"{StageConfig.model_fields['seed'].default}); another seed measures how much "
        "the table moves by chance",
    )
    parser.add_argument(
        "--centre-networks",
        type=int,
        default=None,
        help="networks of each ensemble that read the central 150 positions (default: the "
        f"configuration's, {TrainConfig.model_fields['centre_networks'].default})",
    )
    parser.add_argument(
        "--precision",
        choices=get_args(Precision),
        default=None,
        help="training arithmetic (default: the configuration's, "
        f"{TrainConfig.model_fields['precision'].default}); bf16 is bfloat16 mixed precision",
    )
    args = parser.parse_args(argv)

    branches = args.branches.split(",")
    window = [f"w{args.window}"] if args.window != WINDOW else []  # in folder and label
    seed_tag = [] if args.seed is None else [f"s{args.seed}"]
    centre = [] if args.centre_networks is None else [f"c{args.centre_networks}"]
    precision = [] if args.precision is None else [args.precision]
    tag = "-".join(
        [*branches, *window, *centre, *precision, *seed_tag, *(["quick"] if args.quick else [])]
    )
    out = args.out or Path("gennie-runs") / f"rbp24-{tag}"
    found = find_experiments(args.data)
    if not found:
        parser.error(
            f"no experiment in {args.data}: each needs NAME.train.positives.fa.gz, "
            "NAME.train.negatives.fa.gz, NAME.ls.positives.fa.gz and NAME.ls.negatives.fa.gz "
            "(or .fa)"
        )
    names = args.experiments.split(",") if args.experiments else found
    if args.quick and not args.experiments:
        names = [n for n in QUICK_EXPERIMENTS if n in found] or found[:2]
    unknown = [n for n in names if n not in found]
    if unknown:
        parser.error(
            f"experiment(s) {', '.join(unknown)} not in {args.data} (all four files needed); "
            f"found: {', '.join(found)}"
        )
    if args.threads:
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    label = " ".join(["gennie", "+".join(branches), *window, *centre, *precision])
    results = [r for r in read_results(out) if r.experiment in names]
    done = {r.experiment for r in results}
    for r in results:
        print(f"{r.experiment}: already done, AUROC {r.auroc:.3f}")
    todo = [n for n in names if n not in done]
    # Largest first, so that the processes finish at about the same time.
    todo.sort(key=lambda n: -train_files(args.data, n)["positive"].stat().st_size)
    started = time.time()
    with ProcessPoolExecutor(
        max_workers=max(1, min(args.jobs, len(todo) or 1)),
        mp_context=multiprocessing.get_context("spawn"),
    ) as pool:
        futures = [
            pool.submit(
                run_experiment,
                args.data,
                n,
                out,
                branches,
                args.quick,
                args.threads,
                args.window,
                args.seed,
                args.centre_networks,
                args.precision,
            )
            for n in todo
        ]
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            print(
                f"{result.experiment}: AUROC {result.auroc:.3f} (best epoch "
                f"{result.best_epoch} of {result.epochs_run}, {result.seconds:.0f} s)",
                flush=True,
            )
            write_table(results, out, label)
    csv_path, md_path = write_table(results, out, label)
    if todo:
        print(f"wall time: {(time.time() - started) / 60:.1f} min ({args.jobs} process(es))")
    plot_results(results, out, label)
    print(md_path.read_text())
    print(f"written: {csv_path}, {md_path}, {out / 'results.png'}, {out / 'results.svg'}")


if __name__ == "__main__":
    main()
