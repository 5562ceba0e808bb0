"""Who is calling the public port: the client's address, whether it is this machine, the scheme.

Everything on the public port is reachable by anyone, so what a request says about itself is
believed only where the operator said so: ``X-Forwarded-For`` and ``X-Forwarded-Proto`` count
only with ``TRUST_FORWARDED_HEADERS`` (the gateway sits behind a proxy the operator runs, which
overwrites them). Then the client is the right-most ``X-Forwarded-For`` entry: the one our own
proxy appended; anything left of it was written by the client and proves nothing.
"""

from __future__ import annotations

import ipaddress
from typing import Any


def client_address(request: Any, trust_forwarded: bool) -> str:
    """The caller's IP address as far as it can be known."""
    if trust_forwarded:
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.ip or ""


def is_local(request: Any, trust_forwarded: bool) -> bool:
    """True when the caller is this machine (a developer, a test, ``make chat``)."""
    try:
        return ipaddress.ip_address(client_address(request, trust_forwarded)).is_loopback
    except ValueError:
        return False


def scheme(request: Any, trust_forwarded: bool) -> str:
    """``https`` or ``http`` as the client sees it (the TLS proxy's view when trusted)."""
    if trust_forwarded:
        proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if proto in {"http", "https"}:
            return proto
    return request.scheme
