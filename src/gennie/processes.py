"""Signals and identities of the processes gennie starts.

A process started as a background job of a non-interactive shell, by a service manager
or by a CI runner may inherit SIGINT and SIGTERM ignored or blocked, and passes that on
to every process it starts. Then ``Pool.terminate()`` waits forever, a cancelled GUI
job only stops at the SIGKILL fallback, and a stopped GUI worker keeps running. Every
process gennie starts therefore restores the default actions first
(:func:`restore_signals`).

A stage run stops cleanly on SIGTERM, what schedulers (and the GUI's Cancel) send
before SIGKILL: inside :func:`stop_on_sigterm` the signal raises :class:`Terminated`,
a :class:`KeyboardInterrupt`, so that everything that cleans up after Ctrl+C (the run
folder marked ``cancelled``, folding pools and search workers stopped) does the same
for SIGTERM. The command line exits with :data:`SIGTERM_EXIT` (143) then, and with
130 after Ctrl+C.

A run on a machine shared with other work is fastest with few CPU threads: PyTorch's
default (one per core) competes with the other work for every core. Every stage run
limits its threads with :func:`limit_threads` (called by :func:`gennie.runs.run_folder`
with the configuration's ``threads``).

A process id alone does not identify a process: ids are reused. :func:`process_start`
gives what does (the boot and the start time of the process), and
:func:`process_alive` compares it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

SIGTERM_EXIT = 128 + signal.SIGTERM
"""Exit code of a command stopped by SIGTERM (143, as the shell reports a process
killed by the signal)."""

SIGINT_EXIT = 128 + signal.SIGINT
"""Exit code of a command stopped by Ctrl+C (130)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop the run as cancelled (see the module docstring).

    Args:
        signum: The signal's number.
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def restore_signals() -> None:
    """Default actions for SIGINT (KeyboardInterrupt) and SIGTERM (exit), unblocked.

    Call it at the start of a worker process, as a pool initializer, or as the
    ``preexec_fn`` of a subprocess (then the new program starts with the defaults).
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


_terminating = threading.Event()


def _raise_terminated(signum: int, frame: object) -> None:
    """SIGTERM handler: raise :class:`Terminated` once; repeats are ignored, so that a
    second SIGTERM does not interrupt the cleanup the first one started."""
    if _terminating.is_set():
        return
    _terminating.set()
    raise Terminated(signum)


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread.

    Outside the main thread (where Python cannot set handlers) the block runs
    unchanged. The previous handler is restored afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _terminating.clear()
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_code(interrupt: BaseException) -> int:
    """The exit code of a command that ``interrupt`` (a KeyboardInterrupt) stopped:
    143 for SIGTERM, 130 for Ctrl+C."""
    return SIGTERM_EXIT if isinstance(interrupt, Terminated) else SIGINT_EXIT


# --------------------------------------------------------------------------- threads

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Environment variables that set the threads of OpenMP and MKL, read by PyTorch and
NumPy when a new process imports them."""


@contextlib.contextmanager
def limit_threads(threads: int) -> Iterator[None]:
    """Within the block, PyTorch computes with ``threads`` CPU threads, and processes
    started meanwhile inherit that limit (:data:`THREAD_VARIABLES`).

    PyTorch's threads are set only if it is imported already (a run that imports it
    later reads the variables). Both are restored afterwards.

    Args:
        threads: CPU threads; 0 changes nothing (PyTorch's default: all cores, or
            what ``OMP_NUM_THREADS`` says).
    """
    if threads <= 0:
        yield
        return
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if torch is not None:
            torch.set_num_threads(torch_threads)


# --------------------------------------------------------------------------- identity


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def process_start(pid: int | None = None) -> str | None:
    """What identifies a running process besides its id: the boot and its start time
    (Linux; ``None`` where ``/proc`` cannot tell).

    Args:
        pid: The process (default: this one).
    """
    pid = os.getpid() if pid is None else pid
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22, counted after the command name (which may hold spaces and brackets).
    fields = stat.rsplit(")", 1)[1].split()
    return f"{_boot_id()}:{fields[19]}"


def process_alive(pid: int | None, started: str | None = None) -> bool:
    """Whether the process ``pid`` exists on this machine, is not a zombie, and (when
    ``started`` is given, from :func:`process_start`) is the same process, not a new
    one that got a reused id."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: the id is all there is
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    return started is None or process_start(pid) == started
