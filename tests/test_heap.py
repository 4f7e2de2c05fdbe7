"""The mmap threshold fixed at a command's start (stages/heap.py): without it, glibc serves a
large block from the heap once a block of that size has been freed, and the heap keeps it."""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import sys

import pytest

_PROBE = """
import ctypes, sys
from patchlens.stages import heap
if sys.argv[1] == "fixed":
    assert heap.keep_large_blocks_apart()
if sys.argv[1] == "user":
    assert not heap.keep_large_blocks_apart()

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
# A large block is served from the heap's free top when it fits there (what the interpreter's
# start left free varies: compiling modules without a bytecode cache leaves more), so the top
# is given back first and the blocks are larger than it could hold.
libc.malloc_trim(0)
block = bytearray(24 << 20)  # a large result, freed: glibc raises its threshold to its size
del block
before = libc.mallinfo2().hblkhd
block = bytearray(24 << 20)  # another of the same size: mapped apart, or from the heap
print(libc.mallinfo2().hblkhd - before)
"""


def _mapped(mode: str, **env: str) -> int:
    # glibc's own behaviour, whatever the environment running the tests chose: any MALLOC_*
    # setting turns glibc's adjustment off, and importing Dask's LocalCluster sets
    # MALLOC_TRIM_THRESHOLD_ in the test process for its workers to inherit.
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"
    }
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode],
        capture_output=True,
        text=True,
        check=True,
        env={**clean, **env},
    )
    return int(out.stdout)


@pytest.mark.skipif(
    sys.platform != "linux"
    or platform.libc_ver()[0] != "glibc"
    or not hasattr(ctypes.CDLL(None), "mallinfo2"),
    reason="glibc's malloc (2.33+) only",
)
def test_freed_large_blocks_do_not_stay_in_the_heap() -> None:
    # glibc's own adjustment: the second 24 MB block comes from the heap, which keeps it
    # once freed.
    assert _mapped("default") < 1 << 20
    # Fixed: every such block is mapped apart, and given back when freed.
    assert _mapped("fixed") >= 24 << 20
    # A threshold the user set is left as set (the probe asserts that the call declines).
    _mapped("user", MALLOC_MMAP_THRESHOLD_=str(16 << 20))


def test_the_command_line_fixes_it_first(monkeypatch: pytest.MonkeyPatch) -> None:
    import patchlens.cli as cli

    calls: list[int] = []
    monkeypatch.setattr(cli.heap, "keep_large_blocks_apart", lambda: bool(calls.append(1)))
    monkeypatch.setattr(sys, "argv", ["patchlens", "--help"])
    with pytest.raises(SystemExit):
        cli.main()
    assert calls == [1]
