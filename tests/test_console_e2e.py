"""The console over HTTP against the running product: roles, CSRF, escaping, the handoff story."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conversation import Customer
from providers import WhatsAppUser, wait_for

pytestmark = pytest.mark.slow
PASSWORD = "a long console password"


class Browser:
    """A cookie-keeping HTTP client posting forms like a browser without JavaScript."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str, dict]:
        try:
            with self.opener.open(f"{self.base}{path}", timeout=30) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)

    def post(self, path: str, form: dict) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode()
        try:
            with self.opener.open(f"{self.base}{path}", data, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def login(self, username: str) -> None:
        status, body = self.post("/console/login", {"username": username, "password": PASSWORD})
        assert status == 200 and "Open cases" in body, body[:300]

    def csrf(self, path: str) -> str:
        _, body, _ = self.get(path)
        return re.search(r'name="csrf_token" value="([^"]+)"', body)[1]


@pytest.fixture(scope="module")
def staff(assistant) -> dict[str, Browser]:
    import os

    from bot.console import users

    os.environ["SMO_DATABASE_URL"] = f"sqlite:///{assistant.var_dir / 'smo.db'}"
    try:
        for name, role in (("nurse.e2e", "nurse"), ("doctor.e2e", "case_doctor"),
                           ("admin.e2e", "admin")):
            users.add_user(name, role, PASSWORD)
    finally:
        del os.environ["SMO_DATABASE_URL"]
    browsers = {}
    for name in ("nurse.e2e", "doctor.e2e", "admin.e2e"):
        browsers[name] = Browser(assistant.base_url)
        browsers[name].login(name)
    return browsers


def case_id_in(body: str, marker: str) -> int:
    rows = re.findall(r'<a href="/console/cases/(\d+)">', body)
    assert rows, f"no case rows ({marker})"
    return int(rows[-1])


def test_login_failure_is_uniform_and_pages_need_a_session(assistant) -> None:
    anonymous = Browser(assistant.base_url)
    status, body = anonymous.post("/console/login", {"username": "nobody", "password": "x"})
    assert status == 401 and "Invalid username or password" in body
    status, body, headers = anonymous.get("/console/login")
    assert "script-src 'self'" in headers.get("Content-Security-Policy", "")
    status, _ = anonymous.post("/console/cases/1/claim", {"csrf_token": "x"})
    assert status == 401


def test_whatsapp_customer_to_nurse_and_back(assistant, staff) -> None:
    nurse, doctor = staff["nurse.e2e"], staff["doctor.e2e"]
    customer = WhatsAppUser(assistant.base_url, assistant.fake_twilio)
    assert customer.send("I want to talk to a nurse") == 200
    customer.settle()
    # markup in a later message of the same chat: escaped on the case page
    assert customer.send("<script>alert(1)</script>") == 200
    customer.settle()
    _, queue, _ = nurse.get("/console/")
    case = case_id_in(queue, "nurse queue")
    assert " HKT" in queue and " UTC" not in queue and " min</td>" in queue  # staff's clock
    _, doctor_queue, _ = doctor.get("/console/")
    assert f'/console/cases/{case}"' not in doctor_queue  # not the case doctors' queue
    assert doctor.get(f"/console/cases/{case}")[0] == 403

    page = f"/console/cases/{case}"
    _, body, _ = nurse.get(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert(1)" not in body
    assert nurse.post(f"{page}/claim", {"csrf_token": "forged"})[0] == 403  # CSRF checked
    status, body = nurse.post(f"{page}/claim", {"csrf_token": nurse.csrf(page)})
    assert status == 200 and "Claimed" in body
    before = len(customer.received())
    status, body = nurse.post(f"{page}/reply", {"csrf_token": nurse.csrf(page),
                                                 "text": "Hello from nurse e2e"})
    assert status == 200 and "Sent." in body
    assert wait_for(customer.received, before + 1)[-1] == "Hello from nurse e2e"
    status, body = nurse.post(f"{page}/close", {"csrf_token": nurse.csrf(page),
                                                 "outcome": "advised"})
    assert status == 200 and "Closed" in body
    settled = customer.settle()
    assert customer.send("how long until I get the report") == 200
    assert len(customer.settle()) >= len(settled) + 2  # the bot answers again


def test_hand_back_speaks_the_language_the_customer_writes_now(assistant, staff,
                                                               monkeypatch) -> None:
    """A customer who asked in English and went on in Cantonese while the nurse held the chat
    hears the bot come back in Cantonese, and the console shows the case in it."""
    nurse = staff["nurse.e2e"]
    customer = WhatsAppUser(assistant.base_url, assistant.fake_twilio)
    assert customer.send("I want to talk to a nurse please") == 200
    customer.settle()
    _, queue, _ = nurse.get("/console/")
    case = case_id_in(queue, "nurse queue")
    page = f"/console/cases/{case}"
    assert nurse.post(f"{page}/claim", {"csrf_token": nurse.csrf(page)})[0] == 200
    assert customer.send("唔該你，我想問下份報告幾時會有呀") == 200
    monkeypatch.setenv("SMO_DATABASE_URL", f"sqlite:///{assistant.var_dir / 'smo.db'}")
    from bot.cases import store

    assert wait_for(lambda: [1] if store.get(case).language == "yue" else [], 1) == [1]
    before = len(customer.settle())
    status, body = nurse.post(f"{page}/close", {"csrf_token": nurse.csrf(page),
                                                 "outcome": "advised"})
    assert status == 200 and "Closed" in body
    back = wait_for(customer.received, before + 1)[before]
    english = responses_text("utter_handoff_closed", "en")
    assert back != english and back == responses_text("utter_handoff_closed", "yue")


def responses_text(response: str, language: str) -> str:
    from bot import responses

    return responses.text(response, language)


def test_transcript_shows_what_was_typed_for_an_option(assistant, staff) -> None:
    """A reply of "4" to the menu shows as "4 → Talk to a nurse", not as "/request_human"."""
    nurse = staff["nurse.e2e"]
    customer = WhatsAppUser(assistant.base_url, assistant.fake_twilio)
    assert customer.send("hello there, I have a question") == 200
    assert "4. Talk to a nurse" in customer.settle()[-1]
    assert customer.send("4") == 200
    customer.settle()
    _, queue, _ = nurse.get("/console/")
    _, body, _ = nurse.get(f"/console/cases/{case_id_in(queue, 'nurse queue')}")
    assert "4 → Talk to a nurse" in body
    assert "/request_human" not in body


def test_admin_sees_both_queues(staff) -> None:
    _, body, _ = staff["admin.e2e"].get("/console/")
    assert "nurse, case_doctor" in body


def test_rest_customer_transcript_in_case_page(assistant, staff) -> None:
    customer = Customer(assistant.base_url, "en")
    customer.say("please let me speak with a nurse")
    nurse = staff["nurse.e2e"]
    _, queue, _ = nurse.get("/console/")
    case = case_id_in(queue, "after REST request")
    _, body, _ = nurse.get(f"/console/cases/{case}")
    assert "please let me speak with a nurse" in body


def test_only_admins_manage_users(staff) -> None:
    nurse, admin = staff["nurse.e2e"], staff["admin.e2e"]
    assert nurse.get("/console/users")[0] == 403
    assert nurse.post("/console/users", {"csrf_token": nurse.csrf("/console/"),
                                         "username": "sneaky", "role": "admin",
                                         "password": PASSWORD})[0] == 403
    token = admin.csrf("/console/users")
    assert admin.post("/console/users", {"csrf_token": "forged", "username": "x.y",
                                         "role": "nurse", "password": PASSWORD})[0] == 403
    status, body = admin.post("/console/users", {"csrf_token": token, "username": "nurse.new",
                                                 "role": "nurse", "password": PASSWORD})
    assert status == 200 and "nurse.new" in body and "User added." in body
    status, body = admin.post("/console/users/nurse.new/disable", {"csrf_token": token})
    assert status == 200 and "Account disabled" in body  # a notice code, never text from the URL


def test_each_role_each_action(assistant, staff) -> None:
    """Nurses act on nurse cases only; case doctors on case-doctor cases only."""
    nurse, doctor = staff["nurse.e2e"], staff["doctor.e2e"]
    customer = Customer(assistant.base_url, "en")
    customer.say("please let me speak with a nurse now")
    _, queue, _ = nurse.get("/console/")
    case = case_id_in(queue, "role matrix")
    for action in ("claim", "reply", "note", "transfer", "close"):
        status, _ = doctor.post(f"/console/cases/{case}/{action}",
                                {"csrf_token": doctor.csrf("/console/"), "text": "x",
                                 "queue": "case_doctor", "outcome": "advised"})
        assert status == 403, action
    page = f"/console/cases/{case}"
    status, body = nurse.post(f"{page}/note", {"csrf_token": nurse.csrf(page), "text": "n1"})
    assert status == 200 and "Note added." in body
    status, body = nurse.post(f"{page}/transfer", {"csrf_token": nurse.csrf(page),
                                                    "queue": "case_doctor"})
    assert status == 200 and "Transferred." in body
    assert nurse.get(page)[0] == 403  # now the case doctors' case
    status, body = doctor.post(f"{page}/claim", {"csrf_token": doctor.csrf("/console/")})
    assert status == 200 and "Claimed" in body
