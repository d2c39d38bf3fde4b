"""Search overhead and worker scaling of ``gennie tune``.

1. Overhead: N trials through ``gennie tune`` (a grid over N learning rates, no
   pruning) versus N plain ``gennie train`` runs of exactly the same configurations
   (each trial's saved train config), both through the command line. Goal: ratio of
   wall times ≤ 1.1. The plain runs also evaluate the test split; the trials evaluate
   the validation split instead and the search writes its table and plots.
   ``overhead_api`` repeats the comparison inside one Python process
   (``gennie.tune`` vs ``gennie.train``), without any process start-up cost.
2. Scaling: trials per hour of ``gennie tune --jobs 2`` versus ``--jobs 1`` on the
   same random search of small models. Goal: ≥ 1.6×. For reference, the machine's own
   scaling on such work is measured in the same run: a bare PyTorch training loop (a
   DeepBind-sized model, one thread) run in one process, then in two processes at
   once; ``machine_speedup`` is how much more work two processes do per second. Two
   virtual CPUs that share one physical core, or memory bandwidth, cap it below 2.

The data are generated here (random sequences, a planted motif in one class), so the
benchmark needs nothing but gennie. Usage::

    python benchmarks/tune_overhead.py [--trials 4] [--epochs 3] [--samples 1000]
        [--scaling-trials 12] [--out DIR] [--parts overhead,overhead_api,scaling]

Prints one JSON object with the timings. Wall times depend on what else the machine
is doing; run it on an otherwise idle machine for numbers worth comparing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

GENNIE = Path(sys.executable).parent / "gennie"


def make_dataset(folder: Path, samples: int, window: int = 100) -> Path:
    """Preprocess ``samples`` sequences per class; returns the dataset folder."""
    rng = np.random.default_rng(0)

    def random_seq(n: int) -> str:
        return "".join(rng.choice(list("ACGT"), size=n))

    half = (window - 8) // 2
    pos = "".join(
        f">p{i}\n{random_seq(half)}TGTAAATA{random_seq(window - 8 - half)}\n"
        for i in range(samples)
    )
    neg = "".join(f">n{i}\n{random_seq(window)}\n" for i in range(samples))
    (folder / "pos.fa").write_text(pos)
    (folder / "neg.fa").write_text(neg)
    result = gennie(
        "preprocess",
        "--class",
        f"pos={folder / 'pos.fa'}",
        "--class",
        f"neg={folder / 'neg.fa'}",
        "--window",
        window,
        "--ratio",
        "7:1:2",
        "--out",
        folder / "data",
        "--json",
    )
    return Path(json.loads(result.stdout)["run_dir"])


def gennie(*args: object) -> subprocess.CompletedProcess:
    """Run the gennie command line; raise with its stderr when it fails."""
    result = subprocess.run(
        [str(GENNIE), *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")},
    )
    if result.returncode != 0:
        raise RuntimeError(f"gennie {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result


def timed(*args: object) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    result = gennie(*args)
    return time.perf_counter() - started, result


def overhead(work: Path, dataset: Path, trials: int, epochs: int) -> dict:
    """Wall time of N trials in one ``gennie tune`` vs N ``gennie train`` runs."""
    lrs = [round(0.001 * 2**i, 6) for i in range(trials)]
    search = work / "grid.yaml"
    search.write_text(
        yaml.safe_dump(
            {
                "sampler": "grid",
                "pruner": "none",
                "threads": 1,
                "space": {
                    "lr": lrs,
                    "batch_size": 64,
                    "optimizer": "adam",
                    "lr_schedule": "fixed",
                    "epochs": epochs,
                    "early_stopping": False,
                    "preset": "1layer",
                },
            }
        )
    )
    tune_seconds, result = timed(
        "tune", "--config", search, "--dataset", dataset, "--out", work / "tune", "--json"
    )
    run = Path(json.loads(result.stdout)["run_dir"])
    train_seconds = 0.0
    for trial in sorted((run / "trials").glob("trial_*")):
        config = yaml.safe_load((trial / "parameters.yaml").read_text())
        config.update(out=str(work / "plain"), name=None)
        path = work / f"{trial.name}.yaml"
        path.write_text(yaml.safe_dump(config))
        seconds, _ = timed("train", "--config", path, "--json")
        train_seconds += seconds
    return {
        "trials": trials,
        "epochs": epochs,
        "tune_seconds": round(tune_seconds, 1),
        "train_seconds": round(train_seconds, 1),
        "ratio": round(tune_seconds / train_seconds, 3),
    }


def overhead_api(work: Path, dataset: Path, trials: int, epochs: int) -> dict:
    """The same comparison in one Python process (no start-up cost on either side):
    ``gennie.tune`` versus ``gennie.train`` called N times with the trials' configs."""
    import torch

    from gennie.config import TrainConfig, TuneConfig
    from gennie.search.tuning import tune
    from gennie.training.stage import train

    torch.set_num_threads(1)
    lrs = [round(0.001 * 2**i, 6) for i in range(trials)]
    config = TuneConfig.model_validate(
        {
            "dataset": dataset,
            "out": work / "api-tune",
            "sampler": "grid",
            "pruner": "none",
            "threads": 1,
            "space": {
                "lr": lrs,
                "batch_size": 64,
                "optimizer": "adam",
                "lr_schedule": "fixed",
                "epochs": epochs,
                "early_stopping": False,
                "preset": "1layer",
            },
        }
    )
    train(TrainConfig(dataset=dataset, epochs=1, out=work / "api-warm", threads=1))  # imports
    started = time.perf_counter()
    run = tune(config).run_dir
    tune_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for trial in sorted((run / "trials").glob("trial_*")):
        saved = yaml.safe_load((trial / "parameters.yaml").read_text())
        for key in ("stage", "gennie_version"):
            saved.pop(key)
        train(TrainConfig.model_validate({**saved, "out": work / "api-plain", "name": None}))
    train_seconds = time.perf_counter() - started
    return {
        "trials": trials,
        "epochs": epochs,
        "tune_seconds": round(tune_seconds, 1),
        "train_seconds": round(train_seconds, 1),
        "ratio": round(tune_seconds / train_seconds, 3),
    }


