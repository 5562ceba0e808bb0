"""What every care-flow action needs from the tracker: who is writing, in which language."""

from __future__ import annotations

from rasa_sdk import Tracker

from bot.policies.directory import Identity

DEFAULT_CHANNEL = "rest"


def identity_of(tracker: Tracker) -> Identity:
    """The writer's channel identity: the input channel plus the conversation's sender id.

    Identities are per channel on purpose (a verified WhatsApp number says nothing about a WeChat
    openid), so the channel is part of the key.
    """
    channel = tracker.get_latest_input_channel() or DEFAULT_CHANNEL
    return Identity(channel=channel, external_id=tracker.sender_id)


def language_of(tracker: Tracker) -> str:
    """The reply language (defaults like the responses do: Traditional Chinese)."""
    return tracker.get_slot("language") or "zh-Hant"
