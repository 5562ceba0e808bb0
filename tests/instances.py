"""Start whole product instances (the launcher ``make run`` uses) and a shared fake Twilio, for
the scale-out, crash and provider-fault tests. Each instance gets private ports; the caller says
which stores it uses. Everything runs on 127.0.0.1 and is stopped by the caller."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import processes

from channels.sandbox import defaults

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 300
# What the load tests' customers ask (answers of one or two bubbles, three languages).
QUESTIONS = ["how long does the report take", "報告要幾耐先有呀", "哪些计划可以使用这个服务",
             "what is the second medical opinion service", "點樣申請第二醫療意見", "hello"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_healthy(url: str, process: subprocess.Popen, log: Path,
                 timeout: float = STARTUP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited early:\n{log.read_text()[-4000:]}")
        if healthy(url):
            return
        time.sleep(0.5)
    raise RuntimeError(f"{url} not healthy after {timeout} s:\n{log.read_text()[-4000:]}")


@dataclass
class FakeTwilio:
    """One fake Twilio both instances send to (so per-customer order can be checked there)."""

    url: str
    process: subprocess.Popen
    log: Path

    @classmethod
    def start(cls, folder: Path) -> FakeTwilio:
        port = free_port()
        log = folder / f"fake-twilio-{port}.log"
        with log.open("wb") as out:
            process = processes.start(
                [sys.executable, "-m", "channels.sandbox.fake_twilio", "--port", str(port),
                 "--account-sid", defaults.TWILIO_ACCOUNT_SID,
                 "--auth-token", defaults.TWILIO_AUTH_TOKEN],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        fake = cls(f"http://127.0.0.1:{port}", process, log)
        wait_healthy(f"{fake.url}/_sandbox/health", process, log, timeout=60)
        return fake

    def stop(self) -> None:
        processes.stop(self.process, timeout=10)


@dataclass
class Instance:
    """One product instance: launcher, action server, core, gateway."""

    name: str
    base_url: str
    var_dir: Path
    log: Path
    env: dict[str, str]
    process: subprocess.Popen | None = None

    @classmethod
    def create(cls, name: str, folder: Path, model: Path, fake: FakeTwilio,
               stores: dict[str, str]) -> Instance:
        var_dir = folder / name
        var_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "SMO_PORT": str(port), "SMO_ACTION_PORT": str(free_port()),
            "SMO_CORE_PORT": str(free_port()), "SMO_VAR_DIR": str(var_dir),
            "SMO_MODEL": str(model), "SMO_OFFICE_HOURS": "Mon-Sun 00:00-23:59",
            "SMO_RATE_LIMIT_PER_MINUTE": "100000", "SMO_RATE_LIMIT_BURST": "100000",
            "SMO_SANDBOX": "false", "SMO_DEMO_USERS": "false",
            "SMO_SEND_MAX_BACKOFF_SECONDS": "3",  # faults delay replies by seconds, not minutes
            "TWILIO_ACCOUNT_SID": defaults.TWILIO_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": defaults.TWILIO_AUTH_TOKEN,
            "TWILIO_WHATSAPP_FROM": defaults.TWILIO_WHATSAPP_FROM,
            "TWILIO_API_URL": fake.url, "PUBLIC_BASE_URL": base,
            **stores,
        }
        for variable in ("WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_TOKEN",
                         "WECHAT_ENCODING_AES_KEY", "SMO_ENABLE_RASA_API"):
            env.pop(variable, None)
        return cls(name, base, var_dir, var_dir / "instance.log", env)

    def start(self, wait: bool = True) -> Instance:
        with self.log.open("ab") as out:
            self.process = processes.start([sys.executable, "-m", "bot.launcher"], cwd=ROOT,
                                           env=self.env, stdout=out, stderr=subprocess.STDOUT)
        if wait:
            wait_healthy(f"{self.base_url}/ready", self.process, self.log)
        return self

    def pids(self) -> dict[str, int]:
        return json.loads((self.var_dir / "processes.json").read_text(encoding="utf-8"))

    def kill9(self) -> None:
        """Crash: SIGKILL the launcher and every process it started, no clean-up at all."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        for pid in self.pids().values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)

    def stop(self) -> None:
        """The launcher and its servers (also what a crashed launcher left behind)."""
        if self.process is not None:
            processes.stop(self.process)


