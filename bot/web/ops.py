"""Operational routes on the gateway and the core:

- ``/health``: the process is alive (always 200 while it serves; says whether the model is loaded),
  for a liveness probe that must not kill a server that is still loading its model;
- ``/ready``: the model answers and every store is reachable (product database, tracker store,
  Redis when shared), 503 naming what is not; what a load balancer should ask;
- ``/metrics``: Prometheus. Its counts (cases open per queue, SLA breaches, traffic) are the
  operator's business: with ``SMO_METRICS_TOKEN`` set it needs ``Authorization: Bearer <token>``
  (from anywhere, loopback included); without it, it answers callers on this machine only.

On the core, "model" means its agent is loaded; on the gateway, that the core is ready (checked
live, so a restarted core is noticed).
"""

from __future__ import annotations

import hmac
from functools import lru_cache
from typing import Any

from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json, raw

from bot.web.client import is_local

METRICS_TOKEN_SETTING = "SMO_METRICS_TOKEN"
# Headers a proxy adds: a request carrying one came through a proxy, so from elsewhere, even when
# the proxy runs on this machine and the socket says loopback.
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


async def model_ready(app: Sanic) -> bool:
    """True once a message would be answered by the model."""
    core = getattr(app.ctx, "core", None)
    if core is not None:
        return await core.ready()
    agent = getattr(app.ctx, "agent", None)
    return bool(agent is not None and agent.is_ready())


def _database_reachable(url: str | None = None) -> bool:
    """``SELECT 1`` on the product database (default) or on another database URL."""
    from sqlalchemy import text as sql

    from bot.db import engine

    try:
        with (engine() if url is None else _probe_engine(url)).connect() as connection:
            connection.execute(sql("SELECT 1"))
        return True
    except Exception:
        return False


@lru_cache(maxsize=4)
def _probe_engine(url: str):  # noqa: ANN202 - an Engine
    """A plain engine for probing a database we do not own (the tracker store): no tables."""
    from sqlalchemy import create_engine

    if url.startswith("sqlite"):
        return create_engine(url, future=True)
    return create_engine(url, future=True, pool_pre_ping=True, pool_size=1, max_overflow=1)


def _redis_reachable(url: str) -> bool:
    from bot.stores.migrate import check_redis

    try:
        check_redis(url)
        return True
    except Exception:
        return False


def stores_state() -> dict[str, str]:
    """Each store: "reachable" or "unreachable" (Redis only when configured)."""
    from bot import stores

    state = {"database": _database_reachable(),
             "tracker store": _database_reachable(stores.tracker_url())}
    redis_url = stores.redis_url()
    if redis_url:
        state["redis"] = _redis_reachable(redis_url)
    return {name: "reachable" if ok else "unreachable" for name, ok in state.items()}


def bearer_matches(authorization: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time."""
    scheme, _, given = (authorization or "").strip().partition(" ")
    return (bool(token) and scheme.lower() == "bearer"
            and hmac.compare_digest(given.strip().encode(), token.encode()))


def metrics_refusal(request: Any, token: str, trust_forwarded: bool) -> HTTPResponse | None:
    """Why ``request`` may not read ``/metrics`` (a 401/403 response), or ``None``: it may.

    With a token, only its bearer may (401 otherwise, wherever the caller is). Without one, only
    a caller on this machine (a local scraper, an operator's ``curl``): not a request relayed by
    a proxy on this machine whose headers are not trusted (it says it was forwarded); a caller
    from elsewhere is told which setting lets a remote scraper in."""
    if token:
        if bearer_matches(request.headers.get("authorization"), token):
            return None
        return json({"error": "unauthorized", "detail": "Authorization: Bearer <token> needed"},
                    status=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    relayed = not trust_forwarded and any(request.headers.get(h) for h in FORWARDING_HEADERS)
    if is_local(request, trust_forwarded) and not relayed:
        return None
    return json({"error": "forbidden",
                 "detail": f"/metrics answers this machine only; set {METRICS_TOKEN_SETTING} to "
                           "let a scraper elsewhere read it with Authorization: Bearer <token>"},
                status=403)


def ops_blueprint(*, public: bool = True) -> Blueprint:
    """``/health``, ``/ready`` and ``/metrics``.

    ``public``: served on the gateway's port, where ``TRUST_FORWARDED_HEADERS`` says whether the
    operator's proxy names the client; the core (``public=False``) listens on loopback with no
    proxy in front, so it never believes those headers."""
    bp = Blueprint("ops")

    @bp.get("/health")
    async def health(request: Request) -> HTTPResponse:
        loaded = await model_ready(request.app)
        return json({"status": "alive", "model": "loaded" if loaded else "loading"})

    @bp.get("/ready")
    async def ready(request: Request) -> HTTPResponse:
        """Model loaded and every store reachable (what a load balancer should ask)."""
        model = await model_ready(request.app)
        state = stores_state()
        body = {"model": "loaded" if model else "loading", **state}
        if model and all(value == "reachable" for value in state.values()):
            return json({"status": "ready", **body})
        return json({"status": "not ready", **body}, status=503)

    @bp.get("/metrics")
    async def metrics(request: Request) -> HTTPResponse:
        settings = getattr(request.app.ctx, "settings", None)
        refused = metrics_refusal(
            request, getattr(settings, "metrics_token", ""),
            public and bool(getattr(settings, "trust_forwarded_headers", False)))
        if refused is not None:
            return refused
        from bot.metrics import exposition

        return raw(exposition(), content_type="text/plain; version=0.0.4")

    return bp
