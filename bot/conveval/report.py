"""The figures of a run: per split × language, printed as a table and written as JSON.

Held-out conversations are reported as figures only (never their ids or failures), so nobody
tunes on them by reading a report; dev conversations are listed with what went wrong.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.conveval.judge import Verdict

LANGUAGES = ("en", "yue", "zh-Hant", "zh-Hans", "mixed")
SPLITS = ("dev", "heldout")
GOALS = {"outcome": 0.95, "detour_rate": 0.05, "emergency_recall": 1.0}


def scores(verdicts: Iterable[Verdict]) -> dict[str, object]:
    """The rates of a group of conversations (``None`` where the group has nothing to count)."""
    group = list(verdicts)
    n = len(group)
    emergencies = [v for v in group if v.emergency_caught is not None]
    shortest = sum(v.shortest for v in group)

    def rate(count: int, of: int) -> float | None:
        return count / of if of else None

    return {
        "n": n,
        "outcome": rate(sum(v.outcome for v in group), n),
        "kind_reached": rate(sum(v.kind_reached for v in group), n),
        "detour_rate": rate(sum(v.detoured for v in group), n),
        "detour_replies": sum(v.detour_replies for v in group),
        "turns_over_shortest": rate(sum(v.turns_sent for v in group), shortest),
        "emergencies": len(emergencies),
        "emergency_recall": rate(sum(bool(v.emergency_caught) for v in emergencies),
                                 len(emergencies)),
        "reply_script": rate(sum(v.script_ok for v in group), n),
    }


def build(verdicts: list[Verdict], meta: dict[str, object]) -> dict[str, object]:
    """The JSON report: figures per split and language; dev conversations one by one."""
    report: dict[str, object] = {**meta, "goals": GOALS, "splits": {}}
    for split in SPLITS:
        mine = [v for v in verdicts if v.split == split]
        if not mine:
            continue
        section: dict[str, object] = {
            "languages": {lang: scores(v for v in mine if v.language == lang)
                          for lang in LANGUAGES if any(v.language == lang for v in mine)},
            "all": scores(mine),
        }
        if split == "dev":
            section["conversations"] = [v.as_dict() for v in mine]
        report["splits"][split] = section  # type: ignore[index]
    return report


def _cell(value: object, width: int) -> str:
    return f"{value:>{width}.3f}" if isinstance(value, float) else f"{'—':>{width}}"


def table(report: dict) -> str:
    """The table ``make eval`` prints."""
    goals = report["goals"]
    lines = [
        f"conversations (tests/conversations; goals: outcome ≥ {goals['outcome']}, detours ≤ "
        f"{goals['detour_rate']:.0%}, emergency recall {goals['emergency_recall']})",
        f"{'split':<8} {'language':<8} {'n':>4} {'outcome':>8} {'kind':>6} {'detours':>8}"
        f" {'turns/min':>9} {'emerg.':>6} {'recall':>7} {'script':>7}",
    ]
    for split, section in report["splits"].items():
        rows = [*section["languages"].items(), ("all", section["all"])]
        for lang, r in rows:
            lines.append(
                f"{split:<8} {lang:<8} {r['n']:>4} {_cell(r['outcome'], 8)}"
                f" {_cell(r['kind_reached'], 6)} {_cell(r['detour_rate'], 8)}"
                f" {_cell(r['turns_over_shortest'], 9)} {r['emergencies']:>6}"
                f" {_cell(r['emergency_recall'], 7)} {_cell(r['reply_script'], 7)}")
    lines.append("outcome: the right outcome with all it must hold; kind: the right kind of outcome"
                 " (packet, mentions aside); detours: conversations with a re-ask, a 'not"
                 " understood' or more turns than the shortest path; turns/min: turns sent over"
                 " the shortest path's")
    for v in report["splits"].get("dev", {}).get("conversations", []):
        if not v["outcome"] or v["detoured"] or not v["script_ok"]:
            notes = list(v["failures"])
            if v["detoured"]:
                notes.append(f"turns {v['turns_sent']}/{v['shortest']},"
                             f" detour replies {v['detour_replies']}")
            if not v["script_ok"]:
                notes.append("final reply script")
            lines.append(f"  dev {v['id']} [{v['channel']}]: {'; '.join(notes)}")
    return "\n".join(lines)
