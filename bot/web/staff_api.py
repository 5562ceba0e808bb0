"""A small JSON API for staff tools and tests: the handoff service over HTTP.

Protected by a bearer token (``SMO_STAFF_API_TOKEN``); without one the API is not mounted at all.
The nurse console (``/console``) uses the same service in-process with its own login and roles.
"""

from __future__ import annotations

import hmac
from functools import wraps
from typing import Any

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json

from bot.cases import store
from bot.cases.models import Case


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


def staff_api_blueprint(token: str) -> Blueprint:
    """``/api/cases`` (GET), ``/api/cases/<id>`` (GET), and POST claim/reply/note/transfer/close."""
    bp = Blueprint("staff_api", url_prefix="/api")

    def authorised(handler):  # noqa: ANN001, ANN202
        @wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            given = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), token.encode()):
                return json({"error": "unauthorised"}, status=401)
            user = (request.headers.get("x-staff-user") or "").strip()
            if not user:
                return json({"error": "X-Staff-User header required"}, status=400)
            try:
                return await handler(request, user, *args, **kwargs)
            except store.CaseError as exc:
                return json({"error": str(exc)}, status=409)

        return wrapper

    def body(request: Request) -> dict[str, Any]:
        data = request.json if request.body else {}
        return data if isinstance(data, dict) else {}

    @bp.get("/cases")
    @authorised
    async def list_cases(request: Request, user: str) -> HTTPResponse:
        return json([case_json(c) for c in store.open_cases()])

    @bp.get("/cases/<case_id:int>")
    @authorised
    async def show(request: Request, user: str, case_id: int) -> HTTPResponse:
        case = store.get(case_id)
        store.audit(user, "view", case_id)
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
    @authorised
    async def claim(request: Request, user: str, case_id: int) -> HTTPResponse:
        return json(case_json(await request.app.ctx.handoff.claim(case_id, user)))

    @bp.post("/cases/<case_id:int>/reply")
    @authorised
    async def reply(request: Request, user: str, case_id: int) -> HTTPResponse:
        delivery = await request.app.ctx.handoff.reply(
            case_id, user, str(body(request).get("text", ""))
        )
        return json({"status": delivery.status, "detail": delivery.detail})

    @bp.post("/cases/<case_id:int>/note")
    @authorised
    async def note(request: Request, user: str, case_id: int) -> HTTPResponse:
        await request.app.ctx.handoff.note(case_id, user, str(body(request).get("text", "")))
        return json({"ok": True})

    @bp.post("/cases/<case_id:int>/transfer")
    @authorised
    async def transfer(request: Request, user: str, case_id: int) -> HTTPResponse:
        case = await request.app.ctx.handoff.transfer(
            case_id, user, str(body(request).get("queue", ""))
        )
        return json(case_json(case))

    @bp.post("/cases/<case_id:int>/close")
    @authorised
    async def close(request: Request, user: str, case_id: int) -> HTTPResponse:
        case = await request.app.ctx.handoff.close(
            case_id, user, str(body(request).get("outcome", ""))
        )
        return json(case_json(case))

    return bp
