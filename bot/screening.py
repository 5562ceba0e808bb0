"""Screen a described condition against the service's exclusions.

``screen(text, lang=None)`` returns a :class:`Screening` whose ``category`` is one of
``emergency``, ``accident``, ``common_illness``, ``chronic_management``, ``eligible``, ``unclear``,
with the terms matched and the terms found negated ("no chest pain", "冇胸口痛", "没有发烧").

Priority, highest first (the leaflet's exclusions, with emergencies sent to 999 / 120 at once):
emergency > accident > complication of a chronic disease (eligible) > chronic-disease management >
everyday illness > a named serious condition (eligible) > unclear.

Lexicons live in ``data/screening/<lang>.yml`` (English, written Cantonese, Standard Chinese), each
term written in either script. All lexicons are used for every message, because customers mix
languages; ``lang`` only chooses which negation rules come first. Text and terms are folded with
:func:`bot.language.normalise` (Traditional/Simplified, width, case), so one spelling serves both
scripts. Chinese terms match as character sequences over the folded text — robust where jieba would
segment a term differently in context than alone — and English terms match on word boundaries with
common inflections. This is the "or equal" to spaCy's PhraseMatcher that the brief allows.

Negation (NegEx-style): a ``before`` cue within ``window`` characters to the left of a term, or
an ``after`` cue right behind it, negates it unless a clause ``break`` comes between. Breaks from
all files apply to every cue (customers mix languages within one message). Two guards keep
negation from hiding a red flag: ``pseudo`` phrases look like cues but negate nothing ("not sure",
"no idea", 不停, 冇啦啦, 没多久), and text inside another matched term is never a cue (the 冇 of
冇反應 and the "not" of "not breathing" describe a symptom).

Past events: the optional top-level ``history`` section lists cues ("years ago", 年前, 去年) that
put an emergency term in the past, so "had a heart attack 2 years ago, doctor recommends bypass"
counts as a named serious condition, not a 999 call. The optional top-level ``ignore`` section
lists names that contain a term but name no condition (the plan 癌症全護計劃).

This never depends on the intent classifier: the emergency guard calls it on every message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from bot.language import detect, normalise
from bot.paths import DATA_DIR
from bot.yamlfile import DataFileError, load_yaml

CATEGORIES = (
    "emergency",
    "accident",
    "common_illness",
    "chronic_management",
    "eligible",
    "unclear",
)
# Lexicon sections. `chronic_management` words (check-up, refill) are recorded for the nurse but
# only a chronic disease itself makes the description chronic-disease management.
SECTIONS = (
    "emergency",
    "accident",
    "chronic_disease",
    "complication",
    "chronic_management",
    "common_illness",
    "serious",
)
LEXICON_LANGUAGES = ("en", "yue", "zh")


@dataclass(frozen=True)
class Finding:
    """One lexicon term found in the text."""

    term: str
    section: str
    start: int
    end: int
    negated: bool = False
    historical: bool = False  # an emergency term placed in the past ("heart attack 2 years ago")

    @property
    def effective_section(self) -> str:
        """The section the finding counts for: a past emergency counts as a serious condition."""
        return "serious" if self.section == "emergency" and self.historical else self.section


@dataclass(frozen=True)
class Screening:
    """The outcome of screening one description."""

    category: str
    language: str | None
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    complication_of_chronic: bool = False

    @property
    def matched(self) -> list[str]:
        """Terms found and not negated."""
        return [f.term for f in self.findings if not f.negated]

    @property
    def negated(self) -> list[str]:
        """Terms found but negated by the customer."""
        return [f.term for f in self.findings if f.negated]

    @property
    def eligible(self) -> bool:
        """True when the service may take the case."""
        return self.category == "eligible"

    def as_dict(self) -> dict[str, object]:
        """Plain form for slots, case packets and the console."""
        return {
            "category": self.category,
            "language": self.language,
            "matched": self.matched,
            "negated": self.negated,
            "complication_of_chronic": self.complication_of_chronic,
            "sections": sorted({f.effective_section for f in self.findings if not f.negated}),
        }


@dataclass(frozen=True)
class _Term:
    text: str  # as written in the lexicon
    section: str
    pattern: re.Pattern[str]
    # Literal pieces every match contains: a text lacking one cannot match, and ``in`` is far
    # cheaper than starting a regex scan (two thousand terms are tried on every message).
    needles: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Negation:
    before: tuple[re.Pattern[str], ...]  # cues that negate a following term
    after: tuple[re.Pattern[str], ...]  # cues that negate a preceding term ("chest pain: none")
    breaks: re.Pattern[str]  # clause boundaries that end a cue's scope (all files' breaks)
    window: int  # characters a cue reaches
    history_before: tuple[re.Pattern[str], ...] = ()  # "last year" heart attack
    history_after: tuple[re.Pattern[str], ...] = ()  # heart attack "2 years ago"


# Typographic apostrophes (phones type ’ by default) fold to ' so "can’t breathe" matches; 1:1 map.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'", "`": "'"})


def _fold(text: str) -> str:
    """:func:`normalise` plus apostrophe folding; keeps the length, so offsets stay valid."""
    return normalise(text).translate(_APOSTROPHES)


def _ascii_word(word: str) -> str:
    """A regex for one English word; its apostrophe is optional ("cant breathe", "doesnt have")."""
    return re.escape(word).replace("'", "'?")


def _term_pattern(term: str) -> re.Pattern[str]:
    folded = _fold(term).strip()
    if folded.isascii():
        words = folded.split()
        body = r"[\s\-]+".join(_ascii_word(w) + r"(?:s|es|ed|d|ing)?" for w in words)
        return re.compile(rf"(?<![a-z0-9]){body}(?![a-z0-9])")
    return re.compile(r"\s*".join(re.escape(ch) for ch in folded.replace(" ", "")))


def _needles(term: str) -> tuple[str, ...]:
    """What :func:`_term_pattern`'s matches always contain: each English word's pieces around
    its optional apostrophe; each Chinese character (spaces may come between them)."""
    folded = _fold(term).strip()
    if folded.isascii():
        return tuple(dict.fromkeys(p for w in folded.split() for p in w.split("'") if p))
    return tuple(dict.fromkeys(folded.replace(" ", "")))


def _cue_pattern(cue: str) -> re.Pattern[str]:
    folded = _fold(cue).strip()
    if folded.isascii():
        body = r"\s+".join(_ascii_word(w) for w in folded.split())
        return re.compile(rf"(?<![a-z0-9']){body}(?![a-z0-9])")
    return re.compile(re.escape(folded))


# In Chinese chat a space between two Chinese characters separates clauses like a comma does
# ("冇發燒 心口好痛": no fever; chest hurts a lot). Spaces around English words in mixed text
# do not ("冇 chest pain").
_HAN = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
_HAN_SPACE_BREAK = rf"(?<={_HAN})\s+(?={_HAN})"


def _break_pattern(breaks: list[str]) -> re.Pattern[str]:
    """One pattern for every clause break; English words only match as whole words."""
    parts = [_HAN_SPACE_BREAK]
    for raw in breaks:
        b = _fold(raw)
        if b.isascii() and re.search(r"[a-z]", b):
            body = r"\s+".join(_ascii_word(w) for w in b.split())
            parts.append(rf"(?<![a-z']){body}(?![a-z])")
        elif b:
            parts.append(re.escape(b))
    return re.compile("|".join(parts))


@dataclass(frozen=True)
class _Lexicons:
    terms: tuple[_Term, ...]  # longest pattern first
    negations: dict[str, _Negation]
    pseudo: tuple[re.Pattern[str], ...]  # look like negation cues but negate nothing
    ignore: tuple[re.Pattern[str], ...] = ()  # names that contain a term but are no condition
    # Positions in ``terms`` by the first one to three characters every match starts with: only
    # terms whose key occurs in the text are tried (a message names few of two thousand terms).
    by_key: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def candidates(self, folded: str) -> list[_Term]:
        """The terms that may occur in ``folded``, in ``terms`` order."""
        present = set(folded)
        for width in (2, 3):
            present.update(folded[i:i + width] for i in range(len(folded) - width + 1))
        hits = [i for key in present & self.by_key.keys() for i in self.by_key[key]]
        return [self.terms[i] for i in sorted(hits)]


def _key(term: _Term) -> str:
    """What every match of ``term`` contains: its first needle's first three characters (one
    for a Chinese term, whose characters may have spaces between them)."""
    first = term.needles[0]
    return first[:3] if first.isascii() else first[0]


@lru_cache(maxsize=1)
def _load() -> _Lexicons:
    terms: dict[tuple[str, str], _Term] = {}
    raw_files: dict[str, dict] = {}
    all_breaks: list[str] = []
    pseudo: list[re.Pattern[str]] = []
    ignore: list[re.Pattern[str]] = []
    for lang in LEXICON_LANGUAGES:
        path = DATA_DIR / "screening" / f"{lang}.yml"
        raw = load_yaml(path) or {}
        for section in SECTIONS:
            for term in raw.get(section, []) or []:
                key = (_fold(str(term)), section)
                if key not in terms:
                    terms[key] = _Term(str(term), section, _term_pattern(str(term)),
                                       _needles(str(term)))
        neg = raw.get("negation")
        if not neg:
            raise DataFileError(f"{path}: a 'negation' section is required")
        raw_files[lang] = raw
        ignore.extend(_term_pattern(str(t)) for t in raw.get("ignore", []) or [])
        all_breaks.extend(str(b) for b in neg.get("breaks", []) or [])
        pseudo.extend(_cue_pattern(str(c)) for c in neg.get("pseudo", []) or [])
    breaks = _break_pattern(all_breaks)
    negations: dict[str, _Negation] = {}
    for lang, raw in raw_files.items():
        neg = raw["negation"]
        history = raw.get("history") or {}
        negations[lang] = _Negation(
            before=tuple(_cue_pattern(str(c)) for c in neg.get("before", []) or []),
            after=tuple(_cue_pattern(str(c)) for c in neg.get("after", []) or []),
            breaks=breaks,
            window=int(neg.get("window", 20)),
            history_before=tuple(_cue_pattern(str(c)) for c in history.get("before", []) or []),
            history_after=tuple(_cue_pattern(str(c)) for c in history.get("after", []) or []),
        )
    # Longest terms first, so "kidney failure" wins over "failure" and 腎衰竭 over 衰竭.
    ordered = sorted(terms.values(), key=lambda t: -len(t.pattern.pattern))
    by_key: dict[str, list[int]] = {}
    for index, term in enumerate(ordered):
        by_key.setdefault(_key(term), []).append(index)
    return _Lexicons(tuple(ordered), negations, tuple(pseudo), tuple(ignore),
                     {key: tuple(indices) for key, indices in by_key.items()})


def _lexicons() -> tuple[tuple[_Term, ...], dict[str, _Negation]]:
    """(terms longest first, negation rules by language)."""
    loaded = _load()
    return loaded.terms, loaded.negations


def _lexicon_language(lang: str | None) -> str:
    return {"en": "en", "yue": "yue"}.get(lang or "", "zh")


def _scopes(folded: str, masked: str, start: int, end: int, rule: _Negation) -> tuple[str, str]:
    """The clause text a cue may sit in, left and right of the term, cut at the nearest breaks.

    Breaks are found in the text itself, cues in ``masked`` (pseudo-cues and terms blanked).
    """
    low = max(0, start - rule.window)
    # One character more than the scope, so a break's lookahead can see the term itself.
    left = rule.breaks.finditer(folded, low, start + 1)
    last_break = max((m.end() for m in left if m.end() <= start), default=low)
    high = min(len(folded), end + rule.window)
    first_break = min((m.start() for m in rule.breaks.finditer(folded, end, high)), default=high)
    return masked[last_break:start], masked[end:first_break]


def _is_negated(folded: str, masked: str, start: int, end: int, rules: list[_Negation]) -> bool:
    for rule in rules:
        scope, tail = _scopes(folded, masked, start, end, rule)
        if any(cue.search(scope) for cue in rule.before):
            return True
        if any(cue.match(tail.lstrip(" :：,，-")) for cue in rule.after):
            return True
    return False


def _is_historical(folded: str, masked: str, start: int, end: int, rules: list[_Negation]) -> bool:
    for rule in rules:
        scope, tail = _scopes(folded, masked, start, end, rule)
        if any(cue.search(scope) for cue in rule.history_before):
            return True
        if any(cue.search(tail) for cue in rule.history_after):
            return True
    return False


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    """Blank the given spans (same length), so no cue is found inside them."""
    chars = list(text)
    for s, e in spans:
        chars[s:e] = " " * (e - s)
    return "".join(chars)


def find_terms(text: str, lang: str | None = None) -> list[Finding]:
    """Every lexicon term in ``text`` (no overlaps, longest first), with its negation."""
    lexicons = _load()
    negations = lexicons.negations
    folded = _fold(text)
    primary = _lexicon_language(lang)
    rules = [negations[primary]] + [n for k, n in negations.items() if k != primary]
    taken: list[tuple[int, int]] = []
    occupied = bytearray(len(folded))  # characters already inside a (longer) term or a name
    for name in lexicons.ignore:
        for match in name.finditer(folded):
            occupied[match.start() : match.end()] = b"\x01" * (match.end() - match.start())
    found: list[tuple[_Term, int, int]] = []
    for term in lexicons.candidates(folded):
        if not all(needle in folded for needle in term.needles):
            continue
        for match in term.pattern.finditer(folded):
            start, end = match.span()
            if start == end or any(occupied[start:end]):
                continue
            occupied[start:end] = b"\x01" * (end - start)
            taken.append((start, end))
            found.append((term, start, end))
    if not found:
        return []
    # Cues are looked for with pseudo-cues and every matched term blanked out.
    pseudo_spans = [m.span() for p in lexicons.pseudo for m in p.finditer(folded)]
    masked = _mask(folded, pseudo_spans + taken)
    findings = []
    for term, start, end in found:
        negated = _is_negated(folded, masked, start, end, rules)
        historical = term.section == "emergency" and _is_historical(
            folded, masked, start, end, rules
        )
        findings.append(Finding(term.text, term.section, start, end, negated, historical))
    return sorted(findings, key=lambda f: f.start)


def screen(text: str, lang: str | None = None) -> Screening:
    """Classify a described condition; see the module docstring for the priority."""
    language = lang or detect(text or "").language
    findings = tuple(find_terms(text or "", language))
    present = {f.effective_section for f in findings if not f.negated}

    def result(category: str, complication: bool = False) -> Screening:
        return Screening(category, language, findings, complication)

    if "emergency" in present:
        return result("emergency")
    if "accident" in present:
        return result("accident")
    if "chronic_disease" in present and present & {"complication", "serious"}:
        return result("eligible", complication=True)
    if "chronic_disease" in present:  # routine care of a chronic disease, nothing more
        return result("chronic_management")
    if "common_illness" in present:
        return result("common_illness")
    if "serious" in present or "complication" in present:
        return result("eligible")
    return result("unclear")
