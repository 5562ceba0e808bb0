"""Issue 15, finding 8: the staff API token acted as anyone.

One shared bearer token (``SMO_STAFF_API_TOKEN``) plus a free-text ``X-Staff-User`` header: any
holder could claim, answer and close any case in any queue as any named nurse, and the audit log
recorded whatever the header said. Attacks on the running product (the ``assistant`` fixture):
- the operator token claims and closes a case (it may now only read);
- a nurse's own token reads and claims a case-doctor case;
- a revoked token is used again;
- ``X-Staff-User`` names someone else, to act (and be audited) as them.
Fast tests of the rules: tests/test_console_tokens.py.
"""

from __future__ import annotations

import re

import pytest
from console_client import Browser, make_user
from conversation import Customer, Staff, product_database

pytestmark = pytest.mark.slow


def nurse_case(assistant) -> int:  # noqa: ANN001
    """A new case in the nurse queue (a REST customer asks for a nurse)."""
    customer = Customer(assistant.base_url, "en")
    customer.say("please let me speak with a nurse")
    reader = Staff(assistant.base_url, assistant.staff_token, "outcomes.reader")  # read-only
    return reader.case_of(customer)["id"]


def audit_actors(assistant, case_id: int) -> list[tuple[str, str]]:  # noqa: ANN001
    """(actor, action) of a case's audit entries, read from the product's database."""
    from bot.cases import store

    with product_database(assistant.var_dir):
        return [(entry.actor, entry.action) for entry in store.audit_log(case_id)]


def test_operator_token_reads_but_cannot_act(assistant) -> None:
    case = nurse_case(assistant)
    for named in ("nurse.chan", ""):  # with or without X-Staff-User
        operator = Staff(assistant.base_url, assistant.staff_token, named)
        status, cases = operator.call("GET", "/cases")
        assert status == 200 and case in [c["id"] for c in cases]
        status, shown = operator.call("GET", f"/cases/{case}")
        assert status == 200 and shown["id"] == case and "transcript" in shown
        for action, payload in (("claim", None), ("note", {"text": "x"}),
                                ("reply", {"text": "x"}), ("transfer", {"queue": "case_doctor"}),
                                ("close", {"outcome": "advised"})):
            status, body = operator.call("POST", f"/cases/{case}/{action}", payload)
            assert status == 403 and "own token" in body["error"], (named, action)
    status, shown = Staff(assistant.base_url, assistant.staff_token).call("GET", f"/cases/{case}")
    assert shown["status"] == "queued" and shown["owner"] is None  # nothing was done to it
    assert ("nurse.chan", "view") not in audit_actors(assistant, case)  # the header named nobody


def test_a_nurses_token_cannot_touch_a_case_doctor_case(assistant) -> None:
    case = nurse_case(assistant)
    nurse = Staff.member(assistant, "nurse.ward", "nurse")
    status, moved = nurse.call("POST", f"/cases/{case}/transfer", {"queue": "case_doctor"})
    assert status == 200 and moved["queue"] == "case_doctor"
    status, cases = nurse.call("GET", "/cases")
    assert status == 200 and case not in [c["id"] for c in cases]
    assert nurse.call("GET", f"/cases/{case}")[0] == 403
    for action, payload in (("claim", None), ("note", {"text": "x"}),
                            ("close", {"outcome": "advised"})):
        assert nurse.call("POST", f"/cases/{case}/{action}", payload)[0] == 403, action
    doctor = Staff.member(assistant, "dr.ward", "case_doctor")
    status, claimed = doctor.call("POST", f"/cases/{case}/claim")
    assert status == 200 and claimed["owner"] == "dr.ward"


def test_x_staff_user_cannot_make_the_audit_log_name_someone_else(assistant) -> None:
    case = nurse_case(assistant)
    # the shared token naming a nurse once claimed the case as her (and the audit said so)
    shared = Staff(assistant.base_url, assistant.staff_token, "nurse.framed")
    assert shared.call("POST", f"/cases/{case}/claim")[0] == 403
    # a staff member's own token cannot name someone else either
    nurse = Staff.member(assistant, "nurse.honest", "nurse")
    impostor = Staff(assistant.base_url, nurse.token, "nurse.framed")
    status, body = impostor.call("POST", f"/cases/{case}/claim")
    assert status == 403 and "X-Staff-User" in body["error"]
    status, claimed = nurse.call("POST", f"/cases/{case}/claim")
    assert status == 200 and claimed["owner"] == "nurse.honest"
    assert nurse.call("POST", f"/cases/{case}/note", {"text": "checked"})[0] == 200
    actors = {actor for actor, _ in audit_actors(assistant, case)}
    assert "nurse.honest" in actors and "nurse.framed" not in actors


def test_a_revoked_token_stops_working(assistant) -> None:
    """An admin makes a nurse's token in the console (shown once) and revokes it there."""
    nurse = make_user(assistant.var_dir, "nurse", "nurse.revoked")
    admin = Browser(assistant.base_url)
    assert admin.login(make_user(assistant.var_dir, "admin", "admin.tokens"))[0] == 200
    status, page, _ = admin.post("/console/tokens", {"csrf_token": admin.csrf("/console/users"),
                                                     "username": nurse, "label": "tablet"})
    assert status == 200
    token = re.search(r'<code class="token">([^<]+)</code>', page)[1]
    token_id = re.search(r"<b>New token (\d+) for", page)[1]
    assert token not in admin.get("/console/users")[1]  # shown that once only
    staff = Staff(assistant.base_url, token)
    assert staff.call("GET", "/cases")[0] == 200
    status, _, _ = admin.post(f"/console/tokens/{token_id}/revoke",
                              {"csrf_token": admin.csrf("/console/users")})
    assert status == 200
    assert staff.call("GET", "/cases")[0] == 401
    assert staff.call("POST", f"/cases/{nurse_case(assistant)}/claim")[0] == 401
