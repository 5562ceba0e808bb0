"""Masking personal data for display and logs: keep enough to recognise, not enough to identify."""

from __future__ import annotations

import re


def mask_identifier(value: str, keep: int = 4) -> str:
    """``whatsapp:+85291234567`` → ``••••4567``; short values are masked whole."""
    value = value or ""
    if len(value) <= keep:
        return "•" * len(value)
    return "••••" + value[-keep:]


_PATTERNS = [
    # Policy numbers first: their first nine characters also look like an HKID number.
    (re.compile(r"\b[A-Z]{2}\d{8}\b", re.I), "[POLICY]"),  # policy numbers
    (re.compile(r"\b[A-Z]{1,2}\d{6}\(?[0-9A]\)?", re.I), "[HKID]"),  # HKID-like
    (re.compile(r"\+?\d[\d\s\-]{7,}\d"), "[PHONE]"),  # phone numbers
    (
        re.compile(r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b"),
        "[DATE]",
    ),
    (re.compile(r"\d{2,4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*[日号號]?"), "[DATE]"),
]


def mask_text(text: str) -> str:
    """Replace identifiers (HKID, policy number, phone, dates) inside free text."""
    for pattern, label in _PATTERNS:
        text = pattern.sub(label, text)
    return text
