"""A fake Twilio REST API (Messages and Content resources) for the local sandbox. Loopback only.

Run it::

    python -m channels.sandbox.fake_twilio --port 5101 \\
        --account-sid AC00000000000000000000000000000000 \\
        --auth-token sandbox-auth-token-not-a-secret

Pointing the OFFICIAL twilio 8.2.2 client at it
-----------------------------------------------
twilio 8.2.2 builds every URL as ``<domain.base_url>/<version>/<uri>``: ``client.messages`` is
``client.api.v2010.account.messages``, the ``Api`` domain's ``base_url`` is
``"https://api.twilio.com"`` (set in ``ApiBase.__init__``), the ``V2010`` version adds
``2010-04-01`` and the list adds ``/Accounts/{sid}/Messages.json``. ``Domain.absolute_url`` reads
``self.base_url`` at request time, so setting it on the (lazily created, then cached) ``Api``
domain redirects every request, including the ``next_page_uri`` links of lists::

    client = twilio.rest.Client(account_sid, auth_token)
    client.api.base_url = "http://127.0.0.1:5101"     # what point_client_at() does
    client.edge = client.region = None                # else the host name is rewritten

Nothing is needed on ``client.api.v2010``. ``region``/``edge`` (or the ``TWILIO_REGION`` /
``TWILIO_EDGE`` environment variables) make ``ClientBase.get_hostname`` rewrite the host into
``api.<edge>.<region>.twilio.com``-style names, which would break the redirection, hence
``point_client_at`` clears them. The same works for ``AsyncTwilioHttpClient``
(``create_async``/``list_async``).

Endpoints
---------
- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form: To, From, Body, ContentSid,
  ContentVariables, StatusCallback, MediaUrl, MessagingServiceSid): HTTP Basic auth must be the
  account SID and auth token (else 401, code 20003). Missing To → 400/21604, missing From →
  21603, no Body, ContentSid nor MediaUrl → 21602, a body over 1600 characters → 21617, a badly
  formed number → 21211/21212, a WhatsApp sender with a non-WhatsApp recipient → 21910,
  ContentVariables that are not a JSON object → 21656. Success: 201 and a Twilio-shaped message
  (``sid`` ``SM`` + 32 hex, ``status`` ``queued``, dates in RFC 2822 like Twilio).
- ``GET .../Messages.json`` with To, From, DateSent (the day; twilio-python sends even a
  ``date`` as ``YYYY-MM-DDT00:00:00Z``), ``DateSent<`` and ``DateSent>`` (inclusive, date or ISO
  date-time), PageSize and Page: Twilio's list shape, newest first. A message not
  yet sent is matched by its creation date (Twilio would use date_sent, set within
  ``status_delay``).
- ``GET .../Messages/{Sid}.json``: one message.
- After acceptance each message moves ``queued`` → ``sent`` → ``delivered`` (``status_delay``
  seconds apart). With a ``StatusCallback`` and callbacks on (``--status-callbacks``, default),
  each step is POSTed there form-encoded (MessageSid, MessageStatus, SmsSid, SmsStatus, To,
  From, AccountSid, ApiVersion, ChannelPrefix for WhatsApp, ErrorCode on failure) with an
  ``X-Twilio-Signature`` computed by ``RequestValidator(auth_token).compute_signature`` over the
  exact callback URL. Failures to deliver callbacks are logged in ``/_sandbox/callbacks`` and
  otherwise ignored.

- ``POST /v1/Content`` (JSON, as twilio's Content API): a content with ``twilio/text``,
  ``twilio/quick-reply`` (1-10 actions: id, title <= 20) and/or ``twilio/list-picker`` (button,
  1-10 items: id, item <= 24) types and a ``language``; 201 and the resource (``sid`` HX...),
  400/20001 for a document Twilio would refuse. ``GET /v1/Content/{sid}``. A message created
  with a ContentSid of this fake is recorded with ``content`` (the types) and ``body`` set to
  the content's ``twilio/text`` variant (what a client without buttons shows); an unknown
  ContentSid (an approved template configured elsewhere) is recorded as before.

Sandbox control
---------------
- ``POST /_sandbox/refuse_content`` ``{"count": n}``: the next n calls that use content (a
  create, or a message with a ContentSid of this fake: 400/21655) are refused, to show the
  numbered-text fallback. ``GET /_sandbox/contents``: the contents created.
- ``POST /_sandbox/faults`` a JSON object (or a list of them; rules queue up and are used in
  order) ``{"status": 500|429|503|..., "count": N, "retry_after": s, "delay": s,
  "probability": p, "seed": n, "code": c, "message": m, "outcome": "undelivered"|"failed",
  "error_code": 63016}``. The next N message-create calls fail with ``status`` (a Twilio-style
  error body; for 429 a ``Retry-After`` header) and are NOT recorded. ``delay`` sleeps before
  answering; a rule with a ``delay`` and no ``status`` ACCEPTS and records the message first and
  answers late: a client that times out has still sent it (reconcile with the list endpoint).
  ``probability`` makes each create call fail with that chance (seeded RNG, ``seed`` default 0);
  without ``count`` such a rule lasts until cleared; when it does not fire, the next rule is
  tried, so several probabilistic rules mix faults. ``outcome`` accepts the message (201) but
  ends it ``undelivered``/``failed`` with ``error_code`` (63016: outside WhatsApp's 24-hour
  window). ``GET`` shows the queue, ``DELETE`` clears it.
- ``GET /_sandbox/messages?to=..&from=..`` accepted messages, oldest first, each the Twilio
  resource plus ``content_sid``, ``content_variables``, ``media_url`` and ``status_callback``;
  ``DELETE`` clears them. ``GET /_sandbox/wait?to=..&count=n&timeout=s`` answers once n messages
  to that address are recorded (a long-poll for load generators). ``GET /_sandbox/callbacks``,
  ``GET /_sandbox/stats``, ``GET /_sandbox/health``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from typing import Any

import uvloop
from aiohttp import ClientSession, ClientTimeout, web

from . import defaults
from .fake_twilio_content import create_content, fetch_content
from .fake_twilio_control import (
    sandbox_callbacks,
    sandbox_clear_messages,
    sandbox_contents,
    sandbox_health,
    sandbox_messages,
    sandbox_refuse_content,
    sandbox_stats,
    sandbox_wait,
)
from .fake_twilio_messages import create_message, fetch_message, list_messages, num_segments
from .fake_twilio_state import STATE_KEY, FaultRule, TwilioState
from .faults import add_fault_routes
from .signing import TWILIO_API_VERSION

# The fake's parts, by concern: ``fake_twilio_state`` (its memory, faults, auth),
# ``fake_twilio_messages`` (Messages API), ``fake_twilio_content`` (Content API),
# ``fake_twilio_delivery`` (status progress and signed callbacks), ``fake_twilio_control``
# (``/_sandbox``). ``num_segments`` is used from here by tests.
__all__ = ["create_app", "main", "num_segments", "point_client_at"]


def point_client_at(client: Any, base_url: str) -> Any:
    """Send every request of a ``twilio.rest.Client`` (8.2.2) to ``base_url`` instead of
    ``https://api.twilio.com``; returns the client. See the module docstring for why."""
    client.edge = None
    client.region = None
    client.api.base_url = base_url.rstrip("/")
    return client


