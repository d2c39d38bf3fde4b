"""Data-parallel training (Lightning's DDP) against one process, in the same run.

Preprocesses the bundled PUM2 example (real CLIP sites, FASTA; window 150), then
trains the same configuration with ``gennie train`` twice, each in its own command:

- one process (``--devices 1``);
- two processes on the CPU (``--devices 2 --strategy ddp``, gloo backend), each with
  ``--threads 1`` and half the batch size (``--batch-size`` is per process), so that
  both take the same optimizer steps on the same number of samples per step
  (``--ddp-batch-size`` sets another).

Both run the same number of epochs (early stopping off). Throughput is the training
samples per second of the epochs after the first (the first one carries start-up
costs), from the run's ``metrics.tsv`` (an epoch's time includes its validation);
the script prints both, their ratio, the wall time of each command, and the final
and best validation AUROC of both (computed over the whole validation split in both
cases: they should agree within the noise of a different batch composition).

On a CUDA machine it also trains on the GPU with gennie (one device) and with a bare
PyTorch loop over the same network, batches and optimizer, and prints both samples/s
and their ratio; without CUDA it says that part was skipped.

Usage (from the repository root)::

    .venv/bin/python benchmarks/distributed.py [--epochs 6] [--batch-size 64]
        [--ddp-batch-size 32] [--preset gennie] [--json benchmarks/results/distributed/cpu.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GENNIE = [sys.executable, "-m", "gennie"]


def _run(args: list[str], cwd: Path) -> tuple[dict, float]:
    """Run a gennie command with ``--json``; its JSON answer and wall seconds."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    started = time.perf_counter()
    done = subprocess.run(
        [*GENNIE, *args, "--json"], cwd=cwd, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"gennie {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), seconds


def prepare(folder: Path) -> tuple[Path, int]:
    """The preprocessed PUM2 example and its number of training samples."""
    from gennie.dataset.store import Dataset
    from gennie.example import rbp_example

    files = rbp_example()["train"]
    answer, _ = _run(
        [
            "preprocess",
            "--class", f"positive={files['positive']}",
            "--class", f"negative={files['negative']}",
            "--window", "150", "--threads", "1", "--out", str(folder / "runs"),
        ],
        folder,
    )  # fmt: skip
    dataset = Path(answer["run_dir"])
    return dataset, int(Dataset(dataset).indices("train").size)


def epochs_of(run_dir: Path) -> list[dict[str, float]]:
    """The rows of a run's ``metrics.tsv``, as numbers."""
    with open(run_dir / "metrics.tsv") as handle:
        return [
            {k: float(v) for k, v in row.items() if v != ""}
            for row in csv.DictReader(handle, delimiter="\t")
        ]


def train_cpu(
    dataset: Path, folder: Path, args: argparse.Namespace, devices: int, batch_size: int
) -> dict:
    """Train with ``devices`` processes on the CPU; throughput and validation AUROC."""
    extra = ["--devices", str(devices)] + (["--strategy", "ddp"] if devices > 1 else [])
    answer, wall = _run(
        [
            "train", "--dataset", str(dataset), "--preset", args.preset,
            "--ensemble", "1", "--epochs", str(args.epochs),
            "--batch-size", str(batch_size), "--no-early-stopping",
            "--accelerator", "cpu", "--threads", "1",
            "--out", str(folder / "runs"), "--name", f"cpu{devices}", *extra,
        ],
        folder,
    )  # fmt: skip
    rows = epochs_of(Path(answer["run_dir"]))
    timed = rows[1:] or rows
    return {
        "processes": devices,
        "batch_size_per_process": batch_size,
        "seconds_per_epoch": [r["seconds"] for r in rows],
        "samples_per_s": args.train_size * len(timed) / sum(r["seconds"] for r in timed),
        "wall_s": round(wall, 1),
        "final_val_auroc": rows[-1]["val_auroc"],
        "best_val_auroc": max(r["val_auroc"] for r in rows),
        "final_val_loss": rows[-1]["val_loss"],
    }


def bare_loop_samples_per_s(dataset: Path, args: argparse.Namespace) -> float:
    """Samples/s of a bare PyTorch loop on the GPU: gennie's network, Adam, the same
    batches (held on the GPU), epochs after the first."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from gennie.config.presets import preset_architecture
    from gennie.dataset.store import Dataset
    from gennie.model.network import build_network

    data = Dataset(dataset)
    idx = data.indices("train")
    x = torch.from_numpy(np.asarray(data.inputs(idx, ["seq"])[0])).cuda()
    y = torch.from_numpy(data.labels[idx].astype(np.int64)).cuda()
    network = build_network(
        preset_architecture(args.preset, ["seq"]), {"seq": (x.shape[1], x.shape[2])}, 2
    ).cuda()
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    seconds = 0.0
    for epoch in range(args.epochs):
        torch.cuda.synchronize()
        started = time.perf_counter()
        for batch in torch.randperm(len(idx), device="cuda").split(args.batch_size):
            loss = F.cross_entropy(network(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        torch.cuda.synchronize()
        if epoch > 0:
            seconds += time.perf_counter() - started
    return len(idx) * (args.epochs - 1) / seconds


def gpu_part(dataset: Path, folder: Path, args: argparse.Namespace) -> dict:
    """gennie on one GPU against a bare loop (skipped without CUDA)."""
    import torch

    if not torch.cuda.is_available():
        print("GPU part skipped: no CUDA device on this machine", flush=True)
        return {"skipped": "no CUDA device"}
    answer, wall = _run(
        [
            "train", "--dataset", str(dataset), "--preset", args.preset,
            "--ensemble", "1", "--epochs", str(args.epochs),
            "--batch-size", str(args.batch_size), "--no-early-stopping",
            "--accelerator", "gpu", "--out", str(folder / "runs"), "--name", "gpu",
        ],
        folder,
    )  # fmt: skip
    rows = epochs_of(Path(answer["run_dir"]))[1:]
    gennie_rate = args.train_size * len(rows) / sum(r["seconds"] for r in rows)
    bare_rate = bare_loop_samples_per_s(dataset, args)
    return {
        "gennie_samples_per_s": gennie_rate,
        "bare_samples_per_s": bare_rate,
        "ratio": gennie_rate / bare_rate,
        "wall_s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--ddp-batch-size", type=int, default=None)
    parser.add_argument("--preset", default="gennie")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        dataset, args.train_size = prepare(folder)
        one = train_cpu(dataset, folder, args, 1, args.batch_size)
        two = train_cpu(dataset, folder, args, 2, args.ddp_batch_size or args.batch_size // 2)
        result = {
            "train_samples": args.train_size,
            "epochs": args.epochs,
            "preset": args.preset,
            "cpu_cores": os.cpu_count(),
            "load_average": os.getloadavg(),
            "one_process": one,
            "two_processes_ddp": two,
            "samples_per_s_ratio": two["samples_per_s"] / one["samples_per_s"],
            "gpu": gpu_part(dataset, folder, args),
        }
    print(
        f"1 process: {one['samples_per_s']:.0f} samples/s, final val AUROC "
        f"{one['final_val_auroc']:.4f}\n2 processes (DDP, gloo): {two['samples_per_s']:.0f} "
        f"samples/s, final val AUROC {two['final_val_auroc']:.4f}\nratio "
        f"{result['samples_per_s_ratio']:.2f} on {os.cpu_count()} cores (load average "
        f"{result['load_average'][0]:.1f})"
    )
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
