"""How long to wait before trying again: one rule for every retry of the channel runtime.

Two things are retried: an answer the core could not give (it is down, or a bug), and a send the
provider refused for now (5xx, 429, a timeout). Both wait the same way: doubling from half a
second, capped, with a little random stretch so customers that failed together do not all come
back in the same instant. A provider's own ``Retry-After`` replaces the doubling (it knows its
limits better than we do) and is stretched the same way.

``SMO_SEND_MAX_BACKOFF_SECONDS`` (default 30) sets the cap: a reply is late by at most that much
after an outage ends. The tests' product instances use 3, so faults delay replies by seconds.
"""

from __future__ import annotations

import os
import random

FIRST_SECONDS = 0.5  # the wait after the first failure
MAX_SECONDS = float(os.environ.get("SMO_SEND_MAX_BACKOFF_SECONDS", 30))
# 0.5 · 2**8 = 128 s: past this many doublings only the cap matters (the bound keeps a long
# outage's attempt count from making a huge number first).
MAX_DOUBLINGS = 8
JITTER = 0.2  # each wait is stretched by up to this fraction, at random


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait after ``attempts`` failed tries (``retry_after``: the provider's own)."""
    wait = retry_after or min(MAX_SECONDS, FIRST_SECONDS * 2 ** min(attempts, MAX_DOUBLINGS))
    return wait * random.uniform(1, 1 + JITTER)
