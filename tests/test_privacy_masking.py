"""The log mask hides each kind of identifier completely (no digit left over)."""

from __future__ import annotations

import pytest

from bot.privacy import mask_text


@pytest.mark.parametrize(("text", "masked"), [
    ("policy CI10000001 please", "policy [POLICY] please"),
    ("my HKID is A123456(7)", "my HKID is [HKID]"),
    ("call +852 9123 4567", "call [PHONE]"),
    ("born 15/03/1980", "born [DATE]"),
    ("1980年3月15日出世", "[DATE]出世"),
])
def test_identifiers_are_masked_whole(text: str, masked: str) -> None:
    assert mask_text(text) == masked