# ---------------------------------------------------------------------------- customers & checks
def send_until_acknowledged(base_urls: list[str], number: str, text: str, sid: str,
                            timeout: float = 300.0) -> int:
    """Post one signed WhatsApp webhook as Twilio would, retrying (same MessageSid) until an
    instance answers 200: Twilio retries a webhook that failed, so a crash must not lose it.
    Returns how many attempts it took."""
    from providers import WhatsAppUser

    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        base = base_urls[attempt % len(base_urls)]
        attempt += 1
        try:
            status = WhatsAppUser(base, "", number).send(text, sid=sid)
        except OSError:
            status = 0
        if status == 200:
            return attempt
        if time.monotonic() > deadline:
            raise AssertionError(f"{number}: message {sid} never acknowledged (last {status})")
        time.sleep(0.3)


def replies_by_inbound(db_url: str, numbers: list[str]) -> dict[str, dict]:
    """Per customer: their inbound messages in order and the outbox rows answering each."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url, future=True)
    result: dict[str, dict] = {}
    with engine.connect() as connection:
        for number in numbers:
            address = f"whatsapp:{number}"
            inbound = connection.execute(text(
                "SELECT id, provider_id, status FROM inbound_messages "
                "WHERE channel = 'whatsapp' AND sender = :s ORDER BY id"), {"s": address}).all()
            outbound = connection.execute(text(
                "SELECT id, dedup_key, status, provider_ref FROM outbound_messages "
                "WHERE channel = 'whatsapp' AND recipient = :s ORDER BY id"), {"s": address}).all()
            result[number] = {"inbound": inbound, "outbound": outbound}
    engine.dispose()
    return result


def wait_all_sent(db_url: str, numbers: list[str], expected_inbound: int,
                  timeout: float = 300.0) -> dict[str, dict]:
    """Until every inbound message is answered and every outbox row has left (or time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        state = replies_by_inbound(db_url, numbers)
        inbound = sum(len(s["inbound"]) for s in state.values())
        unanswered = sum(1 for s in state.values() for row in s["inbound"] if row[2] != "done")
        unsent = sum(1 for s in state.values() for row in s["outbound"] if row[2] != "sent")
        if inbound >= expected_inbound and not unanswered and not unsent:
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout} s: {inbound}/{expected_inbound} stored, "
                                 f"{unanswered} unanswered, {unsent} outbox rows not sent")
        time.sleep(1)


def exactly_once_in_order(state: dict[str, dict], sent: dict[str, list[str]],
                          fake_url: str) -> list[str]:
    """Problems found (empty = good): every message the customer sent was stored once, in the
    order sent, answered with at least one bubble; the fake Twilio got each bubble exactly once
    and in the order of the messages they answer."""
    from providers import recorded

    problems: list[str] = []
    for number, sids in sent.items():
        inbound, outbound = state[number]["inbound"], state[number]["outbound"]
        if [row[1] for row in inbound] != sids:
            problems.append(f"{number}: stored {len(inbound)} messages, not the {len(sids)} "
                            "sent in their order")
            continue
        position = {row[0]: index for index, row in enumerate(inbound)}
        answered = {int(row[1].split(":")[1]) for row in outbound if row[1].startswith("in:")}
        missing = [row[1] for row in inbound if row[0] not in answered]
        if missing:
            problems.append(f"{number}: no reply to {missing}")
        # Expected provider order: by the message answered, then by bubble index.
        keyed = [((position[int(row[1].split(":")[1])], int(row[1].split(":")[2])), row[3])
                 for row in outbound]
        expected = [ref for _, ref in sorted(keyed)]
        got = [m["sid"] for m in recorded(fake_url, to=f"whatsapp:{number}")]
        if len(got) != len(set(got)) or sorted(got) != sorted(expected):
            problems.append(f"{number}: provider has {len(got)} messages for {len(expected)} "
                            f"outbox rows (duplicates or losses)")
        elif got != expected:
            problems.append(f"{number}: replies reached the provider out of order")
    return problems
