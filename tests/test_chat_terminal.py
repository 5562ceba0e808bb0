"""``make chat``: the terminal chat ends on the leave words without sending them."""

from __future__ import annotations

import pytest

from bot import chat


@pytest.mark.parametrize("leave", sorted(chat.LEAVE_COMMANDS))
def test_leave_words_end_the_chat_unsent(leave: str, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    sent: list[str] = []
    lines = iter(["hello", leave, "never sent"])
    monkeypatch.setattr("builtins.input", lambda _prompt="": next(lines))
    monkeypatch.setattr(chat, "send", lambda _url, _sender, text: sent.append(text) or [])
    monkeypatch.setattr(chat, "poll_staff_replies", lambda *_args: None)
    assert chat.main(["--url", "http://127.0.0.1:9/webhooks/rest/webhook"]) == 0
    assert sent == ["hello"]
    assert "cannot reach" not in capsys.readouterr().err
