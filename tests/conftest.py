"""Shared test setup.

Tests run in two processes (pytest-xdist) on small machines; one PyTorch thread per
process (inherited by the CLI subprocesses) avoids oversubscribing the cores, which
slows tiny models down many times over.
"""

import atexit
import os
import shutil
import signal
import sys
import tempfile

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
# gennie's own cache (checksums and indexes of recorded references) stays out of the
# home folder while testing; the test processes and the CLIs they start share it.
if "GENNIE_CACHE_DIR" not in os.environ:
    os.environ["GENNIE_CACHE_DIR"] = tempfile.mkdtemp(prefix="gennie-test-cache-")
    atexit.register(shutil.rmtree, os.environ["GENNIE_CACHE_DIR"], ignore_errors=True)

_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@pytest.fixture
def signals_ignored():
    """Run a test as a background job of a non-interactive shell or a CI runner may run
    it: SIGINT and SIGTERM ignored and blocked, both inherited by every process it
    starts."""
    saved = {number: signal.signal(number, signal.SIG_IGN) for number in _SIGNALS}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    yield
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    for number, handler in saved.items():
        signal.signal(number, handler)


@pytest.fixture
def one_thread():
    """One PyTorch thread in this process for the test (tiny models build and train
    several times faster than with threads competing)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def main_module_kept():
    """Put ``__main__`` back after each test: Streamlit's AppTest runs a page as the
    ``__main__`` script of this process, and a worker process started afterwards (the
    fold pool) would run that vanished script again and die at start, leaving the pool
    waiting for workers forever."""
    main = sys.modules.get("__main__")
    saved = {name: getattr(main, name) for name in ("__file__", "__spec__") if hasattr(main, name)}
    yield
    sys.modules["__main__"] = main
    for name in ("__file__", "__spec__"):
        if name in saved:
            setattr(main, name, saved[name])
        elif hasattr(main, name):
            delattr(main, name)
