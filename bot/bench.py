"""``make bench``: measure the product on this machine, in one run, on the same trained model.

Starts the whole product (launcher, sandbox fakes) on free loopback ports, then measures:

- webhook acknowledgement: signed WhatsApp webhooks, time until the HTTP 200 (the model is not
  waited for), p50/p95/p99, at a steady rate and in a burst;
- (a) stock Rasa: ``rasa run`` on the same model with its REST channel, the same action server
  and Rasa's own SQL tracker store on SQLite, nothing of ours in the process; and (b) the full
  WhatsApp path of the product (signed webhook → gateway → core → reply recorded by the fake
  Twilio) at 1, 10 and 20 concurrent conversations, each sending its next message as soon as the
  previous one is answered: messages per second, p50/p99 latency;
- three 200-turn conversations on each, one after another: p50 of turns 1–10 against turns
  191–200, pooled over the three (ten samples alone are too few on a noisy machine);
- resident memory of every process of the product instance (and of stock Rasa); training time.

Prints a table and writes it to ``docs/results/bench.md`` (and ``bench.json``). Request loops
are bounded in count and time and only target 127.0.0.1. Replies are awaited with the fake
Twilio's long-poll, so the load generator does not eat the CPU it is measuring.

This module is the run itself; its parts are ``bench_processes`` (starting and stopping what is
measured), ``bench_load`` (the load generator), ``bench_measure`` (percentiles, memory, CPU) and
``bench_report`` (the table and the verdicts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from bot.bench_load import ack_latency, ack_latency_steady, drain, load, long_conversation, recorded
from bot.bench_measure import cpu_seconds, percentile, rss_mb, training_seconds
from bot.bench_processes import start_product, start_stock_rasa, stop_product
from bot.bench_report import table, verdicts
from bot.results import RESULTS_DIR

REPORT_DIR = RESULTS_DIR
# What tests and callers have always found here.
__all__ = ["REPORT_DIR", "main", "percentile", "rss_mb", "table", "verdicts"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=15, help="messages per conversation")
    parser.add_argument("--long-turns", type=int, default=200)
    parser.add_argument("--long-runs", type=int, default=3,
                        help="long conversations per path (their early and late turns pooled)")
    parser.add_argument("--ack-count", type=int, default=300)
    parser.add_argument("--with-rest", action="store_true",
                        help="also measure (c): Rasa's REST channel through the product gateway")
    args = parser.parse_args(argv)
    # The load generator runs on uvloop, as the servers do: it shares the two cores with what it
    # measures (both paths alike), so the less it costs the truer the numbers.
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    from bot.model import ensure_model, model_name

    model = ensure_model()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="smo-bench-") as tmp:
        product = start_product(Path(tmp))
        stock = start_stock_rasa(Path(tmp), model)
        try:
            results: dict = {"model": model_name(),
                             "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
            for kind in ("stock", "whatsapp"):  # warm-up, not reported
                asyncio.run(load(kind, product, 2, 3, stock))
            base = recorded(product)  # the warm-up's replies
            results["ack_steady"] = asyncio.run(ack_latency_steady(product, args.ack_count, 5.0))
            drain(product, base + args.ack_count * 2)
            burst_started = time.perf_counter()
            results["ack"] = asyncio.run(ack_latency(product, args.ack_count, 10))
            # Let the acknowledged messages be answered first (two bubbles each).
            drain(product, base + args.ack_count * 4)
            # What acknowledging first costs the answers: the burst's last reply, from its start
            # (looked for every 0.25 s, so up to that much late).
            results["ack"]["all_answered_s"] = time.perf_counter() - burst_started
            results["load"] = []
            kinds = ("stock", "whatsapp", "rest") if args.with_rest else ("stock", "whatsapp")
            for concurrency in (1, 10, 20):
                for kind in kinds:
                    watched = {**product.pids, "fake Twilio": product.fake_pid,
                               "load generator": os.getpid()}
                    before = {name: cpu_seconds(pid) for name, pid in watched.items()}
                    row = asyncio.run(load(kind, product, concurrency, args.turns, stock))
                    if kind == "whatsapp" and concurrency == 20:
                        # Where the CPU goes, per message, on the path that is measured.
                        results["cpu_ms_per_message"] = {
                            name: 1000 * (cpu_seconds(pid) - before[name]) / row["messages"]
                            for name, pid in watched.items()}
                    results["load"].append(row)
            results["long"] = [asyncio.run(long_conversation(kind, product, args.long_turns,
                                                             stock, args.long_runs))
                               for kind in ("stock", "whatsapp")]
            rss = {name: rss_mb(pid) for name, pid in product.pids.items() if pid}
            rss["product instance (all processes)"] = sum(rss.values())
            rss["stock rasa run"] = rss_mb(stock.process.pid)
            rss["stock's action server"] = rss_mb(stock.actions.pid)
            results["rss_mb"] = rss
            results["file_mb"] = {name: rss_mb(pid, "RssFile")
                                  for name, pid in product.pids.items() if pid}
            results["training_seconds"] = training_seconds()
        finally:
            stock.stop()
            stop_product(product)
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    text = table(results)
    (REPORT_DIR / "bench.md").write_text(text, encoding="utf-8")
    (REPORT_DIR / "bench.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
