"""Which Integrated Gradients baseline should be the default: all zeros or the input's own
sequence dinucleotide-shuffled?

Two sequence models are trained here, each with gennie's defaults (one thread):

- **planted**: random 60-mers, a TGTAAATA site at a random position in every positive
  (``tests/planted.py``'s idea, larger), window 60;
- **real**: the RBP24 PUM2 PAR-CLIP training set (``../shared/data/rbp24``), 2500
  sequences per class, window 101 around the centre.

For ``--samples`` test windows of each model, Integrated Gradients (50 steps, the
highest class) runs with all zeros and with the dinucleotide shuffle (one, or the mean
over 3, 5 or 10 seeded shuffles: ``shuffles``), and in-silico mutagenesis (every single
substitution) gives each position's importance independently of any baseline. Printed
per model and baseline:

- ``ig_ism_r``: Pearson correlation, per window, of the per-position attribution and
  the ISM importance (mean fall of the log-odds over the three substitutions), averaged
  over windows: does IG point at the positions that matter?
- ``completeness``: median relative error of ``sum(attributions)`` against
  ``score - baseline_score`` (IG's completeness; 50 steps);
- ``baseline_logodds``: mean and spread of the log-odds the model gives the baseline
  itself: a neutral reference scores near 0 for every window;
- ``sign_agrees``: share of windows whose attributions sum to the sign of their own
  log-odds (an explanation that pushes toward the prediction it explains);
- ``motif_share`` (planted only): share of the positive attribution inside the site;
- ``ig_seconds_per_window``: what the attributions cost (one thread).

Usage (from the repository root)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/baselines.py [--samples 60]
        [--epochs 5] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gennie.attribution.attributions import LogOddsModel, attribute, one_hot_letters
from gennie.config import PreprocessConfig, TrainConfig
from gennie.dataset.store import Dataset
from gennie.encode.alphabet import base_codes, one_hot
from gennie.interpret.ism import mutagenesis, reference_importance
from gennie.model.bundle import load_bundle
from gennie.preprocessing.stage import preprocess
from gennie.training.stage import train

RBP24 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "rbp24"
MOTIF = "TGTAAATA"
BASELINES = (("zeros", 1), ("shuffle", 1), ("shuffle", 3), ("shuffle", 5), ("shuffle", 10))
"""Each baseline measured, with how many (seeded) baselines are averaged."""


def planted_classes(folder: Path, per_class: int, seed: int = 0) -> tuple[dict, dict]:
    """FASTA classes of random 60-mers, the positives with TGTAAATA at a random place."""
    rng = np.random.default_rng(seed)
    sites: dict[str, int] = {}

    def random_seq(n: int) -> str:
        return "".join(rng.choice(list("ACGT"), size=n))

    pos, neg = [], []
    for i in range(per_class):
        site = int(rng.integers(0, 60 - len(MOTIF)))
        seq = random_seq(60)
        seq = seq[:site] + MOTIF + seq[site + len(MOTIF) :]
        sites[seq] = site
        pos.append(f">p{i}\n{seq}\n")
        neg.append(f">n{i}\n{random_seq(60)}\n")
    (folder / "pos.fa").write_text("".join(pos))
    (folder / "neg.fa").write_text("".join(neg))
    return {"bound": folder / "pos.fa", "unbound": folder / "neg.fa"}, sites


def rbp24_classes(folder: Path, per_class: int) -> dict:
    """The first ``per_class`` PUM2 training sequences of each class (plain FASTA)."""
    classes = {}
    for name, part in (("bound", "positives"), ("unbound", "negatives")):
        source = RBP24 / f"PARCLIP_PUM2.train.{part}.fa.gz"
        records, lines = 0, []
        with gzip.open(source, "rt") as handle:
            for line in handle:
                if line.startswith(">"):
                    records += 1
                    if records > per_class:
                        break
                lines.append(line)
        classes[name] = folder / f"{name}.fa"
        classes[name].write_text("".join(lines))
    return classes


def trained(folder: Path, classes: dict, window: int, epochs: int) -> tuple[Path, Path]:
    """Preprocess and train with the defaults; the dataset and model run folders."""
    dataset = preprocess(
        PreprocessConfig(classes=classes, window=window, out=folder, threads=1)
    ).run_dir
    model = train(
        TrainConfig(dataset=dataset, epochs=epochs, out=folder, threads=1, device="cpu")
    ).run_dir
    return dataset, model


def measure(dataset_dir: Path, model_dir: Path, samples: int, sites: dict | None) -> dict:
    """The measures of the module docstring for both baselines on test windows."""
    network, spec = load_bundle(model_dir / "model")
    network.eval()
    dataset = Dataset(dataset_dir)
    rows = dataset.indices("test")[:samples]
    x = dataset.inputs(rows, ["seq"])[0]
    windows = one_hot_letters(x)
    scorer = LogOddsModel(network)

    def encode(seqs: list[str]) -> list[np.ndarray]:
        return [one_hot(np.stack([base_codes(s) for s in seqs]))]

    results = {}
    for baseline, repeats in BASELINES:
        started = time.perf_counter()
        attrs = attribute(
            network, [[x]], ["seq"], spec.classes, baseline=baseline, sequence="seq",
            shuffles=repeats,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        per_position = attrs.values["seq"][:, 0].sum(axis=1)  # (n, L)
        targets = attrs.targets[:, 0]
        scores, base = attrs.scores[:, 0], attrs.baseline_scores[:, 0]
        totals = per_position.sum(axis=1)
        gap = scores - base
        correlations, shares = [], []
        for i, window in enumerate(windows):
            _, delta = mutagenesis(scorer, encode, window, int(targets[i]))
            importance = reference_importance(window, delta)
            if per_position[i].std() > 0 and importance.std() > 0:
                correlations.append(float(np.corrcoef(per_position[i], importance)[0, 1]))
            site = None if sites is None else sites.get(window.replace("N", ""))
            if site is not None and spec.classes[int(targets[i])] == "bound":
                positive = per_position[i].clip(min=0)
                shares.append(float(positive[site : site + len(MOTIF)].sum() / positive.sum()))
        results[baseline if repeats == 1 else f"{baseline} x{repeats}"] = {
            "ig_ism_r": round(float(np.mean(correlations)), 4),
            "completeness": round(
                float(np.median(np.abs(totals - gap) / np.maximum(np.abs(gap), 1e-6))), 4
            ),
            "baseline_logodds": round(float(base.mean()), 3),
            "baseline_logodds_sd": round(float(base.std()), 3),
            "sign_agrees": round(float(np.mean(np.sign(totals) == np.sign(scores))), 4),
            "ig_seconds_per_window": round(seconds / len(windows), 4),
            **({"motif_share": round(float(np.mean(shares)), 4)} if shares else {}),
        }
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--per-class", type=int, default=2500)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    report: dict = {"samples": args.samples, "epochs": args.epochs}
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "planted").mkdir()
        classes, sites = planted_classes(work / "planted", args.per_class // 2)
        dataset, model = trained(work / "planted", classes, 60, args.epochs)
        report["planted"] = measure(dataset, model, args.samples, sites)
        if RBP24.is_dir():
            (work / "real").mkdir()
            classes = rbp24_classes(work / "real", args.per_class)
            dataset, model = trained(work / "real", classes, 101, args.epochs)
            report["real (RBP24 PUM2)"] = measure(dataset, model, args.samples, None)
        else:
            print(f"RBP24 data not found ({RBP24.name}): real data skipped", file=sys.stderr)
    report["seconds"] = round(time.time() - started)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
