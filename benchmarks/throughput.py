"""Training throughput: gennie's Lightning training path versus a bare PyTorch loop.

For each architecture (gennie's default preset and ``deepbind``), as one network and
as the default ensemble (``ensemble`` in the train configuration; with its default
centre networks when ``--window`` is wider than their window), in the same run:

- **gennie**: :func:`gennie.train` on a generated dataset, with early stopping off;
  a small callback times the training batches only (from the first batch's start to
  the last batch's end of every epoch, so validation, plots and saving are left out,
  but batch loading, metrics, logging and Lightning's loop are in). The training
  split is encoded into memory once before the first epoch, as gennie does for any
  split under 2 GiB, and that is not timed either;
- **bare loop**: the same network (same architecture, same seed), Adam with the same
  learning rate, cross-entropy, the same batch size and the same number of batches,
  on the same one-hot tensors held in memory, each batch shifted at random as the
  default configuration's ``shift`` asks (augmentation is part of the training
  recipe, not overhead of the tool).

It prints samples/s both ways and the ratio gennie / bare (goal ≥ 0.9: the tool adds
at most 10 % overhead). ``--precisions 32,bf16`` measures each model in both
arithmetics (``precision`` in the train configuration; the bare loop runs its forward
pass under ``torch.autocast`` for bf16) and prints gennie's speed-up of bf16 over 32.
All data is random and generated into a temporary folder.

Usage (from the repository root)::

    .venv/bin/python benchmarks/throughput.py [--samples 6400] [--window 150]
        [--batch-size 64] [--epochs 2] [--threads 1] [--precisions 32,bf16]

With ``--preprocess`` it also measures preprocessing throughput: windows/s from FASTA
and from BED + genome, and the peak memory of ``gennie preprocess`` on
``--intervals`` (default one million) generated BED intervals, each in a child
process whose peak resident memory is read with ``resource.getrusage``.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def random_sequences(n: int, length: int, rng: np.random.Generator) -> list[str]:
    """``n`` random DNA sequences of one length."""
    codes = BASES[rng.integers(0, 4, size=(n, length))]
    return [row.tobytes().decode() for row in codes]


def write_fasta(path: Path, sequences: list[str], prefix: str) -> None:
    """Write sequences as FASTA records ``>PREFIX_i``."""
    with open(path, "w") as handle:
        for i, seq in enumerate(sequences):
            handle.write(f">{prefix}_{i}\n{seq}\n")


def make_dataset(folder: Path, samples: int, window: int, seed: int = 0) -> Path:
    """A two-class dataset of random sequences (99 % train), preprocessed by gennie.

    Returns:
        The dataset folder.
    """
    import gennie
    from gennie.config import PreprocessConfig

    rng = np.random.default_rng(seed)
    files = {}
    for name in ("a", "b"):
        files[name] = folder / f"{name}.fa"
        write_fasta(files[name], random_sequences(samples // 2, window, rng), name)
    result = gennie.preprocess(
        PreprocessConfig(
            classes=files, window=window, ratio="98:1:1", out=folder / "runs", jobs=1, cache=False
        )
    )
    return result.run_dir


class _BatchTimer:
    """Lightning callback: wall time of the training batches and their number."""

    def __new__(cls):  # built lazily so that importing this script needs no Lightning
        import pytorch_lightning as pl

        class Timer(pl.Callback):
            def __init__(self) -> None:
                self.seconds = 0.0
                self.batches = 0
                self.samples = 0
                self._start: float | None = None

            def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
                if batch_idx == 0:
                    self._start = time.perf_counter()

            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
                # A Lightning batch is a group of training batches (gennie.training.data).
                self.batches += len(batch)
                self.samples += sum(int(y.shape[0]) for _, y in batch)
                self._end = time.perf_counter()

            def on_train_epoch_end(self, trainer, pl_module) -> None:
                if self._start is not None:
                    self.seconds += self._end - self._start
                    self._start = None

        return Timer()


def time_gennie(
    dataset: Path,
    preset: str,
    ensemble: int,
    batch_size: int,
    epochs: int,
    out: Path,
    precision: str = "32",
) -> dict:
    """Train through :func:`gennie.train`; time the training batches.

    Note: the first batch of every epoch is timed from its start, so loading it is
    included; between epochs, validation is left out.

    Returns:
        ``{"samples": ..., "batches": ..., "seconds": ...}``.
    """
    from gennie.config import TrainConfig
    from gennie.training.stage import train

    timer = _BatchTimer()
    config = TrainConfig(
        dataset=dataset,
        preset=preset,
        ensemble=ensemble,
        batch_size=batch_size,
        epochs=epochs,
        early_stopping=False,
        device="cpu",
        precision=precision,
        out=out,
    )
    train(config, [timer], evaluate_test=False)
    return {"samples": timer.samples, "batches": timer.batches, "seconds": timer.seconds}


def time_bare(
    dataset: Path, preset: str, ensemble: int, batch_size: int, batches: int, precision: str = "32"
) -> dict:
    """The same network, optimizer and batches in a minimal PyTorch loop.

    The one-hot training tensors are built once in memory (not timed); the loop is
    the default random shift of the batch (the same augmentation gennie applies),
    forward, cross-entropy (for an ensemble: the sum of its networks' own), backward
    and an Adam step. With ``precision`` ``bf16`` the forward pass and loss run under
    ``torch.autocast`` in bfloat16, as Lightning's ``bf16-mixed`` runs them.

    Returns:
        ``{"samples": ..., "batches": ..., "seconds": ...}``.
    """
    import torch
    import torch.nn.functional as F

    from gennie.config import TrainConfig
    from gennie.config.presets import preset_architecture
    from gennie.dataset.store import Dataset
    from gennie.model.network import build_network
    from gennie.training.augment import random_shift

    data = Dataset(dataset)
    idx = data.indices("train")
    x = torch.from_numpy(data.inputs(idx, ["seq"])[0])
    y = torch.from_numpy(data.labels[idx].astype(np.int64))
    defaults = TrainConfig()
    torch.manual_seed(defaults.seed)
    # Centre networks as gennie adds them by default (none when the window is not wider).
    centre = defaults.centre_networks_for(data.window)
    network = build_network(
        preset_architecture(preset, ["seq"]),
        {"seq": (4, data.window)},
        len(data.classes),
        ensemble,
        centre,
        defaults.centre_window,
    )
    network.train()
    optimizer = torch.optim.Adam(
        network.parameters(), lr=defaults.lr, weight_decay=defaults.weight_decay
    )
    generator = torch.Generator().manual_seed(defaults.seed)
    done = samples = 0
    started = time.perf_counter()
    while done < batches:
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), batch_size):
            if done == batches:
                break
            take = order[start : start + batch_size]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                if ensemble + centre > 1:  # each member on its own shifts, as gennie does
                    loss = sum(
                        F.cross_entropy(m(*random_shift((x[take],), defaults.shift)), y[take])
                        for m in network.members
                    )
                else:
                    (batch,) = random_shift((x[take],), defaults.shift)
                    loss = F.cross_entropy(network(batch), y[take])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            samples += int(take.numel())
    return {"samples": samples, "batches": done, "seconds": time.perf_counter() - started}


def training_throughput(args: argparse.Namespace, folder: Path) -> None:
    """Print the gennie-vs-bare table for the default preset and deepbind, as single
    networks and as the default ensemble."""
    import torch

    from gennie.config import TrainConfig

    torch.set_num_threads(args.threads)
    dataset = make_dataset(folder, args.samples, args.window)
    default = TrainConfig.model_fields["preset"].default
    ensembles = list(dict.fromkeys([1, TrainConfig.model_fields["ensemble"].default]))
    defaults = TrainConfig()
    centre = defaults.centre_networks_for(args.window)
    print(
        f"training throughput: {args.samples} samples, window {args.window}, batch "
        f"{args.batch_size}, {args.epochs} epochs, {args.threads} thread(s)"
        + (f"; every model has {centre} more centre network(s)" if centre else "")
    )
    precisions = args.precisions
    print(
        f"{'preset':<12} {'ensemble':>8} {'precision':>9} {'gennie samples/s':>17} "
        f"{'bare samples/s':>15} {'ratio':>6}"
    )
    speeds: dict[tuple[str, int, str], float] = {}
    for preset in dict.fromkeys([default, "deepbind"]):
        for ensemble in ensembles:
            for precision in precisions:
                # Alternate and repeat, keeping the best of each, so that the load of a
                # shared machine does not favour one side.
                best_g = best_b = 0.0
                for _ in range(args.repeats):
                    g = time_gennie(
                        dataset, preset, ensemble, args.batch_size, args.epochs,
                        folder / "train", precision,
                    )  # fmt: skip
                    b = time_bare(
                        dataset, preset, ensemble, args.batch_size, g["batches"], precision
                    )
                    best_g = max(best_g, g["samples"] / g["seconds"])
                    best_b = max(best_b, b["samples"] / b["seconds"])
                speeds[preset, ensemble, precision] = best_g
                print(
                    f"{preset:<12} {ensemble:>8} {precision:>9} {best_g:>17.0f} "
                    f"{best_b:>15.0f} {best_g / best_b:>6.2f}"
                )
    if len(precisions) > 1:
        base = precisions[0]
        print(f"gennie's samples/s against precision {base}, same run:")
        for (preset, ensemble, precision), speed in speeds.items():
            if precision != base:
                print(
                    f"  {preset} ×{ensemble} {precision}: "
                    f"{speed / speeds[preset, ensemble, base]:.2f}×"
                )


def _child_preprocess(argv: list[str]) -> tuple[float, float, float]:
    """Run ``gennie preprocess --json`` in a child process.

    Returns:
        Wall seconds of the process, seconds of the stage itself (as the run reports
        them, without interpreter start-up and imports), and the child's peak resident
        memory in MiB.
    """
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", "from gennie.cli import main; main()", "preprocess", *argv],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    seconds = time.perf_counter() - started
    stage_seconds = float(json.loads(done.stdout.splitlines()[-1])["seconds"])
    # ru_maxrss of children: the largest peak of any waited-for child so far (KiB on
    # Linux); the FASTA run comes first and is the smaller one, so this is this child's.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, stage_seconds, peak


def preprocess_throughput(args: argparse.Namespace, folder: Path) -> None:
    """Print windows/s from FASTA and from BED + genome, and peak memory.

    ``--intervals`` windows in all, half in each of two classes; the times are wall
    times of the whole ``gennie preprocess`` process (start-up included).
    """
    rng = np.random.default_rng(1)
    n = args.intervals
    halves = {"a": n // 2, "b": n - n // 2}
    fastas = {}
    for name, count in halves.items():
        fastas[name] = folder / f"{name}.fa"
        with open(fastas[name], "w") as handle:
            for k in range(0, count, 100_000):
                chunk = random_sequences(min(100_000, count - k), args.window, rng)
                handle.writelines(f">{name}{k + i}\n{seq}\n" for i, seq in enumerate(chunk))
    # Genome: chromosomes of 10 Mb; BED: intervals of 20-200 bases on both strands.
    genome = folder / "genome.fa"
    chrom_len = 10_000_000
    chroms = [f"chr{i + 1}" for i in range(args.chromosomes)]
    with open(genome, "w") as handle:
        for chrom in chroms:
            seq = BASES[rng.integers(0, 4, size=chrom_len)].tobytes().decode()
            handle.write(f">{chrom}\n")
            handle.writelines(seq[i : i + 60] + "\n" for i in range(0, chrom_len, 60))
    beds = {}
    for name, count in halves.items():
        beds[name] = folder / f"{name}.bed"
        starts = rng.integers(1000, chrom_len - 1000, size=count)
        lengths = rng.integers(20, 200, size=count)
        which = rng.integers(0, len(chroms), size=count)
        strands = np.where(rng.random(count) < 0.5, "+", "-")
        with open(beds[name], "w") as handle:
            handle.writelines(
                f"{chroms[c]}\t{s}\t{s + length}\t{name}{i}\t0\t{strand}\n"
                for i, (c, s, length, strand) in enumerate(
                    zip(which, starts, lengths, strands, strict=True)
                )
            )
    common = ["--window", str(args.window), "--jobs", str(args.jobs), "--no-cache", "--json"]
    print(f"preprocess throughput: {n} windows of {args.window}, {args.jobs} process(es)")
    for label, files, extra in (
        ("FASTA", fastas, []),
        ("BED + genome", beds, ["--genome", str(genome)]),
    ):
        classes = [f"--class={name}={path}" for name, path in files.items()]
        out = ["--out", str(folder / label.replace(" ", "").replace("+", "-"))]
        seconds, stage_seconds, peak = _child_preprocess(classes + extra + out + common)
        print(
            f"{label + ':':<14}{n / stage_seconds:>9.0f} windows/s ({stage_seconds:.1f} s in "
            f"the stage, {seconds:.1f} s with start-up; peak memory {peak:.0f} MiB)"
        )


def _known_precisions() -> tuple[str, ...]:
    """The train configuration's precisions (``32``, ``bf16``)."""
    from typing import get_args

    from gennie.config import Precision

    return get_args(Precision)


def _precisions(text: str) -> list[str]:
    """``--precisions``: comma-separated values of the train configuration's precision."""
    values = text.split(",")
    unknown = sorted(set(values) - set(_known_precisions()))
    if unknown:
        known = ", ".join(_known_precisions())
        raise argparse.ArgumentTypeError(f"unknown precision {', '.join(unknown)}; known: {known}")
    return values


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=6400)
    parser.add_argument("--window", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--precisions",
        type=_precisions,
        default=["32"],
        help=f"comma-separated training precisions ({', '.join(_known_precisions())}); "
        "the first is the reference",
    )
    parser.add_argument("--no-training", action="store_true", help="skip the training part")
    parser.add_argument("--preprocess", action="store_true", help="also time preprocessing")
    parser.add_argument("--intervals", type=int, default=1_000_000)
    parser.add_argument("--chromosomes", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="gennie-throughput-") as tmp:
        folder = Path(tmp)
        if not args.no_training:
            training_throughput(args, folder)
        if args.preprocess:
            preprocess_throughput(args, folder)


if __name__ == "__main__":
    main()
