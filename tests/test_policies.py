"""Policy import, verification with lockout, remembered identities, consent, eligibility."""

from __future__ import annotations

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
