"""Data rights (``python -m bot.records``): the retention purge and the per-customer export.

Four customers, each with rows a year and a bit old (``OLD``) and some recent ones (``RECENT``):

- Alice, WhatsApp, verified: a case closed long ago, old transcript, inbox, outbox, consent,
  verification, contact — all past the period — and one recent message and event that stay.
- Bob, WeChat (a bare openid in the channel tables, ``wechat:<openid>`` elsewhere): an *open* case
  opened long ago, so everything of his conversation stays whatever its age.
- Carol, REST: a case opened long ago but closed recently, so her conversation stays too.
- Dave, WhatsApp, never verified: only old inbox rows and a contact, which go.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

from bot.cases.models import AuditEntry, Case, CaseNote
from bot.db import Base, session
from bot.policies.models import ChannelIdentity, Consent, Customer, Policy, VerificationAttempt
from bot.records.__main__ import main
from bot.records.export import export, to_json
from bot.records.retention import DEFAULT_RETENTION_DAYS, RetentionError, purge, retention_days
from bot.records.tracker import events_table
from channels.core.models import Contact, InboundMessage, OutboundMessage

NOW = datetime.utcnow().replace(microsecond=0)
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=10)

ALICE = "whatsapp:+85291234567"
BOB_OPENID = "oBob_0penid_x7Yq"
BOB = f"wechat:{BOB_OPENID}"
CAROL = "carol-rest-7731"
DAVE = "whatsapp:+85298765432"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Stores:
    """The product database and tracker store of one test."""

    database_url: str
    tracker_url: str
    tracker: Engine


@pytest.fixture()
def stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:
    """Fresh SQLite files (unique paths: ``bot.db`` caches one engine per URL)."""
    database_url = f"sqlite:///{tmp_path / 'smo.db'}"
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    _isolate(monkeypatch, tmp_path, database_url, tracker_url)
    tracker = create_engine(tracker_url, future=True)
    events_table().create(tracker)
    yield Stores(database_url, tracker_url, tracker)
    tracker.dispose()


def _isolate(monkeypatch: pytest.MonkeyPatch, var_dir: Path, database_url: str,
             tracker_url: str) -> None:
    monkeypatch.setenv("SMO_VAR_DIR", str(var_dir))
    monkeypatch.setenv("SMO_DATABASE_URL", database_url)
    monkeypatch.setenv("SMO_TRACKER_DB_URL", tracker_url)
    monkeypatch.setenv("SMO_ENV_FILE", str(var_dir / "no.env"))  # not the developer's .env
    for name in ("SMO_RETENTION_DAYS", "SMO_STORES", "POSTGRESQL_SCHEMA"):
        monkeypatch.delenv(name, raising=False)


# ---- the four customers ---------------------------------------------------------------------
def _case(conversation: str, channel: str, status: str, opened: datetime,
          closed: datetime | None, customer: int | None, policy: str | None) -> Case:
    return Case(
        conversation_id=conversation, channel=channel, language="yue", queue="nurse",
        priority="normal", status=status, reason="request_human",
        packet={"diagnosis": f"packet of {conversation}"}, eligibility={}, screening={},
        media=[{"url": f"https://media.example/{conversation}/1", "type": "image/jpeg"}],
        customer_id=customer, policy_number=policy, owner="nurse.a" if status != "queued" else None,
        outcome="advised" if closed else None, created_at=opened, updated_at=closed or opened,
        first_response_due=opened + timedelta(hours=1), closed_at=closed,
    )


def _conversation_rows(db, conversation: str, channel: str, sender: str, at: datetime,
                       tag: str) -> None:
    """A consent, a verification attempt, an inbound and an outbound message, the contact."""
    db.add(Consent(channel=channel, external_id=conversation, wording_version="v1",
                   language="yue", granted=True, at=at))
    db.add(VerificationAttempt(channel=channel, external_id=conversation, success=True, at=at))
    if channel in ("whatsapp", "wechat"):
        db.add(InboundMessage(channel=channel, provider_id=f"in-{tag}", sender=sender,
                              kind="media", text=f"message from {tag}",
                              payload={"media": [{"url": f"https://media.example/{tag}"}]},
                              status="done", received_at=at, processed_at=at))
        db.add(OutboundMessage(channel=channel, recipient=sender, dedup_key=f"in:{tag}:0",
                               text=f"reply to {tag}", status="sent", next_attempt_at=at,
                               created_at=at, sent_at=at))


def _events(tracker: Engine, sender: str, at: datetime, *texts: str) -> None:
    table = events_table()
    timestamp = at.replace(tzinfo=timezone.utc).timestamp()
    with tracker.begin() as connection:
        for offset, said in enumerate(texts):
            connection.execute(table.insert().values(
                sender_id=sender, type_name="user", timestamp=timestamp + offset,
                intent_name="greet", data=json.dumps({"event": "user", "text": said})))


def populate(tracker: Engine) -> dict[str, int]:
    """The four customers; returns ids the assertions need."""
    with session() as db:
        alice = Customer(name="Alice Chan Tai Man", date_of_birth=date(1980, 1, 2))
        bob = Customer(name="Bob Wong Siu Ming", date_of_birth=date(1975, 5, 6))
        carol = Customer(name="Carol Lee Mei Ling", date_of_birth=date(1990, 7, 8))
        db.add_all([alice, bob, carol])
        db.flush()
        for number, person in (("CI10000001", alice), ("CI10000002", bob),
                               ("CI10000003", carol)):
            db.add(Policy(number=number, holder_name=person.name, insured_id=person.id,
                          plan_code="CIMP", status="in_force", effective_date=date(2020, 1, 1),
                          riders=[]))
        db.flush()
        db.add_all([
            ChannelIdentity(channel="whatsapp", external_id=ALICE, customer_id=alice.id,
                            policy_number="CI10000001", verified_at=OLD),
            ChannelIdentity(channel="wechat", external_id=BOB, customer_id=bob.id,
                            policy_number="CI10000002", verified_at=OLD),
            ChannelIdentity(channel="rest", external_id=CAROL, customer_id=carol.id,
                            policy_number="CI10000003", verified_at=OLD),
        ])
        alice_case = _case(ALICE, "whatsapp", "closed", OLD, OLD + timedelta(days=1), alice.id,
                           "CI10000001")
        bob_case = _case(BOB, "wechat", "queued", OLD, None, bob.id, "CI10000002")
        carol_case = _case(CAROL, "rest", "closed", OLD, RECENT, carol.id, "CI10000003")
        db.add_all([alice_case, bob_case, carol_case])
        db.flush()
        for case in (alice_case, bob_case, carol_case):
            db.add(CaseNote(case_id=case.id, author="nurse.a", body=f"note on {case.id}", at=OLD))
            db.add(AuditEntry(actor="bot", action="open", case_id=case.id,
                              detail={"queue": "nurse", "priority": "normal",
                                      "reason": "request_human"}, at=OLD))
        # Written by some future careless call: the purge must not leave the phone number behind.
        db.add(AuditEntry(actor="nurse.a", action="close", case_id=alice_case.id,
                          detail={"outcome": "advised", "phone": "+85291234567"}, at=OLD))
        db.add(AuditEntry(actor="admin.a", action="user_add", case_id=None,
                          detail={"user": "nurse.b"}, at=OLD))

        _conversation_rows(db, ALICE, "whatsapp", ALICE, OLD, "alice-old")
        db.add(InboundMessage(channel="whatsapp", provider_id="in-alice-new", sender=ALICE,
                              kind="text", text="alice recent", payload={}, status="done",
                              received_at=RECENT))
        db.add(Contact(channel="whatsapp", sender=ALICE, last_inbound_at=OLD, options=[]))
        _conversation_rows(db, BOB, "wechat", BOB_OPENID, OLD, "bob-old")
        db.add(Contact(channel="wechat", sender=BOB_OPENID, last_inbound_at=OLD, options=[]))
        _conversation_rows(db, CAROL, "rest", CAROL, OLD, "carol-old")
        db.add(InboundMessage(channel="whatsapp", provider_id="in-dave-old", sender=DAVE,
                              kind="text", text="dave old", payload={}, status="done",
                              received_at=OLD))
        db.add(Contact(channel="whatsapp", sender=DAVE, last_inbound_at=OLD, options=[]))
        ids = {"alice_case": alice_case.id, "bob_case": bob_case.id,
               "carol_case": carol_case.id, "alice": alice.id, "bob": bob.id}
    _events(tracker, ALICE, OLD, "alice old 1", "alice old 2")
    _events(tracker, ALICE, RECENT, "alice recent")
    _events(tracker, BOB, OLD, "bob old")
    _events(tracker, CAROL, OLD, "carol old")
    _events(tracker, DAVE, OLD, "dave old")
    return ids


def snapshot(tracker: Engine) -> dict[str, list]:
    """Every row that matters, as comparable tuples."""
    with session() as db:
        rows = {
            "cases": db.execute(select(Case.conversation_id).order_by(Case.id)).scalars().all(),
            "case_notes": db.execute(select(CaseNote.case_id).order_by(CaseNote.id))
            .scalars().all(),
            "audit": db.execute(select(AuditEntry.case_id, AuditEntry.action, AuditEntry.detail)
                                .order_by(AuditEntry.id)).all(),
            "inbound": db.execute(select(InboundMessage.provider_id).order_by(InboundMessage.id))
            .scalars().all(),
            "outbound": db.execute(select(OutboundMessage.dedup_key)
                                   .order_by(OutboundMessage.id)).scalars().all(),
            "contacts": db.execute(select(Contact.sender).order_by(Contact.id)).scalars().all(),
            "consents": db.execute(select(Consent.external_id).order_by(Consent.id))
            .scalars().all(),
            "attempts": db.execute(select(VerificationAttempt.external_id)
                                   .order_by(VerificationAttempt.id)).scalars().all(),
            "identities": db.execute(select(ChannelIdentity.external_id)
                                     .order_by(ChannelIdentity.id)).scalars().all(),
            "customers": db.execute(select(func.count()).select_from(Customer)).scalar_one(),
            "policies": db.execute(select(func.count()).select_from(Policy)).scalar_one(),
        }
    table = events_table()
    with tracker.connect() as connection:
        rows["events"] = [
            json.loads(data)["text"]
            for data in connection.execute(select(table.c.data).order_by(table.c.id)).scalars()
        ]
    return rows


EXPECTED_COUNTS = {
    "cases": 1,
    "case_notes": 1,
    "inbound_messages": 2,  # Alice's old one, Dave's
    "outbound_messages": 1,
    "channel_contacts": 2,  # Alice, Dave
    "consents": 1,
    "verification_attempts": 1,
    "channel_identities": 1,
    "tracker events": 3,  # Alice's two old ones, Dave's
}


def assert_purged(rows: dict[str, list], ids: dict[str, int]) -> None:
    """Exactly Alice's old rows and Dave's are gone; Bob's and Carol's, and recent ones, stay."""
    assert rows["cases"] == [BOB, CAROL]
    assert rows["case_notes"] == [ids["bob_case"], ids["carol_case"]]
    assert rows["inbound"] == ["in-alice-new", "in-bob-old"]
    assert rows["outbound"] == ["in:bob-old:0"]
    assert rows["contacts"] == [BOB_OPENID]
    assert rows["consents"] == [BOB, CAROL]
    assert rows["attempts"] == [BOB, CAROL]
    assert rows["identities"] == [BOB, CAROL]
    assert rows["events"] == ["alice recent", "bob old", "carol old"]
    assert (rows["customers"], rows["policies"]) == (3, 3)  # the policy directory is not ours
    # The audit log keeps every entry; the purged case's lose only what is not a code.
    assert [entry[:2] for entry in rows["audit"]] == [
        (ids["alice_case"], "open"), (ids["bob_case"], "open"), (ids["carol_case"], "open"),
        (ids["alice_case"], "close"), (None, "user_add"),
    ]
    assert rows["audit"][3][2] == {"outcome": "advised"}
    assert "+852" not in json.dumps([entry[2] for entry in rows["audit"]])


# ---- purge ----------------------------------------------------------------------------------
def test_purge_deletes_what_is_past_the_period_and_keeps_open_and_recent(stores: Stores) -> None:
    ids = populate(stores.tracker)
    report = purge(older_than_days=365, tracker_url=stores.tracker_url, now=NOW)
    assert report.counts == EXPECTED_COUNTS
    assert (report.media_references, report.audit_scrubbed) == (1, 1)
    assert_purged(snapshot(stores.tracker), ids)


def test_purge_again_deletes_nothing_more(stores: Stores) -> None:
    ids = populate(stores.tracker)
    purge(older_than_days=365, tracker_url=stores.tracker_url, now=NOW)
    again = purge(older_than_days=365, tracker_url=stores.tracker_url, now=NOW)
    assert (again.total, again.media_references, again.audit_scrubbed) == (0, 0, 0)
    assert_purged(snapshot(stores.tracker), ids)


def test_dry_run_counts_the_same_and_deletes_nothing(stores: Stores) -> None:
    populate(stores.tracker)
    before = snapshot(stores.tracker)
    report = purge(older_than_days=365, tracker_url=stores.tracker_url, now=NOW, dry_run=True)
    assert report.counts == EXPECTED_COUNTS
    assert (report.media_references, report.audit_scrubbed) == (1, 1)
    assert snapshot(stores.tracker) == before


def test_a_longer_period_keeps_everything(stores: Stores) -> None:
    populate(stores.tracker)
    before = snapshot(stores.tracker)
    report = purge(older_than_days=500, tracker_url=stores.tracker_url, now=NOW)
    assert report.total == 0
    assert snapshot(stores.tracker) == before


def test_purge_without_a_tracker_store_still_purges_the_database(
    stores: Stores, tmp_path: Path
) -> None:
    populate(stores.tracker)
    missing = tmp_path / "nowhere" / "tracker.db"
    report = purge(older_than_days=365, tracker_url=f"sqlite:///{missing}", now=NOW)
    assert report.counts["tracker events"] == 0 and report.counts["cases"] == 1
    assert not missing.exists()  # never creates an empty store


def test_retention_days_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMO_RETENTION_DAYS", raising=False)
    assert retention_days() == DEFAULT_RETENTION_DAYS == 365
    monkeypatch.setenv("SMO_RETENTION_DAYS", "90")
    assert retention_days() == 90
    for bad in ("0", "ninety"):
        monkeypatch.setenv("SMO_RETENTION_DAYS", bad)
        with pytest.raises(RetentionError, match="SMO_RETENTION_DAYS"):
            retention_days()


def test_purge_command_uses_the_setting_and_prints_counts_only(
    stores: Stores, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(stores.tracker)
    monkeypatch.setenv("SMO_RETENTION_DAYS", "500")  # nothing is that old
    assert main(["purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "older than 500 days" in out and "dry run" in out
    assert main(["purge", "--older-than-days", "365"]) == 0
    out = capsys.readouterr().out
    assert "older than 365 days" in out and "dry run" not in out
    [total] = [line.split() for line in out.splitlines() if "total rows" in line]
    assert total == ["total", "rows", str(sum(EXPECTED_COUNTS.values())), "deleted"]
    for personal in ("+852", "whatsapp:", "oBob", "carol", "Alice", "message from"):
        assert personal not in out


def test_purge_command_refuses_a_bad_setting(
    stores: Stores, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMO_RETENTION_DAYS", "-3")
    assert main(["purge", "--dry-run"]) == 1
    assert "SMO_RETENTION_DAYS" in capsys.readouterr().err


def test_purged_conversation_still_loads_in_rasa(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tracker written by Rasa's own SQL store: our table matches it, and after the purge Rasa
    loads the conversation's later session as before."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker_path = tmp_path / "rasa-tracker.db"
    _isolate(monkeypatch, tmp_path, f"sqlite:///{tmp_path / 'smo.db'}",
             f"sqlite:///{tracker_path}")

    def session_events(at: datetime, said: str) -> list:
        timestamp = at.replace(tzinfo=timezone.utc).timestamp()
        return [ActionExecuted("action_session_start", timestamp=timestamp),
                SessionStarted(timestamp=timestamp + 1),
                ActionExecuted("action_listen", timestamp=timestamp + 2),
                UserUttered(said, timestamp=timestamp + 3)]

    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tracker_path))
    events = session_events(OLD, "a year ago") + session_events(RECENT, "last week")
    asyncio.run(store.save(DialogueStateTracker.from_events(ALICE, events)))

    report = purge(older_than_days=365, tracker_url=f"sqlite:///{tracker_path}", now=NOW)

    assert report.counts["tracker events"] == 4
    full = asyncio.run(store.retrieve_full_tracker(ALICE))
    assert [e.text for e in full.events if isinstance(e, UserUttered)] == ["last week"]
    current = asyncio.run(store.retrieve(ALICE))
    assert [e.text for e in current.events if isinstance(e, UserUttered)] == ["last week"]
    store.engine.dispose()


@pytest.fixture()
def postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:
    """Both stores in a throw-away schema of the local PostgreSQL, dropped afterwards.

    The tables are made with ``create_all`` and ``bot.db.engine`` points at them: what is under
    test is the purge's SQL on PostgreSQL, not how a deployment creates its schema.
    """
    pytest.importorskip("psycopg2", reason="psycopg2 (PostgreSQL driver) is not installed")
    schema = f"records_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, future=True, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any failure to connect means "no server here"
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable: {type(exc).__name__}")
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    product = create_engine(url, future=True)
    tracker = create_engine(url, future=True)
    try:
        Base.metadata.create_all(product)
        events_table().create(tracker)
        _isolate(monkeypatch, tmp_path, url, url)
        monkeypatch.setattr("bot.db.engine", lambda _url=None: product)
        yield Stores(url, url, tracker)
    finally:
        product.dispose()
        tracker.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_purge_on_postgresql(postgres: Stores) -> None:
    with session() as db:
        assert db.get_bind().dialect.name == postgres.tracker.dialect.name == "postgresql"
    ids = populate(postgres.tracker)
    dry = purge(older_than_days=365, tracker_url=postgres.tracker_url, now=NOW, dry_run=True)
    report = purge(older_than_days=365, tracker_url=postgres.tracker_url, now=NOW)
    assert dry.counts == report.counts == EXPECTED_COUNTS
    assert_purged(snapshot(postgres.tracker), ids)
    assert purge(older_than_days=365, tracker_url=postgres.tracker_url, now=NOW).total == 0


# ---- export ---------------------------------------------------------------------------------
def test_export_by_policy_has_everything_on_the_customer_and_nothing_else(
    stores: Stores,
) -> None:
    ids = populate(stores.tracker)
    document = export(policy="ci1000 0001", tracker_url=stores.tracker_url)
    assert document["customer"]["name"] == "Alice Chan Tai Man"
    assert [p["number"] for p in document["policies"]] == ["CI10000001"]
    assert document["conversations"] == [ALICE]
    assert [i["external_id"] for i in document["channel_identities"]] == [ALICE]
    assert [c["external_id"] for c in document["consents"]] == [ALICE]
    assert [a["external_id"] for a in document["verification_attempts"]] == [ALICE]
    assert [c["sender"] for c in document["channel_contacts"]] == [ALICE]
    assert [m["text"] for m in document["inbound_messages"]] == ["message from alice-old",
                                                                 "alice recent"]
    assert [m["text"] for m in document["outbound_messages"]] == ["reply to alice-old"]
    [case] = document["cases"]
    assert case["id"] == ids["alice_case"] and case["reference"].startswith("SMO-")
    assert case["packet"] == {"diagnosis": f"packet of {ALICE}"} and case["media"]
    assert [n["body"] for n in case["notes"]] == [f"note on {ids['alice_case']}"]
    assert [a["action"] for a in case["audit"]] == ["open", "close"]
    assert [e["data"]["text"] for e in document["tracker_events"]] == [
        "alice old 1", "alice old 2", "alice recent"]
    dumped = to_json(document)
    json.loads(dumped)  # one valid JSON document
    for other in ("Bob", "bob", "Carol", "carol", "dave", DAVE, BOB_OPENID, "CI10000002",
                  "user_add"):
        assert other not in dumped


def test_export_by_wechat_openid_finds_the_verified_customer(stores: Stores) -> None:
    ids = populate(stores.tracker)
    for given in (BOB_OPENID, BOB):
        document = export(channel_id=given, tracker_url=stores.tracker_url)
        assert document["customer"]["id"] == ids["bob"]
        assert document["conversations"] == [BOB]
        assert [m["sender"] for m in document["inbound_messages"]] == [BOB_OPENID]
        assert [c["id"] for c in document["cases"]] == [ids["bob_case"]]
        assert [e["data"]["text"] for e in document["tracker_events"]] == ["bob old"]
        assert "Alice" not in to_json(document) and ALICE not in to_json(document)


def test_export_by_whatsapp_number_with_or_without_prefix(stores: Stores) -> None:
    ids = populate(stores.tracker)
    for given in (ALICE, "+85291234567"):
        document = export(channel_id=given, tracker_url=stores.tracker_url)
        assert document["customer"]["id"] == ids["alice"]
        assert document["conversations"] == [ALICE]


def test_export_of_an_unverified_sender_has_their_messages_and_no_customer(
    stores: Stores,
) -> None:
    populate(stores.tracker)
    document = export(channel_id=DAVE, tracker_url=stores.tracker_url)
    assert document["customer"] is None and document["policies"] == []
    assert [m["text"] for m in document["inbound_messages"]] == ["dave old"]
    assert [e["data"]["text"] for e in document["tracker_events"]] == ["dave old"]
    assert "alice" not in to_json(document).lower()


def test_export_command_writes_json_to_stdout_or_a_private_file(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(stores.tracker)
    assert main(["export", "--policy", "CI10000003"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["customer"]["name"] == "Carol Lee Mei Ling"
    assert document["request"] == {"policy": "CI10000003"}
    out = tmp_path / "carol.json"
    out.write_text("old content")
    os.chmod(out, 0o644)
    assert main(["export", "--channel-id", CAROL, "--out", str(out)]) == 0
    assert json.loads(out.read_text())["customer"]["name"] == "Carol Lee Mei Ling"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "Carol" not in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["--policy", "CI99999999"],
    ["--channel-id", "whatsapp:+85200000000"],
    ["--channel-id", "nobody"],
])
def test_unknown_customer_exits_2_with_a_clear_message(
    stores: Stores, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    populate(stores.tracker)
    assert main(["export", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: no ")
    assert args[1] not in captured.err  # the identifier is masked even here


def test_an_id_naming_two_conversations_is_refused(
    stores: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(stores.tracker)
    _events(stores.tracker, BOB_OPENID, RECENT, "a REST client that picked Bob's openid")
    assert main(["export", "--channel-id", BOB_OPENID]) == 2
    assert "channel prefix" in capsys.readouterr().err
    assert main(["export", "--channel-id", BOB]) == 0
