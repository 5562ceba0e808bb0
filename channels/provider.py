"""The shape every provider channel (WhatsApp, WeChat) has: Rasa's input-channel interface.

Provider channels are named in ``credentials.yml`` by module path and built with
``from_credentials``, exactly as Rasa builds custom input channels, and expose ``name()`` and
``blueprint()`` as Rasa's ``InputChannel`` does. They are served by the gateway, which never loads
Rasa (that keeps the public process at about 100 MB instead of 160), so this base class restates
the interface instead of importing ``rasa.core.channels``. The gateway then hands each channel the
shared :class:`~channels.core.runtime.ChannelRuntime` with ``attach``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sanic import Blueprint


class ProviderChannel:
    """A provider webhook channel, configured like a Rasa input channel."""

    @classmethod
    def name(cls) -> str:
        """The channel's name: its routes live under ``/webhooks/<name>``."""
        raise NotImplementedError

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> ProviderChannel:
        """Build from the channel's ``credentials.yml`` section (ours read the environment)."""
        return cls()

    def url_prefix(self) -> str:
        return self.name()

    def attach(self, runtime: Any) -> Any:
        """Connect to the shared channel runtime; returns the provider adapter, if configured."""
        raise NotImplementedError

    def blueprint(self, on_new_message: Callable[[Any], Awaitable[Any]]) -> Blueprint:
        """The webhook routes (``on_new_message`` is Rasa's hook; ours use the runtime)."""
        raise NotImplementedError
