"""Which rows belong to which conversation, across the tables that name a customer differently.

Rasa's sender id (the *conversation id*) is the key everywhere the dialogue writes: tracker events,
cases (``conversation_id``), consents, verification attempts and channel identities
(``external_id``, from ``actions.context.identity_of``). The channel tables keep the provider's own
id instead (``sender``, ``recipient``): WhatsApp's ``whatsapp:+852…`` is also the conversation id,
while WeChat's bare openid becomes ``wechat:<openid>``. ``bot.namespaces.conversation_id`` is that
rule; this module only applies it, so purge and export cannot drift from the runtime.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from bot.namespaces import conversation_id

PROVIDER_CHANNELS = ("whatsapp", "wechat")
# Conversation namespaces an operator's bare id may belong to (REST: ``rest:<visitor>``).
NAMESPACED_CHANNELS = (*PROVIDER_CHANNELS, "rest")
CHUNK = 500  # keys per IN (...) clause: far below SQLite's and PostgreSQL's parameter limits

T = TypeVar("T")


def of_channel_row(channel: str, sender: str) -> str:
    """The conversation id of an inbox, outbox or contact row."""
    return conversation_id(channel, sender)


def channel_senders(conversation: str) -> set[str]:
    """Every id a channel table may hold for ``conversation`` (filter with :func:`of_channel_row`).

    ``whatsapp:+852…`` is stored as is, ``wechat:o6_b…`` as ``o6_b…``; the candidates are a
    superset, so callers must still check ``of_channel_row(channel, sender) == conversation``.
    """
    senders = {conversation}
    _, separator, rest = conversation.partition(":")
    if separator and rest:
        senders.add(rest)
    return senders


def candidates(channel_id: str) -> list[str]:
    """Conversation ids an operator's ``--channel-id`` may mean, most literal first.

    ``whatsapp:+85291234567`` is already one; ``+85291234567`` may be WhatsApp, an openid WeChat,
    and anything may be a REST sender id (``rest:<id>``). The caller keeps only those holding data.
    """
    found = [channel_id]
    for channel in NAMESPACED_CHANNELS:
        conversation = conversation_id(channel, channel_id)
        if conversation not in found:
            found.append(conversation)
    return found


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size`` (sorted when possible, for repeatable SQL)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
