"""core.runtime: the collector settings of a long-running worker."""

from __future__ import annotations

import gc

from core.runtime import GC_YOUNG_THRESHOLD, tune_gc


def test_tune_gc_freezes_what_exists_and_collects_the_young_less_often():
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_freeze_count() > 0  # the modules loaded so far are out of the collector's sight
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, before[1], before[2])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
