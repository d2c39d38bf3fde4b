"""Signals of the processes gennie starts.

A process started as a background job of a non-interactive shell, by a service manager
or by a CI runner may inherit SIGINT and SIGTERM ignored or blocked, and passes that on
to every process it starts. Then ``Pool.terminate()`` waits forever, a cancelled GUI
job only stops at the SIGKILL fallback, and a stopped GUI worker keeps running. Every
process gennie starts therefore restores the default actions first.
"""

from __future__ import annotations

import signal


def restore_signals() -> None:
    """Default actions for SIGINT (KeyboardInterrupt) and SIGTERM (exit), unblocked.

    Call it at the start of a worker process, as a pool initializer, or as the
    ``preexec_fn`` of a subprocess (then the new program starts with the defaults).
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
