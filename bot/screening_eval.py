"""The screening's part of ``make eval``: :func:`bot.screening.screen` on ``tests/screening_eval``.

That set was written by someone who never saw the lexicons (its README says how). Each line is
``{text, category, lang, split, note?}``; ``split: dev`` lines may be looked at and tuned on,
``split: heldout`` lines never are. Both splits are scored separately, per file (en, yue, zh,
mixed), overall and per category: accuracy, and emergency recall counted two ways —

* ``recall`` (999 at once): the emergency category, or the second net (``ask_if_now``: the reply
  asks whether it is happening now and gives 999 / 120 in the same message);
* ``strict``: the emergency category itself (999 and an urgent case for the nurses).

Misses are listed for ``dev`` only: held-out lines are reported as figures, never as texts, so
nobody tunes on them by reading a report. The figures are printed and written to
``docs/results/screening-eval.json`` (and ``.md``). Missing a goal never fails the run (the set
measures, it does not gate); a malformed set does (:class:`bot.yamlfile.DataFileError`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.paths import ROOT
from bot.results import RESULTS_DIR, write_report
from bot.screening import CATEGORIES, Screening, screen
from bot.yamlfile import DataFileError, load_yaml

EVAL_DIR = ROOT / "tests" / "screening_eval"
RESULTS = RESULTS_DIR / "screening-eval.json"
SPLITS = ("dev", "heldout")
LANGS = ("en", "yue", "zh")
FIELDS = {"text", "category", "lang", "split", "note"}
# The goals, per language on held-out text (reported, not enforced).
ACCURACY_GOAL = 0.95
RECALL_GOAL = 1.0


@dataclass(frozen=True)
class Case:
    """One line of the evaluation set."""

    text: str
    category: str
    lang: str
    split: str
    file: str  # the file's stem: en, yue, zh, mixed


def load_cases(directory: Path = EVAL_DIR) -> list[Case]:
    """Every line of every ``*.yml`` in ``directory``; :class:`DataFileError` naming the file and
    line when one is malformed (an unknown field, category, language or split; a duplicate)."""
    cases: list[Case] = []
    seen: set[str] = set()
    for path in sorted(directory.glob("*.yml")):
        rows = load_yaml(path)
        if not isinstance(rows, list):
            raise DataFileError(f"{path}: expected a list of cases")
        for number, row in enumerate(rows, 1):
            where = f"{path.name} line {number}"
            if not isinstance(row, dict) or not {"text", "category", "lang", "split"} <= set(row):
                raise DataFileError(f"{where}: needs text, category, lang and split")
            if set(row) - FIELDS:
                raise DataFileError(f"{where}: unknown fields {sorted(set(row) - FIELDS)}")
            text = str(row["text"]).strip()
            if not text or text in seen:
                raise DataFileError(f"{where}: empty or duplicate text")
            if row["category"] not in CATEGORIES or row["lang"] not in LANGS:
                raise DataFileError(f"{where}: unknown category or lang")
            if row["split"] not in SPLITS:
                raise DataFileError(f"{where}: split must be one of {SPLITS}")
            seen.add(text)
            cases.append(Case(text, row["category"], row["lang"], row["split"], path.stem))
    return cases


def _scores(pairs: list[tuple[Case, Screening]]) -> dict[str, object]:
    emergencies = [(c, s) for c, s in pairs if c.category == "emergency"]
    caught = sum(s.category == "emergency" or s.ask_if_now for _, s in emergencies)
    strict = sum(s.category == "emergency" for _, s in emergencies)
    return {
        "n": len(pairs),
        "accuracy": sum(c.category == s.category for c, s in pairs) / len(pairs) if pairs else None,
        "emergencies": len(emergencies),
        "recall": caught / len(emergencies) if emergencies else None,
        "strict_recall": strict / len(emergencies) if emergencies else None,
    }


def evaluate(
    cases: Iterable[Case], screener: Callable[[str], Screening] = screen
) -> dict[str, object]:
    """Scores per split: per file, overall, per category; misses for ``dev`` only."""
    report: dict[str, object] = {
        "goals": {"accuracy": ACCURACY_GOAL, "emergency_recall": RECALL_GOAL},
        "splits": {},
    }
    all_cases = list(cases)
    for split in SPLITS:
        pairs = [(c, screener(c.text)) for c in all_cases if c.split == split]
        files = sorted({c.file for c, _ in pairs}, key=lambda f: (f not in LANGS, f))
        section: dict[str, object] = {
            "sets": {f: _scores([p for p in pairs if p[0].file == f]) for f in files},
            "languages": {
                lang: _scores([p for p in pairs if p[0].lang == lang]) for lang in LANGS
            },
            "overall": _scores(pairs),
            "categories": {
                cat: _scores([p for p in pairs if p[0].category == cat]) for cat in CATEGORIES
            },
        }
        if split == "dev":
            section["misses"] = [
                {"file": c.file, "text": c.text, "expected": c.category, "got": s.category,
                 "ask_if_now": s.ask_if_now, "matched": s.matched, "negated": s.negated}
                for c, s in pairs
                if c.category != s.category
            ]
        report["splits"][split] = section  # type: ignore[index]
    return report


def _cell(value: object, width: int) -> str:
    return f"{value:>{width}.3f}" if isinstance(value, float) else f"{'—':>{width}}"


def format_report(report: dict) -> str:
    """The table ``make eval`` prints after the NLU one."""
    lines = [
        "screening (tests/screening_eval; goals per language: accuracy ≥ "
        f"{ACCURACY_GOAL}, emergency recall {RECALL_GOAL})",
        f"{'split':<8} {'set':<10} {'n':>4} {'accuracy':>9} {'emerg.':>7} {'recall':>7}"
        f" {'strict':>7}   (recall: 999 at once — emergency or the second net)",
    ]
    for split, section in report["splits"].items():
        rows = [*(("set " + k, v) for k, v in section["sets"].items()),
                *(("lang " + k, v) for k, v in section["languages"].items()),
                ("overall", section["overall"])]
        for name, r in rows:
            lines.append(
                f"{split:<8} {name:<10} {r['n']:>4} {_cell(r['accuracy'], 9)} "
                f"{r['emergencies']:>7} {_cell(r['recall'], 7)} {_cell(r['strict_recall'], 7)}"
            )
        cats = ", ".join(
            f"{cat} {r['n']}:{r['accuracy']:.2f}"
            for cat, r in section["categories"].items() if r["n"]
        )
        lines.append(f"{split:<8} per category (n:accuracy): {cats}")
    dev_misses = report["splits"].get("dev", {}).get("misses", [])
    for miss in dev_misses:
        lines.append(
            f"  dev miss [{miss['file']}] expected {miss['expected']}, got {miss['got']}"
            f"{' (asks if now)' if miss['ask_if_now'] else ''}: {miss['text']}"
        )
    return "\n".join(lines)


def run(directory: Path | None = None, out: Path | None = None) -> dict | None:
    """Score the set (default :data:`EVAL_DIR`), print the table, write the JSON (default
    :data:`RESULTS`); ``None`` when there is no set."""
    directory = directory or EVAL_DIR
    out = out or RESULTS
    if not directory.is_dir() or not any(directory.glob("*.yml")):
        print(f"screening: no evaluation set in {directory}")
        return None
    report = evaluate(load_cases(directory))
    print(format_report(report))
    write_report(out, report, title="Screening evaluation", command="make eval",
                 summary=format_report(report))
    print(f"screening figures: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return report
