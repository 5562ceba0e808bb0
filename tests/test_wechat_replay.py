"""The replay cache (channels/core/replay.py) on the database and on Redis, and the WeChat
webhook using it, in plain and in safe mode: its handler called in-process, with the real
channel runtime and a stand-in core.

Plain mode is where a reused signature bites (its signature covers no body): the end-to-end
attacks in tests/security run against the sandbox product, which is in safe mode.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.db import read_connection
from bot.events import EventBus
from channels.core.kv import DatabaseStorage, KeyValue
from channels.core.models import InboundMessage
from channels.core.replay import (
    DatabaseReplayCache,
    RedisReplayCache,
    Verdict,
    fingerprint,
    replay_key,
)
from channels.core.runtime import ChannelRuntime
from channels.sandbox import defaults, fake_wechat, signing
from channels.sandbox.runner import BackgroundServer
from channels.settings import WeChatSettings
from channels.wechat import WeChatInput

# ------------------------------------------------------------------------------ the caches


def test_replay_key_is_bounded_and_scoped() -> None:
    key = replay_key("wechat:wx1", "1700000000", "n" * 10_000)
    assert key.startswith("replay:wechat:wx1:") and len(key) < 80
    assert key != replay_key("wechat:wx2", "1700000000", "n" * 10_000)
    assert replay_key("s", "12", "3") != replay_key("s", "1", "23")  # no ambiguous joins


def _claims(cache, key: str) -> list[Verdict]:  # noqa: ANN001
    later = time.time() + 300
    return [cache.claim(key, fingerprint("A"), later), cache.claim(key, fingerprint("A"), later),
            cache.claim(key, fingerprint("B"), later)]


def _race(cache, key: str, n: int = 8) -> list[Verdict]:  # noqa: ANN001
    cache.claim(key + "-warm-up", fingerprint("A"), time.time() + 300)  # the engine exists
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: cache.claim(key, fingerprint("A"), time.time() + 300),
                             range(n)))


def test_database_cache_new_repeat_conflict(database: str) -> None:
    cache = DatabaseReplayCache()
    assert _claims(cache, replay_key("t", "1", "a")) == [Verdict.NEW, Verdict.REPEAT,
                                                         Verdict.CONFLICT]
    assert _claims(cache, replay_key("t", "1", "b"))[0] is Verdict.NEW  # another nonce


def test_database_cache_one_winner_under_concurrency(database: str) -> None:
    verdicts = _race(DatabaseReplayCache(), replay_key("t", "2", "race"))
    assert verdicts.count(Verdict.NEW) == 1 and verdicts.count(Verdict.REPEAT) == 7


def test_database_cache_expiry_and_purge(database: str) -> None:
    cache = DatabaseReplayCache()
    token = DatabaseStorage("wechat:wx1")  # the access_token cache shares the table
    token.set("access_token", "t", ttl=1)
    old, live = replay_key("t", "3", "old"), replay_key("t", "3", "live")
    assert cache.claim(old, fingerprint("A"), time.time() - 1) is Verdict.NEW
    assert cache.claim(live, fingerprint("A"), time.time() + 300) is Verdict.NEW
    # expired, not yet purged: free again (whatever it carries)
    assert cache.claim(old, fingerprint("B"), time.time() - 1) is Verdict.NEW
    assert cache.purge(time.time() + 2) == 1  # the expired replay row only
    with read_connection() as db:
        keys = set(db.execute(select(KeyValue.__table__.c.key)).scalars())
    assert live in keys and old not in keys and "wechat:wx1:access_token" in keys


@pytest.fixture()
def redis_cache():  # noqa: ANN201
    redis = pytest.importorskip("redis")
    client = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"no Redis at 127.0.0.1:6379 ({type(exc).__name__})")
    scope = f"test-{uuid.uuid4().hex}"
    yield RedisReplayCache("redis://127.0.0.1:6379/0", client), scope
    for name in client.scan_iter(f"smo:replay:{scope}:*"):
        client.delete(name)


def test_redis_cache_new_repeat_conflict_and_ttl(redis_cache) -> None:  # noqa: ANN001
    cache, scope = redis_cache
    key = replay_key(scope, "1", "a")
    assert _claims(cache, key) == [Verdict.NEW, Verdict.REPEAT, Verdict.CONFLICT]
    assert 295 <= cache.redis.ttl(f"smo:{key}") <= 300  # gone by itself once stale
    verdicts = _race(cache, replay_key(scope, "2", "race"))
    assert verdicts.count(Verdict.NEW) == 1 and verdicts.count(Verdict.REPEAT) == 7


# ---------------------------------------------------------------------------- the webhook


class EchoCore:
    """Stands in for the model process: answers with the text reversed, and counts."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def handle(self, sender, text, channel, message_id, metadata=None, log_only=False):  # noqa: ANN001, ANN201
        self.seen.append(text)
        return [{"text": text[::-1]}], "en"


@dataclass
class FakeRequest:
    """What the webhook reads of Sanic's request (its handlers are called directly: a Sanic
    server started twice in one process breaks on Sanic 21.12's method rewriting)."""

    args: dict[str, str]
    body: bytes


