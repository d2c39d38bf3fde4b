"""Start-up time of the ``gennie`` command.

Times ``gennie --help`` and ``gennie train --help`` (the console script, as a user
runs it) against two references measured in the same run, alternating, so that a
busy machine slows all of them alike:

- ``python -c pass`` — the interpreter alone;
- ``python -c "import typer, pydantic"`` — the libraries every CLI of this kind loads.

Goal: ``gennie --help`` in at most 0.5 s on an idle machine; the ratios say how much
of the time is gennie's own. Usage::

    python benchmarks/startup.py [--repeats 7]

Prints one JSON object: the median seconds of each command and the ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

GENNIE = str(Path(sys.executable).parent / "gennie")

COMMANDS = {
    "python": [sys.executable, "-c", "pass"],
    "typer_pydantic": [sys.executable, "-c", "import typer, pydantic"],
    "gennie_help": [GENNIE, "--help"],
    "gennie_train_help": [GENNIE, "train", "--help"],
}


def seconds(command: list[str]) -> float:
    """Wall time of one run of ``command`` (output discarded)."""
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    for command in COMMANDS.values():
        seconds(command)  # warm the file cache
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, command in COMMANDS.items():
            times[name].append(seconds(command))
    median = {name: round(statistics.median(values), 3) for name, values in times.items()}
    result = {
        "median_seconds": median,
        "gennie_help_over_python": round(median["gennie_help"] / median["python"], 2),
        "gennie_help_over_typer_pydantic": round(
            median["gennie_help"] / median["typer_pydantic"], 2
        ),
        "goal_seconds": 0.5,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
