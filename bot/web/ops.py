"""Operational routes: ``/health`` (the model answers), ``/ready`` (model and database) and
``/metrics`` (Prometheus), on the gateway and the core.

On the core, "ready" means its agent is loaded; on the gateway, that the core is ready (checked
live, so a restarted core is noticed).
"""

from __future__ import annotations

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


def _database_reachable() -> bool:
    from sqlalchemy import text as sql

    from bot.db import engine

    try:
        with engine().connect() as connection:
            connection.execute(sql("SELECT 1"))
        return True
    except Exception:
        return False


def ops_blueprint() -> Blueprint:
    """``GET /health``: 200 once the model is loaded, 503 while it loads (the process is up)."""
    bp = Blueprint("ops")

    @bp.get("/health")
    async def health(request: Request) -> HTTPResponse:
        if await model_ready(request.app):
            return json({"status": "ok", "model": "loaded"})
        return json({"status": "starting", "model": "loading"}, status=503)

    @bp.get("/ready")
    async def ready(request: Request) -> HTTPResponse:
        """Model loaded and the product database reachable (what a load balancer should ask)."""
        model = await model_ready(request.app)
        database = _database_reachable()
        body = {"model": "loaded" if model else "loading",
                "database": "reachable" if database else "unreachable"}
        if model and database:
            return json({"status": "ready", **body})
        return json({"status": "not ready", **body}, status=503)

    @bp.get("/metrics")
    async def metrics(request: Request) -> HTTPResponse:
        from bot.metrics import exposition

        return raw(exposition(), content_type="text/plain; version=0.0.4")

    return bp
