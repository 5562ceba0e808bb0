"""``GET /webhooks/rest/outbox/<sender>?after=<id>``: staff replies waiting for a REST visitor.

The REST channel answers only in the HTTP response to the visitor's own message, so a nurse's
reply has nowhere to go; it waits here (``make chat`` and the widget poll it). WhatsApp and
WeChat push instead. Nurse replies are health conversations: from elsewhere this needs the
visitor's token and shows only that visitor's messages; on this machine it stays open
(:mod:`bot.web.rest_access`).
"""

from __future__ import annotations

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json

from bot.web.rest_access import Refused, caller_of
from channels.rest.message import RestRequestError, check_sender


def rest_outbox_blueprint() -> Blueprint:
    """The pull endpoint for the REST channel's pending messages."""
    bp = Blueprint("rest_outbox")

    @bp.get("/webhooks/rest/outbox/<sender>")
    async def outbox(request: Request, sender: str) -> HTTPResponse:
        try:
            caller = caller_of(request, request.app.ctx.settings)
            check_sender(sender)
            caller.may_speak_as(sender)
            after = int(request.args.get("after", "0"))
        except Refused as refused:
            return json({"error": refused.error}, status=refused.status,
                        headers=refused.headers)
        except RestRequestError as exc:
            return json({"error": str(exc)}, status=400)
        except ValueError:
            return json({"error": "after must be a message id"}, status=400)
        return json(request.app.ctx.outbound.pull.fetch(sender, after))

    return bp
