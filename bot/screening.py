"""Screen a described condition against the service's exclusions.

``screen(text, lang=None)`` returns a :class:`Screening` whose ``category`` is one of
``emergency``, ``accident``, ``common_illness``, ``chronic_management``, ``eligible``, ``unclear``,
with the terms matched and the terms found negated ("no chest pain", "冇胸口痛", "没有发烧").

Priority, highest first (the leaflet's exclusions, with emergencies sent to 999 / 120 at once):
emergency > accident > complication of a chronic disease (eligible) > chronic-disease management >
everyday illness > a named serious condition (eligible) > an everyday symptom (a headache, a cough,
a stomach ache: an everyday illness unless a serious condition was found behind it) > unclear.

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

Two more negation lists: ``set_aside`` cues negate only *non-emergency* terms the customer
corrects or contrasts ("I thought it was a cold", 以為係感冒, 不只是感冒), because an emergency
is never set aside: "唔係感冒，係肺癌" is a cancer, not a cold. ``unless_after`` phrases behind
a term cancel a ``before`` cue ("never had chest pain *like this*"). ``not_breaks`` are words
that contain a clause break but break nothing (其他 holds 他: "冇其他併發症" is "no other
complications").

Families: the optional top-level ``families`` section gives, per section, regular expressions for
whole families of names a list cannot hold (any …癌 / …瘤, carcinoma, …oma, "cancerous"; bleeding
that will not stop written a hundred ways). They compete with the listed terms: where two matches
overlap, the longer wins (the listed term on a tie), so "coughing up clots of blood" is one
emergency, not a cough. Their findings carry the text they matched; ``macros`` (``{gap}``: a few
characters without punctuation or negation) keep them readable.

Acute signs, the second net: the optional top-level ``acute`` section lists cues of acute danger
(bleeding, breathing, consciousness, self-harm, poisoning), cues that only name an ``organ``
(chest, heart, 心口), cues of distress that count with a person (a baby, grandma) or a time
("right now", 而家, 现在), and phrases that contain a cue but no danger ("blood test", 血壓,
呼吸正常). An accident found in the text that is not in the past (a fall, a crash, a burn, a cut)
counts like distress: "grandma fell just now" asks. When the screening is not sure — ``unclear``
or an exclusion — and such signs are present, ``ask_if_now`` is true: the assistant asks at once
whether it is happening now and gives 999 / 120 in the same reply (``bot.handoff.guard``), and a
"yes" to that question is answered as an emergency (``bot.nlu.emergency_policy``). A covered
(``eligible``) description asks too when a danger cue outside every negated or past term comes
with a time ("mum has lung cancer, now she is gasping"); an organ cue alone does not ("stents in
his heart, now they want another"), nor a negated red flag ("hasn't lost consciousness").

Past events: the optional top-level ``history`` section lists cues ("years ago", 年前, 去年) that
put an emergency term in the past, so "had a heart attack 2 years ago, doctor recommends bypass"
counts as a named serious condition, not a 999 call (so does a symptom "for months"); a past
everyday illness ("had the flu last month, now diagnosed with lymphoma") counts for nothing. A
past accident stays an accident, unless a condition needing a decision is named beside it ("she
fell last year, now she needs a hip replacement" is the replacement); either way it is no sign of
danger now. The optional top-level ``ignore`` section
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
    "symptom",
)
LEXICON_LANGUAGES = ("en", "yue", "zh")
# Where the screening is "not sure" enough for the second net: nothing recognised, or an exclusion
# (a refusal must never be the only answer to a sign of danger). An eligible case goes on to a case
# with the nurses; an emergency is answered with 999 / 120 already.
NOT_SURE = ("unclear", "common_illness", "accident", "chronic_management")
# Sections whose terms the ``history`` cues put in the past. A past accident stays an accident
# (the exclusion holds), but it is no sign that something is happening now.
HISTORY_SECTIONS = ("emergency", "common_illness", "symptom", "accident")
# The kinds of cue in a lexicon's ``acute`` section.
ACUTE_KINDS = ("danger", "organ", "distress", "person", "now")


@dataclass(frozen=True)
class Finding:
    """One lexicon term (or family member) found in the text."""

    term: str
    section: str
    start: int
    end: int
    negated: bool = False
    # An emergency or everyday illness placed in the past ("heart attack 2 years ago").
    historical: bool = False

    @property
    def effective_section(self) -> str:
        """The section the finding counts for: a past emergency counts as a serious condition, a
        past everyday illness ("had the flu last month") as nothing the customer asks about."""
        if self.historical:
            return {"emergency": "serious", "common_illness": "history", "symptom": "history"}.get(
                self.section, self.section
            )
        return self.section


@dataclass(frozen=True)
class Screening:
    """The outcome of screening one description."""

    category: str
    language: str | None
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    complication_of_chronic: bool = False
    # Cues of acute danger found (empty unless they qualify: a danger cue, or distress or an
    # accident with a person or a time). Recorded for every category; they drive the dialogue
    # only via ask_if_now.
    acute_signs: tuple[str, ...] = ()
    # A danger cue outside any negated or past term *and* a time ("right now", 而家): asked about
    # even when the description is otherwise a covered condition ("mum has lung cancer, now
    # she's gasping").
    danger_now: bool = False

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

    @property
    def ask_if_now(self) -> bool:
        """The second net: not sure, yet signs of acute danger — ask whether it is happening now
        and give 999 / 120 in the same reply."""
        if self.category == "eligible":
            return self.danger_now
        return bool(self.acute_signs) and self.category in NOT_SURE

    def as_dict(self) -> dict[str, object]:
        """Plain form for slots, case packets and the console."""
        return {
            "category": self.category,
            "language": self.language,
            "matched": self.matched,
            "negated": self.negated,
            "complication_of_chronic": self.complication_of_chronic,
            "sections": sorted({f.effective_section for f in self.findings if not f.negated}),
            "acute_signs": list(self.acute_signs),
            "ask_if_now": self.ask_if_now,
        }


@dataclass(frozen=True)
class _Term:
    text: str  # as written in the lexicon
    section: str
    pattern: re.Pattern[str]
    # Literal pieces every match contains: a text lacking one cannot match, and ``in`` is far
    # cheaper than starting a regex scan (two thousand terms are tried on every message).
    needles: tuple[str, ...] = ()
    family: bool = False  # a pattern: its findings carry the text matched, not ``text``


@dataclass(frozen=True)
class _Negation:
    before: tuple[re.Pattern[str], ...]  # cues that negate a following term
    after: tuple[re.Pattern[str], ...]  # cues that negate a preceding term ("chest pain: none")
    breaks: re.Pattern[str]  # clause boundaries that end a cue's scope (all files' breaks)
    window: int  # characters a cue reaches
    history_before: tuple[re.Pattern[str], ...] = ()  # "last year" heart attack
    history_after: tuple[re.Pattern[str], ...] = ()  # heart attack "2 years ago"
    set_aside: tuple[re.Pattern[str], ...] = ()  # "thought it was" a cold: non-emergency only
    # A set-aside cue reaches over words that end a negation ("thought it was *just* a cold"):
    # only these breaks (all files') end its scope.
    set_aside_breaks: re.Pattern[str] | None = None
    unless_after: tuple[re.Pattern[str], ...] = ()  # "never had chest pain like this": no negation


# Typographic apostrophes (phones type ’ by default) fold to ' so "can’t breathe" matches; and the
# characters Cantonese is often typed with fold to the written ones (暈左 → 暈咗, 既 → 嘅, 野 → 嘢,
# 黎 → 嚟), in text and lexicons alike. A 1:1 map, so offsets stay valid.
_FOLD_MORE = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'", "`": "'",
     "左": "咗", "既": "嘅", "野": "嘢", "黎": "嚟"}
)


def _fold(text: str) -> str:
    """:func:`normalise` plus the folding above; keeps the length, so offsets stay valid."""
    return normalise(text).translate(_FOLD_MORE)


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


def _sign_pattern(cue: str) -> re.Pattern[str]:
    """An acute-sign cue: English words with common endings, or a prefix when written ``word*``
    ("suicid*" also finds "suicidal"); Chinese as a character sequence."""
    folded = _fold(cue).strip()
    if not folded.isascii():
        return re.compile(re.escape(folded.replace(" ", "")))
    prefix = folded.endswith("*")
    words = folded.rstrip("*").split()
    body = r"[\s\-]+".join(_ascii_word(w) for w in words)
    tail = r"[a-z]*" if prefix else r"(?:s|es|ed|d|ing)?(?![a-z0-9])"
    return re.compile(rf"(?<![a-z0-9]){body}{tail}")


def _fold_non_ascii(pattern: str) -> str:
    """Fold a regex's Chinese (script, width) but leave its ASCII syntax alone (``\\S`` stays)."""
    return re.sub(r"[^\x00-\x7f]+", lambda m: _fold(m.group()), pattern)