def scaling(work: Path, dataset: Path, trials: int, epochs: int) -> dict:
    """Trials per hour with 1 and 2 worker processes (random search, small models)."""
    search = work / "random.yaml"
    search.write_text(
        yaml.safe_dump(
            {
                "sampler": "random",
                "pruner": "none",
                "space": {
                    "lr": {"low": 0.001, "high": 0.01, "log": True},
                    "batch_size": [32, 64],
                    "optimizer": "adam",
                    "lr_schedule": "fixed",
                    "epochs": epochs,
                    "early_stopping": False,
                    "preset": ["1layer", "deepbind"],
                },
            }
        )
    )
    rates = {}
    for jobs in (1, 2):
        seconds, result = timed(
            "tune",
            "--config",
            search,
            "--dataset",
            dataset,
            "--n-trials",
            trials,
            "--jobs",
            jobs,
            "--threads",
            1,
            "--out",
            work / f"jobs{jobs}",
            "--json",
        )
        # Steady state: first trial start to last trial end (no process start-up, no
        # final plots), from the trials table.
        table = pd.read_csv(Path(json.loads(result.stdout)["run_dir"]) / "trials.tsv", sep="\t")
        span = (
            pd.to_datetime(table["finished"]).max() - pd.to_datetime(table["started"]).min()
        ).total_seconds()
        rates[jobs] = {
            "seconds": round(seconds, 1),
            "trials_per_hour": round(len(table) * 3600 / seconds, 1),
            "trial_span_seconds": span,
            "steady_trials_per_hour": round(len(table) * 3600 / span, 1),
        }
    return {
        "trials": trials,
        "epochs": epochs,
        "jobs_1": rates[1],
        "jobs_2": rates[2],
        "speedup": round(rates[2]["trials_per_hour"] / rates[1]["trials_per_hour"], 3),
        "steady_speedup": round(
            rates[2]["steady_trials_per_hour"] / rates[1]["steady_trials_per_hour"], 3
        ),
    }


BARE_LOOP = """
import sys, time, torch
torch.set_num_threads(1)
torch.manual_seed(0)
net = torch.nn.Sequential(
    torch.nn.Conv1d(4, 16, 24), torch.nn.ReLU(), torch.nn.AdaptiveMaxPool1d(1),
    torch.nn.Flatten(), torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2),
)
optimizer = torch.optim.Adam(net.parameters())
x, y = torch.randn(64, 4, 100), torch.randint(0, 2, (64,))
started = time.perf_counter()
for _ in range(int(sys.argv[1])):
    loss = torch.nn.functional.cross_entropy(net(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(time.perf_counter() - started)
"""


def machine_scaling(steps: int = 3000) -> dict:
    """Work per second of two concurrent bare training loops versus one (see above)."""

    def run(copies: int) -> float:
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", BARE_LOOP, str(steps)],
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )
            for _ in range(copies)
        ]
        return max(float(p.communicate()[0]) for p in processes)

    alone, together = run(1), run(2)
    return {
        "steps": steps,
        "one_process_seconds": round(alone, 2),
        "two_processes_seconds": round(together, 2),
        "machine_speedup": round(2 * alone / together, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=1000, help="sequences per class")
    parser.add_argument("--scaling-trials", type=int, default=12)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--parts",
        default="overhead,overhead_api,scaling",
        help="comma-separated: overhead, overhead_api, scaling",
    )
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="gennie-tune-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    dataset = make_dataset(work, args.samples)
    report: dict = {"cpus": os.cpu_count(), "load_average_before": os.getloadavg()}
    parts = args.parts.split(",")
    if "overhead" in parts:
        report["overhead"] = overhead(work, dataset, args.trials, args.epochs)
        print(json.dumps({"overhead": report["overhead"]}), file=sys.stderr, flush=True)
    if "overhead_api" in parts:
        report["overhead_api"] = overhead_api(work, dataset, args.trials, args.epochs)
        print(json.dumps({"overhead_api": report["overhead_api"]}), file=sys.stderr, flush=True)
    if "scaling" in parts:
        report["machine"] = machine_scaling()
        report["scaling"] = scaling(work, dataset, args.scaling_trials, args.epochs)
        report["scaling"]["speedup_vs_machine"] = round(
            report["scaling"]["speedup"] / report["machine"]["machine_speedup"], 3
        )
    report["load_average_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
