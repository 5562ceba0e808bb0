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


def test_demo_passwords_only_in_the_sandbox_at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.launcher import demo_users_wanted

    monkeypatch.delenv("SMO_DEMO_USERS", raising=False)
    settings, sandbox = load_settings(), Sandbox(5101, 5102)
    assert demo_users_wanted(settings, sandbox, terminal=True)
    assert not demo_users_wanted(settings, sandbox, terminal=False)  # a log file, a collector
    assert not demo_users_wanted(settings, None, terminal=True)  # real providers: real staff
    monkeypatch.setenv("SMO_DEMO_USERS", "false")
    assert not demo_users_wanted(load_settings(), sandbox, terminal=True)


def test_banner_without_demo_accounts_says_how_to_add_one() -> None:
    text = _banner(load_settings(), Sandbox(5101, 5102), {}, "(demo accounts: terminal only)")
    assert "python -m bot.console users add NAME --role nurse|case_doctor|admin" in text
    assert "(demo accounts: terminal only)" in text and ".demo" not in text


def test_banner_at_a_terminal_lists_the_demo_accounts() -> None:
    text = _banner(load_settings(), Sandbox(5101, 5102),
                   {"nurse.demo": ("nurse", "pw-shown-once-123")})
    assert "nurse.demo" in text and "pw-shown-once-123" in text
    assert "users add" not in text
