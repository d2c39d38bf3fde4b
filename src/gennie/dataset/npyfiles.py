"""``.npy`` files written through a memory map, with their disk space reserved first.

Writing into a memory-mapped file whose blocks the file system cannot provide (a full
disk, a quota) kills the process with SIGBUS instead of raising an error: the run
cannot even record that it failed. :func:`allocate_npy` therefore reserves every block
before the first write (``posix_fallocate``), so a full disk is an ``OSError``
(``ENOSPC``) at the start, which the run reports as a user error.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np

_CANNOT_RESERVE = (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS)
"""posix_fallocate errors of file systems that cannot reserve space (then the file is
written as before)."""


def allocate_npy(path: Path, dtype: np.dtype | type | str, shape: tuple[int, ...]) -> np.memmap:
    """Create an ``.npy`` file with all its space reserved, memory-mapped for writing.

    Args:
        path: The file (replaced if it exists).
        dtype: The array's dtype.
        shape: The array's shape.

    Returns:
        The array, memory-mapped (mode ``w+``: zeros until written).

    Raises:
        OSError: The disk is full or the quota exceeded (``ENOSPC``, ``EDQUOT``), or
            the file cannot be written; no file is left behind then.
    """
    path = Path(path)
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.dtype(dtype), shape=tuple(shape))
    size = path.stat().st_size
    if size == 0 or not hasattr(os, "posix_fallocate"):
        return array
    try:
        with open(path, "r+b") as handle:
            os.posix_fallocate(handle.fileno(), 0, size)
    except OSError as exc:
        if exc.errno in _CANNOT_RESERVE:
            return array
        del array
        path.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    return array
