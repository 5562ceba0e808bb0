"""Operational routes on the gateway and the core:

- ``/health``: the process is alive (always 200 while it serves; says whether the model is loaded),
  for a liveness probe that must not kill a server that is still loading its model;
- ``/ready``: the model answers and every store is reachable (product database, tracker store,
  Redis when shared), 503 naming what is not; what a load balancer should ask;
- ``/metrics``: Prometheus.

On the core, "model" means its agent is loaded; on the gateway, that the core is ready (checked
live, so a restarted core is noticed).
"""

from __future__ import annotations

from functools import lru_cache

from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json, raw


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


def ops_blueprint() -> Blueprint:
    """``/health``, ``/ready`` and ``/metrics``."""
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
        from bot.metrics import exposition

        return raw(exposition(), content_type="text/plain; version=0.0.4")

    return bp
