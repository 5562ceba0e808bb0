"""``make eval``: score the trained model on the held-out sets in ``tests/nlu/<lang>.yml``.

Those files are never trained on (training reads ``data/nlu`` only). For each language: intent
accuracy, macro-F1 and the most frequent confusion pairs; overall accuracy across all sets. The
report is printed and written to ``docs/results/nlu-eval.json`` (and ``.md``), without the
missed messages' texts: the set is held out, so only its figures are kept. Exit code 1 when a
threshold is missed, so CI can gate on it.

Then the screening is scored on ``tests/screening_eval`` (``bot.screening_eval``: dev and held-out
apart, per language and category) and written to ``docs/results/screening-eval.json``. Its goals are
reported, not gated: it changes the exit code only when the set is malformed (2).

Last, the whole conversations of ``tests/conversations`` are played against the running product
(``bot.conversation_eval``: started here as the end-to-end tests start it) and written to
``docs/results/conversations-eval.json``; likewise reported, not gated (2: the set is malformed,
3: the product could not be started).

By default the model is loaded in-process; ``--url http://127.0.0.1:5005`` scores a running
``rasa run --enable-api`` server through ``/model/parse`` instead (how outside checks score it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.paths import ROOT
from bot.results import RESULTS_DIR, shown, write_report

OVERALL_MIN = 0.95
PER_LANGUAGE_MIN = 0.92
TEST_DIR = ROOT / "tests" / "nlu"


@dataclass(frozen=True)
class Example:
    """One held-out message and its expected intent."""

    text: str
    intent: str


def load_examples(path: Path) -> list[Example]:
    """Examples of a Rasa NLU YAML file (``- intent: x / examples: |`` blocks)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    examples = []
    for block in data.get("nlu", []):
        if "intent" not in block:
            continue
        for line in str(block.get("examples", "")).splitlines():
            text = line.strip()
            if text.startswith("- "):
                examples.append(Example(text[2:].strip(), block["intent"]))
    return examples


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    """Unweighted mean F1 over the gold labels."""
    scores = []
    for label in sorted(set(gold)):
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(p == label and g != label for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


Parser = Callable[[str], Awaitable[str]]


async def _local_parser(model: Path) -> Parser:
    import logging

    from rasa.core.agent import Agent

    # Rasa logs parsed texts at DEBUG; held-out texts must not scroll past whoever runs this.
    for name in ("rasa", "bot", "jieba"):
        logging.getLogger(name).setLevel(logging.WARNING)
    agent = Agent.load(str(model))

    async def parse(text: str) -> str:
        result = await agent.parse_message(text)
        return result["intent"]["name"]

    return parse


async def _remote_parser(base: str, token: str | None = None) -> Parser:
    # The token in a header, never in the URL (the public port refuses ``?token=``).
    headers = {"Content-Type": "application/json",
               **({"Authorization": f"Bearer {token}"} if token else {})}

    async def parse(text: str) -> str:
        body = json.dumps({"text": text}).encode()
        request = urllib.request.Request(f"{base.rstrip('/')}/model/parse", body, headers)
        loop = asyncio.get_running_loop()
        raw = await loop.run_in_executor(None, lambda: urllib.request.urlopen(request).read())
        return json.loads(raw)["intent"]["name"]

    return parse


async def evaluate(parse: Parser, files: list[Path]) -> dict:
    """Score every file; returns the report as a dict."""
    report: dict = {"languages": {}}
    all_gold: list[str] = []
    all_pred: list[str] = []
    for file in files:
        examples = load_examples(file)
        predicted = [await parse(e.text) for e in examples]
        gold = [e.intent for e in examples]
        correct = sum(g == p for g, p in zip(gold, predicted, strict=True))
        confusions = Counter(
            (g, p) for g, p in zip(gold, predicted, strict=True) if g != p
        ).most_common(8)
        errors = [
            {"text": e.text, "expected": e.intent, "predicted": p}
            for e, p in zip(examples, predicted, strict=True)
            if e.intent != p
        ]
        report["languages"][file.stem] = {
            "examples": len(examples),
            "accuracy": correct / len(examples),
            "macro_f1": macro_f1(gold, predicted),
            "confusions": [{"expected": g, "predicted": p, "count": n} for (g, p), n in confusions],
            "errors": errors,
        }
        all_gold += gold
        all_pred += predicted
    report["overall"] = {
        "examples": len(all_gold),
        "accuracy": sum(g == p for g, p in zip(all_gold, all_pred, strict=True)) / len(all_gold),
        "macro_f1": macro_f1(all_gold, all_pred),
    }
    return report


def format_report(report: dict) -> str:
    """The table ``make eval`` prints."""
    lines = [
        f"{'set':<8} {'n':>5} {'accuracy':>9} {'macro-F1':>9}  top confusions (expected→predicted)"
    ]
    for name, r in report["languages"].items():
        pairs = ", ".join(
            f"{c['expected']}→{c['predicted']}×{c['count']}" for c in r["confusions"][:3]
        )
        lines.append(
            f"{name:<8} {r['examples']:>5} {r['accuracy']:>9.3f} {r['macro_f1']:>9.3f}  {pairs}"
        )
    o = report["overall"]
    lines.append(f"{'overall':<8} {o['examples']:>5} {o['accuracy']:>9.3f} {o['macro_f1']:>9.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Held-out NLU evaluation per language.")
    parser.add_argument("--url", help="score a running server's /model/parse instead")
    parser.add_argument("--token", help="Rasa API token of that server, if it has one")
    parser.add_argument("--model", type=Path, help="model file (default: the up-to-date one)")
    parser.add_argument(
        "files", nargs="*", type=Path, help="held-out files (default tests/nlu/*.yml)"
    )
    parser.add_argument("--skip-screening", action="store_true", help="NLU only")
    parser.add_argument(
        "--screening-only", action="store_true", help="the screening set only (no model needed)"
    )
    parser.add_argument("--skip-conversations", action="store_true",
                        help="no whole conversations (they start the product)")
    parser.add_argument("--conversations-only", action="store_true",
                        help="the whole conversations only")
    args = parser.parse_args(argv)
    if args.screening_only:
        return _screening()
    if args.conversations_only:
        return _conversations()
    files = args.files or sorted(TEST_DIR.glob("*.yml"))

    async def run() -> dict:
        if args.url:
            parse = await _remote_parser(args.url, args.token)
        else:
            from bot.model import ensure_model

            parse = await _local_parser(args.model or ensure_model())
        return await evaluate(parse, files)

    report = asyncio.run(run())
    print(format_report(report))
    figures = {**report, "languages": {name: {k: v for k, v in r.items() if k != "errors"}
                                       for name, r in report["languages"].items()}}
    summary = write_report(RESULTS_DIR / "nlu-eval.json", figures, title="NLU evaluation",
                           command="make eval", summary=format_report(report))
    print(f"\nfigures: {shown(summary)}")
    failed = report["overall"]["accuracy"] < OVERALL_MIN or any(
        r["accuracy"] < PER_LANGUAGE_MIN for r in report["languages"].values()
    )
    if failed:
        print(f"below target (overall ≥ {OVERALL_MIN}, each set ≥ {PER_LANGUAGE_MIN})")
    screening = 0 if args.skip_screening else _screening()
    conversations = 0 if args.skip_conversations else _conversations()
    return screening or conversations or (1 if failed else 0)


def _screening() -> int:
    """The screening's figures (printed and recorded); 2 when its set is malformed."""
    from bot import screening_eval
    from bot.yamlfile import DataFileError

    print()
    try:
        screening_eval.run()
    except DataFileError as exc:
        print(f"screening evaluation set is malformed: {exc}")
        return 2
    return 0


def _conversations() -> int:
    """The whole conversations against the product (printed and recorded); 2 when the set is
    malformed, 3 when the product cannot be started."""
    from bot import conversation_eval

    print()
    return conversation_eval.main([])


if __name__ == "__main__":
    sys.exit(main())
