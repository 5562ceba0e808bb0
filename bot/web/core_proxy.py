"""Gateway routes served by the core: Rasa's REST channel and (when enabled) Rasa's HTTP API.

The REST channel stays Rasa's own (in the core); the gateway relays it so that the public port
offers every channel. Rasa's HTTP API is relayed only with ``SMO_ENABLE_RASA_API`` (token-checked
by the core).
"""

from __future__ import annotations

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, raw

RELAYED_HEADERS = ("content-type", "authorization")


def core_proxy_blueprint(enable_api: bool) -> Blueprint:
    """``/webhooks/rest/*`` always; ``/model/*``, ``/conversations/*``, ``/status`` with the API."""
    bp = Blueprint("core_proxy")

    async def relay(request: Request) -> HTTPResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() in RELAYED_HEADERS}
        status, body, content_type = await request.app.ctx.core.forward(
            request.method, request.path, request.query_string, request.body or b"", headers)
        return raw(body, status=status, content_type=content_type)

    @bp.route("/webhooks/rest/webhook", methods=["POST"])
    async def rest(request: Request) -> HTTPResponse:
        return await relay(request)

    if enable_api:
        @bp.route("/model/<rest:path>", methods=["GET", "POST", "PUT", "DELETE"])
        async def model(request: Request, rest: str) -> HTTPResponse:
            return await relay(request)

        @bp.route("/conversations/<rest:path>", methods=["GET", "POST", "PUT"])
        async def conversations(request: Request, rest: str) -> HTTPResponse:
            return await relay(request)

        @bp.get("/status")
        async def status(request: Request) -> HTTPResponse:
            return await relay(request)

    return bp