def _family_pattern(raw: str, macros: dict[str, str], where: str) -> re.Pattern[str]:
    """A family regex: macros expanded, Chinese folded, English families on word boundaries."""
    text = raw
    for name, value in macros.items():
        text = text.replace("{" + name + "}", value)
    text = _fold_non_ascii(text)
    if text.isascii():
        text = rf"(?<![a-z0-9])(?:{text})(?![a-z0-9])"
    try:
        return re.compile(text)
    except re.error as exc:
        raise DataFileError(f"{where}: family {raw!r} is not a valid pattern: {exc}") from exc


# In Chinese chat a space between two Chinese characters separates clauses like a comma does
# ("冇發燒 心口好痛": no fever; chest hurts a lot). Spaces around English words in mixed text
# do not ("冇 chest pain").
_HAN = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
_HAN_SPACE_BREAK = rf"(?<={_HAN})\s+(?={_HAN})"


def _break_pattern(breaks: list[str], patterns: tuple[str, ...] = ()) -> re.Pattern[str]:
    """One pattern for every clause break; English words only match as whole words.
    ``patterns`` are regular expressions (Chinese folded): 係 ends a clause, but not in 唔係."""
    parts = [_HAN_SPACE_BREAK, *(_fold_non_ascii(p) for p in patterns)]
    for raw in breaks:
        b = _fold(raw)
        if b.isascii() and re.search(r"[a-z]", b):
            body = r"\s+".join(_ascii_word(w) for w in b.split())
            parts.append(rf"(?<![a-z']){body}(?![a-z])")
        elif b:
            parts.append(re.escape(b))
    return re.compile("|".join(parts))


