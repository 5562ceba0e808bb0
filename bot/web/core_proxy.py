"""``POST /webhooks/rest/webhook`` on the public port: admitted here, answered by the core.

The gateway decides who may call (:mod:`bot.web.rest_access`), reads the body once with the REST
channel's strict rules (:mod:`channels.rest.message`: what it cannot read is refused, never
relayed), applies the rate limits to callers from elsewhere, and sends the core a body it built
from the values it read, with the facts only it knows in headers the core believes only with
the internal token: the pseudonym of the caller's address (``client_key``, for the per-client
verification lockout). The core's own REST channel (:mod:`channels.rest.input`) re-checks all of
it and keeps each visitor in their own ``rest:<sender>`` conversation.

Over a limit the caller gets 429 with ``Retry-After``, except an emergency: someone describing
one still gets the emergency numbers at once (in the language they wrote in), from here, without
reaching the model, so a flood opens no cases.
"""

from __future__ import annotations

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json, raw

from bot import responses
from bot.core_client import TOKEN_HEADER
from bot.settings import Settings
from bot.web.rest_access import Caller, Refused, caller_of
from channels.rest.limits import CLIENT_KEY_HEADER, RestLimits, client_key
from channels.rest.message import RestMessage, RestRequestError, parse


def emergency_reply(message: RestMessage) -> list[dict[str, str]] | None:
    """The emergency answer when ``message`` describes an emergency (the same screening and
    response the core's emergency guard uses), in the language it is written in."""
    from bot.language import decide, detect
    from bot.screening import screen

    detected = detect(message.text)
    if screen(message.text, detected.language).category != "emergency":
        return None
    text = responses.text("utter_emergency", decide(None, detected))
    return [{"recipient_id": message.sender, "text": text}]


def core_proxy_blueprint(settings: Settings) -> Blueprint:
    """The REST webhook, relayed to the core once admitted."""
    bp = Blueprint("core_proxy")
    limits = RestLimits.of(settings.rest_sender_per_minute, settings.rest_sender_burst,
                           settings.rest_client_per_minute, settings.rest_client_burst)

    def admit(request: Request) -> tuple[Caller, RestMessage]:
        caller = caller_of(request, settings)  # who first, then the body
        try:
            message = parse(request.body or b"")
        except RestRequestError as exc:
            raise Refused(400, str(exc)) from None
        caller.may_speak_as(message.sender)
        return caller, message

    @bp.post("/webhooks/rest/webhook")
    async def rest(request: Request) -> HTTPResponse:
        try:
            caller, message = admit(request)
        except Refused as refused:
            return json({"error": refused.error}, status=refused.status,
                        headers=refused.headers)
        core = request.app.ctx.core
        headers = {"content-type": "application/json", TOKEN_HEADER: core.internal_token}
        if not caller.local:
            if not limits.allow(message.sender, caller.address):
                wait = {"Retry-After": str(limits.retry_after)}
                answer = emergency_reply(message)
                if answer is not None:
                    return json(answer, headers=wait)
                return json({"error": "too many messages; please wait a moment"}, status=429,
                            headers=wait)
            headers[CLIENT_KEY_HEADER] = client_key(settings.rest_token_secret, caller.address)
        status, body, content_type = await core.forward(
            "POST", "/webhooks/rest/webhook", "", message.to_json(), headers)
        return raw(body, status=status, content_type=content_type)

    return bp
