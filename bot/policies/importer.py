"""Import policies from CSV, validating every row; importing the same file twice changes nothing.

Columns (header required): ``policy_number, holder_name, insured_name, insured_dob, plan_code,
status, effective_date, riders`` — dates as YYYY-MM-DD, status one of in_force / lapsed /
terminated, riders separated by ``;``. A row that fails validation is reported with its line number
and nothing from the file is written (all or nothing), so a half-imported file never exists.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import select

from bot.db import session
from bot.plans import catalogue
from bot.policies.models import POLICY_STATUSES, Customer, Policy

COLUMNS = (
    "policy_number",
    "holder_name",
    "insured_name",
    "insured_dob",
    "plan_code",
    "status",
    "effective_date",
    "riders",
)
_POLICY_NUMBER = re.compile(r"^[A-Z0-9-]{4,32}$")


@dataclass
class ImportReport:
    """What an import did, or why it did nothing."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class PolicyRow:
    """One validated CSV row."""

    number: str
    holder_name: str
    insured_name: str
    insured_dob: date
    plan_code: str
    status: str
    effective_date: date
    riders: tuple[str, ...]


def _date(value: str, column: str, line: int, errors: list[str]) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        errors.append(f"line {line}: {column} {value!r} is not a date (YYYY-MM-DD)")
        return None


def parse_rows(text: str) -> tuple[list[PolicyRow], list[str]]:
    """Validate every row; return the good rows and one message per problem."""
    errors: list[str] = []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        return [], [f"line 1: missing column(s): {', '.join(missing)}"]
    plans = catalogue()
    rows: list[PolicyRow] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(reader, start=2):
        values = {k: (raw.get(k) or "").strip() for k in COLUMNS}
        before = len(errors)
        number = values["policy_number"].upper()
        if not _POLICY_NUMBER.match(number):
            errors.append(
                f"line {line}: policy_number {values['policy_number']!r} is not valid "
                "(4-32 letters, digits or '-')"
            )
        elif number in seen:
            errors.append(f"line {line}: policy_number {number} repeats line {seen[number]}")
        else:
            seen[number] = line
        for column in ("holder_name", "insured_name"):
            if not values[column]:
                errors.append(f"line {line}: {column} is empty")
        if values["plan_code"] not in plans:
            errors.append(
                f"line {line}: plan_code {values['plan_code']!r} is not in data/plans.yml"
            )
        if values["status"] not in POLICY_STATUSES:
            errors.append(
                f"line {line}: status {values['status']!r} must be one of "
                f"{', '.join(POLICY_STATUSES)}"
            )
        dob = _date(values["insured_dob"], "insured_dob", line, errors)
        effective = _date(values["effective_date"], "effective_date", line, errors)
        if dob and dob > date.today():
            errors.append(f"line {line}: insured_dob is in the future")
        if len(errors) == before and dob and effective:
            rows.append(
                PolicyRow(
                    number,
                    values["holder_name"],
                    values["insured_name"],
                    dob,
                    values["plan_code"],
                    values["status"],
                    effective,
                    tuple(r.strip() for r in values["riders"].split(";") if r.strip()),
                )
            )
    return rows, errors


def import_csv(path: Path, url: str | None = None) -> ImportReport:
    """Validate ``path`` and upsert its policies; nothing is written if any row is invalid."""
    report = ImportReport()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        report.errors.append(f"cannot read {path}: {exc}")
        return report
    rows, report.errors = parse_rows(text)
    if report.errors:
        return report
    with session(url) as db:
        for row in rows:
            customer = db.execute(
                select(Customer).where(
                    Customer.name == row.insured_name, Customer.date_of_birth == row.insured_dob
                )
            ).scalar_one_or_none()
            if customer is None:
                customer = Customer(name=row.insured_name, date_of_birth=row.insured_dob)
                db.add(customer)
                db.flush()
            wanted = {
                "holder_name": row.holder_name,
                "insured_id": customer.id,
                "plan_code": row.plan_code,
                "status": row.status,
                "effective_date": row.effective_date,
                "riders": list(row.riders),
            }
            policy = db.get(Policy, row.number)
            if policy is None:
                db.add(Policy(number=row.number, **wanted))
                report.created += 1
            elif any(getattr(policy, k) != v for k, v in wanted.items()):
                for key, value in wanted.items():
                    setattr(policy, key, value)
                report.updated += 1
            else:
                report.unchanged += 1
    return report
