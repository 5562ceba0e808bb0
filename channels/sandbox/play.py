"""Talk to the running assistant as a WhatsApp or WeChat user, from the terminal.

    python -m channels.sandbox.play whatsapp [--as +85291234567] [--server http://127.0.0.1:5005]
        [--fake http://127.0.0.1:5101] [--public-base URL]
    python -m channels.sandbox.play wechat [--as oSandboxUser1] [--plain]
        [--server http://127.0.0.1:5005] [--fake http://127.0.0.1:5102]

Each line read from standard input is POSTed to the server as the provider would post it, signed
with the provider's algorithm:

- WhatsApp: ``POST {server}/webhooks/whatsapp/webhook``, Twilio's form parameters, and
  ``X-Twilio-Signature`` computed over ``{public base}/webhooks/whatsapp/webhook`` (the public
  base is ``--public-base``, else ``PUBLIC_BASE_URL``, else ``--server``). A TwiML reply is
  printed.
- WeChat: ``POST {server}/webhooks/wechat/webhook?signature=..&timestamp=..&nonce=..&openid=..``
  in safe mode (the default, as ``make run``'s sandbox configures an AES key, and a product with
  a key accepts nothing else): the body is encrypted and ``encrypt_type=aes`` and
  ``msg_signature`` are added. ``--plain`` posts the message XML as is, for a product started
  without ``WECHAT_ENCODING_AES_KEY``. A passive reply is printed (decrypted in safe mode).

Meanwhile the fake provider (``--fake``) is polled for messages the assistant sent to this user,
which are printed as they arrive: numbered options, WhatsApp buttons and lists, WeChat menus.
Credentials come from ``TWILIO_AUTH_TOKEN``, ``TWILIO_ACCOUNT_SID``, ``TWILIO_WHATSAPP_FROM``,
``WECHAT_TOKEN``, ``WECHAT_ENCODING_AES_KEY``, ``WECHAT_APP_ID`` (and ``WECHAT_ORIGINAL_ID``)
and ``PUBLIC_BASE_URL``, else the sandbox defaults.

Commands (a line starting with ``/``; anything else is a text message):
  WhatsApp: /media URL [CONTENT-TYPE]   /button TEXT [PAYLOAD]   /location LAT LON [LABEL]
            /tap N   (tap button or list item N of the last message with choices)
  WeChat:   /subscribe   /unsubscribe   /click KEY   /image URL   /voice RECOGNISED TEXT
            /location LAT LON [LABEL]   /pick N   (tap option N of the last menu message)
  Both:     /quit (or /exit, /stop)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientError, ClientSession, ClientTimeout

from bot.chat import LEAVE_COMMANDS

from . import defaults, signing

WHATSAPP_PATH = "/webhooks/whatsapp/webhook"
WECHAT_PATH = "/webhooks/wechat/webhook"

Out = Callable[[str], None]


class UsageError(ValueError):
    """A command line the player cannot turn into a message."""


def _indent(text: str, prefix: str = "     ") -> str:
    return "\n".join(prefix + line if i else line for i, line in enumerate(text.splitlines()))


# ------------------------------------------------------------------------------------ WhatsApp


@dataclass
class WhatsAppPlayer:
    user: str = defaults.SANDBOX_WHATSAPP_USER
    server: str = f"http://127.0.0.1:{defaults.RASA_PORT}"
    fake: str = f"http://127.0.0.1:{defaults.FAKE_TWILIO_PORT}"
    public_base: str | None = None
    auth_token: str = field(default_factory=lambda: defaults.setting("TWILIO_AUTH_TOKEN"))
    account_sid: str = field(default_factory=lambda: defaults.setting("TWILIO_ACCOUNT_SID"))
    bot_number: str = field(default_factory=lambda: defaults.setting("TWILIO_WHATSAPP_FROM"))
    profile_name: str = "Sandbox User"
    seen: set[str] = field(default_factory=set)
    last_choices: list[dict[str, str]] = field(default_factory=list)  # {"title", "id"}

    @property
    def address(self) -> str:
        return signing.whatsapp_address(self.user)

    @property
    def webhook_url(self) -> str:
        return self.server.rstrip("/") + WHATSAPP_PATH

    @property
    def signed_url(self) -> str:
        return (self.public_base or self.server).rstrip("/") + WHATSAPP_PATH

    def build(self, line: str) -> tuple[str, dict[str, str], dict[str, str]]:
        """(url, form, headers) of the webhook call for one typed line."""
        extra: dict[str, str] = {}
        media: list[tuple[str, str]] = []
        body = line
        if line.startswith("/"):
            command, _, rest = line.partition(" ")
            args = rest.split()
            if command == "/media" and args:
                media = [(args[0], args[1] if len(args) > 1 else "image/jpeg")]
                body = ""
            elif command == "/button" and args:
                text = args[0] if len(args) == 1 else " ".join(args[:-1])
                payload = args[-1] if len(args) > 1 else args[0]
                body = text
                extra = {"ButtonText": text, "ButtonPayload": payload}
            elif command == "/tap" and args and args[0].isdigit():
                index = int(args[0]) - 1
                if not 0 <= index < len(self.last_choices):
                    raise UsageError(f"no choice {args[0]} in the last message with buttons")
                choice = self.last_choices[index]
                body = choice["title"]
                extra = ({"ButtonText": body, "ButtonPayload": choice["id"]}
                         if choice.get("kind") == "button"
                         else {"ListTitle": body, "ListId": choice["id"]})
                extra["MessageType"] = "interactive" if "ListId" in extra else "button"
            elif command == "/location" and len(args) >= 2:
                body = ""
                extra = {"Latitude": args[0], "Longitude": args[1], "MessageType": "location"}
                if len(args) > 2:
                    extra["Address"] = " ".join(args[2:])
            else:
                raise UsageError(f"unknown or incomplete command: {line}")
        form = signing.twilio_inbound_form(
            self.address, self.bot_number, body, media=media, account_sid=self.account_sid,
            profile_name=self.profile_name, **extra,
        )
        signature = signing.twilio_signature(self.auth_token, self.signed_url, form)
        headers = {"X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1"}
        return self.webhook_url, form, headers

    async def send(self, session: ClientSession, line: str) -> list[str]:
        url, form, headers = self.build(line)
        async with session.post(url, data=form, headers=headers) as response:
            text = await response.text()
            if response.status >= 300:
                return [f"! server answered HTTP {response.status}: {text[:300]}"]
        return [f"bot (reply): {_indent(body)}" for body in twiml_messages(text)]

    async def prime(self, session: ClientSession) -> None:
        for item in await self._fetch(session):
            self.seen.add(item["sid"])

    async def poll(self, session: ClientSession) -> list[str]:
        lines = []
        for item in await self._fetch(session):
            if item["sid"] in self.seen:
                continue
            self.seen.add(item["sid"])
            if item.get("content"):
                self.last_choices = content_choices(item["content"])
            lines.append(format_twilio_message(item))
        return lines

    async def _fetch(self, session: ClientSession) -> list[dict[str, Any]]:
        url = self.fake.rstrip("/") + "/_sandbox/messages?" + urlencode({"to": self.address})
        async with session.get(url) as response:
            response.raise_for_status()
            return await response.json()


def twiml_messages(text: str) -> list[str]:
    """The texts of the ``<Message>`` verbs of a TwiML answer (none if it is not TwiML)."""
    if "<Response" not in text:
        return []
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return []
    bodies = []
    for message in root.iter("Message"):
        body = message.find("Body")
        bodies.append((body.text if body is not None else message.text) or "")
    return bodies


def content_choices(types: dict[str, Any]) -> list[dict[str, str]]:
    """The buttons or list items of a content (Content API types), in order."""
    quick = types.get("twilio/quick-reply")
    if quick:
        return [{"title": a["title"], "id": a["id"], "kind": "button"}
                for a in quick.get("actions") or []]
    picker = types.get("twilio/list-picker") or {}
    return [{"title": i["item"], "id": i["id"], "kind": "list"} for i in picker.get("items") or []]


def format_twilio_message(item: dict[str, Any]) -> str:
    """A message as the WhatsApp user sees it: buttons or a list for content with choices."""
    parts = []
    content = item.get("content") or {}
    choices = content_choices(content)
    if choices:
        interactive = content.get("twilio/quick-reply") or content.get("twilio/list-picker")
        parts.append(interactive.get("body") or "")
        if "twilio/list-picker" in content:
            parts.append(f"[list: {content['twilio/list-picker'].get('button', '')}]")
        parts.extend(f"  [{c['title']}]   (/tap {n})" for n, c in enumerate(choices, 1))
        return "bot: " + _indent("\n".join(p for p in parts if p))
    if item.get("body"):
        parts.append(item["body"])
    if item.get("content_sid"):
        variables = item.get("content_variables") or "{}"
        parts.append(f"[template {item['content_sid']} variables {variables}]")
    for url in item.get("media_url") or []:
        parts.append(f"[media {url}]")
    return "bot: " + _indent("\n".join(parts) or "(empty)")


# -------------------------------------------------------------------------------------- WeChat


@dataclass
class WeChatPlayer:
    user: str = defaults.SANDBOX_WECHAT_USER
    server: str = f"http://127.0.0.1:{defaults.RASA_PORT}"
    fake: str = f"http://127.0.0.1:{defaults.FAKE_WECHAT_PORT}"
    safe_mode: bool = True
    token: str = field(default_factory=lambda: defaults.setting("WECHAT_TOKEN"))
    aes_key: str = field(default_factory=lambda: defaults.setting("WECHAT_ENCODING_AES_KEY"))
    app_id: str = field(default_factory=lambda: defaults.setting("WECHAT_APP_ID"))
    original_id: str = field(default_factory=lambda: defaults.setting("WECHAT_ORIGINAL_ID"))
    last_id: int = 0
    last_menu: list[dict[str, Any]] = field(default_factory=list)

    def message_xml(self, line: str) -> str:
        to, me = self.original_id, self.user
        if not line.startswith("/"):
            return signing.wechat_text_xml(to, me, line)
        command, _, rest = line.partition(" ")
        args = rest.split()
        if command in ("/subscribe", "/unsubscribe"):
            return signing.wechat_event_xml(to, me, event=command[1:])
        if command == "/click" and args:
            return signing.wechat_event_xml(to, me, event="CLICK", event_key=args[0])
        if command == "/image" and args:
            return signing.wechat_image_xml(to, me, args[0])
        if command == "/voice" and rest.strip():
            return signing.wechat_voice_xml(to, me, recognition=rest.strip())
        if command == "/location" and len(args) >= 2:
            label = " ".join(args[2:])
            return signing.wechat_location_xml(to, me, float(args[0]), float(args[1]), label)
        if command == "/pick" and args and args[0].isdigit():
            index = int(args[0]) - 1
            if not 0 <= index < len(self.last_menu):
                raise UsageError(f"no option {args[0]} in the last menu")
            option = self.last_menu[index]
            return signing.wechat_text_xml(
                to, me, str(option.get("content", "")), bizmsgmenuid=str(option.get("id", ""))
            )
        raise UsageError(f"unknown or incomplete command: {line}")

    def build(self, line: str) -> tuple[str, str, dict[str, str]]:
        """(url with query, body, headers) of the webhook call for one typed line."""
        query, body = signing.wechat_push(
            self.message_xml(line), safe_mode=self.safe_mode, token=self.token,
            encoding_aes_key=self.aes_key, app_id=self.app_id, openid=self.user)
        url = self.server.rstrip("/") + WECHAT_PATH + "?" + urlencode(query)
        return url, body, {"Content-Type": "text/xml"}

    async def send(self, session: ClientSession, line: str) -> list[str]:
        url, body, headers = self.build(line)
        async with session.post(url, data=body.encode("utf-8"), headers=headers) as response:
            text = await response.text()
            if response.status >= 300:
                return [f"! server answered HTTP {response.status}: {text[:300]}"]
        text = text.strip()
        if not text or text == "success":
            return []
        if self.safe_mode:
            try:
                text = signing.wechat_decrypt_reply(self.token, self.aes_key, self.app_id, text)
            except Exception as exc:  # noqa: BLE001 - show the player what went wrong
                return [f"! cannot decrypt the passive reply ({type(exc).__name__}): {text}"]
        return ["bot (reply): " + _indent(format_wechat_reply(text))]

    async def prime(self, session: ClientSession) -> None:
        for item in await self._fetch(session):
            self.last_id = max(self.last_id, int(item.get("id", 0)))

    async def poll(self, session: ClientSession) -> list[str]:
        lines = []
        for item in await self._fetch(session):
            if int(item.get("id", 0)) <= self.last_id:
                continue
            self.last_id = int(item["id"])
            if item.get("msgtype") == "msgmenu":
                self.last_menu = list((item.get("msgmenu") or {}).get("list") or [])
            lines.append(format_wechat_message(item))
        return lines

    async def _fetch(self, session: ClientSession) -> list[dict[str, Any]]:
        url = self.fake.rstrip("/") + "/_sandbox/messages?" + urlencode({"touser": self.user})
        async with session.get(url) as response:
            response.raise_for_status()
            return await response.json()


def format_wechat_message(item: dict[str, Any]) -> str:
    """A customer-service or template message as the user would read it."""
    if item.get("kind") == "template":
        data = item.get("data") or {}
        values = ", ".join(
            f"{key}={value.get('value') if isinstance(value, dict) else value}"
            for key, value in data.items()
        )
        return f"bot [template {item.get('template_id')}]: {values}"
    msgtype = item.get("msgtype")
    if msgtype == "text":
        text = (item.get("text") or {}).get("content", "")
    elif msgtype == "msgmenu":
        menu = item.get("msgmenu") or {}
        lines = [menu.get("head_content", "")]
        for number, option in enumerate(menu.get("list") or [], start=1):
            lines.append(f"  {number}. {option.get('content', '')}   (/pick {number})")
        if menu.get("tail_content"):
            lines.append(menu["tail_content"])
        text = "\n".join(line for line in lines if line)
    elif msgtype == "news":
        articles = (item.get("news") or {}).get("articles") or []
        text = "\n".join(f"[{a.get('title', '')}] {a.get('url', '')}" for a in articles)
    else:
        payload = {k: v for k, v in item.items() if k not in ("id", "kind", "received_at")}
        text = f"[{msgtype}] " + json.dumps(payload, ensure_ascii=False)
    return "bot: " + _indent(text)


def format_wechat_reply(xml: str) -> str:
    """A passive reply (text, news, or anything else shown raw)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return xml
    msg_type = root.findtext("MsgType")
    if msg_type == "text":
        return root.findtext("Content") or ""
    if msg_type == "news":
        return "\n".join(
            f"[{item.findtext('Title') or ''}] {item.findtext('Url') or ''}"
            for item in root.iter("item")
        )
    return xml