@dataclass(frozen=True)
class _Acute:
    """The acute-sign cues of all files, by kind, and the phrases that hide them."""

    cues: dict[str, tuple[tuple[str, re.Pattern[str]], ...]]
    ignore: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class _Lexicons:
    terms: tuple[_Term, ...]  # longest pattern first
    negations: dict[str, _Negation]
    pseudo: tuple[re.Pattern[str], ...]  # look like negation cues but negate nothing
    ignore: tuple[re.Pattern[str], ...] = ()  # names that contain a term but are no condition
    # Positions in ``terms`` by the first one to three characters every match starts with: only
    # terms whose key occurs in the text are tried (a message names few of two thousand terms).
    by_key: dict[str, tuple[int, ...]] = field(default_factory=dict)
    families: tuple[_Term, ...] = ()  # tried after the terms, on text no term took
    not_breaks: tuple[re.Pattern[str], ...] = ()  # 其他: contains a break (他), breaks nothing
    acute: _Acute = field(default_factory=lambda: _Acute({}, ()))

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


def _strings(raw: dict, *keys: str) -> list[str]:
    """The list at ``raw[key][key]…`` as strings ([] when absent)."""
    node: object = raw
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return [str(item) for item in node or []] if isinstance(node, list) else []


@lru_cache(maxsize=1)
def _load() -> _Lexicons:
    terms: dict[tuple[str, str], _Term] = {}
    raw_files: dict[str, dict] = {}
    all_breaks: list[str] = []
    set_aside_break_words: list[str] = []
    break_patterns: list[str] = []
    pseudo: list[re.Pattern[str]] = []
    ignore: list[re.Pattern[str]] = []
    not_breaks: list[re.Pattern[str]] = []
    macros: dict[str, str] = {}
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
        ignore.extend(_term_pattern(t) for t in _strings(raw, "ignore"))
        all_breaks.extend(_strings(raw, "negation", "breaks"))
        set_aside_break_words.extend(_strings(raw, "negation", "set_aside_breaks"))
        break_patterns.extend(_strings(raw, "negation", "break_patterns"))
        pseudo.extend(_cue_pattern(c) for c in _strings(raw, "negation", "pseudo"))
        not_breaks.extend(_cue_pattern(w) for w in _strings(raw, "negation", "not_breaks"))
        macros.update({str(k): str(v) for k, v in (raw.get("macros") or {}).items()})
    families: list[_Term] = []
    acute: dict[str, list[tuple[str, re.Pattern[str]]]] = {kind: [] for kind in ACUTE_KINDS}
    acute_ignore: list[re.Pattern[str]] = []
    for lang, raw in raw_files.items():
        where = f"data/screening/{lang}.yml"
        for section, patterns in (raw.get("families") or {}).items():
            if section not in SECTIONS:
                raise DataFileError(f"{where}: families: unknown section {section!r}")
            families.extend(
                _Term(str(p), section, _family_pattern(str(p), macros, where), family=True)
                for p in patterns or []
            )
        for kind in ACUTE_KINDS:
            acute[kind].extend((c, _sign_pattern(c)) for c in _strings(raw, "acute", kind))
        acute_ignore.extend(_term_pattern(p) for p in _strings(raw, "acute", "ignore"))
    breaks = _break_pattern(all_breaks, tuple(break_patterns))
    set_aside_breaks = _break_pattern(set_aside_break_words) if set_aside_break_words else None
    negations: dict[str, _Negation] = {}
    for lang, raw in raw_files.items():
        neg = raw["negation"]

        def cues(*keys: str, _raw: dict = raw) -> tuple[re.Pattern[str], ...]:
            return tuple(_cue_pattern(c) for c in _strings(_raw, *keys))

        negations[lang] = _Negation(
            before=cues("negation", "before"),
            after=cues("negation", "after"),
            breaks=breaks,
            window=int(neg.get("window", 20)),
            history_before=cues("history", "before"),
            history_after=cues("history", "after"),
            set_aside=cues("negation", "set_aside"),
            set_aside_breaks=set_aside_breaks,
            unless_after=cues("negation", "unless_after"),
        )
    # Longest terms first, so "kidney failure" wins over "failure" and 腎衰竭 over 衰竭.
    ordered = sorted(terms.values(), key=lambda t: -len(t.pattern.pattern))
    by_key: dict[str, list[int]] = {}
    for index, term in enumerate(ordered):
        by_key.setdefault(_key(term), []).append(index)
    return _Lexicons(
        tuple(ordered),
        negations,
        tuple(pseudo),
        tuple(ignore),
        {key: tuple(indices) for key, indices in by_key.items()},
        tuple(families),
        tuple(not_breaks),
        _Acute({k: tuple(v) for k, v in acute.items()}, tuple(acute_ignore)),
    )