@dataclass
class Webhook:
    core: EchoCore
    safe: bool
    channel: WeChatInput
    handler: Any

    def post(self, query: dict[str, str], body: str) -> tuple[int, str]:
        response = asyncio.run(self.handler(FakeRequest(query, body.encode())))
        return response.status, response.body.decode()


@pytest.fixture(params=["plain", "safe"])
def webhook(request, database: str):  # noqa: ANN001, ANN201
    """The real WeChat channel and runtime in plain or safe mode, with a stand-in core."""
    safe = request.param == "safe"
    with BackgroundServer(fake_wechat.create_app(defaults.WECHAT_APP_ID,
                                                 defaults.WECHAT_APP_SECRET)) as fake:
        settings = WeChatSettings(
            app_id=defaults.WECHAT_APP_ID, app_secret=defaults.WECHAT_APP_SECRET,
            token=defaults.WECHAT_TOKEN, api_url=fake.url,
            encoding_aes_key=defaults.WECHAT_ENCODING_AES_KEY if safe else None)
        channel, core = WeChatInput(settings), EchoCore()
        runtime = ChannelRuntime(core, EventBus())
        channel.attach(runtime)
        before = set(threading.enumerate())
        runtime.start()
        # Its worker thread, joined at the end: left running, it would reach the next test's
        # database (engine() follows SMO_DATABASE_URL) while that test makes its tables.
        workers = [t for t in threading.enumerate() if t not in before]
        blueprint = channel.blueprint(lambda m: None)
        handler = next(route.handler for route in blueprint._future_routes
                       if route.uri == "/webhook" and "POST" in route.methods)
        try:
            yield Webhook(core, safe, channel, handler)
        finally:
            runtime.stop()
            for worker in workers:
                worker.join(10)


def _stored() -> int:
    with read_connection() as db:
        return db.execute(select(func.count()).select_from(InboundMessage)).scalar_one()


def _text(openid: str, text: str) -> str:
    return signing.wechat_text_xml(defaults.WECHAT_ORIGINAL_ID, openid, text,
                                   signing.wechat_msg_id())


def test_same_timestamp_and_nonce_with_another_body_is_refused(webhook: Webhook) -> None:
    """The finding: one captured (signature, timestamp, nonce) carried two different bodies.
    (In safe mode the second body is validly encrypted here, with the token an attacker lacks:
    the cache refuses it even so.)"""
    post, core, safe = webhook.post, webhook.core, webhook.safe
    query, body = signing.wechat_push(_text("oFirst", "hello"), safe_mode=safe)
    status, reply = post(query, body)
    assert status == 200 and ("<Encrypt>" in reply) is safe  # answered (encrypted when safe)
    # Another message, a new MsgId, under the captured query: the plain signature still holds
    forged_query, forged = signing.wechat_push(_text("oVictim", "open a case"), safe_mode=safe,
                                               timestamp=query["timestamp"], nonce=query["nonce"])
    assert forged_query["signature"] == query["signature"]
    status, answer = post(forged_query, forged)
    assert status == 403, answer
    assert core.seen == ["hello"] and _stored() == 1


def test_the_same_push_again_is_acknowledged_not_processed(webhook: Webhook) -> None:
    """A retry with the same timestamp, nonce and message (or a replay of it): ``success``,
    so WeChat never shows an error, and processed once."""
    post, core, safe = webhook.post, webhook.core, webhook.safe
    query, body = signing.wechat_push(_text("oRetry", "again"), safe_mode=safe)
    assert post(query, body)[0] == 200
    assert [post(query, body) for _ in range(3)] == [(200, "success")] * 3
    assert core.seen == ["again"] and _stored() == 1


@pytest.mark.parametrize("webhook", ["safe"], indirect=True)
def test_safe_mode_refuses_a_plain_push_and_stores_nothing(webhook: Webhook) -> None:
    post, core = webhook.post, webhook.core
    query, body = signing.wechat_push(_text("oPlain", "downgrade"), safe_mode=False)
    status, reason = post(query, body)
    assert status == 403 and "safe mode" in reason
    # refused before the replay cache: the genuine encrypted push with that pair still goes in
    encrypted_query, encrypted = signing.wechat_push(
        _text("oPlain", "genuine"), safe_mode=True, timestamp=query["timestamp"],
        nonce=query["nonce"])
    assert post(encrypted_query, encrypted)[0] == 200
    assert core.seen == ["genuine"] and _stored() == 1


def test_replay_cache_down_refuses(webhook: Webhook, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail closed: without the cache a replay could not be told from a first delivery (503,
    which WeChat retries)."""
    post, core, safe = webhook.post, webhook.core, webhook.safe

    class Down:
        def claim(self, *args: object) -> Verdict:
            raise ConnectionError("down")

    monkeypatch.setattr(webhook.channel, "replays", Down())
    query, body = signing.wechat_push(_text("oDown", "hello"), safe_mode=safe)
    assert post(query, body)[0] == 503
    assert core.seen == [] and _stored() == 0