# ----------------------------------------------------------------------------------- the loop


async def _stdin_lines() -> AsyncIterator[str]:
    """Lines of standard input, read by a daemon thread (an executor thread blocked in
    ``readline`` would keep ``asyncio.run`` from returning after ``/quit``)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def reader() -> None:
        for raw in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, raw.rstrip("\r\n"))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=reader, daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


async def _as_async(lines: Iterable[str] | AsyncIterator[str]) -> AsyncIterator[str]:
    if hasattr(lines, "__aiter__"):
        async for line in lines:  # type: ignore[union-attr]
            yield line
    else:
        for line in lines:  # type: ignore[union-attr]
            yield line


async def play(
    player: WhatsAppPlayer | WeChatPlayer,
    lines: Iterable[str] | AsyncIterator[str],
    out: Out = print,
    poll_interval: float = 0.5,
    linger: float = 3.0,
    pause: float = 0.0,
) -> None:
    """Send each line, print replies, and keep printing what the fake receives for the user
    until ``linger`` seconds after the last line (or ``/quit``)."""
    async with ClientSession(timeout=ClientTimeout(total=120)) as session:
        try:
            await player.prime(session)
        except (ClientError, OSError) as exc:
            out(f"! cannot reach the fake provider at {player.fake}: {exc}")

        failing = False

        async def poll_once() -> None:
            nonlocal failing
            try:
                for text in await player.poll(session):
                    out(text)
                failing = False
            except (ClientError, OSError) as exc:
                if not failing:  # say it once, not at every poll
                    out(f"! polling {player.fake} failed: {exc}")
                failing = True

        async def poll_forever() -> None:
            while True:
                await poll_once()
                await asyncio.sleep(poll_interval)

        poller = asyncio.create_task(poll_forever())
        try:
            async for line in _as_async(lines):
                if not line.strip():
                    continue
                if line.strip() in LEAVE_COMMANDS:
                    break
                try:
                    for text in await player.send(session, line):
                        out(text)
                except UsageError as exc:
                    out(f"! {exc}")
                except (ClientError, OSError) as exc:
                    out(f"! cannot reach the server at {player.server}: {exc}")
                if pause:
                    await asyncio.sleep(pause)
            await asyncio.sleep(linger)
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        await poll_once()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m channels.sandbox.play",
        description="Chat with the assistant as a WhatsApp or WeChat user.",
    )
    sub = parser.add_subparsers(dest="channel", required=True)
    server = f"http://127.0.0.1:{defaults.RASA_PORT}"
    wa = sub.add_parser("whatsapp")
    wa.add_argument("--as", dest="user", default=defaults.SANDBOX_WHATSAPP_USER)
    wa.add_argument("--server", default=server)
    wa.add_argument("--fake", default=f"http://127.0.0.1:{defaults.FAKE_TWILIO_PORT}")
    wa.add_argument("--public-base", default=None,
                    help="base URL the signature covers (default: PUBLIC_BASE_URL, else --server)")
    wc = sub.add_parser("wechat")
    wc.add_argument("--as", dest="user", default=defaults.SANDBOX_WECHAT_USER)
    wc.add_argument("--server", default=server)
    wc.add_argument("--fake", default=f"http://127.0.0.1:{defaults.FAKE_WECHAT_PORT}")
    encryption = wc.add_mutually_exclusive_group()
    encryption.add_argument("--safe-mode", dest="safe_mode", action="store_true", default=True,
                            help="encrypt as WeChat's safe mode does (the default)")
    encryption.add_argument("--plain", dest="safe_mode", action="store_false",
                            help="plain XML, for a product without WECHAT_ENCODING_AES_KEY")
    for p in (wa, wc):
        p.add_argument("--poll", type=float, default=0.5, help="seconds between polls")
        p.add_argument("--linger", type=float, default=3.0,
                       help="seconds to keep polling after the input ends")
    args = parser.parse_args(argv)
    player: WhatsAppPlayer | WeChatPlayer
    if args.channel == "whatsapp":
        public = args.public_base or os.environ.get("PUBLIC_BASE_URL") or args.server
        player = WhatsAppPlayer(user=args.user, server=args.server, fake=args.fake,
                                public_base=public)
        print(f"WhatsApp as {player.address} → {player.webhook_url} "
              f"(signed for {player.signed_url}); /quit to stop", file=sys.stderr)
    else:
        player = WeChatPlayer(user=args.user, server=args.server, fake=args.fake,
                              safe_mode=args.safe_mode)
        mode = "safe mode" if args.safe_mode else "plain mode"
        print(f"WeChat as {player.user} ({mode}) → {args.server}{WECHAT_PATH}; /quit to stop",
              file=sys.stderr)

    def out(text: str) -> None:
        print(text, flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(play(player, _stdin_lines(), out, args.poll, args.linger))


if __name__ == "__main__":
    main()
