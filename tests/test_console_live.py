"""The console's live stream: only the user's queues, and only while the session lasts."""

from __future__ import annotations

import asyncio

import pytest

from bot.cases import store
from bot.console import users
from bot.events import EventBus
from channels.console import live

PASSWORD = "correct horse battery"


def case_in(queue: str, conversation: str) -> int:
    return store.open_case(conversation_id=conversation, channel="rest", language="en",
                           queue=queue, reason="request_human").id


def test_events_are_kept_to_the_users_queues(database: str) -> None:
    nurse_case, doctor_case = case_in("nurse", "rest:a"), case_in("case_doctor", "rest:b")
    nurse = ("nurse",)
    assert live.visible_case({"id": nurse_case}, nurse) == nurse_case
    assert live.visible_case({"case": doctor_case, "kind": "emergency"}, nurse) is None
    assert live.visible_case({"conversation": "rest:a"}, nurse) == nurse_case
    assert live.visible_case({"conversation": "rest:b", "case": None}, nurse) is None
    assert live.visible_case({"recipient": "whatsapp:+85290000000"}, nurse) is None
    assert live.visible_case({"id": 999999}, nurse) is None
    # a transferred case follows its new queue
    store.transfer(nurse_case, "nurse.x", "case_doctor")
    assert live.visible_case({"id": nurse_case}, nurse) is None
    assert live.visible_case({"id": nurse_case}, ("case_doctor",)) == nurse_case


@pytest.fixture()
def quick_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "TICK_SECONDS", 0.05)


def run_stream(token: str, bus: EventBus, during) -> list[str]:  # noqa: ANN001
    """What the stream wrote while ``during(bus)`` ran (the stream must end by itself)."""
    written: list[str] = []

    async def write(chunk: str) -> None:
        written.append(chunk)

    async def scenario() -> None:
        bus.bind(asyncio.get_running_loop())
        streaming = asyncio.create_task(live.stream(write, token, bus, lambda _account: ()))
        await asyncio.sleep(0.1)
        await during(bus)
        await asyncio.wait_for(streaming, timeout=5)  # ended, not cut off by the test

    asyncio.run(scenario())
    return written


def test_stream_sends_own_queue_events_then_ends_at_sign_out(database: str,
                                                             quick_ticks: None) -> None:
    users.add_user("nurse.live", "nurse", PASSWORD)
    token = users.login("nurse.live", PASSWORD)
    mine, theirs = case_in("nurse", "rest:c"), case_in("case_doctor", "rest:d")

    async def during(bus: EventBus) -> None:
        await bus.publish("case", {"id": theirs, "status": "claimed"})
        await bus.publish("case", {"id": mine, "status": "claimed"})
        await asyncio.sleep(0.2)
        users.logout(token)
        await asyncio.sleep(0.2)
        await bus.publish("case", {"id": mine, "status": "closed"})

    written = run_stream(token, EventBus(), during)
    updates = [chunk for chunk in written if chunk.startswith("event: update")]
    assert updates == [f'event: update\ndata: {{"topic": "case", "case": {mine}}}\n\n']
    assert written[-1].startswith("event: signed-out")


def test_stream_ends_when_the_account_is_disabled(database: str, quick_ticks: None) -> None:
    users.add_user("nurse.gone", "nurse", PASSWORD)
    token = users.login("nurse.gone", PASSWORD)

    async def during(_bus: EventBus) -> None:
        users.set_disabled("nurse.gone", True)

    assert run_stream(token, EventBus(), during)[-1].startswith("event: signed-out")


def test_notices_are_known_codes_only() -> None:
    from channels.console.web import notice_text, notices

    assert notice_text("closed") == "Closed: the bot has resumed."
    assert notice_text("<script>alert(1)</script>") == "" and notice_text(None) == ""
    assert all(code.isidentifier() and text for code, text in notices().items())
