"""Issue 15, finding 9 (operations): the action server, demo accounts, file modes, ``/metrics``.

Attacks on the running product (the ``assistant`` fixture, started as ``make run`` starts it):
- another process on the host posts a crafted tracker to the action server on its port: the
  stock server verified a seed policy for a made-up sender and then returned its full number;
- the launcher's log (stdout to a file, as under a service manager) held the demo accounts'
  passwords (an admin among them);
- ``smo.db`` and ``tracker.db`` (policies, consents, transcripts) were 0644 in a 0755 folder;
- ``/metrics`` (open cases per queue, SLA breaches) answered a stranger on the internet.
Each also has fast tests of the rule on its own.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import processes
import pytest
from hostile import from_elsewhere
from providers import http

# The product's modules are imported inside the fast tests only: the attacks below are black-box
# over HTTP, so they also run (and fail) against a product from before the fix.
ROOT = Path(__file__).resolve().parents[2]
SEED_POLICY, SEED_BIRTH_DATE = "CI10000001", "15/03/1980"  # data/seed/policies.csv (fictional)
TOKEN_HEADER = "X-SMO-Action-Token"  # what the core sends (bot/action_server.py)
DEMO_PASSWORD = re.compile(r"(nurse|doctor|admin)\.demo\s+\S+\s+[A-Za-z0-9_-]{16}\b")


# --- the action server: a crafted call from another process on the host ----------------------

def _action_call(action: str, sender: str, slots: dict, events: list) -> bytes:
    """What the core would post for ``action``, with a tracker the caller made up."""
    domain = {"forms": {"verification_form": {"required_slots": ["policy_number",
                                                                  "date_of_birth"]}},
              "slots": {name: {"type": "text", "mappings": [{"type": "from_text"}]}
                        for name in ("policy_number", "date_of_birth", "verification")}}
    tracker = {"sender_id": sender, "slots": slots, "events": events, "paused": False,
               "latest_message": {"text": "x", "intent": {}, "entities": []},
               "followup_action": None, "active_loop": {"name": "verification_form"},
               "latest_action_name": "action_listen", "latest_input_channel": "rest"}
    return json.dumps({"next_action": action, "sender_id": sender, "version": "3.6.21",
                       "tracker": tracker, "domain": domain}).encode()


def crafted_calls(sender: str) -> list[bytes]:
    """Verify the seed policy for ``sender`` (the form's validation), then read it back."""
    said = {"event": "user", "text": "x", "parse_data": {}, "input_channel": "rest"}
    return [
        _action_call("validate_verification_form", sender,
                     {"policy_number": SEED_POLICY, "date_of_birth": SEED_BIRTH_DATE},
                     [said, {"event": "slot", "name": "date_of_birth",
                             "value": SEED_BIRTH_DATE}]),
        _action_call("action_after_verification", sender, {"verification": "verified"}, [said]),
    ]


def post_action(port: int, body: bytes, headers: dict | None = None) -> tuple[int, bytes]:
    return http("POST", f"http://127.0.0.1:{port}/webhook", body,
                {"Content-Type": "application/json", **(headers or {})})


@pytest.mark.slow
def test_action_server_refuses_a_crafted_tracker_without_the_secret(assistant) -> None:
    sender = f"crafted-{time.time_ns()}"
    for body in crafted_calls(sender):
        for headers in ({}, {TOKEN_HEADER: "guess"}, {TOKEN_HEADER: ""}):
            status, answer = post_action(assistant.action_port, body, headers)
            assert status == 403, answer[:300]
            assert SEED_POLICY.encode() not in answer
    status, answer = http("GET", f"http://127.0.0.1:{assistant.action_port}/actions")
    assert status == 403 and b"validate_verification_form" not in answer
    # Its liveness probe stays open, and says nothing more than that.
    status, answer = http("GET", f"http://127.0.0.1:{assistant.action_port}/health")
    assert (status, json.loads(answer)) == (200, {"status": "ok"})


@pytest.mark.slow
def test_action_server_serves_the_core_with_the_secret(assistant) -> None:
    """The same call with the core's secret runs (so the 403 above is the secret's doing)."""
    status, answer = post_action(assistant.action_port, crafted_calls("core-check")[1],
                                 {TOKEN_HEADER: assistant.action_token})
    assert status == 200, answer[:300]
    assert "events" in json.loads(answer)


def test_action_server_rule() -> None:
    from bot.action_server import TOKEN_HEADER as header
    from bot.action_server import refusal, token_matches

    assert header == TOKEN_HEADER
    assert refusal("GET", "/health", None, "s3cret") is None
    assert refusal("POST", "/webhook", "s3cret", "s3cret") is None
    assert refusal("GET", "/actions", "s3cret", "s3cret") is None
    for method, path, given in (("POST", "/webhook", None), ("POST", "/webhook", "s3cre"),
                                ("POST", "/webhook", "s3cret "), ("GET", "/actions", ""),
                                ("HEAD", "/health", None), ("POST", "/health", None),
                                ("POST", "/webhook", "wrönг")):
        assert refusal(method, path, given, "s3cret") is not None, (method, path, given)
    assert not token_matches("", "")  # no secret configured never means "anyone"


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """``python -m bot.action_server`` on its own (a private, seeded database), as the launcher
    starts it."""
    from instances import free_port

    home = tmp_path_factory.mktemp("actions")
    port, token = free_port(), "unit-secret-" + os.urandom(8).hex()
    env = {**os.environ, "SMO_VAR_DIR": str(home / "var"), "SMO_ACTION_TOKEN": token}
    env.pop("SMO_DATABASE_URL", None)
    log = home / "actions.log"
    with log.open("wb") as out:
        process = processes.start([sys.executable, "-m", "bot.action_server", "--port", str(port)],
                                  cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _healthy(port):
            assert process.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        yield SimpleNamespace(port=port, token=token, home=home)
    finally:
        processes.stop(process, timeout=15)


def _healthy(port: int) -> bool:
    try:
        return http("GET", f"http://127.0.0.1:{port}/health")[0] == 200
    except OSError:  # not listening yet
        return False


def test_action_server_entry_point_demands_the_secret(action_server) -> None:
    status, answer = post_action(action_server.port, crafted_calls("unit")[0])
    assert status == 403 and b"events" not in answer
    status, answer = http("GET", f"http://127.0.0.1:{action_server.port}/actions",
                          headers={TOKEN_HEADER: action_server.token})
    assert status == 200 and {"name": "validate_verification_form"} in json.loads(answer)
    # No web page gets to read an answer either: no CORS grant for any origin (stock: "*").
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{action_server.port}/actions", headers={
        "Origin": "http://evil.example", TOKEN_HEADER: action_server.token})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert "Access-Control-Allow-Origin" not in response.headers


