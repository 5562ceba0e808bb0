"""Operational routes: ``/health`` (the model answers) and ``/ready``, on the gateway and the core.

On the core, "ready" means its agent is loaded; on the gateway, that the core is ready (checked
live, so a restarted core is noticed).
"""

from __future__ import annotations

from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json


async def model_ready(app: Sanic) -> bool:
    """True once a message would be answered by the model."""
    core = getattr(app.ctx, "core", None)
    if core is not None:
        return await core.ready()
    agent = getattr(app.ctx, "agent", None)
    return bool(agent is not None and agent.is_ready())


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
        if await model_ready(request.app):
            return json({"status": "ready"})
        return json({"status": "not ready", "model": "loading"}, status=503)

    return bp
