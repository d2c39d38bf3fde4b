"""Benchmark of the fold and cons branches, as ratios measured in the same run.

1. Folding throughput of the fold encoder with P processes versus P × the rate of a
   bare single-process ``RNA.fold`` loop over the same windows (goal ≥ 0.8).
2. Conservation mapping of the cons encoder versus a bare pyBigWig ``values()`` loop
   over the same intervals (goal ≥ 0.8).
3. A second preprocess (seq + fold + cons) with the fold cache warm versus the first
   (goal ≥ 10× faster): once with every cache warm (same configuration again), and
   once with only the fold cache left (mapped windows deleted), which shows that the
   fold cache alone carries the speed-up.

All data (a random genome, BED intervals on both strands, a per-base bigWig track) is
generated into a temporary folder. Usage::

    .venv/bin/python benchmarks/fold_cons.py [--windows 2000] [--window 150] [--jobs 0]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyBigWig
import RNA

from gennie.config import PreprocessConfig
from gennie.encode import WindowBatch, make_encoder
from gennie.preprocessing.stage import preprocess

CHROM_LENGTH = 1_000_000


def make_data(folder: Path, windows: int, window: int, seed: int = 0) -> dict:
    """A 2-chromosome random genome, two BED classes and a per-base bigWig track.

    Returns:
        Paths (``genome``, ``classes``, ``track``) and the windows as
        ``(chroms, starts, ends, strands, sequences)`` (sequences on the + strand).
    """
    rng = np.random.default_rng(seed)
    chroms = {f"chr{i}": rng.choice(np.frombuffer(b"ACGT", np.uint8), CHROM_LENGTH) for i in (1, 2)}
    with open(folder / "genome.fa", "w") as handle:
        for name, seq in chroms.items():
            text = seq.tobytes().decode()
            handle.write(f">{name}\n")
            handle.writelines(text[i : i + 80] + "\n" for i in range(0, len(text), 80))
    bw = pyBigWig.open(str(folder / "track.bw"), "w")
    bw.addHeader([(name, CHROM_LENGTH) for name in chroms], maxZooms=0)
    for name in chroms:
        values = np.round(rng.normal(0, 1, CHROM_LENGTH), 2)
        bw.addEntries(name, 0, values=values.tolist(), span=1, step=1)
    bw.close()
    names = list(chroms)
    rows = {"a": [], "b": []}
    for k in range(windows):
        chrom = names[k % 2]
        start = int(rng.integers(0, CHROM_LENGTH - window))
        strand = "+-"[k % 4 // 2]
        rows["ab"[k % 2]].append((chrom, start, start + window, strand))
    classes = {}
    for label, items in rows.items():
        path = folder / f"{label}.bed"
        path.write_text(
            "".join(
                f"{c}\t{s}\t{e}\t{label}{i}\t0\t{st}\n" for i, (c, s, e, st) in enumerate(items)
            )
        )
        classes[label] = path
    everything = rows["a"] + rows["b"]
    sequences = [chroms[c][s:e].tobytes().decode() for c, s, e, _ in everything]
    return {
        "genome": folder / "genome.fa",
        "classes": classes,
        "track": folder / "track.bw",
        "windows": everything,
        "sequences": sequences,
    }


def best_of(repeats: int, work) -> float:
    """Shortest wall time of ``repeats`` calls of ``work``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_fold(sequences: list[str], jobs: int) -> dict:
    """Encoder with ``jobs`` processes versus jobs × a bare RNA.fold loop.

    Besides wall-clock rates, CPU seconds are compared: on a machine shared with other
    work the wall-clock ratio is bounded by the cores actually free, while the CPU ratio
    (bare CPU / encoder CPU over all processes) shows the encoder's own overhead.
    """
    rna = [s.replace("T", "U") for s in sequences]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for s in rna:
        RNA.fold(s)
    bare_wall, bare_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    encoder = make_encoder("fold", jobs=jobs)  # no cache attached: everything is folded
    cpu0, wall0 = time.process_time(), time.perf_counter()
    encoder.encode(WindowBatch(sequences=sequences))
    encoder_wall = time.perf_counter() - wall0
    # This process's CPU plus the workers' (they report the CPU time of their tasks).
    encoder_cpu = time.process_time() - cpu0 + encoder.worker_cpu_seconds
    single = len(sequences) / bare_wall
    rate = len(sequences) / encoder_wall
    return {
        "bare_single_rate": single,
        "encoder_rate": rate,
        "jobs": jobs,
        "ratio": rate / (jobs * single),
        "cpu_ratio": bare_cpu / encoder_cpu,
    }


