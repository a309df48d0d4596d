"""The garbage collector's pause and freeze (pesbench.memory)."""

from __future__ import annotations

import gc
import subprocess
import sys

from pesbench.memory import gc_paused


def test_gc_paused_restores_the_collector_as_it_was() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block leaves it off for the outer one
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # off before: off after
    finally:
        gc.enable()


def test_freeze_long_lived_freezes_once_a_process() -> None:
    code = (
        "import gc\n"
        "from pesbench.memory import freeze_long_lived\n"
        "assert gc.get_freeze_count() == 0\n"
        "keep = [object() for _ in range(10)]\n"
        "freeze_long_lived()\n"
        "first = gc.get_freeze_count()\n"
        "more = [[] for _ in range(1000)]\n"
        "freeze_long_lived()\n"
        "print(first, gc.get_freeze_count())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, second = map(int, out.stdout.split())
    assert first > 0
    assert second == first  # the second call froze nothing more
