"""Which channel a conversation belongs to, read from its id.

Every conversation id carries its channel: ``whatsapp:+852…`` (the Twilio address),
``wechat:<openid>``, ``rest:<visitor>``. Only our channels create conversations and each writes
its own prefix (:func:`conversation_id` here, ``channels.rest.message``), so the
prefix is the one fact about a conversation's channel that no message can claim otherwise; a
message's ``input_channel`` is a claim. Identities, cases and delivery addresses all come from it.
"""

from __future__ import annotations

CHANNELS = frozenset({"whatsapp", "wechat", "rest"})
# The id itself is the address on WhatsApp (Twilio's "whatsapp:+852…"); elsewhere, what follows.
PREFIX_IS_ADDRESS = frozenset({"whatsapp"})


def conversation_id(channel: str, sender: str) -> str:
    """Rasa's sender id for a provider's sender: one conversation per channel identity."""
    return sender if sender.startswith(f"{channel}:") else f"{channel}:{sender}"


class WrongChannel(ValueError):
    """A conversation id does not belong to the channel something would send it through."""


def channel_of(conversation_id: str | None) -> str | None:
    """The channel named by the id's prefix; None for an id without one (``rasa shell``)."""
    prefix, colon, rest = (conversation_id or "").partition(":")
    return prefix if colon and rest and prefix in CHANNELS else None


def address_in(channel: str, conversation_id: str) -> str:
    """The channel's own id for the customer of ``conversation_id``; :class:`WrongChannel` when
    the conversation is not that channel's (nothing may be sent then)."""
    if channel_of(conversation_id) != channel:
        raise WrongChannel(f"the conversation is not a {channel} conversation")
    if channel in PREFIX_IS_ADDRESS:
        return conversation_id
    return conversation_id.partition(":")[2]
