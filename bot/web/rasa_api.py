"""Rasa's HTTP API on the public port (``SMO_ENABLE_RASA_API``): only what the product needs.

The core offers Rasa's whole API on loopback; relaying all of it would let the token holder
replace the model, rewrite any conversation, or make the core call any URL (``callback_url``).
The public port keeps three read-only routes, for outside checks and ``make eval --url``:

- ``GET /status``: which model is loaded;
- ``POST /model/parse``: the NLU result for ``{"text": …}`` (held-out NLU scores);
- ``GET /conversations/<id>/tracker``: a transcript, read only (the operator's checks).

Everything else under ``/model`` and ``/conversations`` (writes, training, testing, model
replacement, predictions) is 403 here. The token goes in ``Authorization: Bearer <token>``
only: one in the URL (``?token=``) is refused, since URLs end up in proxy and browser logs.
Only the parameters listed below reach the core (no ``callback_url``, no ``output_channel``),
with the core's own token added on loopback.
"""

from __future__ import annotations

import hmac
import json
import re
from urllib.parse import quote, unquote, urlencode

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, raw
from sanic.response import json as json_response

from bot.settings import Settings

TRACKER = re.compile(r"(?P<conversation>[^/]+)/tracker")
TRACKER_PARAMETERS = ("include_events", "until")
MAX_PARSE_CHARS = 4000


class _Refusal(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


def _authorise(request: Request, token: str) -> None:
    if "token" in request.args:
        raise _Refusal(400, "send the API token as 'Authorization: Bearer <token>', never in "
                            "the URL")
    scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                             token.encode()):
        raise _Refusal(401, "unauthorised")


def _parse_body(body: bytes) -> bytes:
    """``{"text": …}`` rebuilt from a strictly parsed body (nothing else reaches the core)."""
    try:
        document = json.loads((body or b"").decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _Refusal(400, "the body must be a JSON object in UTF-8") from None
    text = document.get("text") if isinstance(document, dict) else None
    if not isinstance(text, str) or len(text) > MAX_PARSE_CHARS:
        raise _Refusal(400, f"text must be a string of at most {MAX_PARSE_CHARS} characters")
    return json.dumps({"text": text}).encode()


def rasa_api_blueprint(settings: Settings) -> Blueprint:
    """The three relayed routes, and 403 for the rest of the API."""
    bp = Blueprint("rasa_api")

    async def relay(request: Request, method: str, path: str, params: dict[str, str],
                    body: bytes = b"") -> HTTPResponse:
        core = request.app.ctx.core
        query = urlencode({**params, "token": core.api_token})
        status, answer, content_type = await core.forward(
            method, path, query, body, {"content-type": "application/json"})
        return raw(answer, status=status, content_type=content_type)

    def guarded(handler):  # noqa: ANN001, ANN202 - a Sanic handler
        async def wrapper(request: Request, rest: str = "") -> HTTPResponse:
            try:
                _authorise(request, settings.rasa_api_token)
                return await handler(request, rest)
            except _Refusal as refusal:
                return json_response({"error": refusal.error}, status=refusal.status)

        wrapper.__name__ = handler.__name__
        return wrapper

    @bp.get("/status", name="rasa_status")
    @guarded
    async def status(request: Request, _rest: str) -> HTTPResponse:
        return await relay(request, "GET", "/status", {})

    @bp.route("/model/<rest:path>", methods=["GET", "POST", "PUT", "DELETE"], name="rasa_model")
    @guarded
    async def model(request: Request, rest: str) -> HTTPResponse:
        if request.method != "POST" or rest != "parse":
            raise _Refusal(403, "only POST /model/parse is offered on the public port")
        return await relay(request, "POST", "/model/parse", {}, _parse_body(request.body))

    @bp.route("/conversations/<rest:path>", methods=["GET", "POST", "PUT", "DELETE"],
              name="rasa_conversations")
    @guarded
    async def conversations(request: Request, rest: str) -> HTTPResponse:
        match = TRACKER.fullmatch(rest)
        if request.method != "GET" or match is None:
            raise _Refusal(403, "conversations are read only here: GET "
                                "/conversations/<id>/tracker")
        params = {name: request.args.get(name) for name in TRACKER_PARAMETERS
                  if request.args.get(name) is not None}
        conversation = quote(unquote(match["conversation"]), safe=":+")
        return await relay(request, "GET", f"/conversations/{conversation}/tracker", params)

    return bp
