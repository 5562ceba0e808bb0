"""Policy import, verification with lockouts (per identity, policy number and client),
remembered identities, consent, eligibility."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from bot.eligibility import check
from bot.policies import directory
from bot.policies.directory import Identity, LockoutPolicy, VerifiedPolicy
from bot.policies.importer import import_csv

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "data" / "seed" / "policies.csv"
RULES = LockoutPolicy(max_failures=3, lock_minutes=30, remember_days=30)
NOW = datetime(2026, 11, 27, 10, 0)


class TestImport:
    def test_seed_is_valid_and_covers_every_case(self, database: str) -> None:
        report = import_csv(SEED)
        assert report.ok and report.created >= 20
        text = SEED.read_text()
        for needed in ("CIMP", "MPCI", "CCP", "SCIT", "HSMP", "lapsed", "terminated", "2030-"):
            assert needed in text

    def test_import_is_idempotent(self, database: str) -> None:
        first = import_csv(SEED)
        second = import_csv(SEED)
        assert (second.created, second.updated, second.unchanged) == (0, 0, first.created)

    def test_changed_row_updates(self, database: str, tmp_path: Path) -> None:
        import_csv(SEED)
        changed = tmp_path / "changed.csv"
        changed.write_text(
            SEED.read_text().replace("CIMP,in_force,2020-01-01", "CIMP,lapsed,2020-01-01")
        )
        report = import_csv(changed)
        assert report.updated == 1

    def test_every_bad_row_is_reported_with_its_line_and_nothing_written(
        self, database: str, tmp_path: Path
    ) -> None:
        bad = tmp_path / "bad.csv"
        bad.write_text(
            "policy_number,holder_name,insured_name,insured_dob,plan_code,status,effective_date,riders\n"
            "CI1,A,A,1980-01-01,CIMP,in_force,2020-01-01,\n"
            "CI20000001,,B,1980-13-01,NOPE,active,2020-01-01,\n"
            "CI20000002,C,C,1980-01-01,CCP,in_force,2020-01-01,\n"
            "CI20000002,C,C,1980-01-01,CCP,in_force,2020-01-01,\n"
        )
        report = import_csv(bad)
        assert not report.ok
        joined = "\n".join(report.errors)
        assert "line 2: policy_number" in joined
        assert "line 3: holder_name is empty" in joined
        assert "line 3: plan_code 'NOPE'" in joined
        assert "line 3: status 'active'" in joined
        assert "line 3: insured_dob" in joined
        assert "line 5: policy_number CI20000002 repeats line 4" in joined
        assert import_csv(SEED).created == 22  # nothing from the bad file was written

    def test_missing_columns_and_unreadable_file(self, database: str, tmp_path: Path) -> None:
        bad = tmp_path / "cols.csv"
        bad.write_text("policy_number\nCI1\n")
        assert "missing column" in import_csv(bad).errors[0]
        assert "cannot read" in import_csv(tmp_path / "absent.csv").errors[0]


class TestVerification:
    who = Identity("whatsapp", "whatsapp:+85291234567")

    def test_verified_with_insured_date_of_birth(self, seeded: str) -> None:
        result = directory.verify(self.who, "ci10000001", date(1980, 3, 15), RULES, NOW)
        assert result.outcome == "verified" and result.policy.plan_code == "CIMP"

    def test_failure_is_uniform(self, seeded: str) -> None:
        wrong_date = directory.verify(self.who, "CI10000001", date(1980, 3, 16), RULES, NOW)
        unknown = directory.verify(
            Identity("wechat", "o1"), "CI00000000", date(1980, 3, 15), RULES, NOW
        )
        assert wrong_date.outcome == unknown.outcome == "failed"
        assert wrong_date.policy is None and unknown.policy is None

    def test_three_failures_lock_for_thirty_minutes(self, seeded: str) -> None:
        for minute in range(3):
            directory.verify(
                self.who, "CI10000001", date(1999, 1, 1), RULES, NOW + timedelta(minutes=minute)
            )
        locked = directory.verify(
            self.who, "CI10000001", date(1980, 3, 15), RULES, NOW + timedelta(minutes=5)
        )
        assert locked.outcome == "locked"
        assert locked.locked_until == NOW + timedelta(minutes=2 + 30)
        later = directory.verify(
            self.who, "CI10000001", date(1980, 3, 15), RULES, NOW + timedelta(minutes=33)
        )
        assert later.outcome == "verified"

    def test_success_resets_the_count(self, seeded: str) -> None:
        directory.verify(self.who, "CI10000001", date(1999, 1, 1), RULES, NOW)
        directory.verify(self.who, "CI10000001", date(1999, 1, 1), RULES, NOW)
        directory.verify(self.who, "CI10000001", date(1980, 3, 15), RULES, NOW)
        after = directory.verify(self.who, "CI10000001", date(1999, 1, 1), RULES, NOW)
        assert after.outcome == "failed"

    def test_lock_is_per_identity(self, seeded: str) -> None:
        for _ in range(3):
            directory.verify(self.who, "CI10000001", date(1999, 1, 1), RULES, NOW)
        other = Identity("wechat", "oAbc")
        assert (
            directory.verify(other, "CI10000001", date(1980, 3, 15), RULES, NOW).outcome
            == "verified"
        )

    def test_remembered_per_channel_for_a_period(self, seeded: str) -> None:
        directory.verify(self.who, "CI10000001", date(1980, 3, 15), RULES, NOW)
        assert (
            directory.remembered(self.who, RULES, NOW + timedelta(days=29)).number == "CI10000001"
        )
        assert directory.remembered(self.who, RULES, NOW + timedelta(days=31)) is None
        same_person_other_channel = Identity("wechat", "whatsapp:+85291234567")
        assert directory.remembered(same_person_other_channel, RULES, NOW) is None

    def test_consent_with_version(self, seeded: str) -> None:
        directory.record_consent(self.who, True, "v1", "yue", NOW)
        assert directory.has_consent(self.who, "v1")
        assert not directory.has_consent(self.who, "v2")
        directory.record_consent(self.who, False, "v1", "yue", NOW + timedelta(minutes=1))
        assert not directory.has_consent(self.who, "v1")


def _stranger(n: int) -> Identity:
    """A fresh REST sender: free to mint, so it must buy the attacker nothing."""
    return Identity("rest", f"rest:guess-{n}")


def _guesses(number: str, count: int, start: datetime = NOW, rules: LockoutPolicy = RULES,
             first: int = 0) -> list[str]:
    """``count`` wrong dates of birth for ``number``, each from a new sender, a second apart."""
    return [
        directory.verify(_stranger(first + n), number, date(1990, 1, 1) + timedelta(days=n),
                         rules, start + timedelta(seconds=n)).outcome
        for n in range(count)
    ]


class TestPolicyNumberLockout:
    """Finding 2 of issue 15: failures count per policy number, whoever sends them."""

    def test_new_senders_buy_no_extra_guesses(self, seeded: str) -> None:
        assert _guesses("CI10000001", 5) == ["failed"] * 4 + ["locked"]
        right = directory.verify(_stranger(99), "CI10000001", date(1980, 3, 15), RULES,
                                 NOW + timedelta(minutes=1))
        assert right.outcome == "locked" and right.policy is None
        assert right.locked_until == NOW + timedelta(seconds=4, minutes=30)
        # other policies, and the number's own customer once the lock has ended, are unaffected
        assert directory.verify(_stranger(100), "CA20000001", date(1985, 5, 5), RULES,
                                NOW + timedelta(minutes=1)).outcome == "verified"
        after = directory.verify(_stranger(101), "CI10000001", date(1980, 3, 15), RULES,
                                 NOW + timedelta(minutes=31))
        assert after.outcome == "verified"

    def test_a_number_that_does_not_exist_locks_and_answers_the_same(self, seeded: str) -> None:
        real = [directory.verify(_stranger(n), "CI10000001", date(1999, 1, 1), RULES,
                                 NOW + timedelta(seconds=n)) for n in range(7)]
        fake = [directory.verify(_stranger(n + 50), "CI10009999", date(1999, 1, 1), RULES,
                                 NOW + timedelta(seconds=n)) for n in range(7)]
        assert real == fake  # outcome, lock end and failures left: nothing tells them apart
        assert [r.outcome for r in fake] == ["failed"] * 4 + ["locked"] * 3

    def test_the_number_is_normalised_before_counting(self, seeded: str) -> None:
        _guesses("ci10000001", 2)
        _guesses(" CI10000001 ", 2, first=10)
        assert _guesses("CI10000001", 1, first=20) == ["locked"]

    def test_each_lock_out_is_longer_up_to_the_cap(self, seeded: str) -> None:
        rules = LockoutPolicy(lock_minutes=30, max_lock_hours=4, lock_memory_days=30)
        at = NOW
        assert _guesses("CI10000001", 5, at, rules) == ["failed"] * 4 + ["locked"]
        at += timedelta(seconds=4)
        lengths = []
        for n in range(6):
            until = directory.verify(_stranger(0), "CI10000001", date(1999, 1, 1), rules,
                                     at).locked_until
            lengths.append(until - at)
            # the lock holds to its end, then a single failure locks it again, for longer
            assert directory.verify(_stranger(200 + n), "CI10000001", date(1980, 3, 15), rules,
                                    until - timedelta(seconds=1)).outcome == "locked"
            assert _guesses("CI10000001", 1, until, rules, first=300 + n) == ["locked"]
            at = until
        minutes = [round(length.total_seconds() / 60) for length in lengths]
        assert minutes[0] == 30  # still the first lock (the failure above was refused)
        assert minutes[1:] == [60, 120, 240, 240, 240]

    def test_a_long_quiet_period_is_forgiven(self, seeded: str) -> None:
        rules = LockoutPolicy(lock_minutes=30, lock_memory_days=30)
        _guesses("CI10000001", 5, NOW, rules)
        quiet = NOW + timedelta(minutes=31, days=30)
        assert _guesses("CI10000001", 5, quiet, rules, first=10) == ["failed"] * 4 + ["locked"]
        end = directory.verify(_stranger(99), "CI10000001", date(1999, 1, 1), rules,
                               quiet + timedelta(minutes=1)).locked_until
        assert end == quiet + timedelta(seconds=4, minutes=30)  # a first lock again

    def test_the_customers_success_does_not_clear_the_guesses_of_others(
        self, seeded: str
    ) -> None:
        customer = Identity("whatsapp", "whatsapp:+85291234567")
        assert _guesses("CI10000001", 4) == ["failed"] * 4
        assert directory.verify(customer, "CI10000001", date(1980, 3, 15), RULES,
                                NOW + timedelta(seconds=10)).outcome == "verified"
        assert _guesses("CI10000001", 1, NOW + timedelta(seconds=20), first=10) == ["locked"]
        # the customer is refused too while it lasts: the answer sends them to the hotline
        again = directory.verify(customer, "CI10000001", date(1980, 3, 15), RULES,
                                 NOW + timedelta(minutes=1))
        assert again.outcome == "locked"

    def test_old_failures_fall_out_of_the_window(self, seeded: str) -> None:
        rules = LockoutPolicy(failure_window_hours=24)
        _guesses("CI10000001", 4, NOW, rules)
        later = NOW + timedelta(hours=25)
        assert _guesses("CI10000001", 4, later, rules, first=10) == ["failed"] * 4

    def test_a_burst_of_simultaneous_guesses_gets_no_more_than_the_limit(
        self, seeded: str
    ) -> None:
        """All at once, from many senders: the check, the attempt and the count are one
        transaction, taken in turns, so no guess slips past before the lock is counted."""
        from concurrent.futures import ThreadPoolExecutor
        from threading import Barrier

        start = Barrier(12)

        def one(n: int) -> str:
            start.wait()
            return directory.verify(_stranger(n), "CI10000001", date(1990, 1, 1 + n), RULES,
                                    NOW).outcome

        with ThreadPoolExecutor(12) as pool:
            outcomes = list(pool.map(one, range(12)))
        assert sorted(outcomes) == ["failed"] * 4 + ["locked"] * 8

    def test_attempts_store_a_keyed_hash_never_the_number(self, seeded: str) -> None:
        from sqlalchemy import select

        from bot.db import read_session
        from bot.policies.models import VerificationAttempt, VerificationLock

        _guesses("CI10009999", 5)
        with read_session() as db:
            attempts = db.execute(select(VerificationAttempt)).scalars().all()
            locks = db.execute(select(VerificationLock)).scalars().all()
        keys = {attempt.policy_key for attempt in attempts}
        assert len(keys) == 1 and len(locks) == 1 and locks[0].subject in keys
        stored = " ".join(f"{a.policy_key} {a.client_key} {a.external_id}" for a in attempts)
        assert "9999" not in stored and "CI1" not in stored
        key = keys.pop()
        assert len(key) == 64 and key != hashlib.sha256(b"CI10009999").hexdigest()


class TestClientLockout:
    """Per REST client (its pseudonymous ``client_key``), across numbers and senders."""

    def test_one_client_spraying_many_numbers_is_locked(self, seeded: str) -> None:
        rules = LockoutPolicy(client_max_failures=10)
        outcomes = [
            directory.verify(_stranger(n), f"CI1000{n:04d}", date(1999, 1, 1), rules,
                             NOW + timedelta(seconds=n), client_key="client-a").outcome
            for n in range(1, 11)
        ]
        assert outcomes == ["failed"] * 9 + ["locked"]
        # locked for every number and sender, even with the right details ...
        assert directory.verify(_stranger(50), "CA20000001", date(1985, 5, 5), rules,
                                NOW + timedelta(minutes=1), client_key="client-a"
                                ).outcome == "locked"
        # ... while another client (or WhatsApp, with no client key) goes on as before
        assert directory.verify(_stranger(51), "CA20000001", date(1985, 5, 5), rules,
                                NOW + timedelta(minutes=1), client_key="client-b"
                                ).outcome == "verified"
        assert directory.verify(Identity("whatsapp", "whatsapp:+85290000000"), "CA20000002",
                                date(1959, 12, 12), rules, NOW + timedelta(minutes=1)
                                ).outcome == "verified"

    def test_the_client_key_is_read_from_the_channels_metadata(self) -> None:
        from rasa_sdk import Tracker

        from actions.verification import client_key_of

        def tracker(metadata: object) -> Tracker:
            latest = {"text": "01/01/1990", "metadata": metadata}
            return Tracker("rest:a", {}, latest, [], False, None, {}, "action_listen")

        assert client_key_of(tracker({"client_key": "k1"})) == "k1"
        for absent in ({}, None, {"client_key": ""}, {"client_key": 7}, "client_key"):
            assert client_key_of(tracker(absent)) is None


class TestLockoutSettings:
    def test_defaults_and_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("SMO_VERIFY_POLICY_MAX_FAILURES", "SMO_VERIFY_CLIENT_MAX_FAILURES",
                     "SMO_VERIFY_FAILURE_WINDOW_HOURS", "SMO_VERIFY_MAX_LOCK_HOURS",
                     "SMO_VERIFY_LOCK_MEMORY_DAYS"):
            monkeypatch.delenv(name, raising=False)
        assert LockoutPolicy.from_env() == LockoutPolicy()
        assert LockoutPolicy().policy_max_failures == 5  # tests/security assume this default
        monkeypatch.setenv("SMO_VERIFY_POLICY_MAX_FAILURES", "8")
        monkeypatch.setenv("SMO_VERIFY_MAX_LOCK_HOURS", "48")
        rules = LockoutPolicy.from_env()
        assert rules.policy_max_failures == 8
        assert rules.backoff.length(99) == timedelta(hours=48)

    def test_zero_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SMO_VERIFY_POLICY_MAX_FAILURES", "0")
        with pytest.raises(ValueError, match="SMO_VERIFY_POLICY_MAX_FAILURES"):
            LockoutPolicy.from_env()


def _policy(
    plan: str, status: str = "in_force", effective: date = date(2020, 1, 1)
) -> VerifiedPolicy:
    return VerifiedPolicy("CI10000001", plan, status, effective, 1)


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (_policy("CIMP"), "eligible"),
        (_policy("MPCI"), "eligible"),
        (_policy("CCP"), "eligible"),
        (_policy("SCIT"), "eligible"),
        (_policy("HSMP"), "plan_not_covered"),
        (_policy("TLP", "lapsed"), "plan_not_covered"),
        (_policy("CIMP", "lapsed"), "not_in_force"),
        (_policy("CCP", "terminated"), "not_in_force"),
        (_policy("SCIT", effective=date(2026, 11, 28)), "not_yet_effective"),
        (_policy("SCIT", effective=date(2026, 11, 27)), "eligible"),
        (None, "not_found"),
    ],
)
def test_every_eligibility_reason(policy: VerifiedPolicy | None, reason: str) -> None:
    result = check(policy, today=date(2026, 11, 27))
    assert result.reason == reason
    assert result.eligible == (reason == "eligible")