def test_action_server_without_a_secret_does_not_start(tmp_path: Path) -> None:
    env = {**os.environ, "SMO_VAR_DIR": str(tmp_path / "var")}
    env.pop("SMO_ACTION_TOKEN", None)
    result = subprocess.run([sys.executable, "-m", "bot.action_server", "--port", "1"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "SMO_ACTION_TOKEN is not set" in result.stderr


def test_the_core_sends_the_secret_on_every_action_call(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.dialogue.action_endpoint import PooledEndpointConfig
    from bot.settings import SettingsError

    endpoint = PooledEndpointConfig.for_action_server("http://127.0.0.1:5055/webhook", "k")
    assert endpoint.headers == {TOKEN_HEADER: "k"}
    assert endpoint.copy().headers == {TOKEN_HEADER: "k"}
    with pytest.raises(SettingsError, match="SMO_ACTION_TOKEN"):
        PooledEndpointConfig.for_action_server("http://127.0.0.1:5055/webhook", "")


def test_launcher_makes_an_action_secret_per_run() -> None:
    from bot.launcher import run_secrets

    first, second = run_secrets({}), run_secrets({})
    assert len(first["SMO_ACTION_TOKEN"]) >= 32
    assert first["SMO_ACTION_TOKEN"] != second["SMO_ACTION_TOKEN"]
    assert run_secrets({"SMO_ACTION_TOKEN": "operator's"})["SMO_ACTION_TOKEN"] == "operator's"


def test_rasa_commands_send_the_secret_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``rasa shell`` (``make shell``) reads endpoints.yml: the header comes from the env."""
    from rasa.utils.endpoints import read_endpoint_config

    monkeypatch.setenv("SMO_ACTION_TOKEN", "from-the-env")
    endpoint = read_endpoint_config(str(ROOT / "endpoints.yml"), "action_endpoint")
    assert endpoint.headers == {TOKEN_HEADER: "from-the-env"}


# --- demo accounts ----------------------------------------------------------------------------

@pytest.mark.slow
def test_no_demo_password_in_the_launchers_log(assistant) -> None:
    """The fixture's launcher writes to a file: no demo account is made, none printed."""
    log = assistant.log.read_text(encoding="utf-8", errors="replace")
    assert "The assistant is up." in log
    assert not DEMO_PASSWORD.search(log)
    assert "bot.console users add" in log  # what to do instead
    with sqlite3.connect(assistant.var_dir / "smo.db") as db:
        enabled = [name for (name,) in db.execute(
            "SELECT username FROM console_users WHERE username LIKE '%.demo' AND NOT disabled")]
    assert enabled == []


# --- file modes -------------------------------------------------------------------------------

def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow
def test_databases_and_their_folder_are_private(assistant) -> None:
    assert _mode(assistant.var_dir) == 0o700
    for name in ("smo.db", "tracker.db"):
        database = assistant.var_dir / name
        assert database.exists(), name
        for companion in (database, *(database.with_name(name + s) for s in ("-wal", "-shm"))):
            if companion.exists():
                assert _mode(companion) == 0o600, f"{companion.name}: {oct(_mode(companion))}"
    assert _mode(assistant.var_dir / "processes.json") == 0o600


def test_a_new_sqlite_database_is_private_with_its_wal(tmp_path: Path) -> None:
    from bot.stores.files import private_sqlite

    database = tmp_path / "new" / "smo.db"
    private_sqlite(f"sqlite:///{database}")
    assert _mode(database) == 0o600 and _mode(database.parent) == 0o700
    with sqlite3.connect(database) as db:  # as our engines open it: WAL
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (1)")
        assert {_mode(database.with_name("smo.db" + s)) for s in ("", "-wal", "-shm")} == {0o600}


def test_an_old_world_readable_database_is_tightened(tmp_path: Path) -> None:
    from bot.stores.files import private_folder, private_sqlite

    database = tmp_path / "tracker.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE t (x)")
    database.chmod(0o644)
    folder_mode = _mode(tmp_path)
    private_sqlite(f"sqlite:///{database}")
    assert _mode(database) == 0o600
    assert _mode(tmp_path) == folder_mode  # an existing folder may be anyone's: left alone
    folder = tmp_path / "var"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    assert _mode(private_folder(folder)) == 0o700
    private_sqlite("sqlite:///:memory:")  # nothing to do, no error
    private_sqlite("postgresql://postgres@127.0.0.1/smo")


def test_the_product_engine_makes_its_database_private(tmp_path: Path) -> None:
    from bot.db import engine

    database = tmp_path / "fresh" / "smo.db"
    with engine(f"sqlite:///{database}").connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    assert _mode(database) == 0o600 and _mode(database.parent) == 0o700


# --- /metrics ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_metrics_refused_to_a_stranger(assistant) -> None:
    status, body = http("GET", f"{assistant.base_url}/metrics", headers=from_elsewhere())
    assert status == 403
    assert b"SMO_METRICS_TOKEN" in body and b"smo_open_cases" not in body
    status, body = http("GET", f"{assistant.base_url}/metrics")  # a scraper on this machine
    assert status == 200 and b"smo_open_cases" in body
    # The core's own: loopback callers only (nothing proxies to it; a relayed request is not
    # this machine's).
    core = f"http://127.0.0.1:{assistant.core_port}/metrics"
    assert http("GET", core)[0] == 200
    assert http("GET", core, headers=from_elsewhere())[0] == 403


def _request(ip: str = "127.0.0.1", **headers: str) -> SimpleNamespace:
    return SimpleNamespace(ip=ip, headers={k.lower().replace("_", "-"): v
                                           for k, v in headers.items()})


def test_metrics_guard_without_a_token() -> None:
    from bot.web.ops import metrics_refusal

    assert metrics_refusal(_request(), "", trust_forwarded=False) is None
    assert metrics_refusal(_request("::1"), "", trust_forwarded=False) is None
    refused = metrics_refusal(_request("198.51.100.4"), "", trust_forwarded=False)
    assert refused is not None and refused.status == 403
    assert b"SMO_METRICS_TOKEN" in refused.body
    stranger = _request(x_forwarded_for="203.0.113.7")
    assert metrics_refusal(stranger, "", trust_forwarded=True).status == 403
    # Not behind a trusted proxy, the header is the client's own claim: it cannot make a
    # stranger local, and a request relayed by a proxy on this machine is not local either.
    assert metrics_refusal(_request("198.51.100.4", x_forwarded_for="127.0.0.1"), "",
                           trust_forwarded=False).status == 403
    for header in ({"x_forwarded_for": "203.0.113.7"}, {"forwarded": "for=203.0.113.7"},
                   {"x_real_ip": "203.0.113.7"}):
        assert metrics_refusal(_request("127.0.0.1", **header), "",
                               trust_forwarded=False).status == 403, header


def test_metrics_guard_with_a_token() -> None:
    from bot.web.ops import bearer_matches, metrics_refusal

    token = "scrape-me"
    assert metrics_refusal(_request("198.51.100.4", authorization=f"Bearer {token}"), token,
                           trust_forwarded=False) is None
    for authorization in ("", "Bearer", "Bearer scrape-m", f"Basic {token}", f"Bearer {token}x",
                          "Bearer ünïcode"):
        refused = metrics_refusal(_request(authorization=authorization), token,
                                  trust_forwarded=False)
        assert refused is not None and refused.status == 401, authorization
        assert refused.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert bearer_matches(f"bearer {token}", token) and not bearer_matches("Bearer ", "")
