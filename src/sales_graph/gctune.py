"""Garbage-collector tuning for a long-running server process.

After startup the heap holds ~140 MB of long-lived objects (schema, models, libraries). With
CPython's default thresholds every full collection walks them (130-170 ms measured on the bench
machine) and lands on whichever request triggers it. Freezing what startup built moves it out of
the collector's generations, and a larger young-generation threshold cuts the number of young
collections per request. The bench's prototype (freeze, thresholds 50,000 / 20 / 100) measured
1.2-1.4 x less CPU per request and full collections of 16-30 ms (docs/performance.md).
The older generations keep their default thresholds, so cyclic garbage that outlives a young
collection is still freed soon (full collections are cheap once the startup heap is frozen).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
MIDDLE_THRESHOLD = 10
OLD_THRESHOLD = 10


def freeze_startup_heap() -> None:
    """Collect once, freeze the survivors, and raise the thresholds. Call once startup is done."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
