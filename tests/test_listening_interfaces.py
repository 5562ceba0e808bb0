"""Least access: every server ``make run`` starts listens on loopback unless told otherwise.

The Rasa SDK's action server, left to itself, listens on every interface; it sees health data
and only the core calls it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net")]


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on ``port`` (IPv4 and IPv6, from /proc)."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(_address(address))
    return found


def _address(hex_address: str) -> str:
    """/proc's little-endian hex address as text (enough to tell loopback from any)."""
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return ".".join(str(b) for b in reversed(raw))
    words = [raw[i:i + 4][::-1].hex() for i in range(0, 16, 4)]
    return ":".join(words)


def test_address_decoding() -> None:
    assert _address("0100007F") == "127.0.0.1"
    assert _address("00000000") == "0.0.0.0"


def test_every_server_listens_on_loopback_only(assistant) -> None:
    processes = json.loads((assistant.var_dir / "processes.json").read_text(encoding="utf-8"))
    ports = {"public server": int(assistant.base_url.rsplit(":", 1)[1]),
             "action server": assistant.action_port, "core": assistant.core_port}
    ports.update({name: int(url.rsplit(":", 1)[1]) for name, url in
                  (("fake Twilio", assistant.fake_twilio), ("fake WeChat", assistant.fake_wechat))})
    assert "action server" in processes
    for name, port in ports.items():
        addresses = listening_addresses(port)
        assert addresses == {"127.0.0.1"}, f"{name} on port {port} listens on {addresses}"


def test_the_action_server_is_ours_behind_its_secret(assistant) -> None:
    """Loopback is not enough on a shared host: the action server ``make run`` starts is the one
    that demands the core's secret (bot/action_server.py), not the stock SDK's."""
    processes = json.loads((assistant.var_dir / "processes.json").read_text(encoding="utf-8"))
    command = Path(f"/proc/{processes['action server']}/cmdline").read_bytes().split(b"\0")
    assert b"bot.action_server" in command
