"""Freed memory given back to the system: a process's large blocks mapped apart.

glibc serves a block of more than 128 KiB from its own mapping and unmaps it when freed, but
each time such a block is freed it raises that threshold to the block's size (up to 32 MiB on
64-bit systems). After the first large result (a slice of commits' diffs, a batch of mail, a
page of rows), blocks of that size come from the heap instead, and a freed one stays in the
process, which keeps growing through a long update. Fixing the threshold at its default turns
that adjustment off: in the cold 35k case (a 35,000-message list with util-linux's 23,141
commits) the whole tree's peak went from 475-517 MB to 400-414 MB of PSS, and the updating
process's from 187-227 MB to 168-174 MB (docs/PERFORMANCE.md). Set once at the start of a
command, so forked workers inherit it; elsewhere than on glibc it does nothing. Dask's nanny
cures the same growth in its workers its own way, by setting MALLOC_TRIM_THRESHOLD_ for them
(which also turns the adjustment off), so a cluster's workers need nothing from here.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt() parameter
THRESHOLD = 128 * 1024  # glibc's default, kept fixed


def keep_large_blocks_apart() -> bool:
    """Fix glibc's mmap threshold (see the module docstring); whether it was set. A threshold
    the user chose (MALLOC_MMAP_THRESHOLD_, or glibc's tunables) is left as chosen."""
    if not sys.platform.startswith("linux"):
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "mmap_threshold" in os.environ.get(
        "GLIBC_TUNABLES", ""
    ):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD))
