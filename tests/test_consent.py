"""Consent is stored with the wording version, and the version changes with the wording."""

from __future__ import annotations

from bot.consent import wording_fingerprint, wording_version
from bot.paths import DATA_DIR
from bot.yamlfile import load_yaml


def test_wording_change_needs_a_new_version() -> None:
    recorded = load_yaml(DATA_DIR / "consent.yml")["wording_sha256"]
    assert recorded == wording_fingerprint(), (
        "utter_ask_consent_given changed: bump `version` in data/consent.yml and set "
        f"wording_sha256: {wording_fingerprint()}"
    )


def test_version_is_set() -> None:
    assert wording_version()
