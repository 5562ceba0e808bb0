"""The fake Twilio's memory and what every endpoint shares: the state of one account (messages,
contents, queued faults, delivery callbacks, counters), the fault rules, the long-poll wake-ups,
and Twilio's error shape and HTTP Basic authentication. See ``fake_twilio`` for the endpoints.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import random
from dataclasses import dataclass
from typing import Any

from aiohttp import BasicAuth, ClientSession, web

STATE_KEY = web.AppKey("fake_twilio_state", object)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def rfc2822(moment: dt.datetime | None) -> str | None:
    return None if moment is None else email.utils.format_datetime(moment)


@dataclass
class FaultRule:
    status: int | None = None
    count: int | None = 1
    retry_after: float | None = None
    delay: float = 0.0
    probability: float = 1.0
    code: int | None = None
    message: str | None = None
    outcome: str | None = None
    error_code: int | None = None

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object")
        unknown = set(data) - {f for f in cls.__dataclass_fields__} - {"seed"}
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        status = data.get("status")
        if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
            raise ValueError("status must be an HTTP error status (400-599)")
        probability = float(data.get("probability", 1.0))
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be within 0..1")
        default_count = None if "probability" in data else 1
        count = data.get("count", default_count)
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError("count must be a positive integer")
        outcome = data.get("outcome")
        if outcome not in (None, "undelivered", "failed"):
            raise ValueError("outcome must be 'undelivered' or 'failed'")
        if status is not None and outcome is not None:
            raise ValueError("a fault has either a status (rejected) or an outcome (accepted)")
        delay = float(data.get("delay", 0.0))
        if delay < 0:
            raise ValueError("delay must not be negative")
        if status is None and outcome is None and delay == 0:
            raise ValueError("a fault needs a status, an outcome or a delay")
        retry_after = data.get("retry_after")
        return cls(
            status=status,
            count=count,
            retry_after=None if retry_after is None else float(retry_after),
            delay=delay,
            probability=probability,
            code=data.get("code"),
            message=data.get("message"),
            outcome=outcome,
            error_code=data.get("error_code", 63016 if outcome else None),
        )


class Arrivals:
    """Wakes ``/_sandbox/wait`` long-polls when a message is recorded, so a load generator need
    not poll and steal the CPU it measures. Only the polls waiting on that recipient (or on any
    message) are looked at: with twenty conversations waiting, a recorded message costs one
    check instead of waking all twenty (no CPU difference resolvable on the bench's noisy VM;
    kept because the work no longer grows with the number of waiting polls).
    """

    def __init__(self) -> None:
        # recipient (None: any) -> (count to reach, future resolved when it is reached)
        self._waiting: dict[str | None, list[tuple[int, asyncio.Future[None]]]] = {}

    async def wait(self, to: str | None, count: int, recorded: Any, timeout: float) -> None:
        """Until ``recorded()`` reaches ``count`` (``asyncio.TimeoutError`` after ``timeout``)."""
        if recorded() >= count:
            return
        entry = (count, asyncio.get_running_loop().create_future())
        self._waiting.setdefault(to, []).append(entry)
        try:
            await asyncio.wait_for(entry[1], timeout)
        finally:
            waiting = self._waiting.get(to, [])
            if entry in waiting:
                waiting.remove(entry)
            if not waiting:
                self._waiting.pop(to, None)

    def recorded(self, to: str, for_recipient: int, in_all: int) -> None:
        """A message to ``to`` was recorded: ``for_recipient`` to it now, ``in_all`` in all."""
        for key, have in ((to, for_recipient), (None, in_all)):
            for count, future in self._waiting.get(key, ()):
                if have >= count and not future.done():
                    future.set_result(None)


class TwilioState:
    """Everything the fake remembers; one per application."""

    def __init__(
        self,
        auth_token: str,
        account_sid: str,
        status_callbacks: bool = True,
        status_delay: float = 0.05,
        seed: int = 0,
    ):
        self.auth_token = auth_token
        self.account_sid = account_sid
        self.arrivals = Arrivals()
        self.per_recipient: dict[str, int] = {}  # recorded messages per "to" (for waits)
        self.status_callbacks = status_callbacks
        self.status_delay = status_delay
        self.rng = random.Random(seed)
        self.messages: list[dict[str, Any]] = []
        self.contents: dict[str, dict[str, Any]] = {}  # Content API resources by sid
        self.refuse_content = 0
        self.faults: list[FaultRule] = []
        self.callbacks: list[dict[str, Any]] = []
        self.stats = {
            "create_calls": 0,
            "created": 0,
            "rejected": 0,
            "faults_injected": 0,
            "auth_failures": 0,
            "list_calls": 0,
            "callbacks_sent": 0,
            "callbacks_failed": 0,
            "content_creates": 0,
        }
        self.session: ClientSession | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def next_fault(self) -> FaultRule | None:
        """The rule that applies to this create call, if any (consuming one of its count)."""
        self.faults[:] = [rule for rule in self.faults if rule.count is None or rule.count > 0]
        for rule in list(self.faults):
            # A probabilistic rule that does not fire passes the call on to the next rule, so
            # "30 % 500s, then 10 % 429s, then 5 % timeouts" is three rules in a row.
            if rule.probability < 1.0 and self.rng.random() >= rule.probability:
                continue
            if rule.count is not None:
                rule.count -= 1
                if rule.count <= 0:
                    self.faults.remove(rule)
            self.stats["faults_injected"] += 1
            return rule
        return None

    def find(self, sid: str) -> dict[str, Any] | None:
        for record in self.messages:
            if record["resource"]["sid"] == sid:
                return record
        return None


def twilio_error(status: int, code: int, message: str, headers: dict[str, str] | None = None):
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status, headers=headers)


def state_of(request: web.Request) -> TwilioState:
    return request.app[STATE_KEY]  # type: ignore[return-value]


def check_auth(request: web.Request, state: TwilioState) -> web.Response | None:
    denied = check_basic(request, state)
    if denied is not None:
        return denied
    if request.match_info["account_sid"] != state.account_sid:
        return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
    return None


def check_basic(request: web.Request, state: TwilioState) -> web.Response | None:
    """HTTP Basic auth with the account SID and auth token (401, code 20003, otherwise)."""
    header = request.headers.get("Authorization", "")
    try:
        auth = BasicAuth.decode(header) if header else None
    except ValueError:
        auth = None
    if auth is None or auth.login != state.account_sid or auth.password != state.auth_token:
        state.stats["auth_failures"] += 1
        body = {
            "code": 20003,
            "detail": "Your AccountSid or AuthToken was incorrect.",
            "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003",
            "status": 401,
        }
        return web.json_response(
            body, status=401, headers={"WWW-Authenticate": 'Basic realm="Twilio API"'}
        )
    return None


def spawn(state: TwilioState, coro: Any) -> None:
    """A background task the application cancels on cleanup."""
    task = asyncio.get_running_loop().create_task(coro)
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)