def create_app(
    auth_token: str,
    account_sid: str,
    *,
    status_callbacks: bool = True,
    status_delay: float = 0.05,
    seed: int = 0,
) -> web.Application:
    """The fake Twilio API for one account."""
    app = web.Application()
    state = TwilioState(auth_token, account_sid, status_callbacks, status_delay, seed)
    app[STATE_KEY] = state

    async def on_startup(_app: web.Application) -> None:
        state.session = ClientSession(timeout=ClientTimeout(total=10))

    async def on_cleanup(_app: web.Application) -> None:
        for task in list(state.tasks):
            task.cancel()
        for task in list(state.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if state.session is not None:
            await state.session.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    prefix = f"/{TWILIO_API_VERSION}/Accounts/{{account_sid}}"
    app.router.add_post(prefix + "/Messages.json", create_message)
    app.router.add_get(prefix + "/Messages.json", list_messages)
    app.router.add_get(prefix + "/Messages/{sid}.json", fetch_message)
    app.router.add_post("/v1/Content", create_content)
    app.router.add_get("/v1/Content/{sid}", fetch_content)
    app.router.add_post("/_sandbox/refuse_content", sandbox_refuse_content)
    app.router.add_get("/_sandbox/contents", sandbox_contents)
    add_fault_routes(app, STATE_KEY, FaultRule)
    app.router.add_get("/_sandbox/messages", sandbox_messages)
    app.router.add_get("/_sandbox/wait", sandbox_wait)
    app.router.add_delete("/_sandbox/messages", sandbox_clear_messages)
    app.router.add_get("/_sandbox/callbacks", sandbox_callbacks)
    app.router.add_get("/_sandbox/stats", sandbox_stats)
    app.router.add_get("/_sandbox/health", sandbox_health)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=defaults.FAKE_TWILIO_PORT)
    parser.add_argument("--account-sid", default=defaults.setting("TWILIO_ACCOUNT_SID"))
    parser.add_argument("--auth-token", default=defaults.setting("TWILIO_AUTH_TOKEN"))
    parser.add_argument(
        "--status-callbacks", action=argparse.BooleanOptionalAction, default=True,
        help="POST signed sent/delivered callbacks to each message's StatusCallback",
    )
    parser.add_argument("--status-delay", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app(
        args.auth_token,
        args.account_sid,
        status_callbacks=args.status_callbacks,
        status_delay=args.status_delay,
        seed=args.seed,
    )
    # uvloop (installed with Sanic), as our servers run: on the bench the fake shares the
    # machine's two cores with the product it measures, so it should cost little.
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None,
                loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
