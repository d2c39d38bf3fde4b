"""Shared test setup.

Tests run in two processes (pytest-xdist) on small machines; one PyTorch thread per
process (inherited by the CLI subprocesses) avoids oversubscribing the cores, which
slows tiny models down many times over.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
