"""Check the conversation files against the schema in README.md and print the counts.

Run: /work/main/.venv/bin/python tests/conversations/check.py [--markdown]
Reads domain.yml (response names only) and data/seed/policies.csv; never runs the product.
"""

from __future__ import annotations

import csv
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

SPLITS = {"dev", "heldout"}
CHANNELS = {"rest", "whatsapp", "wechat"}
LANGUAGES = ["en", "yue", "zh-Hant", "zh-Hans", "mixed"]
SCRIPTS = {"en", "zh-Hant", "zh-Hans"}
KINDS = ["case_opened", "emergency", "refused", "answered", "cancelled", "handed_to_nurse"]
QUEUES = {"nurse", "case_doctor"}
PRIORITIES = {"urgent", "normal"}
REASONS = {
    "not_eligible_plan",
    "lapsed",
    "not_yet_effective",
    "excluded_accident",
    "excluded_common_illness",
    "excluded_chronic_management",
    "verification_failed",
    "locked",
}
TOPICS = {
    "cost",
    "report_time",
    "languages",
    "covered_conditions",
    "excluded_conditions",
    "hotline",
    "macau",
    "eligible_plans",
    "how_it_works",
    "overseas",
    "provider",
    "terms",
    "health_office",
    "overview",
    "customer_service",
    "disclaimer",
}
PACKET_KEYS = {"condition", "person", "plan", "call_language", "callback_number"}
TOP_KEYS = {
    "id",
    "split",
    "channel",
    "language",
    "reply_script",
    "turns",
    "outcome",
    "shortest_turns",
    "note",
}
OUTCOME_KEYS = {
    "kind",
    "queue",
    "priority",
    "reason",
    "emergency_at_turn",
    "answers",
    "packet",
    "must_mention",
}
# Policy numbers used on purpose although they are not in the seed (verification must fail).
UNKNOWN_ON_PURPOSE = {"CI19999999", "C110000001"}


def response_names() -> set[str]:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    return set(domain["responses"])


def seed_policies() -> dict[str, dict]:
    with open(ROOT / "data/seed/policies.csv", encoding="utf-8") as f:
        return {row["policy_number"]: row for row in csv.DictReader(f)}