def bench_cons(track: Path, windows: list[tuple[str, int, int, str]], repeats: int = 5) -> dict:
    """Encoder versus a bare pyBigWig values() loop over the same intervals."""
    bw = pyBigWig.open(str(track))

    def bare() -> None:
        for chrom, start, end, _ in windows:
            bw.values(chrom, start, end, numpy=True)

    encoder = make_encoder("cons", tracks=[str(track)], strand=True)
    batch = WindowBatch(
        sequences=["N" * (w[2] - w[1]) for w in windows],
        chroms=[w[0] for w in windows],
        starts=np.array([w[1] for w in windows]),
        ends=np.array([w[2] for w in windows]),
        strands=[w[3] for w in windows],
    )
    encoder.encode(batch)  # opens the track once, as preprocess does
    bare_time = best_of(repeats, bare)
    encoder_time = best_of(repeats, lambda: encoder.encode(batch))
    bw.close()
    return {
        "bare_seconds": bare_time,
        "encoder_seconds": encoder_time,
        "ratio": bare_time / encoder_time,
    }


def bench_preprocess(data: dict, folder: Path, window: int, jobs: int) -> dict:
    """First preprocess versus a second one with warm caches."""
    cache = folder / "cache"

    def run(name: str) -> float:
        config = PreprocessConfig(
            classes=data["classes"],
            genome=data["genome"],
            branches=["seq", "fold", "cons"],
            conservation=[data["track"]],
            window=window,
            jobs=jobs,
            cache_dir=cache,
            out=folder / "runs",
            name=name,
        )
        start = time.perf_counter()
        preprocess(config)
        return time.perf_counter() - start

    first = run("first")
    all_warm = run("second")
    shutil.rmtree(cache / "windows")  # mapped windows and stored branches gone
    fold_warm = run("third")
    return {
        "first_seconds": first,
        "second_all_caches_seconds": all_warm,
        "second_fold_cache_only_seconds": fold_warm,
        "speedup_all_caches": first / all_warm,
        "speedup_fold_cache_only": first / fold_warm,
    }


def main() -> None:
    """Generate data, run the three measurements, print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=2000, help="windows (default 2000)")
    parser.add_argument("--window", type=int, default=150, help="window length (default 150)")
    parser.add_argument("--jobs", type=int, default=0, help="processes (default 0: all cores)")
    args = parser.parse_args()
    jobs = args.jobs or os.cpu_count() or 1
    logging.getLogger("gennie").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="gennie-bench-") as tmp:
        folder = Path(tmp)
        data = make_data(folder, args.windows, args.window)
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        print(
            f"{args.windows} windows of {args.window} nt, {jobs} processes, "
            f"{os.cpu_count()} cores, load average {load} (other work on the machine)"
        )
        fold = bench_fold(data["sequences"], jobs)
        print(
            f"fold: bare RNA.fold {fold['bare_single_rate']:.1f} windows/s in one process; "
            f"encoder {fold['encoder_rate']:.1f} windows/s with {jobs} processes; "
            f"ratio to {jobs} x bare = {fold['ratio']:.2f} (goal >= 0.8); CPU seconds "
            f"bare / encoder = {fold['cpu_ratio']:.2f}"
        )
        cons = bench_cons(data["track"], data["windows"])
        print(
            f"cons: bare pyBigWig values() {cons['bare_seconds'] * 1e3:.1f} ms, encoder "
            f"{cons['encoder_seconds'] * 1e3:.1f} ms; ratio = {cons['ratio']:.2f} (goal >= 0.8)"
        )
        pre = bench_preprocess(data, folder, args.window, jobs)
        print(
            f"preprocess seq+fold+cons: first {pre['first_seconds']:.2f} s; second with all "
            f"caches warm {pre['second_all_caches_seconds']:.2f} s "
            f"({pre['speedup_all_caches']:.1f}x); second with only the fold cache warm "
            f"{pre['second_fold_cache_only_seconds']:.2f} s "
            f"({pre['speedup_fold_cache_only']:.1f}x) (goal >= 10x)"
        )


if __name__ == "__main__":
    main()
