"""Running the installed ``gennie`` console script from tests, and the small helpers
tests of running processes share (a random FASTA, polling until a condition holds)."""

import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

GENNIE = Path(sys.executable).parent / "gennie"
if not GENNIE.exists():  # e.g. a Python whose scripts live elsewhere
    GENNIE = Path(shutil.which("gennie") or "gennie")


def run_gennie(*args: object, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``gennie ARGS...`` and capture its output (text)."""
    return subprocess.run(
        [str(GENNIE), *(str(a) for a in args)], capture_output=True, text=True, timeout=timeout
    )


def start_gennie(*args: object, cwd: Path) -> subprocess.Popen:
    """The gennie console script, started in the background (one thread, no colours)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NO_COLOR="1")
    return subprocess.Popen(
        [str(GENNIE), *(str(a) for a in args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for(
    condition: Callable[[], object],
    timeout: float = 120.0,
    process: subprocess.Popen | None = None,
) -> None:
    """Poll ``condition`` until it holds; fail at the deadline or when ``process`` ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"the run ended first (exit {process.returncode}):\n{err[-3000:]}")
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def random_fasta(path: Path, count: int, length: int, seed: int) -> Path:
    """A FASTA of ``count`` random sequences of ``length`` bases."""
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        lines += [f">s{i}", "".join(rng.choice("ACGT") for _ in range(length))]
    path.write_text("\n".join(lines) + "\n")
    return path
