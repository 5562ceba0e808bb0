"""The case store: queue order, one owner per claim, notes, transfer, close, audit; office hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.cases import store
from bot.office_hours import OfficeHours
from bot.privacy import mask_identifier, mask_text

T0 = datetime(2026, 11, 27, 2, 0)


def _open(conversation: str, queue: str = "nurse", priority: str = "normal", minutes: int = 0):
    return store.open_case(
        conversation_id=conversation,
        channel="rest",
        language="yue",
        queue=queue,
        priority=priority,
        reason="request_human",
        now=T0 + timedelta(minutes=minutes),
    )


def test_queue_is_urgent_first_then_oldest(database: str) -> None:
    a = _open("a", minutes=0)
    b = _open("b", minutes=1)
    c = _open("c", priority="urgent", minutes=2)
    assert [x.id for x in store.open_cases()] == [c.id, a.id, b.id]
    assert [x.id for x in store.open_cases(("case_doctor",))] == []


def test_sla_due_by_priority(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMO_SLA_URGENT_MINUTES", "5")
    monkeypatch.setenv("SMO_SLA_NORMAL_MINUTES", "60")
    monkeypatch.delenv("SMO_OFFICE_HOURS", raising=False)  # T0 is Friday 10:00 HKT: open
    assert _open("u", priority="urgent").first_response_due == T0 + timedelta(minutes=5)
    assert _open("n").first_response_due == T0 + timedelta(minutes=60)
    # (closed hours: tests/test_sla_office_hours.py)


def test_one_open_case_per_conversation_and_queue_escalates(database: str) -> None:
    first = _open("x")
    again = _open("x", priority="urgent")
    assert again.id == first.id and again.priority == "urgent"


def test_second_claim_fails_politely(database: str) -> None:
    case = _open("y")
    assert store.claim(case.id, "nurse.a").owner == "nurse.a"
    assert store.claim(case.id, "nurse.a").owner == "nurse.a"  # repeat by the owner is harmless
    with pytest.raises(store.CaseError, match="already claimed by nurse.a"):
        store.claim(case.id, "nurse.b")


def test_only_the_owner_replies_and_closes(database: str) -> None:
    case = _open("z")
    with pytest.raises(store.CaseError):
        store.record_reply(case.id, "nurse.a")
    store.claim(case.id, "nurse.a")
    with pytest.raises(store.CaseError):
        store.close(case.id, "nurse.b", "advised")
    with pytest.raises(store.CaseError, match="outcome"):
        store.close(case.id, "nurse.a", "cured")
    replied = store.record_reply(case.id, "nurse.a")
    assert replied.first_response_at is not None
    closed = store.close(case.id, "nurse.a", "advised")
    assert closed.status == "closed" and closed.outcome == "advised"
    assert store.active_case_for("z") is None


def test_transfer_requeues_for_the_other_team(database: str) -> None:
    case = _open("t")
    store.claim(case.id, "nurse.a")
    moved = store.transfer(case.id, "nurse.a", "case_doctor")
    assert (moved.queue, moved.status, moved.owner) == ("case_doctor", "queued", None)
    with pytest.raises(store.CaseError):
        store.transfer(case.id, "nurse.a", "pharmacy")


def test_notes_and_audit_trail(database: str) -> None:
    case = _open("n1")
    store.add_note(case.id, "nurse.a", "called back, no answer")
    with pytest.raises(store.CaseError):
        store.add_note(case.id, "nurse.a", "   ")
    store.claim(case.id, "nurse.a")
    store.close(case.id, "nurse.a", "no_response")
    assert [n.body for n in store.notes(case.id)] == ["called back, no answer"]
    assert [e.action for e in store.audit_log(case.id)] == ["open", "note", "claim", "close"]


def test_media_is_attached_to_the_open_case(database: str) -> None:
    case = _open("m")
    store.add_media("m", {"url": "https://example.invalid/1.jpg", "type": "image/jpeg"})
    expected = [{"url": "https://example.invalid/1.jpg", "type": "image/jpeg"}]
    assert store.get(case.id).media == expected
    assert store.add_media("nobody", {"url": "x"}) is None


class TestOfficeHours:
    hk = ZoneInfo("Asia/Hong_Kong")
    hours = OfficeHours.parse("Mon-Fri 09:00-18:00")

    def test_open_and_closed(self) -> None:
        assert self.hours.is_open(datetime(2026, 11, 27, 10, 0, tzinfo=self.hk))  # Friday
        assert not self.hours.is_open(datetime(2026, 11, 27, 18, 0, tzinfo=self.hk))
        assert not self.hours.is_open(datetime(2026, 11, 28, 10, 0, tzinfo=self.hk))  # Saturday

    def test_next_open_skips_the_weekend(self) -> None:
        friday_night = datetime(2026, 11, 27, 20, 0, tzinfo=self.hk)
        assert self.hours.next_open(friday_night) == datetime(2026, 11, 30, 9, 0, tzinfo=self.hk)

    def test_describe_and_bad_specs(self) -> None:
        assert self.hours.describe() == "Mon-Fri 09:00-18:00"
        # Chinese replies get Chinese day names (data/office_hours.yml), not the setting's English
        assert self.hours.describe("yue") == "星期一至五 09:00-18:00"
        assert self.hours.describe("zh-Hans") == "星期一至五 09:00-18:00"
        assert OfficeHours.parse("Mon,Wed,Sat 09:00-13:00").describe("zh-Hant") == (
            "星期一、星期三、星期六 09:00-13:00")
        for bad in ("always", "Mon-Fri 18:00-09:00", "Xyz 09:00-10:00"):
            with pytest.raises(ValueError):
                OfficeHours.parse(bad)


def test_masking() -> None:
    assert mask_identifier("whatsapp:+85291234567") == "••••4567"
    assert mask_identifier("abc") == "•••"
    masked = mask_text(
        "my policy CI10000001, HKID A123456(7), call +852 9123 4567, born 15/03/1980"
    )
    for secret in ("CI10000001", "A123456", "9123 4567", "15/03/1980"):
        assert secret not in masked


def test_privacy_filter_masks_log_records() -> None:
    import logging

    from bot.logging_setup import PrivacyFilter

    record = logging.LogRecord("x", logging.ERROR, __file__, 1,
                               "<Request: GET /conversations/whatsapp:%s/tracker> policy %s",
                               ("+85293592665", "CI10000001"), None)
    PrivacyFilter().filter(record)
    assert "93592665" not in record.getMessage() and "CI10000001" not in record.getMessage()