def _lexicons() -> tuple[tuple[_Term, ...], dict[str, _Negation]]:
    """(terms longest first, negation rules by language)."""
    loaded = _load()
    return loaded.terms, loaded.negations


def _lexicon_language(lang: str | None) -> str:
    return {"en": "en", "yue": "yue"}.get(lang or "", "zh")


def _scopes(broken: str, masked: str, start: int, end: int, rule: _Negation) -> tuple[str, str]:
    """The clause text a cue may sit in, left and right of the term, cut at the nearest breaks.

    Breaks are found in ``broken`` (the text with ``not_breaks`` words blanked), cues in
    ``masked`` (pseudo-cues and terms blanked).
    """
    low = max(0, start - rule.window)
    # One character more than the scope, so a break's lookahead can see the term itself.
    left = rule.breaks.finditer(broken, low, start + 1)
    last_break = max((m.end() for m in left if m.end() <= start), default=low)
    high = min(len(broken), end + rule.window)
    first_break = min((m.start() for m in rule.breaks.finditer(broken, end, high)), default=high)
    return masked[last_break:start], masked[end:first_break]


def _is_negated(text: _Texts, start: int, end: int, rules: list[_Negation], section: str) -> bool:
    for rule in rules:
        scope, tail = _scopes(text.broken, text.masked, start, end, rule)
        if any(cue.search(scope) for cue in rule.before) and not any(
            phrase.search(tail) for phrase in rule.unless_after
        ):
            return True
        if any(cue.match(tail.lstrip(" :：,，-")) for cue in rule.after):
            return True
        if section != "emergency" and rule.set_aside and _set_aside(text, start, rule):
            return True
    return False


