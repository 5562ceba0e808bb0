"""Kill -9 the whole product during a burst of 500 messages from 50 customers; after a restart
every message has exactly one reply at the fake Twilio, in order per customer.

The customers behave as Twilio does: a webhook that failed (connection refused while the product
is down) is posted again with the same MessageSid until it is acknowledged.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from instances import (
    QUESTIONS,
    FakeTwilio,
    Instance,
    exactly_once_in_order,
    send_until_acknowledged,
    wait_all_sent,
)

from channels.sandbox import signing

pytestmark = pytest.mark.slow
CUSTOMERS, PER_CUSTOMER = 50, 10


@pytest.fixture()
def embedded(trained_model: Path, tmp_path: Path) -> Iterator[tuple[Instance, FakeTwilio]]:
    fake = FakeTwilio.start(tmp_path)
    instance = Instance.create("crash", tmp_path, trained_model, fake, {})
    try:
        yield instance.start(), fake
    finally:
        instance.stop()
        fake.stop()


def test_kill9_during_burst_loses_and_duplicates_nothing(embedded) -> None:
    instance, fake = embedded
    numbers = [f"+8526{secrets.randbelow(10**7):07d}" for _ in range(CUSTOMERS)]
    sent: dict[str, list[str]] = {number: [] for number in numbers}
    acknowledged = 0
    lock = threading.Lock()

    def customer(index: int) -> None:
        nonlocal acknowledged
        number = numbers[index]
        for turn in range(PER_CUSTOMER):
            sid = signing.twilio_sid("SM")
            send_until_acknowledged([instance.base_url], number,
                                    QUESTIONS[(index + turn) % len(QUESTIONS)], sid)
            sent[number].append(sid)
            with lock:
                acknowledged += 1

    with ThreadPoolExecutor(CUSTOMERS) as pool:
        futures = [pool.submit(customer, i) for i in range(CUSTOMERS)]
        deadline = time.monotonic() + 120
        while acknowledged < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        killed_at = acknowledged
        instance.kill9()
        instance.start()
        for future in futures:
            future.result()
    assert 0 < killed_at < CUSTOMERS * PER_CUSTOMER, "the crash must fall inside the burst"
    state = wait_all_sent(f"sqlite:///{instance.var_dir / 'smo.db'}", numbers,
                          CUSTOMERS * PER_CUSTOMER, timeout=400)
    assert exactly_once_in_order(state, sent, fake.url) == []
