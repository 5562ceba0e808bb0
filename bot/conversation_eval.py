"""The whole-conversation part of ``make eval``: ``tests/conversations`` played against the product.

Each conversation of the set (its README gives the schema) runs as a new customer on its channel
(REST, WhatsApp through the sandbox's Twilio, WeChat through the sandbox's WeChat): the turns in
order, a turn with ``if_asked`` only when the replies to the previous turn hold one of the named
responses. Then :mod:`bot.conveval.judge` decides what it achieved, from the replies and the
cases the staff API shows, and :mod:`bot.conveval.report` sums it up per split × language:
outcome rate, detour rate, turns over the shortest path, emergency recall, reply script.

The product is started as the end-to-end tests start it (:mod:`bot.conveval.product`), or
``--url`` names one already running (with ``--staff-token`` and its fakes' URLs). Figures are
printed and written to ``docs/results/conversations-eval.json`` (and ``.md``); missing a goal
never fails the run.
Exit codes: 2 when the set is malformed, 3 when the product cannot be started.

Held-out conversations are never to be read or tuned on: develop with ``--split dev``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.conveval import replies, report
from bot.conveval.drivers import DriverError, Product
from bot.conveval.judge import Played, Turn, Verdict, judge
from bot.paths import ROOT
from bot.results import RESULTS_DIR, write_report

SET_DIR = ROOT / "tests" / "conversations"
RESULTS = RESULTS_DIR / "conversations-eval.json"
MALFORMED, NOT_STARTED = 2, 3


class MalformedSet(ValueError):
    """The set fails its own checker (tests/conversations/check.py)."""


def load_set(directory: Path = SET_DIR) -> list[dict]:
    """Every conversation, checked by the set's own checker (its schema is the authority)."""
    checker = directory / "check.py"
    spec = importlib.util.spec_from_file_location("conversations_check", checker)
    if spec is None or spec.loader is None or not checker.is_file():
        raise MalformedSet(f"no checker at {checker}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    conversations, errors = module.check()
    if errors:
        raise MalformedSet("; ".join(errors[:5]) + (" …" if len(errors) > 5 else ""))
    return conversations


def _wanted(turn: object, previous: list[str]) -> tuple[str, bool]:
    """(text, whether to send it) for one turn, given the responses the previous turn got."""
    if isinstance(turn, str):
        return turn, True
    asked = turn["if_asked"]  # type: ignore[index]
    names = [asked] if isinstance(asked, str) else list(asked)
    return turn["text"], any(n in previous for n in names)  # type: ignore[index]


def play(product: Product, spec: dict) -> Played:
    """One conversation as a new customer; the cases it got."""
    customer = product.customer(spec["channel"])
    since = datetime.now(timezone.utc) - timedelta(seconds=2)
    turns: list[Turn] = []
    previous: list[str] = []
    error = None
    for number, raw in enumerate(spec["turns"], 1):
        text, send = _wanted(raw, previous)
        turn = Turn(number, text, send)
        turns.append(turn)
        if not send:
            continue
        try:
            turn.replies = customer.send(text)
        except (DriverError, OSError) as exc:
            error = f"turn {number}: {exc}"
            break
        turn.names = replies.names(turn.replies)
        previous = turn.names
    try:
        cases = product.cases_of(customer, since)
    except (DriverError, OSError) as exc:
        cases, error = [], error or f"cases: {exc}"
    return Played(spec, turns, cases, error)


def run(product: Product, conversations: list[dict], jobs: int) -> list[Verdict]:
    """Play and judge every conversation, ``jobs`` customers at a time."""
    def one(spec: dict) -> Verdict:
        return judge(play(product, spec))

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, conversations))


def _commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, text=True, capture_output=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+uncommitted changes" if dirty else "")


def evaluate(product: Product, conversations: list[dict], jobs: int,
             out: Path = RESULTS) -> dict:
    """Play, judge, print the table and write the JSON report."""
    started = datetime.now(timezone.utc)
    verdicts = run(product, conversations, jobs)
    meta = {"commit": _commit(), "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    result = report.build(verdicts, meta)
    print(report.table(result))
    print(f"commit {meta['commit']}, {meta['started']} – {meta['finished']}")
    write_report(out, result, title="Whole-conversation evaluation", command="make eval",
                 summary=report.table(result))
    print(f"conversation figures: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``python -m bot.conversation_eval``)."""
    parser = argparse.ArgumentParser(description="Whole conversations against the product.")
    parser.add_argument("--split", choices=("dev", "heldout", "all"), default="all")
    parser.add_argument("--only", nargs="*", default=[], help="dev conversation ids only")
    parser.add_argument("--url", help="a running product's public base URL (else one is started)")
    parser.add_argument("--staff-token", default=os.environ.get("SMO_STAFF_API_TOKEN", ""),
                        help="its operator token (SMO_STAFF_API_TOKEN), to read the cases")
    parser.add_argument("--fake-twilio", default="http://127.0.0.1:5101")
    parser.add_argument("--fake-wechat", default="http://127.0.0.1:5102")
    parser.add_argument("--model", type=Path, help="model file (default: the up-to-date one)")
    parser.add_argument("--jobs", type=int, default=4, help="customers at a time")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    return run_cli(args)


def run_cli(args: argparse.Namespace) -> int:
    """Load, select, start (or reach) the product, evaluate; the exit code."""
    try:
        conversations = load_set()
    except (MalformedSet, OSError) as exc:
        print(f"conversation set is malformed: {exc}")
        return MALFORMED
    if args.split != "all":
        conversations = [c for c in conversations if c["split"] == args.split]
    if args.only:
        conversations = [c for c in conversations if c["id"] in args.only and c["split"] == "dev"]
    if not conversations:
        print("conversations: nothing selected")
        return 0
    if args.url:
        product = Product(args.url.rstrip("/"), args.fake_twilio, args.fake_wechat,
                          args.staff_token)
        evaluate(product, conversations, args.jobs, args.out)
        return 0
    from bot.conveval.product import StartError, started
    from bot.model import ensure_model

    print(f"conversations: starting the product for {len(conversations)} conversations …",
          flush=True)
    try:
        with started(args.model or ensure_model()) as product:
            evaluate(product, conversations, args.jobs, args.out)
    except StartError as exc:
        print(exc)
        return NOT_STARTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
