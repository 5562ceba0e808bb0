"""Gateway routes served by the core: Rasa's REST channel and (when enabled) Rasa's HTTP API.

The REST channel stays Rasa's own (in the core); the gateway relays it so that the public port
offers every channel. Rasa's HTTP API is relayed only with ``SMO_ENABLE_RASA_API`` (token-checked
by the core).
"""

from __future__ import annotations

import json

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, raw
from sanic.response import json as json_response

RELAYED_HEADERS = ("content-type", "authorization")


def foreign_sender(body: bytes, reserved: tuple[str, ...]) -> str | None:
    """The channel prefix a REST message's ``sender`` claims, if it names another channel's
    conversation ("whatsapp:+852…"): a REST client picks its own sender id, and must not be
    able to join, read or restart a WhatsApp or WeChat customer's conversation."""
    try:
        sender = json.loads(body or b"{}").get("sender")
    except (ValueError, AttributeError):
        return None  # the core answers malformed bodies itself
    if not isinstance(sender, str):
        return None
    folded = sender.strip().casefold()
    return next((prefix for prefix in reserved if folded.startswith(prefix)), None)


def core_proxy_blueprint(enable_api: bool, reserved_senders: tuple[str, ...] = ()) -> Blueprint:
    """``/webhooks/rest/*`` always; ``/model/*``, ``/conversations/*``, ``/status`` with the API.

    ``reserved_senders``: sender prefixes of the provider channels ("whatsapp:", "wechat:"),
    refused on the REST channel."""
    bp = Blueprint("core_proxy")

    async def relay(request: Request) -> HTTPResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() in RELAYED_HEADERS}
        status, body, content_type = await request.app.ctx.core.forward(
            request.method, request.path, request.query_string, request.body or b"", headers)
        return raw(body, status=status, content_type=content_type)

    @bp.route("/webhooks/rest/webhook", methods=["POST"])
    async def rest(request: Request) -> HTTPResponse:
        prefix = foreign_sender(request.body, reserved_senders)
        if prefix is not None:
            return json_response({"error": f"sender ids starting with {prefix!r} belong to "
                                           "that channel's customers"}, status=400)
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
