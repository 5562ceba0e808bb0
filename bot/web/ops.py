"""Operational routes on the public server: ``/health`` (alive and model loaded) and ``/ready``."""

from __future__ import annotations

from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json


def agent_ready(app: Sanic) -> bool:
    """True once the model is loaded and can answer."""
    agent = getattr(app.ctx, "agent", None)
    return bool(agent is not None and agent.is_ready())


def ops_blueprint() -> Blueprint:
    """``GET /health``: 200 once the model is loaded, 503 while it loads (the process is up)."""
    bp = Blueprint("ops")

    @bp.get("/health")
    async def health(request: Request) -> HTTPResponse:
        if agent_ready(request.app):
            return json({"status": "ok", "model": "loaded"})
        return json({"status": "starting", "model": "loading"}, status=503)

    @bp.get("/ready")
    async def ready(request: Request) -> HTTPResponse:
        if agent_ready(request.app):
            return json({"status": "ready"})
        return json({"status": "not ready", "model": "loading"}, status=503)

    return bp
