"""``make chat``: talk to the running assistant from a terminal, over its REST channel.

Like ``rasa shell`` but against the server ``make run`` already started (``rasa shell`` would start
a second one). Buttons are shown numbered; the number (or the title) is sent as typed and the
server picks the button, as on WhatsApp: on REST a typed ``/payload`` is text, never an intent.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

# What ends a terminal conversation here and in the sandbox players (rasa shell's is /stop).
LEAVE_COMMANDS = frozenset({"/exit", "/quit", "/stop"})


def send(url: str, sender: str, text: str) -> list[dict]:
    """One message to the REST channel; returns the bot's messages."""
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
        return json.loads(response.read().decode())


def render(messages: list[dict]) -> list[dict]:
    """Print the bot's bubbles; return the last message's buttons."""
    buttons: list[dict] = []
    for message in messages:
        if message.get("text"):
            print(f"🤖 {message['text']}\n")
        buttons = message.get("buttons") or buttons
    for number, button in enumerate(buttons, start=1):
        print(f"   {number}. {button.get('title')}")
    if buttons:
        print()
    return buttons


def poll_staff_replies(outbox_url: str, stop: threading.Event) -> None:
    """Print nurse replies as they arrive (REST cannot push them)."""
    last = 0
    while not stop.wait(2):
        try:
            with urllib.request.urlopen(f"{outbox_url}?after={last}", timeout=5) as response:  # noqa: S310
                for message in json.loads(response.read().decode()):
                    last = max(last, message["id"])
                    print(f"\n👩‍⚕️ {message['text']}\nyou> ", end="", flush=True)
        except OSError:
            time.sleep(2)


def main(argv: list[str] | None = None) -> int:
    """Read lines, send them, print answers; Ctrl-D or /exit (/quit, /stop) ends."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:5005/webhooks/rest/webhook")
    parser.add_argument("--sender", default=f"terminal-{uuid.uuid4().hex[:8]}")
    args = parser.parse_args(argv)
    print("Type a message (English, 廣東話, 中文). /exit to leave.\n")
    base = args.url.rsplit("/webhooks/", 1)[0]
    stop = threading.Event()
    threading.Thread(
        target=poll_staff_replies, args=(f"{base}/webhooks/rest/outbox/{args.sender}", stop),
        daemon=True,
    ).start()
    while True:
        try:
            text = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if text in LEAVE_COMMANDS:
            return 0
        if not text:
            continue
        try:
            render(send(args.url, args.sender, text))
        except urllib.error.HTTPError as exc:  # the assistant refused: say why
            print(f"refused ({exc.code}): {exc.read().decode(errors='replace')}", file=sys.stderr)
        except OSError as exc:
            print(
                f"cannot reach the assistant at {args.url}: {exc} (is `make run` running?)",
                file=sys.stderr,
            )


if __name__ == "__main__":
    sys.exit(main())