def _set_aside(text: _Texts, start: int, rule: _Negation) -> bool:
    """A set-aside cue in the clause before the term, looked for with only terms blanked (its
    cues "not just", 不像 are pseudo-negations) and cut only at ``set_aside_breaks``."""
    low = max(0, start - rule.window)
    cut = low
    if rule.set_aside_breaks is not None:
        found = rule.set_aside_breaks.finditer(text.broken, low, start + 1)
        cut = max((m.end() for m in found if m.end() <= start), default=low)
    scope = text.terms_masked[cut:start]
    return any(cue.search(scope) for cue in rule.set_aside)


def _is_historical(text: _Texts, start: int, end: int, rules: list[_Negation]) -> bool:
    for rule in rules:
        scope, tail = _scopes(text.broken, text.masked, start, end, rule)
        if any(cue.search(scope) for cue in rule.history_before):
            return True
        if any(cue.search(tail) for cue in rule.history_after):
            return True
    return False


@dataclass(frozen=True)
class _Texts:
    """One message's folded text, three ways: for cues, for set-aside cues, for breaks."""

    masked: str  # pseudo-cues and terms blanked
    terms_masked: str  # terms blanked
    broken: str  # ``not_breaks`` words blanked


def _mask(text: str, spans: list[tuple[int, int]], fill: str = " ") -> str:
    """Blank the given spans (same length), so no cue is found inside them."""
    chars = list(text)
    for s, e in spans:
        chars[s:e] = fill * (e - s)
    return "".join(chars)


def _texts(folded: str, taken: list[tuple[int, int]]) -> _Texts:
    """Cues are looked for with pseudo-cues and every matched term blanked out; breaks with the
    words that only look like one (其他) blanked."""
    lexicons = _load()
    pseudo_spans = [m.span() for p in lexicons.pseudo for m in p.finditer(folded)]
    return _Texts(
        masked=_mask(folded, pseudo_spans + taken),
        terms_masked=_mask(folded, taken),
        broken=_mask(folded, [m.span() for p in lexicons.not_breaks for m in p.finditer(folded)],
                     "#"),
    )


def _rules(lang: str | None) -> list[_Negation]:
    """Every file's negation rules, the language's own first."""
    negations = _load().negations
    primary = _lexicon_language(lang)
    return [negations[primary]] + [n for k, n in negations.items() if k != primary]


def find_terms(text: str, lang: str | None = None) -> list[Finding]:
    """Every lexicon term in ``text`` (no overlaps, longest first), with its negation."""
    lexicons = _load()
    folded = _fold(text)
    rules = _rules(lang)
    taken: list[tuple[int, int]] = []
    occupied = bytearray(len(folded))  # characters already inside a (longer) term or a name
    for name in lexicons.ignore:
        for match in name.finditer(folded):
            occupied[match.start() : match.end()] = b"\x01" * (match.end() - match.start())
    found: list[tuple[_Term, int, int]] = []
    # Every match of every candidate term and family; then the longest wins where two overlap
    # (a listed term before a family, a longer pattern first, on equal length), so "coughing up
    # clots of blood" is one emergency, not a cough.
    matches: list[tuple[int, int, int, _Term]] = []
    terms = [t for t in lexicons.candidates(folded) if all(n in folded for n in t.needles)]
    for rank, term in enumerate([*terms, *lexicons.families]):
        spans = (m.span() for m in term.pattern.finditer(folded))
        matches.extend((start, end, rank, term) for start, end in spans if end > start)
    for start, end, _, term in sorted(matches, key=lambda m: (m[0] - m[1], m[2], m[0])):
        if not any(occupied[start:end]):
            occupied[start:end] = b"\x01" * (end - start)
            taken.append((start, end))
            found.append((term, start, end))
    if not found:
        return []
    texts = _texts(folded, taken)
    findings = []
    for term, start, end in found:
        negated = _is_negated(texts, start, end, rules, term.section)
        historical = term.section in HISTORY_SECTIONS and _is_historical(texts, start, end, rules)
        name = text[start:end].strip() if term.family else term.text
        findings.append(Finding(name, term.section, start, end, negated, historical))
    return sorted(findings, key=lambda f: f.start)


