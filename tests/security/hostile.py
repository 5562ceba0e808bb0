"""What the attacks in this folder share: a caller from elsewhere, played against a loopback server.

The product under test trusts forwarded headers (as behind its TLS proxy), so a request carrying
``X-Forwarded-For: 203.0.113.7`` is, to the gateway, a stranger on the internet. 203.0.113.0/24
is TEST-NET-3: only ever named in a header, never contacted.
"""

from __future__ import annotations

STRANGER = "203.0.113.7"


def from_elsewhere(headers: dict[str, str] | None = None, address: str = STRANGER,
                   proto: str = "https") -> dict[str, str]:
    """``headers`` as a request from ``address`` through the operator's TLS proxy would carry."""
    return {**(headers or {}), "X-Forwarded-For": address, "X-Forwarded-Proto": proto}