def check() -> tuple[list[dict], list[str]]:
    responses = response_names()
    policies = seed_policies()
    plan_codes = {row["plan_code"] for row in policies.values()}
    errors: list[str] = []
    convs: list[dict] = []
    seen: set[str] = set()
    for path in sorted(HERE.glob("*.yml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            errors.append(f"{path.name}: does not parse: {exc}")
            continue
        if not isinstance(data, list):
            errors.append(f"{path.name}: not a list")
            continue
        for c in data:
            cid = c.get("id", "?")
            where = f"{path.name}:{cid}"

            def err(msg: str, where: str = where) -> None:
                errors.append(f"{where}: {msg}")

            if cid in seen:
                err("duplicate id")
            seen.add(cid)
            extra = set(c) - TOP_KEYS
            if extra:
                err(f"unknown keys {extra}")
            for key in (
                "split",
                "channel",
                "language",
                "reply_script",
                "turns",
                "outcome",
                "shortest_turns",
            ):
                if key not in c:
                    err(f"missing {key}")
            if c.get("split") not in SPLITS:
                err("bad split")
            if c.get("channel") not in CHANNELS:
                err("bad channel")
            if c.get("language") not in LANGUAGES:
                err("bad language")
            if c.get("reply_script") not in SCRIPTS:
                err("bad reply_script")
            if not re.fullmatch(r"[a-z]+-(en|yue|zh-Hant|zh-Hans|mixed)-\d\d", str(cid)):
                err("id should be <theme>-<language>-NN")
            elif cid.split("-", 1)[1].rsplit("-", 1)[0] != c.get("language"):
                err("id language differs from language")
            turns = c.get("turns") or []
            plain = 0
            for i, t in enumerate(turns, 1):
                if isinstance(t, str):
                    plain += 1
                    text = t
                elif isinstance(t, dict):
                    if set(t) - {"text", "if_asked"} or "text" not in t or "if_asked" not in t:
                        err(f"turn {i}: a mapping turn needs exactly text and if_asked")
                    names = t.get("if_asked")
                    names = [names] if isinstance(names, str) else (names or [])
                    for n in names:
                        if n not in responses:
                            err(f"turn {i}: if_asked {n} is not a response in domain.yml")
                    text = t.get("text", "")
                else:
                    err(f"turn {i}: neither a string nor a mapping")
                    continue
                if not isinstance(text, str) or not text.strip():
                    err(f"turn {i}: empty text")
                    continue
                for num in re.findall(r"\b[A-Za-z]{2}\d{8}\b", text):
                    if num.upper() not in policies and num.upper() not in UNKNOWN_ON_PURPOSE:
                        err(f"turn {i}: policy {num} not in the seed")
                if c.get("channel") == "rest" and text.strip() in {"1", "2", "3", "4"}:
                    err(
                        f"turn {i}: a bare option number on REST "
                        "(numbered options are a WhatsApp/WeChat feature)"
                    )
            if c.get("shortest_turns") != plain:
                err(f"shortest_turns {c.get('shortest_turns')} but {plain} turns without if_asked")
            o = c.get("outcome") or {}
            if set(o) - OUTCOME_KEYS:
                err(f"unknown outcome keys {set(o) - OUTCOME_KEYS}")
            kind = o.get("kind")
            if kind not in KINDS:
                err("bad outcome kind")
            if kind in ("case_opened", "handed_to_nurse") and o.get("queue") not in QUEUES:
                err("case_opened/handed_to_nurse need a queue")
            if kind == "case_opened" and o.get("queue") != "case_doctor":
                err("an eligible case goes to the case_doctor queue")
            if kind == "handed_to_nurse" and o.get("queue") != "nurse":
                err("a hand-off goes to the nurse queue")
            if "priority" in o and o["priority"] not in PRIORITIES:
                err("bad priority")
            if kind == "refused" and o.get("reason") not in REASONS:
                err("refused needs a reason")
            if "reason" in o and o["reason"] not in REASONS:
                err("bad reason")
            if "reason" in o and kind not in ("refused", "handed_to_nurse"):
                err("reason only for refused, or handed_to_nurse after a refusal")
            if kind == "emergency":
                n = o.get("emergency_at_turn")
                if not isinstance(n, int) or not 1 <= n <= len(turns):
                    err("emergency needs emergency_at_turn within the turns")
                elif not isinstance(turns[n - 1], str):
                    err("emergency_at_turn must point at a turn without if_asked")
                elif n != len(turns):
                    err("the emergency turn should be the last turn")
            elif "emergency_at_turn" in o:
                err("emergency_at_turn only for emergency")
            if kind == "answered" and not o.get("answers"):
                err("answered needs answers")
            for topic in o.get("answers") or []:
                if topic not in TOPICS:
                    err(f"unknown topic {topic}")
            packet = o.get("packet") or {}
            if set(packet) - PACKET_KEYS:
                err(f"unknown packet keys {set(packet) - PACKET_KEYS}")
            if "plan" in packet and packet["plan"] not in plan_codes:
                err(f"packet plan {packet['plan']} not a plan code")
            if kind == "case_opened":
                for key in ("condition", "person", "plan"):
                    if key not in packet:
                        err(f"case_opened packet needs {key}")
                mentioned = [
                    p
                    for t in turns
                    for p in re.findall(
                        r"\b[A-Z]{2}\d{8}\b", t if isinstance(t, str) else t["text"]
                    )
                ]
                verified = [p for p in mentioned if p in policies]
                if verified and policies[verified[-1]]["plan_code"] != packet.get("plan"):
                    err(
                        f"packet plan {packet.get('plan')} differs from the seed plan "
                        f"of {verified[-1]}"
                    )
            for s in o.get("must_mention") or []:
                if not isinstance(s, str):
                    err("must_mention holds strings")
            c["_file"] = path.name
            convs.append(c)
    return convs, errors


def table(convs: list[dict], markdown: bool) -> str:
    counts = Counter((c["split"], c["language"], c["outcome"]["kind"]) for c in convs)
    header = ["split", "language"] + KINDS + ["total"]
    rows = []
    for split in ("dev", "heldout"):
        for lang in LANGUAGES:
            vals = [counts[(split, lang, k)] for k in KINDS]
            rows.append([split, lang] + [str(v) for v in vals] + [str(sum(vals))])
        vals = [sum(counts[(split, lg, k)] for lg in LANGUAGES) for k in KINDS]
        rows.append(
            [split, "**all**" if markdown else "all"] + [str(v) for v in vals] + [str(sum(vals))]
        )
    vals = [sum(counts[(s, lg, k)] for s in SPLITS for lg in LANGUAGES) for k in KINDS]
    rows.append(
        ["**both**" if markdown else "both", "**all**" if markdown else "all"]
        + [str(v) for v in vals]
        + [str(sum(vals))]
    )
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True))

    return "\n".join([fmt(header)] + [fmt(r) for r in rows])


def main() -> int:
    convs, errors = check()
    for e in errors:
        print("ERROR", e)
    print(table(convs, "--markdown" in sys.argv))
    by_file = Counter(c["_file"] for c in convs)
    print()
    print("files: " + ", ".join(f"{f} {n}" for f, n in sorted(by_file.items())))
    print(
        "channels: "
        + ", ".join(f"{k} {v}" for k, v in sorted(Counter(c["channel"] for c in convs).items()))
    )
    print(
        "reply scripts: "
        + ", ".join(
            f"{k} {v}" for k, v in sorted(Counter(c["reply_script"] for c in convs).items())
        )
    )
    reasons = Counter(c["outcome"]["reason"] for c in convs if "reason" in c["outcome"])
    print("reasons: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    print(f"conversations: {len(convs)}; errors: {len(errors)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
