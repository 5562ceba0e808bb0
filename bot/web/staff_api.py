"""A small JSON API for staff tools and tests: the handoff service over HTTP.

Who is calling is decided by the bearer token alone:

- a staff member's own token (``python -m bot.console token create USER``, or an admin in the
  console): the API acts as that console user, with that user's role and queues exactly as in
  the console (a nurse cannot read or act on a case-doctor case: 403), and the audit log names
  that user. ``X-Staff-User`` names nobody: a value that disagrees with the token is refused.
- the operator token ``SMO_STAFF_API_TOKEN`` (optional): read-only, ``GET /api/cases`` and
  ``GET /api/cases/<id>`` across all queues (an integration reading outcomes, outside checks);
  audited as ``operator-token``. Every action on a case needs a staff member's own token.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import wraps
from typing import Any

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json

from bot.cases import store
from bot.cases.models import Case
from bot.console import tokens
from bot.console.users import QUEUES_BY_ROLE

OPERATOR = "operator-token"  # the audit log's name for reads with the operator token
ALL_QUEUES = ("nurse", "case_doctor")


@dataclass(frozen=True)
class Caller:
    """Whom a request acts as: a console user with queues, or the read-only operator."""

    username: str
    queues: tuple[str, ...]
    may_act: bool


def case_json(case: Case) -> dict[str, Any]:
    """A case as staff tools see it (identifiers masked)."""
    from bot.privacy import mask_identifier

    return {
        "id": case.id,
        "reference": case.reference,
        "queue": case.queue,
        "priority": case.priority,
        "status": case.status,
        "reason": case.reason,
        "channel": case.channel,
        "language": case.language,
        "owner": case.owner,
        "conversation": mask_identifier(case.conversation_id),
        "policy_number": mask_identifier(case.policy_number or ""),
        "packet": case.packet,
        "eligibility": case.eligibility,
        "screening": case.screening,
        "media": case.media,
        "outcome": case.outcome,
        "created_at": case.created_at.isoformat(),
        "first_response_due": case.first_response_due.isoformat(),
    }


def identify(request: Request, operator_token: str) -> Caller | HTTPResponse:
    """The caller of ``request``, or the refusal (401 unknown token, 403 a header that names
    someone else)."""
    given = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
    if operator_token and hmac.compare_digest(given.encode(), operator_token.encode()):
        return Caller(OPERATOR, ALL_QUEUES, may_act=False)
    member = tokens.resolve(given)
    if member is None:
        return json({"error": "unauthorised"}, status=401)
    named = (request.headers.get("x-staff-user") or "").strip().lower()
    if named and named != member.username:
        return json({"error": "X-Staff-User does not match the token's user"}, status=403)
    return Caller(member.username, QUEUES_BY_ROLE[member.role], may_act=True)


def staff_api_blueprint(operator_token: str = "") -> Blueprint:
    """``/api/cases`` (GET), ``/api/cases/<id>`` (GET), and POST claim/reply/note/transfer/close."""
    bp = Blueprint("staff_api", url_prefix="/api")

    def authorised(acts: bool):  # noqa: ANN202
        def decorate(handler):  # noqa: ANN001, ANN202
            @wraps(handler)
            async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
                caller = identify(request, operator_token)
                if isinstance(caller, HTTPResponse):
                    return caller
                if acts and not caller.may_act:
                    return json({"error": "needs a staff member's own token"}, status=403)
                case_id = kwargs.get("case_id")
                if case_id is not None:
                    refusal = _refusal(caller, case_id)
                    if refusal is not None:
                        return refusal
                try:
                    return await handler(request, caller, *args, **kwargs)
                except store.CaseError as exc:
                    return json({"error": str(exc)}, status=409)

            return wrapper

        return decorate

    def _refusal(caller: Caller, case_id: int) -> HTTPResponse | None:
        try:
            case = store.get(case_id)
        except store.CaseError:
            return json({"error": "no such case"}, status=404)
        if case.queue not in caller.queues:
            return json({"error": "this case is in another team's queue"}, status=403)
        return None

    def body(request: Request) -> dict[str, Any]:
        data = request.json if request.body else {}
        return data if isinstance(data, dict) else {}

    @bp.get("/cases")
    @authorised(acts=False)
    async def list_cases(request: Request, caller: Caller) -> HTTPResponse:
        return json([case_json(c) for c in store.open_cases(caller.queues)])

    @bp.get("/cases/<case_id:int>")
    @authorised(acts=False)
    async def show(request: Request, caller: Caller, case_id: int) -> HTTPResponse:
        case = store.get(case_id)
        store.audit(caller.username, "view", case_id)
        turns = await request.app.ctx.handoff.transcript(case)
        return json(
            {
                **case_json(case),
                "transcript": [
                    {"role": t.role, "text": t.text, "at": t.at.isoformat(), "author": t.author}
                    for t in turns
                ],
                "notes": [
                    {"author": n.author, "body": n.body, "at": n.at.isoformat()}
                    for n in store.notes(case_id)
                ],
            }
        )

    @bp.post("/cases/<case_id:int>/claim")
    @authorised(acts=True)
    async def claim(request: Request, caller: Caller, case_id: int) -> HTTPResponse:
        return json(case_json(await request.app.ctx.handoff.claim(case_id, caller.username)))

    @bp.post("/cases/<case_id:int>/reply")
    @authorised(acts=True)
    async def reply(request: Request, caller: Caller, case_id: int) -> HTTPResponse:
        delivery = await request.app.ctx.handoff.reply(
            case_id, caller.username, str(body(request).get("text", ""))
        )
        return json({"status": delivery.status, "detail": delivery.detail})

    @bp.post("/cases/<case_id:int>/note")
    @authorised(acts=True)
    async def note(request: Request, caller: Caller, case_id: int) -> HTTPResponse:
        await request.app.ctx.handoff.note(case_id, caller.username,
                                           str(body(request).get("text", "")))
        return json({"ok": True})

    @bp.post("/cases/<case_id:int>/transfer")
    @authorised(acts=True)
    async def transfer(request: Request, caller: Caller, case_id: int) -> HTTPResponse:
        case = await request.app.ctx.handoff.transfer(
            case_id, caller.username, str(body(request).get("queue", ""))
        )
        return json(case_json(case))

    @bp.post("/cases/<case_id:int>/close")
    @authorised(acts=True)
    async def close(request: Request, caller: Caller, case_id: int) -> HTTPResponse:
        case = await request.app.ctx.handoff.close(
            case_id, caller.username, str(body(request).get("outcome", ""))
        )
        return json(case_json(case))

    return bp
