"""Process settings for long-running salesflow workers (the WSGI app, ``salesflow serve``).

CPython collects its youngest generation every 700 new container objects. One unit of work
(an order with its lines, a batch of a hundred) allocates tens of thousands of short-lived
ORM states and rows, so the collector runs hundreds of times a request, and each full
collection walks every object of the process: the app's modules, mappers and cached SQL
included. Freezing what exists once the app is built, and collecting the young generation
less often, removes that work; reference counting still frees almost everything at once.
"""

from __future__ import annotations

import gc

#: young-generation threshold (CPython's default is 700); the older two stay at 10
GC_YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Call once the app is built: what exists now (modules, mappers, compiled statements) is
    moved out of the collector's sight, and the young generation is collected every
    ``GC_YOUNG_THRESHOLD`` allocations."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
