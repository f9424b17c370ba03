"""Interpreter tuning shared by the workers and the benchmarks' bare loops.

Stages allocate several dicts per event and keep long-lived states (profiles) in memory. With
CPython's default thresholds a young collection runs every 700 allocations and full
collections rescan every live state, which cost 15-30% of the bare loop here. The stages
create few reference cycles, so collections can be far rarer.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
OLDER_THRESHOLDS = (20, 100)


def tune_gc() -> None:
    """Rarer collections; what exists at start-up (modules, schemas, code tables) is frozen
    out of them."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