def acute_signs(text: str, findings: tuple[Finding, ...] | list[Finding] = ()) -> tuple[str, ...]:
    """The acute-danger cues in ``text`` that qualify (none when they do not).

    Cues inside a non-emergency term ("chest cold", "blood test"), a past emergency or an
    ``ignore`` phrase do not count; cues inside a negated emergency term do ("she hasn't lost
    consciousness" still asks) — the second net errs towards asking. A danger cue qualifies
    alone; a distress cue, or an accident that is not in the past (a fall, a crash, a burn, a
    cut), with a person or a time.
    """
    return _acute(text, findings, None)[0]


def _acute(
    text: str, findings: tuple[Finding, ...] | list[Finding], lang: str | None
) -> tuple[tuple[str, ...], bool]:
    """(the qualifying acute signs, whether a danger cue that is not negated — itself or inside a
    negated term — comes with a time cue): the second net's two questions, in one pass."""
    lexicons = _load()
    acute = lexicons.acute
    folded = _fold(text)
    spans = [(f.start, f.end) for f in findings if f.section != "emergency" or f.historical]
    spans += [m.span() for p in (*acute.ignore, *lexicons.ignore) for m in p.finditer(folded)]
    visible = _mask(folded, spans)
    found: dict[str, list[str]] = {}
    for kind, cues in acute.cues.items():
        hits = [cue for cue, pattern in cues if pattern.search(visible)]
        if hits:
            found[kind] = hits
    danger, organ = found.get("danger", []), found.get("organ", [])
    # An accident that just happened is a sign too, with a person or a time ("grandma fell just
    # now", 啱啱撞車); a past one ("tripped last year") is not.
    injuries = [f.term for f in findings
                if f.section == "accident" and not f.negated and not f.historical]
    distress = [*found.get("distress", []), *injuries]
    context = found.get("person", []) + found.get("now", [])
    danger_now = False
    if danger and found.get("now"):
        clean = _mask(visible, [(f.start, f.end) for f in findings if f.negated])
        texts = _texts(folded, [(f.start, f.end) for f in findings])
        rules = _rules(lang)
        danger_now = any(
            not _is_negated(texts, *m.span(), rules, "emergency")
            for cue, pattern in acute.cues["danger"] if cue in danger
            for m in pattern.finditer(clean)
        )
    if danger or organ:
        return tuple(dict.fromkeys(danger + organ + distress + context)), danger_now
    if distress and context:
        return tuple(dict.fromkeys(distress + context)), False
    return (), False


def screen(text: str, lang: str | None = None) -> Screening:
    """Classify a described condition; see the module docstring for the priority."""
    language = lang or detect(text or "").language
    findings = tuple(find_terms(text or "", language))
    present = {f.effective_section for f in findings if not f.negated}
    signs, danger_now = _acute(text or "", findings, language)

    def result(category: str, complication: bool = False) -> Screening:
        return Screening(category, language, findings, complication, signs, danger_now)

    if "emergency" in present:
        return result("emergency")
    # An accident long past beside a condition needing a decision is history: "she fell last year,
    # now she needs a hip replacement" is the replacement. Alone, it is still an accident.
    past_accident = all(f.historical for f in findings if f.section == "accident" and not f.negated)
    if "accident" in present and not (past_accident and present & {"serious", "complication"}):
        return result("accident")
    if "chronic_disease" in present and present & {"complication", "serious"}:
        return result("eligible", complication=True)
    if "chronic_disease" in present:  # routine care of a chronic disease, nothing more
        return result("chronic_management")
    if "common_illness" in present:
        return result("common_illness")
    if "serious" in present or "complication" in present:
        return result("eligible")
    if "symptom" in present:  # an everyday complaint, and nothing serious behind it
        return result("common_illness")
    return result("unclear")
