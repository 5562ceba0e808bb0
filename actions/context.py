"""What every care-flow action needs from the tracker: who is writing, in which language."""

from __future__ import annotations

from rasa_sdk import Tracker

from bot.namespaces import channel_of
from bot.policies.directory import Identity

# A conversation without a channel prefix: only ``rasa shell`` (or a test) makes one; nothing
# can be delivered to it and it matches no real channel's identities.
UNNAMED_CHANNEL = "local"


def identity_of(tracker: Tracker) -> Identity:
    """The writer's channel identity: the conversation's channel and id.

    The channel is read from the conversation id's prefix (``rest:…``, ``wechat:…``), which our
    channels set, never from what the message said about itself (``input_channel``): a REST
    caller once claimed ``wechat`` to borrow a WeChat identity. Identities are per channel on
    purpose (a verified WhatsApp number says nothing about a WeChat openid).
    """
    channel = channel_of(tracker.sender_id) or UNNAMED_CHANNEL
    return Identity(channel=channel, external_id=tracker.sender_id)


def language_of(tracker: Tracker) -> str:
    """The reply language (defaults like the responses do: Traditional Chinese)."""
    return tracker.get_slot("language") or "zh-Hant"
