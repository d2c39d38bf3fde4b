"""Benchmark of the variants stage, as ratios measured in the same run.

1. Sequence-only model: the rate of ``gennie variants`` (REF + ALT windows scored per
   second, the whole stage: VCF reading, windows, encoding, the forward passes, the
   table, the annotated and indexed VCF, the plot) versus the rate of a bare batched
   forward pass of the same network over the same REF + ALT windows, already one-hot
   encoded (goal ≥ 0.8).
2. Model with a ``fold`` branch: the rate of ``gennie variants`` over ALT windows (the
   REF windows' structures come from the fold cache, as after preprocessing the sites)
   versus P × the rate of a bare single-process ``RNA.fold`` loop over the same ALT
   windows, P the folding processes (goal ≥ 0.8).

The report (Integrated Gradients of the top variants) is switched off (``--top 0``): it
is a fixed cost, not a per-variant one. All data (a random genome, random SNVs, small
models trained for one epoch on random windows) is generated in a temporary folder.
Usage::

    .venv/bin/python benchmarks/variants.py [--variants 20000] [--fold-variants 3000]
        [--window 150] [--jobs 2] [--out benchmarks/results/variants/run.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import RNA

from gennie.encode.alphabet import base_codes, one_hot
from gennie.variant_effects.windows import variant_windows

# torch and the stages are imported where they are used: the folding processes start
# as fresh interpreters that import this script first, and should not pay for torch
# (as under the ``gennie`` command, whose module imports neither).

CHROM_LENGTH = 2_000_000


def make_genome(folder: Path, seed: int = 0) -> str:
    """A one-chromosome random genome written to ``genome.fa``; its sequence."""
    rng = np.random.default_rng(seed)
    sequence = rng.choice(np.frombuffer(b"ACGT", np.uint8), CHROM_LENGTH).tobytes().decode()
    with open(folder / "genome.fa", "w") as handle:
        handle.write(">chr1\n")
        handle.writelines(sequence[i : i + 80] + "\n" for i in range(0, len(sequence), 80))
    return sequence


def make_model(folder: Path, branches: list[str], window: int, name: str) -> Path:
    """A model trained for one epoch on 400 random windows (speed, not accuracy)."""
    from gennie.config import PreprocessConfig, TrainConfig
    from gennie.preprocessing.stage import preprocess
    from gennie.training.stage import train

    rng = np.random.default_rng(1)
    classes = {}
    for label in ("a", "b"):
        starts = rng.integers(0, CHROM_LENGTH - window, 200)
        path = folder / f"{name}_{label}.bed"
        path.write_text("".join(f"chr1\t{s}\t{s + window}\t.\t0\t+\n" for s in starts))
        classes[label] = path
    dataset = preprocess(
        PreprocessConfig(
            classes=classes,
            genome=folder / "genome.fa",
            window=window,
            branches=branches,
            out=folder,
            name=f"{name}_data",
            jobs=1,
        )
    )
    model = train(TrainConfig(dataset=dataset.run_dir, epochs=1, out=folder, name=name))
    return Path(model.run_dir)


def write_vcf(path: Path, genome: str, positions: np.ndarray, shift: int) -> list[tuple]:
    """SNVs at sorted 0-based positions, ALT the base ``shift`` steps after REF in ACGT."""
    records = []
    for pos in np.sort(positions):
        ref = genome[pos]
        alt = "ACGT"[("ACGT".index(ref) + shift) % 4]
        records.append((int(pos), ref, alt))
    path.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        + "".join(f"chr1\t{p + 1}\t.\t{r}\t{a}\t.\t.\t.\n" for p, r, a in records)
    )
    return records


def run_stage(folder: Path, model: Path, vcf: Path, name: str, jobs: int) -> float:
    """Seconds of one variants run (plus strand only, no report)."""
    from gennie.config import VariantsConfig
    from gennie.variant_effects.stage import variants

    start = time.perf_counter()
    variants(
        VariantsConfig(
            model=model,
            vcf=vcf,
            genome=folder / "genome.fa",
            strand="+",
            top=0,
            jobs=jobs,
            cache_dir=folder / "cache",
            out=folder,
            name=name,
        )
    )
    return time.perf_counter() - start


def windows_of(genome: str, records: list[tuple], window: int) -> tuple[list[str], list[str]]:
    """The REF and ALT windows of the records, made as the stage makes them."""
    refs, alts = [], []
    for pos, ref, alt in records:
        found = variant_windows(lambda s, e: genome[s:e], len(genome), pos, ref, alt, window)
        refs.append(found.ref)
        alts.append(found.alt)
    return refs, alts


def bare_forward(model: Path, sequences: list[str], batch_size: int = 256) -> float:
    """Seconds of a bare batched forward pass over one-hot windows (encoded beforehand)."""
    import torch

    from gennie.model.bundle import load_bundle

    network, _ = load_bundle(model)
    network.eval()
    window = len(sequences[0])
    x = one_hot(base_codes("".join(sequences)).reshape(len(sequences), window))
    start = time.perf_counter()
    with torch.no_grad():
        for low in range(0, len(x), batch_size):
            network(torch.from_numpy(x[low : low + batch_size])).softmax(dim=1)
    return time.perf_counter() - start


def bare_fold(sequences: list[str]) -> float:
    """Seconds of a bare single-process ``RNA.fold`` loop."""
    start = time.perf_counter()
    for sequence in sequences:
        RNA.fold(sequence.replace("T", "U"))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=20000)
    parser.add_argument("--fold-variants", type=int, default=3000)
    parser.add_argument("--window", type=int, default=150)
    parser.add_argument("--jobs", type=int, default=2, help="folding processes")
    parser.add_argument("--out", type=Path, default=None, help="JSON file for the results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(2)
    with tempfile.TemporaryDirectory(prefix="gennie-bench-variants-") as tmp:
        folder = Path(tmp)
        genome = make_genome(folder)
        positions = rng.choice(np.arange(1000, CHROM_LENGTH - 1000), args.variants, replace=False)

        seq_model = make_model(folder, ["seq"], args.window, "seq_model")
        records = write_vcf(folder / "seq.vcf", genome, positions, 1)
        refs, alts = windows_of(genome, records, args.window)
        stage_seconds = run_stage(folder, seq_model, folder / "seq.vcf", "seq_run", args.jobs)
        forward_seconds = bare_forward(seq_model, refs + alts)
        seq_ratio = forward_seconds / stage_seconds

        fold_model = make_model(folder, ["seq", "fold"], args.window, "fold_model")
        chosen = positions[: args.fold_variants]
        write_vcf(folder / "warm.vcf", genome, chosen, 1)  # folds REF (and other ALTs)
        run_stage(folder, fold_model, folder / "warm.vcf", "fold_warm", args.jobs)
        records = write_vcf(folder / "fold.vcf", genome, chosen, 2)  # new ALT, same REF
        _, fold_alts = windows_of(genome, records, args.window)
        fold_seconds = run_stage(folder, fold_model, folder / "fold.vcf", "fold_run", args.jobs)
        sample = fold_alts[: min(len(fold_alts), 1000)]
        single = bare_fold(sample) / len(sample)  # seconds per window, one process
        fold_ratio = (len(fold_alts) / fold_seconds) / (args.jobs / single)

    results = {
        "variants": args.variants,
        "fold_variants": args.fold_variants,
        "window": args.window,
        "jobs": args.jobs,
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "seq_stage_seconds": round(stage_seconds, 2),
        "seq_bare_forward_seconds": round(forward_seconds, 2),
        "seq_ratio": round(seq_ratio, 3),
        "fold_stage_seconds": round(fold_seconds, 2),
        "fold_bare_seconds_per_window": round(single, 5),
        "fold_ratio": round(fold_ratio, 3),
    }
    print(json.dumps(results, indent=2))
    print(
        f"sequence-only: variants stage {seq_ratio:.2f}x the bare forward rate (goal >= 0.8)\n"
        f"fold: variants stage {fold_ratio:.2f}x (processes x bare RNA.fold) (goal >= 0.8)"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
