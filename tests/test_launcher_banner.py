"""What ``make run`` prints: the commands to try it must reach this run, on whatever ports."""

from __future__ import annotations

import pytest

from bot.launcher import Sandbox, _banner
from bot.settings import load_settings


def test_default_ports_give_the_short_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SMO_PORT", "SMO_HOST"):
        monkeypatch.delenv(name, raising=False)
    text = _banner(load_settings(), Sandbox(5101, 5102))
    assert "make chat" in text
    assert "channels.sandbox.play whatsapp\n" in text and "--server" not in text


def test_other_ports_are_named_in_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMO_PORT", "6005")
    monkeypatch.delenv("SMO_HOST", raising=False)
    text = _banner(load_settings(), Sandbox(6101, 6102))
    assert "bot.chat --url http://127.0.0.1:6005/webhooks/rest/webhook" in text
    assert "play whatsapp --server http://127.0.0.1:6005 --fake http://127.0.0.1:6101" in text
    assert "play wechat --server http://127.0.0.1:6005 --fake http://127.0.0.1:6102" in text
