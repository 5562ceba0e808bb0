"""Do our custom NLU components earn their place? Our pipeline against stock Rasa's, measured.

``python -m bot.nlu_compare`` scores, on the held-out sets ``tests/nlu/<lang>.yml`` (figures only:
those sets are scored, never read for tuning):

- ``ours``: our pipeline (``config.yml``), trained here like the others (NLU only, as the
  product's model's NLU part);
- ``ours-no-unknown-words``: the same model with ``UnknownWordsFallback`` switched off at parse
  time. It learns nothing DIET sees (it runs after DIET), so switching it off is an exact ablation;
- ``stock``: stock Rasa components only, derived from ``config.yml`` so it stays sized as ours:
  ``JiebaTokenizer`` (with the same user dictionary, which is data) instead of
  ``TrilingualTokenizer``, the same two count-vector featurisers, the same DIET and
  ``FallbackClassifier``, none of our components;
- ``stock-plain``: the same without the user dictionary (on request: ``--variants``);
- ``ours-jieba``: ours with ``JiebaTokenizer`` (same dictionary) in place of ``TrilingualTokenizer``
  and every other component kept: what our tokenizer alone adds (on request);
- any ``--config FILE``: an alternative pipeline of your own, trained and scored the same way.

Each is trained on ``data/nlu`` (NLU only, two to four minutes on two cores) into a temporary
folder, or into ``--models DIR``, where a model of the same pipeline and NLU inputs is reused.
``--seed N`` gives DIET ``random_seed`` N in every variant: a second, independent draw, to tell a
difference from the noise of one training.

For each: intent accuracy per set and overall; nonsense caught (the share of 200 generated
strings no one could understand, made-up Latin words and rare CJK characters, that come out as
``nlu_fallback``: what ``UnknownWordsFallback`` is for, and the held-out sets hold none); language
detection (the share of the ``en``, ``yue`` and ``zh`` sets detected as that language; ``zh``
counts either script); the emergency screen (recall of the emergency lines of
``tests/screening_eval`` through the parse, per split, aggregate only); parse time per message (median and 95th percentile of the held-out messages,
the best of ``--passes`` passes, so another process's burst on a shared machine is not counted)
and each component's share. Each model is scored in a process of its own: a second model loaded
in one process parses measurably slower, and stock ``JiebaTokenizer`` loads its dictionary into
jieba's global state. Rasa's own logging is kept at WARNING: at DEBUG it would print the
held-out texts. ``--json FILE`` keeps the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.evaluate import TEST_DIR, load_examples
from bot.paths import ROOT

OUR_TOKENIZER = "bot.nlu.tokenizer.TrilingualTokenizer"
UNKNOWN_WORDS = "bot.nlu.unknown_words.UnknownWordsFallback"
# What each held-out set's messages are written in (``mixed`` has no single language).
SET_LANGUAGES = {"en": {"en"}, "yue": {"yue"}, "zh": {"zh-Hant", "zh-Hans"}}
DEFAULT_VARIANTS = ("ours", "ours-no-unknown-words", "stock")


def with_seed(config: dict[str, Any], seed: int) -> dict[str, Any]:
    """``config`` with every component that takes a ``random_seed`` given ``seed``."""
    return {**config, "pipeline": [{**step, "random_seed": seed} if "random_seed" in step
                                   else step for step in config["pipeline"]]}


def stock_config(ours: dict[str, Any], *, dictionary: bool = True,
                 keep_ours: bool = False) -> dict[str, Any]:
    """``ours`` with stock components only: our tokenizer becomes ``JiebaTokenizer`` (same
    settings), every other ``bot.`` component is dropped (kept with ``keep_ours``), Rasa's own are
    kept as configured."""
    pipeline = []
    for step in ours["pipeline"]:
        if step["name"] == OUR_TOKENIZER:
            step = {**step, "name": "JiebaTokenizer"}
            if not dictionary:
                step.pop("dictionary_path", None)
        elif step["name"].startswith("bot.") and not keep_ours:
            continue
        pipeline.append(step)
    return {"recipe": ours.get("recipe", "default.v1"), "language": ours["language"],
            "assistant_id": f"{ours.get('assistant_id', 'smo')}-stock", "pipeline": pipeline}


# What an NLU model is trained from (bot.model hashes these and the dialogue's files).
NLU_INPUTS = ("config.yml", "data/nlu", "data/lexicon/jieba", "bot/nlu", "bot/language.py",
              "bot/segmenter.py", "bot/plans.py")


def nlu_inputs_hash() -> str:
    """Hash of the files an NLU model is trained from (paths and contents)."""
    import hashlib

    digest = hashlib.sha256()
    for name in NLU_INPUTS:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                       and p.suffix not in (".pyc", ".md")) if path.is_dir() else [path]
        for file in files:
            digest.update(file.relative_to(ROOT).as_posix().encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def train_nlu(config: dict[str, Any], folder: Path, name: str) -> Path:
    """An NLU-only model trained from ``config`` on ``data/nlu`` into ``folder`` (reused when a
    model of that config and those inputs is there already)."""
    import hashlib

    text = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
    key = hashlib.sha256((text + nlu_inputs_hash()).encode()).hexdigest()[:12]
    model = folder / f"{name}-{key}.tar.gz"
    if model.exists():
        print(f"{name}: reusing {model}", file=sys.stderr)
        return model
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / f"{name}-{key}.yml"
    config_file.write_text(text, encoding="utf-8")
    print(f"{name}: training NLU from {config_file} (minutes)", file=sys.stderr)
    started = time.monotonic()
    subprocess.run([str(Path(sys.executable).with_name("rasa")), "train", "nlu",
                    "--config", str(config_file), "--nlu", "data/nlu", "--out", str(folder),
                    "--fixed-model-name", model.name.removesuffix(".tar.gz")],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    print(f"{name}: trained in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return model


@dataclass
class Timings:
    """Seconds spent per component class while parsing (model loading excluded)."""

    per_class: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    active: bool = False


@contextmanager
def timed_components(timings: Timings) -> Iterator[None]:
    """Every NLU component's ``process`` timed, for models loaded inside the block (Rasa's
    graph nodes take the method when the model is loaded)."""
    import importlib

    import rasa.engine.recipes.default_components  # noqa: F401 - Rasa's own, imported now
    from rasa.engine.graph import GraphComponent

    for module in ("language_detector", "condition_screener", "tokenizer", "unknown_words",
                   "plan_extractor", "person_extractor"):
        importlib.import_module(f"bot.nlu.{module}")  # ours, imported now

    def classes(cls: type) -> Iterator[type]:
        for sub in cls.__subclasses__():
            yield sub
            yield from classes(sub)

    originals: dict[type, Any] = {}
    for cls in set(classes(GraphComponent)):
        if "process" in cls.__dict__:
            originals[cls] = cls.__dict__["process"]

            def timed(self: Any, *args: Any, _fn: Any = originals[cls], _name: str = cls.__name__,
                      **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return _fn(self, *args, **kwargs)
                finally:
                    if timings.active:
                        timings.per_class[_name] += time.perf_counter() - started

            cls.process = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        for cls, original in originals.items():
            cls.process = original  # type: ignore[method-assign]


@contextmanager
def switched_off(component: str) -> Iterator[None]:
    """``component``'s ``process`` passes messages through unchanged (for models loaded inside
    the block)."""
    import importlib

    module, _, name = component.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    original = cls.__dict__["process"]
    cls.process = lambda self, messages, *args, **kwargs: messages  # type: ignore[method-assign]
    try:
        yield
    finally:
        cls.process = original  # type: ignore[method-assign]


def nonsense(count: int = 200, seed: int = 17) -> list[str]:
    """``count`` strings nobody could understand, the same every run: made-up Latin words (three
    in four) and runs of rare CJK characters (Extension A, which our data does not use)."""
    import random

    draw = random.Random(seed)
    consonants, vowels = "bcdfghjklmnpqrstvwxz", "aeiouy"
    texts = []
    for number in range(count):
        if number % 4:
            words = ["".join(draw.choice(consonants if i % 3 else vowels) if draw.random() < 0.3
                             else draw.choice(consonants) for i in range(draw.randint(4, 8)))
                     for _ in range(draw.randint(1, 3))]
            texts.append(" ".join(words))
        else:
            texts.append("".join(chr(draw.randint(0x3400, 0x4DBF))
                                 for _ in range(draw.randint(2, 6))))
    return texts


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


async def score(model: Path, passes: int = 3) -> dict[str, Any]:
    """Intent accuracy, language detection, emergency screen and speed of one model."""
    from rasa.core.agent import Agent

    from bot.screening_eval import load_cases

    timings = Timings()
    with timed_components(timings):
        agent = Agent.load(str(model))
    await agent.parse_message("warm up")  # the first call traces TensorFlow's graph
    report: dict[str, Any] = {"sets": {}}
    seconds: list[float] = []
    right = total = 0
    timings.active = True
    for file in sorted(TEST_DIR.glob("*.yml")):
        examples = load_examples(file)
        correct = detected = 0
        for example in examples:
            started = time.perf_counter()
            parsed = await agent.parse_message(example.text)
            seconds.append(time.perf_counter() - started)
            correct += parsed["intent"]["name"] == example.intent
            language = (parsed.get("language_detection") or {}).get("language")
            detected += language in SET_LANGUAGES.get(file.stem, set())
        right, total = right + correct, total + len(examples)
        report["sets"][file.stem] = {
            "n": len(examples), "accuracy": correct / len(examples),
            "language_detected": _share(detected, len(examples))
            if file.stem in SET_LANGUAGES else None}
    timings.active = False
    report["overall"] = {"n": total, "accuracy": right / total}
    made_up = nonsense()
    caught = [(await agent.parse_message(text))["intent"]["name"] == "nlu_fallback"
              for text in made_up]
    report["nonsense_caught"] = {"n": len(made_up), "share": sum(caught) / len(made_up)}
    texts = [e.text for file in sorted(TEST_DIR.glob("*.yml")) for e in load_examples(file)]
    runs = [(seconds, dict(timings.per_class))]
    for _ in range(passes - 1):  # the same messages again, for time only
        timings.per_class.clear()
        again: list[float] = []
        timings.active = True
        for text in texts:
            started = time.perf_counter()
            await agent.parse_message(text)
            again.append(time.perf_counter() - started)
        timings.active = False
        runs.append((again, dict(timings.per_class)))
    seconds = sorted(min(runs, key=lambda run: statistics.median(run[0]))[0])
    per_class = {name: min(run[1].get(name, 0.0) for run in runs) for name in runs[0][1]}
    report["emergency_recall"] = {}
    cases = load_cases()
    for split in ("dev", "heldout"):
        emergencies = [c for c in cases if c.split == split and c.category == "emergency"]
        caught = 0
        for case in emergencies:
            screening = (await agent.parse_message(case.text)).get("screening") or {}
            caught += screening.get("category") == "emergency" or bool(screening.get("ask_if_now"))
        report["emergency_recall"][split] = {"n": len(emergencies),
                                             "recall": _share(caught, len(emergencies))}
    report["speed_ms"] = {
        "passes": passes,
        "median": statistics.median(seconds) * 1000,
        "p95": seconds[int(0.95 * (len(seconds) - 1))] * 1000,
        "per_component": {name: spent / len(seconds) * 1000
                          for name, spent in sorted(per_class.items(), key=lambda item: -item[1])},
    }
    return report


def _cell(value: Any, width: int = 7) -> str:
    return f"{value:>{width}.3f}" if isinstance(value, float) else f"{'—':>{width}}"


def format_table(results: dict[str, dict[str, Any]]) -> str:
    """One row per variant: accuracy per set, language detection, emergency recall, speed."""
    sets = sorted({name for r in results.values() for name in r["sets"]})
    head = (f"{'variant':<24}" + "".join(f"{'acc ' + s:>10}" for s in sets)
            + f"{'overall':>9}{'nonsense':>9}" + "".join(f"{'lang ' + s:>9}" for s in SET_LANGUAGES)
            + f"{'emerg dev':>10}{'emerg ho':>9}{'p50 ms':>8}{'p95 ms':>8}")
    lines = [head]
    for name, r in results.items():
        lines.append(
            f"{name:<24}" + "".join(_cell(r["sets"].get(s, {}).get("accuracy"), 10) for s in sets)
            + _cell(r["overall"]["accuracy"], 9) + _cell(r["nonsense_caught"]["share"], 9)
            + "".join(_cell(r["sets"].get(s, {}).get("language_detected"), 9)
                      for s in SET_LANGUAGES)
            + _cell(r["emergency_recall"]["dev"]["recall"], 10)
            + _cell(r["emergency_recall"]["heldout"]["recall"], 9)
            + f"{r['speed_ms']['median']:>8.1f}{r['speed_ms']['p95']:>8.1f}")
    lines.append("")
    lines.append("ms per message spent in each component:")
    for name, r in results.items():
        parts = ", ".join(f"{cls} {ms:.2f}" for cls, ms in r["speed_ms"]["per_component"].items()
                          if ms >= 0.01)
        lines.append(f"  {name}: {parts}")
    n = next(iter(results.values()))["overall"]["n"] if results else 0
    lines.append(f"(held-out lines: {n}; one line is {1 / n:.4f} of accuracy)" if n else "")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help="comma-separated: ours, ours-no-unknown-words, ours-jieba, stock, "
                             "stock-plain")
    parser.add_argument("--config", type=Path, action="append", default=[],
                        help="also train and score this pipeline (a Rasa config file)")
    parser.add_argument("--models", type=Path,
                        help="keep trained variants here and reuse them (default: a temp folder)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--seed", type=int,
                        help="train ours too, and every variant with this DIET random_seed")
    parser.add_argument("--passes", type=int, default=3, help="timing passes (best is kept)")
    parser.add_argument("--score", type=Path, help=argparse.SUPPRESS)  # one model, this process
    parser.add_argument("--switch-off", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import logging

    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # at DEBUG Rasa logs every parsed (held-out) text
    logging.getLogger("rasa").setLevel(logging.WARNING)
    if args.score:
        with switched_off(args.switch_off) if args.switch_off else nullcontext():
            figures = asyncio.run(score(args.score, args.passes))
        args.json.write_text(json.dumps(figures), encoding="utf-8")
        return 0
    inputs = nlu_inputs_hash()  # the same at the end, or the variants saw different data
    ours = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    if args.seed is not None:
        ours = with_seed(ours, args.seed)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(variants) - {"ours", "ours-no-unknown-words", "ours-jieba", "stock",
                               "stock-plain"}
    if unknown:
        parser.error(f"unknown variants: {sorted(unknown)}")

    with tempfile.TemporaryDirectory(prefix="smo-nlu-compare-") as temporary:
        folder = args.models or Path(temporary)
        models: dict[str, tuple[Path, str | None]] = {}
        seed = "" if args.seed is None else f"-seed{args.seed}"
        if {"ours", "ours-no-unknown-words"} & set(variants):
            trained = train_nlu(ours, folder, "ours" + seed)
            for name, off in (("ours", None), ("ours-no-unknown-words", UNKNOWN_WORDS)):
                if name in variants:
                    models[name] = (trained, off)
        for name, plain, keep in (("ours-jieba", False, True), ("stock", False, False),
                                  ("stock-plain", True, False)):
            if name in variants:
                config = stock_config(ours, dictionary=not plain, keep_ours=keep)
                models[name] = (train_nlu(config, folder, name + seed), None)
        for config_file in args.config:
            config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
            models[config_file.stem] = (train_nlu(config, folder, config_file.stem), None)

        results: dict[str, dict[str, Any]] = {}
        for name, (model, off) in models.items():
            print(f"{name}: scoring {model.name}", file=sys.stderr)
            out = Path(temporary) / f"{name}.json"
            subprocess.run([sys.executable, "-m", "bot.nlu_compare", "--score", str(model),
                            "--passes", str(args.passes), "--json", str(out),
                            *(["--switch-off", off] if off else [])],
                           cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            results[name] = json.loads(out.read_text(encoding="utf-8"))
    print(format_table(results))
    if nlu_inputs_hash() != inputs:
        print("the model's inputs changed during this run: the variants were trained from "
              "different data; run it again")
        return 1
    print(f"(every variant trained from the same NLU inputs, hash {inputs})")
    if args.json:
        args.json.write_text(json.dumps({"inputs": inputs, "variants": results}, indent=2),
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
