"""No personal data in the logs of an end-to-end run.

Runs after the other end-to-end tests of the session (file order) and reads the combined log of
every process the launcher started: no policy number, date of birth, phone number or message
text that those tests sent may appear in it.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow

SECRETS = [
    "CI10000001", "CA20000001", "MD30000001", "CI10000007", "CI10000010",  # policy numbers
    "15/03/1980", "1980-03-15", "1980年3月15日", "05-05-85",  # dates of birth
    "9123 4567",  # the call-back number
    "colon cancer", "乳腺癌", "大腸癌", "chest pain", "心口好痛",  # what customers described
]
PHONE = re.compile(r"\+852\d{8}")


def test_logs_hold_no_personal_data(assistant) -> None:
    log = assistant.log.read_text(encoding="utf-8", errors="replace")
    assert len(log) > 0
    leaks = [secret for secret in SECRETS if secret in log]
    phones = sorted(set(PHONE.findall(log)))
    assert not leaks and not phones, f"personal data in logs: {leaks} {phones[:5]}"


def test_logs_are_structured(assistant) -> None:
    """Not at a terminal, our servers log one JSON object per line (SMO_LOG_FORMAT=auto)."""
    import json

    records = []
    for line in assistant.log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    ours = [r for r in records if {"timestamp", "level", "logger", "event"} <= set(r)]
    assert len(ours) >= 5, "expected JSON log lines from the gateway and the core"
    assert {r["logger"].split(".")[0] for r in ours} & {"bot", "channels"}
