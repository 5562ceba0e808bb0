"""Turning the bot's messages into what a messenger can show, and customer text into bot input.

- Long texts are split at paragraph, line or sentence boundaries within the channel's limit
  (counted in characters or UTF-8 bytes, as the provider counts).
- Buttons become short numbered options; a reply of "1" or "2" answers them. The numbered text
  is what every client can show: a channel that can offer taps (WhatsApp quick replies, WeChat's
  ``msgmenu``) reads the options back from it with :func:`offered`, and a tap is mapped to the
  option it names with :func:`tapped_option` (never a payload taken from the provider).
- User text is always text: a leading "/" would make Rasa read it as an intent (``/restart``), so
  it is prefixed with an invisible word joiner. Only our own option mapping produces payloads.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from bot.language import reply_script
from bot.paths import DATA_DIR
from bot.yamlfile import load_yaml

WORD_JOINER = "\u2060"
_SENTENCE_END = re.compile(r"(?<=[。！？!?.；;])\s*")


@dataclass(frozen=True)
class Outgoing:
    """One bubble ready to send, and the options it offers (title, payload)."""

    text: str
    options: tuple[tuple[str, str], ...] = ()


def as_text(user_text: str) -> str:
    """Customer text as Rasa must read it: never as an ``/intent`` command."""
    text = user_text or ""
    return WORD_JOINER + text if text.lstrip().startswith("/") else text


def chars(text: str) -> int:
    """Length as Twilio counts it (characters)."""
    return len(text)


def utf8_bytes(text: str) -> int:
    """Length as WeChat counts it (bytes)."""
    return len(text.encode("utf-8"))


def split(text: str, limit: int, measure: Callable[[str], int] = chars) -> list[str]:
    """Pieces of ``text`` each within ``limit``, cut at the most natural boundary available."""
    text = text.strip()
    if measure(text) <= limit:
        return [text] if text else []
    for separator in ("\n\n", "\n", None, " "):
        parts = _SENTENCE_END.split(text) if separator is None else text.split(separator)
        joiner = "" if separator is None else separator
        if len(parts) > 1:
            return _pack([p for p in parts if p], joiner, limit, measure)
    return _hard_cut(text, limit, measure)


def _pack(parts: list[str], joiner: str, limit: int, measure: Callable[[str], int]) -> list[str]:
    pieces: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}{joiner}{part}" if current else part
        if measure(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        if measure(part) <= limit:
            current = part
        else:
            smaller = split(part, limit, measure)
            pieces.extend(smaller[:-1])
            current = smaller[-1]
    if current:
        pieces.append(current)
    return [p.strip() for p in pieces if p.strip()]


def _hard_cut(text: str, limit: int, measure: Callable[[str], int]) -> list[str]:
    pieces, current = [], ""
    for ch in text:
        if measure(current + ch) > limit:
            pieces.append(current)
            current = ""
        current += ch
    return [*pieces, current] if current else pieces


@lru_cache(maxsize=1)
def _channel_wording() -> dict[str, dict[str, str]]:
    return load_yaml(DATA_DIR / "channels.yml")


def _hints() -> dict[str, str]:
    return _channel_wording()["reply_with_number"]


def wording(key: str, script: str) -> str:
    """Channel wording from data/channels.yml (``key`` in the ``script``: en/zh-Hant/zh-Hans)."""
    return _channel_wording()[key][script]


@dataclass(frozen=True)
class Offer:
    """A numbered bubble read back: its text, the option titles and the reply script."""

    body: str
    titles: tuple[str, ...]
    hint: str
    script: str


_NUMBERED = re.compile(r"([0-9]{1,2})\. (.+)")
_NUMBER_PREFIX = re.compile(r"^\s*[0-9]{1,2}\.\s+")


def offered(text: str) -> Offer | None:
    """The offer in a bubble :func:`render` wrote with numbered options, or None (no options,
    or a piece cut from a longer bubble: those go out as the plain text they are)."""
    lines = (text or "").split("\n")
    script = next((s for s, hint in _hints().items() if lines and lines[-1] == hint), None)
    if script is None:
        return None
    titles: list[str] = []
    index = len(lines) - 2
    while index >= 0 and (match := _NUMBERED.fullmatch(lines[index])):
        titles.insert(0, match[2])
        index -= 1
        if int(match[1]) == 1:
            break
    if not titles or [f"{i}. {t}" for i, t in enumerate(titles, 1)] != lines[index + 1:-1]:
        return None
    body = "\n".join(lines[:index + 1]).strip()
    return Offer(body, tuple(titles), lines[-1], script)


def render(messages: list[dict], language: str | None) -> list[Outgoing]:
    """Rasa's collected messages as bubbles; buttons as numbered options under the text."""
    out: list[Outgoing] = []
    for message in messages:
        text = (message.get("text") or "").strip()
        buttons = message.get("buttons") or []
        options = tuple(
            (str(b.get("title", "")).strip(), str(b.get("payload", "")).strip())
            for b in buttons
            if b.get("payload")
        )
        if options:
            lines = [f"{i}. {title}" for i, (title, _) in enumerate(options, start=1)]
            text = "\n".join([text, "", *lines, _hints()[reply_script(language)]]).strip()
        if text:
            out.append(Outgoing(text, options))
    return out


def chosen_option(text: str, options: list[list[str]] | None) -> list[str] | None:
    """The option ``[title, payload]`` the customer chose by replying with its number (1-based)
    or by typing its title ("That's all", 就係咁多: people type what they see on a button)."""
    if not options:
        return None
    match = re.fullmatch(r"\s*([0-9０-９]{1,2})\s*[.)。]?\s*", text or "")
    if match:
        number = int(match[1].translate(str.maketrans("０１２３４５６７８９", "0123456789")))
        return list(options[number - 1]) if 1 <= number <= len(options) else None
    typed = _title_key(text)
    return next((list(option) for option in options if typed and _title_key(option[0]) == typed),
                None)


def tapped_option(choice: str, title: str, options: list[list[str]] | None) -> list[str] | None:
    """The option a tap chose: the tap's id is the option's number, its text the title shown.

    The title decides when it names one of the remembered options (a tap on an older message
    whose numbers now mean other options still chooses what it showed); otherwise the number
    does, when the title fits it (WhatsApp may shorten a title, WeChat sends it as shown).
    """
    if not options:
        return None
    typed = _title_key(_NUMBER_PREFIX.sub("", title or "", count=1))  # WeChat's "2. No"
    by_title = next((list(o) for o in options if typed and _title_key(o[0]) == typed), None)
    if by_title is not None:
        return by_title
    if not choice.isdigit() or not 1 <= int(choice) <= len(options):
        return None
    option = list(options[int(choice) - 1])
    return option if not typed or _title_key(option[0]).startswith(typed.rstrip("…. ")) else None


def _title_key(text: str | None) -> str:
    """A button title as typed: width, case, curly quotes and the punctuation around it ignored."""
    folded = unicodedata.normalize("NFKC", text or "").casefold().replace("\u2019", "'")
    return folded.strip(" \t\n.!?。！？、，,\"'「」『』“”")
