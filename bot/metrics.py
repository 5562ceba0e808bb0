"""Prometheus metrics of the gateway (``GET /metrics``), with the standard client library.

Messages in and out per channel, end-to-end latency (webhook received → reply accepted by the
provider), provider errors, open cases per queue and priority, first-response SLA breaches and
the targets with their clock (normal priority counts office hours only; urgent round the clock).
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry()
MESSAGES_IN = Counter("smo_messages_in_total", "Inbound customer messages accepted",
                      ["channel"], registry=REGISTRY)
MESSAGES_OUT = Counter("smo_messages_out_total", "Outbound messages accepted by the provider",
                       ["channel"], registry=REGISTRY)
PROVIDER_ERRORS = Counter("smo_provider_errors_total", "Failed provider calls (retried or not)",
                          ["channel", "outcome"], registry=REGISTRY)
LATENCY = Histogram("smo_reply_latency_seconds", "Webhook received → first reply accepted",
                    ["channel"], registry=REGISTRY,
                    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60))
OPEN_CASES = Gauge("smo_open_cases", "Open cases", ["queue", "priority"], registry=REGISTRY)
SLA_BREACHES = Gauge("smo_sla_breaches", "Open cases past their first-response due time "
                     "without a response (normal priority: due time counted in office hours only; "
                     "urgent: round the clock)", ["queue"], registry=REGISTRY)
SLA_TARGET = Gauge("smo_sla_target_minutes", "First-response target per priority, and the clock "
                   "it runs on: office_hours (stops while the office is closed, SMO_OFFICE_HOURS) "
                   "or round_the_clock", ["priority", "clock"], registry=REGISTRY)


QUEUE_LENGTH = Gauge("smo_queue_length", "Customer messages not answered yet (inbox) and replies "
                     "not delivered yet (outbox), per channel", ["queue", "channel"],
                     registry=REGISTRY)


def refresh_queue_gauges() -> None:
    """Count what waits in the durable inbox and outbox (indexed on status: cheap)."""
    from sqlalchemy import func, select

    from bot.db import session
    from channels.core.models import InboundMessage, OutboundMessage

    with session() as db:
        inbox = dict(db.execute(select(InboundMessage.channel, func.count())
                                .where(InboundMessage.status.in_(("pending", "limited")))
                                .group_by(InboundMessage.channel)).all())
        outbox = dict(db.execute(select(OutboundMessage.channel, func.count())
                                 .where(OutboundMessage.status.in_(("pending", "sending")))
                                 .group_by(OutboundMessage.channel)).all())
    for channel in set(inbox) | set(outbox) | {"whatsapp", "wechat"}:
        QUEUE_LENGTH.labels("inbox", channel).set(inbox.get(channel, 0))
        QUEUE_LENGTH.labels("outbox", channel).set(outbox.get(channel, 0))


def refresh_case_gauges() -> None:
    """Read the case store (cheap: open cases only) into the gauges."""
    from bot.cases import store
    from bot.cases.models import PRIORITIES, QUEUES

    cases = store.open_cases()
    now = datetime.utcnow()
    policy = store.SlaPolicy.from_env()
    SLA_TARGET.labels("urgent", "round_the_clock").set(policy.urgent_minutes)
    SLA_TARGET.labels("normal", "office_hours").set(policy.normal_minutes)
    for queue in QUEUES:
        for priority in PRIORITIES:
            OPEN_CASES.labels(queue, priority).set(
                sum(1 for c in cases if c.queue == queue and c.priority == priority))
        SLA_BREACHES.labels(queue).set(sum(
            1 for c in cases if c.queue == queue and c.first_response_at is None
            and c.first_response_due < now))


def exposition() -> bytes:
    """The text format Prometheus scrapes."""
    refresh_case_gauges()
    refresh_queue_gauges()
    return generate_latest(REGISTRY)
