"""PyTorch threads for training on a shared machine: which ``threads`` setting is fastest
when the machine is idle and when every core is already busy.

Trains gennie's default model (the train configuration's defaults, early stopping off,
on the CPU) on a generated two-class dataset (as ``benchmarks/throughput.py`` makes
it) with ``threads`` 1, 2 and 0 (PyTorch's default: all cores), each in a fresh child
process so that one setting cannot leak into the next:

- **idle**: nothing else started by this script (the load average of the machine is
  recorded, since a shared machine is never quite idle);
- **loaded**: ``nproc`` busy processes (a pure-Python loop each) run meanwhile, as
  on a machine shared with other work.

Each child times the training epochs (from the first training batch to the end of
the epoch's validation) and reports the mean seconds per epoch. The script prints,
as JSON, the seconds per epoch of every setting in both conditions and its ratio to
the best setting of that condition (1.0 = the best). Run it with
``OMP_NUM_THREADS`` unset: every child sets its own threads through the train
configuration.

Usage (from the repository root)::

    .venv/bin/python benchmarks/threads.py [--samples 600] [--epochs 3]
        [--settings 1,2,0] [--repeats 1] [--quick] [--json OUT.json]

``--quick`` trains 300 samples for 2 epochs.
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

from throughput import make_dataset

CHILD = "--child"
"""First argument of the script when it runs as one measurement."""


def _busy_loop() -> None:
    """Keep one core busy until killed."""
    x = 0
    while True:
        x = (x * 31 + 7) % 1_000_003


def start_load(count: int) -> list[subprocess.Popen]:
    """Start ``count`` processes that each keep a core busy."""
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
    code += "from threads import _busy_loop; _busy_loop()"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]


def stop_load(processes: list[subprocess.Popen]) -> None:
    """Stop the busy processes of :func:`start_load`."""
    for process in processes:
        process.kill()
    for process in processes:
        process.wait()


def child(dataset: Path, threads: int, epochs: int, out: Path) -> dict:
    """One measurement (in a fresh process): train the default model with ``threads``.

    Returns:
        ``{"seconds_per_epoch": ..., "torch_threads": ...}`` (the threads PyTorch used).
    """
    import pytorch_lightning as pl
    import torch

    from gennie.config import TrainConfig
    from gennie.training.stage import train

    class EpochTimer(pl.Callback):
        def __init__(self) -> None:
            self.seconds: list[float] = []
            self.threads = 0

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            self._start = time.perf_counter()
            self.threads = torch.get_num_threads()

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            self.seconds.append(time.perf_counter() - self._start)

    timer = EpochTimer()
    config = TrainConfig(
        dataset=dataset, epochs=epochs, early_stopping=False, device="cpu", threads=threads,
        out=out, name=f"threads{threads}-{os.getpid()}",
    )  # fmt: skip
    train(config, [timer], evaluate_test=False)
    return {
        "seconds_per_epoch": sum(timer.seconds) / len(timer.seconds),
        "torch_threads": timer.threads,
    }


def measure(dataset: Path, threads: int, epochs: int, out: Path) -> dict:
    """Run :func:`child` in a fresh interpreter without ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    args = [sys.executable, __file__, CHILD, str(dataset), str(threads), str(epochs), str(out)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"measurement with threads {threads} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def condition(args: argparse.Namespace, dataset: Path, out: Path) -> dict:
    """Every setting, ``repeats`` times (the fastest kept), with ratios to the best."""
    results: dict[str, dict] = {}
    for _ in range(args.repeats):
        for threads in args.settings:
            result = measure(dataset, threads, args.epochs, out)
            kept = results.get(str(threads))
            if kept is None or result["seconds_per_epoch"] < kept["seconds_per_epoch"]:
                results[str(threads)] = result
    best = min(r["seconds_per_epoch"] for r in results.values())
    for result in results.values():
        result["seconds_per_epoch"] = round(result["seconds_per_epoch"], 3)
        result["ratio_to_best"] = round(result["seconds_per_epoch"] / best, 2)
    return results


def main(argv: list[str] | None = None) -> None:
    """Measure idle and loaded; print (and optionally write) the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--settings", default="1,2,0", help="threads settings, comma-separated")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="300 samples, 2 epochs")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.epochs = 300, 2
    args.settings = [int(s) for s in args.settings.split(",")]
    from gennie.config import PreprocessConfig

    window = PreprocessConfig.model_fields["window"].default
    cores = os.cpu_count() or 1
    report: dict = {
        "cores": cores,
        "samples": args.samples,
        "window": window,
        "epochs": args.epochs,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        dataset = make_dataset(folder, args.samples, window)
        report["idle"] = condition(args, dataset, folder / "idle")
        load = start_load(cores)
        try:
            time.sleep(1)
            report["loaded"] = condition(args, dataset, folder / "loaded")
        finally:
            stop_load(load)
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CHILD:
        dataset, threads, epochs, out = sys.argv[2:6]
        print(json.dumps(child(Path(dataset), int(threads), int(epochs), Path(out))))
    else:
        main()
