"""One reading of a REST request, shared by the gateway and the core.

A REST body is parsed once, strictly, by Python's own ``json`` (control characters inside
strings, duplicate keys, ``NaN`` and anything that is not UTF-8 are refused). What cannot be read
is refused (400), never passed on for another parser to interpret differently. Only ``sender``
and ``message`` are read; ``input_channel``, ``metadata`` and anything else a client writes are
dropped, because the channel and the metadata are facts our server knows, not claims to accept.

Sender ids are the visitor's own (the website's visitor id, ``make chat``'s terminal id). The
conversation is always ``rest:<sender>``: a sender id holds no ``:``, so a REST conversation can
never be a WhatsApp (``whatsapp:+852…``) or WeChat (``wechat:<openid>``) customer's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

NAMESPACE = "rest"
SENDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SENDER_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
MAX_MESSAGE_CHARS = 4000


class RestRequestError(ValueError):
    """The request cannot be read as one REST message; the text says why (answered with 400)."""


@dataclass(frozen=True)
class RestMessage:
    """A REST message as our server reads it: the visitor's id and what they typed."""

    sender: str
    text: str

    @property
    def conversation_id(self) -> str:
        return conversation_id(self.sender)

    def to_json(self) -> bytes:
        """The body the gateway relays to the core: built from the parsed values only."""
        return json.dumps({"sender": self.sender, "message": self.text}).encode()


def check_sender(sender: Any) -> str:
    """``sender`` if it is an acceptable visitor id; :class:`RestRequestError` otherwise."""
    if not isinstance(sender, str) or not SENDER.fullmatch(sender):
        raise RestRequestError(f"sender must be {SENDER_RULE}")
    return sender


def conversation_id(sender: str) -> str:
    """The conversation of a REST visitor, in the REST namespace (checked again here, so no
    caller can build one from an unchecked id)."""
    return f"{NAMESPACE}:{check_sender(sender)}"


def parse(body: bytes) -> RestMessage:
    """The message in a REST body, or :class:`RestRequestError` saying what is wrong."""
    try:
        document = json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicate_keys,
                              parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise RestRequestError(f"the body must be a JSON object in UTF-8 ({_reason(exc)})") \
            from None
    if not isinstance(document, dict):
        raise RestRequestError("the body must be a JSON object with sender and message")
    sender = check_sender(document.get("sender"))
    text = document.get("message")
    if not isinstance(text, str) or not text.strip():
        raise RestRequestError("message must be non-empty text")
    if len(text) > MAX_MESSAGE_CHARS:
        raise RestRequestError(f"message must be at most {MAX_MESSAGE_CHARS} characters")
    try:
        text.encode("utf-8")  # a lone surrogate ("\ud800") is no text and no database takes it
    except UnicodeEncodeError:
        raise RestRequestError("message must be valid Unicode text") from None
    # NUL cannot be stored in PostgreSQL text and means nothing in a chat (as on the channels).
    return RestMessage(sender, text.replace("\x00", ""))


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Two ``sender`` keys would be read differently by different parsers: refuse them."""
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("a key appears twice")
    return dict(pairs)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(exc, json.JSONDecodeError):  # where, never the caller's bytes
        return f"{exc.msg.removesuffix(' at')} at line {exc.lineno} column {exc.colno}"
    return str(exc)
