"""Integrated Gradients throughput: attributions per second, and the cost against plain
gradient passes.

Model: the quickstart model, i.e. the ``enngene`` preset on a 150-base seq branch with
two classes (``--model RUN_DIR`` uses a trained one instead; timing does not depend on
the weights). Inputs: one batch of PUM2 sequences from the bundled ``rbp`` example,
one-hot encoded (the first ``--batch-size`` test positives, centre 150 bases).

Measured on the same batch, each the median of ``--repeats`` runs:

- **IG**: :func:`gennie.attribution.attributions.integrated_gradients` with ``--steps``
  (50) steps through captum, for several ``internal_batch_size`` values (how many
  scaled inputs one forward/backward pass holds), and the full
  :func:`gennie.attribution.attributions.attribute` path used by ``predict`` (adds the
  score and baseline forward passes and the copies to numpy);
- **reference**: ``steps`` plain forward + backward passes (gradient of the target
  log-odds with respect to the inputs) over the batch, in a Python loop.

It prints attributions per second and the ratio reference time / IG time (goal ≥ 0.8:
IG costs at most 25 % more than the gradient passes it cannot avoid). Each ratio is the
median over repeats of a reference run and an IG run timed back to back, so that the
load of a shared machine affects both alike; the reference line is its own median.

Usage (from the repository root)::

    .venv/bin/python benchmarks/ig_throughput.py [--batch-size 64] [--steps 50]
        [--repeats 5] [--threads 1] [--device cpu] [--model RUN_DIR]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import time

import numpy as np
import torch


def pum2_batch(n: int, window: int) -> np.ndarray:
    """One-hot (n, 4, window) of the first n PUM2 test positives (centre window)."""
    from gennie.encode.alphabet import base_codes, one_hot
    from gennie.example import rbp_example

    path = rbp_example()["test"]["positive"]
    sequences, current = [], []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if line.startswith(">"):
                if current:
                    sequences.append("".join(current))
                current = []
            else:
                current.append(line.strip())
    sequences.append("".join(current))
    rows = []
    for seq in sequences[:n]:
        seq = seq[(len(seq) - window) // 2 :][:window].ljust(window, "N")
        rows.append(base_codes(seq))
    return one_hot(np.stack(rows))


def paired_times(work, reference, repeats: int, device: torch.device) -> tuple[float, float]:
    """Median time of ``work()`` and median ratio reference time / work time.

    The two are timed back to back in every repeat (after one warm-up each), so that a
    shared machine's changing load affects both sides of each ratio alike.
    """

    def timed(fn) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    work()
    reference()
    times, ratios = [], []
    for _ in range(repeats):
        t_ref = timed(reference)
        t = timed(work)
        times.append(t)
        ratios.append(t_ref / t)
    return statistics.median(times), statistics.median(ratios)


def main() -> None:
    from gennie.attribution.attributions import LogOddsModel, attribute, integrated_gradients
    from gennie.config import ArchitectureConfig  # noqa: F401 (imports the config first)
    from gennie.config.presets import preset_architecture
    from gennie.model.network import build_network

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default=None, help="a train run folder (optional)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.model:
        from gennie.model.bundle import load_bundle

        network, spec = load_bundle(args.model)
        window, classes = spec.window, spec.classes
    else:
        torch.manual_seed(0)
        window, classes = 150, ["positive", "negative"]
        network = build_network(preset_architecture("enngene", ["seq"]), {"seq": (4, window)}, 2)
    network = network.to(device).eval()
    model = LogOddsModel(network)
    n, steps = args.batch_size, args.steps
    x = torch.from_numpy(pum2_batch(n, window)).to(device)
    baseline = torch.zeros_like(x)
    with torch.no_grad():
        target = model(x).argmax(dim=1)

    def reference() -> None:
        for _ in range(steps):
            xi = x.clone().requires_grad_(True)
            score = model(xi).gather(1, target[:, None]).sum()
            torch.autograd.grad(score, xi)

    t_ref, _ = paired_times(reference, reference, args.repeats, device)
    print(
        f"device {device}, threads {torch.get_num_threads()}, batch {n}, steps {steps}, "
        f"window {window}, classes {len(classes)}"
    )
    print(f"reference: {steps} × forward+backward over the batch: {t_ref * 1000:.1f} ms")
    print(f"{'method':<40s} {'ms':>9s} {'attributions/s':>15s} {'ratio':>7s}")
    for internal in (n * steps, 2048, 1024, 512, 256):
        t, ratio = paired_times(
            lambda internal=internal: integrated_gradients(
                model, (x,), (baseline,), target, steps, internal
            ),
            reference,
            args.repeats,
            device,
        )
        label = f"captum IG, internal_batch_size {internal}"
        print(f"{label:<40s} {t * 1000:9.1f} {n / t:15.1f} {ratio:7.2f}")
    arrays = [x.cpu().numpy()]
    t, ratio = paired_times(
        lambda: attribute(
            network, [arrays], ["seq"], classes, steps=steps, device=device, total=None
        ),
        reference,
        args.repeats,
        device,
    )
    label = "attribute() as predict runs it"
    print(f"{label:<40s} {t * 1000:9.1f} {n / t:15.1f} {ratio:7.2f}")


if __name__ == "__main__":
    main()
