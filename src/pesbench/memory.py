"""Python's cyclic garbage collector paused over blocks that build many acyclic objects.

Decoding 10^5-10^6 documents, or generating, serialising and reading back a campaign's
structures, allocates many small dicts, lists and pymatgen objects that hold no reference
cycles (reference counting frees them). The collector, triggered by those allocations,
walks the growing heap again and again meanwhile: 40 % of a 10^6-row query's time, and
about a quarter of a cheap-model campaign's wall time (1.0 s of 3.9 s, measured with
``gc.callbacks`` on ``benchmarks/orchestration/profile_campaign.py``). Blocks run under
:func:`gc_paused` skip that; the collector runs again as before once they end.

A worker process that has imported torch, pymatgen and ASE and loaded a model holds a
heap of millions of long-lived objects, and every full collection walks all of them (tens
of ms each, several per prediction job). :func:`freeze_long_lived`, called once a model is
loaded, moves what the process holds then into the permanent generation (``gc.freeze``,
what CPython's documentation suggests for long-lived objects), so later collections walk
only what the jobs create.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["freeze_long_lived", "gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (as it was, after)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


_frozen = False


def freeze_long_lived() -> None:
    """Take every object alive now out of later collections (``gc.freeze``), once a process.

    Only the first call freezes (a worker's first model load: the imports and that model);
    later ones do nothing, so that what a long-lived process (a test session, a notebook)
    creates afterwards stays in the collector's sight.

    Frozen objects are still freed when nothing refers to them (reference counting); only
    a reference cycle among them would outlive its use: the cyclic garbage of the imports
    and the load not collected yet (no ``gc.collect()`` first: one full collection of such
    a heap took 0.2 s, as long as what freezing saves a campaign), and the first model, if evicted
    from :data:`~pesbench.mlip.registry.WORKER_MODELS` and holding a cycle. Both are
    bounded by the first load.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()
