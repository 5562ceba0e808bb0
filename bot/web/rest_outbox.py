"""``GET /webhooks/rest/outbox/<sender>?after=<id>``: staff replies waiting for a REST client.

Rasa's REST channel answers only in the HTTP response to the customer's own message, so a nurse's
reply has nowhere to go; it waits here (``make chat`` polls it). WhatsApp and WeChat push instead.
"""

from __future__ import annotations

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json


def rest_outbox_blueprint() -> Blueprint:
    """The pull endpoint for the REST channel's pending messages."""
    bp = Blueprint("rest_outbox")

    @bp.get("/webhooks/rest/outbox/<sender>")
    async def outbox(request: Request, sender: str) -> HTTPResponse:
        try:
            after = int(request.args.get("after", "0"))
        except ValueError:
            return json({"error": "after must be a message id"}, status=400)
        return json(request.app.ctx.outbound.pull.fetch(sender, after))

    return bp
