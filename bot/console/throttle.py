"""How long a console sign-in must wait after failures: growing delays, never a hard lock.

A hard lock of an account after five failures let anyone lock a named nurse out from anywhere.
Here failures are counted three ways and each count earns a delay of its own, doubling with
every further failure up to a cap, measured from the latest failure:

- per account *and* client address: what guessing one account from one place costs. Only the
  guesser waits: the real nurse at her own address has a count of her own.
- per client address (any account): one place spraying many accounts.
- per account (from anywhere): a high, slow ceiling against guesses spread over many addresses;
  it can delay the real nurse, but by a minute at most.

Attempts refused for waiting are not counted (they check no password), so hammering a refused
key does not push anyone else's delay further. Pure functions over what the store recorded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(hours=1)  # failures older than this no longer count


@dataclass(frozen=True)
class Limit:
    """``free`` failures pass at once; the n-th beyond waits ``2**n`` seconds, at most ``cap``."""

    name: str
    free: int
    cap_seconds: int
    reset_by_success: bool  # a success from the same key wipes the slate


# Data, not code: what each count allows.
PER_ACCOUNT_AND_CLIENT = Limit("account and client", free=3, cap_seconds=900,
                               reset_by_success=True)
PER_CLIENT = Limit("client", free=20, cap_seconds=900, reset_by_success=False)
PER_ACCOUNT = Limit("account", free=50, cap_seconds=60, reset_by_success=False)

History = Iterable[tuple[bool, datetime]]  # (success, at), oldest first


def wait_seconds(history: History, limit: Limit, now: datetime) -> int:
    """Whole seconds until the next attempt may be checked (0: now)."""
    failures, last_failure = 0, None
    for success, at in history:
        if now - at > WINDOW:
            continue
        if success:
            if limit.reset_by_success:
                failures, last_failure = 0, None
            continue
        failures, last_failure = failures + 1, at
    if failures <= limit.free or last_failure is None:
        return 0
    delay = min(limit.cap_seconds, 2 ** min(failures - limit.free, 30))
    remaining = (last_failure + timedelta(seconds=delay) - now).total_seconds()
    return max(0, math.ceil(remaining))


def wait_for_attempt(pair: History, client: History, account: History, now: datetime) -> int:
    """The longest of the three waits for one sign-in attempt."""
    return max(wait_seconds(pair, PER_ACCOUNT_AND_CLIENT, now),
               wait_seconds(client, PER_CLIENT, now),
               wait_seconds(account, PER_ACCOUNT, now))
