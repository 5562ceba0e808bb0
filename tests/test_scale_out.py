"""Two instances on shared PostgreSQL and Redis serve the same customers, in order, exactly once,
also while the provider fails (500s, 429s with Retry-After, timeouts).

Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (``.ci/run`` starts them). Each
run works in a database of its own, dropped at the end, and in customer numbers of its own.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from instances import (
    QUESTIONS,
    ROOT,
    FakeTwilio,
    Instance,
    exactly_once_in_order,
    send_until_acknowledged,
    wait_all_sent,
)
from providers import http

from channels.sandbox import signing

pytestmark = pytest.mark.slow


def _reachable() -> str | None:
    import redis
    from sqlalchemy import create_engine

    try:
        engine = create_engine("postgresql://postgres@127.0.0.1:5432/postgres", future=True)
        with engine.connect():
            pass
        engine.dispose()
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=2).ping()
    except Exception as exc:  # say what is missing
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="module")
def shared_stores() -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database for this run, migrated by the documented command."""
    problem = _reachable()
    assert problem is None, (f"the scale-out tests need PostgreSQL and Redis on 127.0.0.1 "
                             f"(.ci/run starts them): {problem}")
    name = f"smo_test_{secrets.token_hex(4)}"
    stores = {"SMO_STORES": "shared",
              "SMO_POSTGRES_URL": f"postgresql://postgres@127.0.0.1:5432/{name}"}
    import os

    result = subprocess.run([sys.executable, "-m", "bot.stores", "migrate"], cwd=ROOT,
                            env={**os.environ, **stores}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "at revision" in result.stdout and "redis     reachable" in result.stdout
    yield stores
    from sqlalchemy import create_engine, text

    engine = create_engine("postgresql://postgres@127.0.0.1:5432/postgres",
                           isolation_level="AUTOCOMMIT", future=True)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    engine.dispose()


@pytest.fixture(scope="module")
def two_instances(shared_stores: dict[str, str], trained_model: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    folder = tmp_path_factory.mktemp("scale-out")
    fake = FakeTwilio.start(folder)
    first = Instance.create("a", folder, trained_model, fake, shared_stores)
    second = Instance.create("b", folder, trained_model, fake, shared_stores)
    try:
        first.start()
        second.start()
        yield first, second, fake
    finally:
        second.stop()
        first.stop()
        fake.stop()


def _burst(bases: list[str], customers: int, per_customer: int) -> dict[str, list[str]]:
    """Each customer sends its messages one after another, alternating instances."""
    numbers = [f"+8527{secrets.randbelow(10**7):07d}" for _ in range(customers)]
    sent: dict[str, list[str]] = {number: [] for number in numbers}

    def customer(index: int) -> None:
        number = numbers[index]
        for turn in range(per_customer):
            sid = signing.twilio_sid("SM")
            rotated = bases[turn % len(bases):] + bases[:turn % len(bases)]
            send_until_acknowledged(rotated, number,
                                    QUESTIONS[(index + turn) % len(QUESTIONS)], sid)
            sent[number].append(sid)

    with ThreadPoolExecutor(customers) as pool:
        list(pool.map(customer, range(customers)))
    return sent


def test_two_instances_answer_each_customer_in_order(two_instances, shared_stores) -> None:
    first, second, fake = two_instances
    sent = _burst([first.base_url, second.base_url], customers=10, per_customer=6)
    state = wait_all_sent(shared_stores["SMO_POSTGRES_URL"], list(sent), 60, timeout=240)
    assert exactly_once_in_order(state, sent, fake.url) == []
    # Both instances took messages (the test would prove nothing if one got everything).
    for instance in (first, second):
        status, body = http("GET", f"{instance.base_url}/metrics")
        assert status == 200
        counts = [float(line.split()[-1]) for line in body.decode().splitlines()
                  if line.startswith('smo_messages_in_total{channel="whatsapp"}')]
        assert counts and counts[0] >= 20, f"{instance.name} took {counts}"


def test_provider_faults_delay_but_never_lose_or_duplicate(two_instances, shared_stores) -> None:
    first, second, fake = two_instances
    faults = [{"status": 500, "probability": 0.3, "seed": 7},
              {"status": 429, "retry_after": 1, "probability": 0.15},
              # accepted, but answered after the client's 10 s timeout: must not be sent twice
              {"delay": 11, "probability": 0.05}]
    status, _ = http("POST", f"{fake.url}/_sandbox/faults", json.dumps(faults).encode(),
                     {"Content-Type": "application/json"})
    assert status == 200
    try:
        sent = _burst([first.base_url, second.base_url], customers=12, per_customer=5)
        state = wait_all_sent(shared_stores["SMO_POSTGRES_URL"], list(sent), 60, timeout=400)
    finally:
        http("DELETE", f"{fake.url}/_sandbox/faults")
    assert exactly_once_in_order(state, sent, fake.url) == []
    status, body = http("GET", f"{fake.url}/_sandbox/stats")
    assert json.loads(body)["faults_injected"] > 10  # the faults really happened
