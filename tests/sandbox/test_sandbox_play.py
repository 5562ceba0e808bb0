"""The terminal player against a stand-in assistant that checks signatures like the real one."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import processes
import pytest
import requests
import twilio.rest
from aiohttp import web
from twilio.request_validator import RequestValidator
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from channels.sandbox import defaults, fake_twilio, fake_wechat, play
from channels.sandbox.runner import BackgroundServer

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_BASE = "https://smo.example.org"


class StandIn:
    """A minimal assistant: verifies each webhook, answers passively, and sends one message
    back through the fake provider with the official client."""

    def __init__(self, twilio_url: str, wechat_url: str) -> None:
        self.received: list[dict[str, Any]] = []
        self.twilio = fake_twilio.point_client_at(
            twilio.rest.Client(defaults.TWILIO_ACCOUNT_SID, defaults.TWILIO_AUTH_TOKEN),
            twilio_url,
        )
        self.wechat = fake_wechat.sandbox_wechat_client(
            defaults.WECHAT_APP_ID, defaults.WECHAT_APP_SECRET, wechat_url, timeout=5
        )
        app = web.Application()
        app.router.add_post(play.WHATSAPP_PATH, self.whatsapp)
        app.router.add_post(play.WECHAT_PATH, self.wechat_hook)
        self.server = BackgroundServer(app)

    async def whatsapp(self, request: web.Request) -> web.Response:
        form = await request.post()
        params = {key: form[key] for key in form}
        validator = RequestValidator(defaults.TWILIO_AUTH_TOKEN)
        url = PUBLIC_BASE + request.path
        if not validator.validate(url, params, request.headers.get("X-Twilio-Signature", "")):
            return web.Response(status=403, text="bad signature")
        self.received.append(params)
        body = f"You said: {params['Body']}\n1. Yes\n2. No"
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: self.twilio.messages.create(
            to=params["From"], from_=params["To"], body=body))
        return web.Response(
            text="<?xml version='1.0'?><Response><Message>got it</Message></Response>",
            content_type="text/xml",
        )

    async def wechat_hook(self, request: web.Request) -> web.Response:
        query = request.query
        token = defaults.WECHAT_TOKEN
        try:
            check_signature(token, query["signature"], query["timestamp"], query["nonce"])
        except InvalidSignatureException:
            return web.Response(status=403, text="bad signature")
        body = raw = await request.text()
        crypto = WeChatCrypto(token, defaults.WECHAT_ENCODING_AES_KEY, defaults.WECHAT_APP_ID)
        safe = query.get("encrypt_type") == "aes"
        if safe:
            raw = crypto.decrypt_message(
                raw, query["msg_signature"], query["timestamp"], query["nonce"]
            )
        message = parse_message(raw)
        self.received.append(
            {"query": dict(query), "message": message, "xml": raw, "body": body}
        )
        if message.type == "text":
            menu = {
                "touser": message.source, "msgtype": "msgmenu",
                "msgmenu": {"head_content": "Confirm?", "tail_content": "",
                            "list": [{"id": "101", "content": "Yes"},
                                     {"id": "102", "content": "No"}]},
            }
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(
                None, lambda: self.wechat.post("message/custom/send", data=menu)
            )
            reply = create_reply(f"收到: {message.content}", message).render()
            if safe:
                reply = crypto.encrypt_message(reply, query["nonce"], query["timestamp"])
            return web.Response(text=reply, content_type="application/xml")
        return web.Response(text="success")


@pytest.fixture()
def world(twilio_fake, wechat_fake) -> Iterator[StandIn]:
    stand_in = StandIn(twilio_fake.url, wechat_fake.url)
    with stand_in.server:
        yield stand_in


def _run(player, lines: list[str]) -> list[str]:
    out: list[str] = []
    asyncio.run(play.play(player, lines, out.append, poll_interval=0.05, linger=0.6))
    return out


def test_whatsapp_player_signs_and_shows_both_replies(world, twilio_fake) -> None:
    player = play.WhatsAppPlayer(user="+85291234567", server=world.server.url,
                                 fake=twilio_fake.url, public_base=PUBLIC_BASE)
    out = _run(player, ["我想預約", "/media https://example.org/x.jpg image/jpeg",
                        "/button Yes YES_PAYLOAD"])
    assert [r["Body"] for r in world.received] == ["我想預約", "", "Yes"]
    assert world.received[1]["NumMedia"] == "1"
    assert world.received[1]["MessageSid"].startswith("MM")
    assert world.received[2]["ButtonPayload"] == "YES_PAYLOAD"
    assert out.count("bot (reply): got it") == 3
    polled = [line for line in out if line.startswith("bot: ")]
    assert len(polled) == 3
    assert polled[0].startswith("bot: You said: 我想預約")
    assert "1. Yes" in polled[0] and "2. No" in polled[0]


@pytest.mark.parametrize("leave", ["/quit", "/exit", "/stop"])
def test_player_leaves_on_any_leave_command_without_sending_it(world, twilio_fake,
                                                               leave: str) -> None:
    """``make chat`` and the players end on the same words (a user of one tries the other's)."""
    player = play.WhatsAppPlayer(user="+85291234567", server=world.server.url,
                                 fake=twilio_fake.url, public_base=PUBLIC_BASE)
    _run(player, ["first", leave, "never sent"])
    assert [r["Body"] for r in world.received] == ["first"]


def test_whatsapp_player_signature_covers_the_public_base(world, twilio_fake) -> None:
    player = play.WhatsAppPlayer(server=world.server.url, fake=twilio_fake.url,
                                 public_base="https://wrong.example.org")
    out = _run(player, ["hello"])
    assert world.received == []
    assert any("HTTP 403" in line for line in out)


def test_whatsapp_player_ignores_earlier_history(world, twilio_fake) -> None:
    world.twilio.messages.create(to="whatsapp:+85291234567", from_=defaults.TWILIO_WHATSAPP_FROM,
                                 body="old news")
    player = play.WhatsAppPlayer(server=world.server.url, fake=twilio_fake.url,
                                 public_base=PUBLIC_BASE)
    out = _run(player, ["/bogus", "/quit", "never sent"])
    assert world.received == []
    assert out == ["! unknown or incomplete command: /bogus"]


@pytest.mark.parametrize("safe_mode", [False, True])
def test_wechat_player_plain_and_safe_mode(world, wechat_fake, safe_mode: bool) -> None:
    player = play.WeChatPlayer(user="oSandboxUser1", server=world.server.url,
                               fake=wechat_fake.url, safe_mode=safe_mode)
    out = _run(player, ["/subscribe", "我頭痛", "/voice 發燒", "/location 22.28 114.15 中環"])
    messages = [r["message"] for r in world.received]
    assert [m.type for m in messages] == ["event", "text", "voice", "location"]
    assert messages[0].event == "subscribe"
    assert messages[1].content == "我頭痛"
    assert messages[2].recognition == "發燒"
    assert messages[3].label == "中環"
    assert all(m.source == "oSandboxUser1" for m in messages)
    assert all(m.target == defaults.WECHAT_ORIGINAL_ID for m in messages)
    query = world.received[1]["query"]
    assert query["openid"] == "oSandboxUser1"
    assert ("encrypt_type" in query) is safe_mode
    assert ("msg_signature" in query) is safe_mode
    assert ("<Encrypt>" in world.received[1]["body"]) is safe_mode
    assert ("我頭痛" in world.received[1]["body"]) is not safe_mode
    assert "bot (reply): 收到: 我頭痛" in out
    menu = [line for line in out if line.startswith("bot: Confirm?")]
    assert menu and "1. Yes" in menu[0] and "2. No" in menu[0]


def test_wechat_player_picks_a_menu_option(world, wechat_fake) -> None:
    player = play.WeChatPlayer(server=world.server.url, fake=wechat_fake.url)

    async def lines():
        yield "hello"
        await asyncio.sleep(0.5)  # let the poller see the menu
        yield "/pick 2"

    out: list[str] = []
    asyncio.run(play.play(player, lines(), out.append, poll_interval=0.05, linger=0.3))
    picked = world.received[-1]
    assert picked["message"].content == "No"
    assert "<bizmsgmenuid>102</bizmsgmenuid>" in picked["xml"]


def test_formatting_of_provider_records() -> None:
    assert play.format_twilio_message(
        {"body": "", "content_sid": "HX1", "content_variables": '{"1":"x"}', "media_url": []}
    ) == 'bot: [template HX1 variables {"1":"x"}]'
    assert play.format_wechat_message(
        {"kind": "template", "template_id": "T1", "data": {"first": {"value": "hi"}}}
    ) == "bot [template T1]: first=hi"
    assert play.twiml_messages("<Response><Message><Body>a</Body></Message></Response>") == ["a"]
    assert play.twiml_messages("") == []


def _wait_healthy(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}")
        try:
            if requests.get(url + "/_sandbox/health", timeout=1).ok:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError("not healthy in time")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("module", ["fake_twilio", "fake_wechat"])
def test_fakes_start_from_the_command_line(module: str) -> None:
    port = _free_port()
    process = processes.start(
        [sys.executable, "-m", f"channels.sandbox.{module}", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process)
    finally:
        processes.stop(process, timeout=10)


def test_player_runs_from_the_command_line(world, twilio_fake) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PUBLIC_BASE_URL": PUBLIC_BASE}
    result = subprocess.run(
        [sys.executable, "-m", "channels.sandbox.play", "whatsapp", "--as", "+85290000000",
         "--server", world.server.url, "--fake", twilio_fake.url, "--poll", "0.05",
         "--linger", "0.8"],
        input="hello from the terminal\n", capture_output=True, text=True, cwd=ROOT, env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "bot (reply): got it" in result.stdout
    assert "bot: You said: hello from the terminal" in result.stdout
    assert world.received[0]["From"] == "whatsapp:+85290000000"
