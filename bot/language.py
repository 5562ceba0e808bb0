"""Decide which language a customer writes in, and fold text into one form for the model.

Four labels: ``en``, ``yue`` (written Cantonese), ``zh-Hant`` and ``zh-Hans`` (Standard Chinese in
Traditional or Simplified script). Replies use three variants: English, Traditional (``yue`` and
``zh-Hant``, Hong Kong tone) and Simplified (``zh-Hans``).

Detection only reads the text (:func:`detect`); the choice of reply language also needs the
conversation so far (:func:`decide`), because it is sticky: "ok" or "👍" must not flip a Cantonese
conversation into English. Signals (Cantonese markers, loanwords, request words) are data, in
``data/lexicon/language.yml``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from bot.paths import DATA_DIR
from bot.yamlfile import load_yaml

LANGUAGES = ("en", "yue", "zh-Hant", "zh-Hans")
CHINESE = frozenset({"yue", "zh-Hant", "zh-Hans"})
DEFAULT_CHINESE = "zh-Hant"  # a Hong Kong insurer: script-neutral Chinese gets Traditional replies

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_LATIN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


class Strength(str, Enum):
    """How sure a detection is: strong ones switch the reply language, weak ones only fill a gap."""

    STRONG = "strong"
    WEAK = "weak"
    NONE = "none"


@dataclass(frozen=True)
class Detection:
    """What one message says about its language."""

    language: str | None
    strength: Strength
    requested: str | None = None  # an explicit reply-language request found in the text
    bare_request: bool = False  # the message is little more than the language name ("English pls")
    # A full sentence (enough words, with the little words sentences have): it may switch the
    # language even while a form waits for an answer, where a short answer never does.
    sentence: bool = False

    def as_dict(self) -> dict[str, object]:
        """Plain form, stored in the parse data so actions can read it."""
        return {
            "language": self.language,
            "strength": self.strength.value,
            "requested": self.requested,
            "bare_request": self.bare_request,
            "sentence": self.sentence,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object] | None) -> Detection:
        """Inverse of :meth:`as_dict`; tolerant of missing or foreign data."""
        data = data or {}
        try:
            strength = Strength(str(data.get("strength", "none")))
        except ValueError:
            strength = Strength.NONE
        language = data.get("language")
        requested = data.get("requested")
        return cls(
            language=language if language in LANGUAGES else None,
            strength=strength,
            requested=requested if requested in (*LANGUAGES, "chinese") else None,
            bare_request=bool(data.get("bare_request", False)),
            sentence=bool(data.get("sentence", False)),
        )


@dataclass(frozen=True)
class _Lexicon:
    marker_chars: frozenset[str]
    marker_words: tuple[str, ...]
    loanwords: frozenset[str]
    english_switch_min_words: int
    english_long_message_words: int
    bare_request_extra_chars: int
    bare_request_extra_han: int
    requests: tuple[tuple[str, str], ...]  # (normalised phrase, target), longest phrase first
    sentence_min_words: int
    sentence_words: frozenset[str]
    sentence_min_han: int
    sentence_chars: frozenset[str]


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    raw = load_yaml(DATA_DIR / "lexicon" / "language.yml")
    markers = raw["cantonese_markers"]
    requests = [
        (fold_width_and_case(phrase), target)
        for target, phrases in raw["requests"].items()
        for phrase in phrases
    ]
    requests.sort(key=lambda item: -len(item[0]))
    return _Lexicon(
        marker_chars=frozenset(markers["chars"]),
        marker_words=tuple(markers["words"]),
        loanwords=frozenset(str(raw["loanwords"]).lower().split()),
        english_switch_min_words=int(raw["english_switch_min_words"]),
        english_long_message_words=int(raw["english_long_message_words"]),
        bare_request_extra_chars=int(raw["bare_request_extra_chars"]),
        bare_request_extra_han=int(raw["bare_request_extra_han"]),
        requests=tuple(requests),
        sentence_min_words=int(raw["sentence"]["min_words"]),
        sentence_words=frozenset(str(raw["sentence"]["words"]).lower().split()),
        sentence_min_han=int(raw["sentence"]["min_han"]),
        sentence_chars=frozenset(str(raw["sentence"]["chars"])) - frozenset(" \n"),
    )


@lru_cache(maxsize=4)
def _opencc(config: str):  # noqa: ANN202 - opencc ships no type hints
    import opencc

    return opencc.OpenCC(config)


def _convert_same_length(text: str, config: str) -> str:
    """Convert script, keeping every character at its index (token offsets depend on it).

    OpenCC converts phrases, which can in rare cases change the length; then fall back to converting
    character by character, which always keeps it.
    """
    converted = _opencc(config).convert(text)
    if len(converted) == len(text):
        return converted
    converter = _opencc(config)
    return "".join(out if len(out := converter.convert(ch)) == 1 else ch for ch in text)


def fold_width_and_case(text: str) -> str:
    """Full-width ASCII to half-width, ideographic space to space, lower case; same length."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:
            ch = chr(code - 0xFEE0)
        elif code == 0x3000:
            ch = " "
        lowered = ch.lower()
        out.append(lowered if len(lowered) == 1 else ch)
    return "".join(out)


def normalise(text: str) -> str:
    """The one form the model sees: half-width, lower case, Simplified script, same length as input.

    Folding Traditional into Simplified lets one set of Chinese examples serve both scripts; jieba's
    dictionary is Simplified, so that direction also segments best.
    """
    return _convert_same_length(fold_width_and_case(text), "hk2s")


def to_traditional(text: str) -> str:
    """Simplified → Hong Kong Traditional (used for data files written in one script)."""
    return _opencc("s2hk").convert(text)


def to_simplified(text: str) -> str:
    """Traditional → Simplified."""
    return _opencc("hk2s").convert(text)


def _script_counts(text: str) -> tuple[int, int]:
    """(Traditional-only characters, Simplified-only characters) in ``text``.

    A Cantonese marker is never Simplified-only: Hong Kong writes 晒 ("all", 啱晒), although
    OpenCC's Traditional for it is 曬.
    """
    han = "".join(_HAN.findall(text))
    if not han:
        return 0, 0
    as_simplified = _convert_same_length(han, "hk2s")
    as_traditional = _convert_same_length(han, "s2hk")
    markers = _lexicon().marker_chars
    traditional = sum(1 for a, b in zip(han, as_simplified, strict=True) if a != b)
    simplified = sum(1 for a, b in zip(han, as_traditional, strict=True)
                     if a != b and a not in markers)
    return traditional, simplified


def _has_cantonese_markers(text: str) -> bool:
    lex = _lexicon()
    traditional = _convert_same_length(text, "s2hk")  # markers are listed in Traditional script
    if any(ch in lex.marker_chars for ch in traditional):
        return True
    return any(word in traditional for word in lex.marker_words)


def _find_request(folded: str) -> tuple[str, str] | None:
    """(target, phrase) of the first reply-language name found, longest names first."""
    for phrase, target in _lexicon().requests:
        if phrase.isascii():
            if re.search(rf"\b{re.escape(phrase)}\b", folded):
                return target, phrase
        elif phrase in folded:
            return target, phrase
        elif (simplified := to_simplified(phrase)) in folded:
            return target, simplified
    return None


def detect(text: str) -> Detection:
    """Detect the language of one message from its text alone."""
    lex = _lexicon()
    folded = fold_width_and_case(unicodedata.normalize("NFC", text or ""))
    found = _find_request(folded)
    requested = found[0] if found else None
    compact = re.sub(r"[\s\W_]+", "", folded)
    bare = False
    if found is not None:
        extra = compact.replace(normalise(found[1]).replace(" ", ""), "", 1)
        han_extra = len(_HAN.findall(extra))
        bare = han_extra <= lex.bare_request_extra_han and len(extra) - han_extra <= (
            lex.bare_request_extra_chars
        )
    han_count = len(_HAN.findall(folded))
    words = _LATIN_WORD.findall(folded)
    sentence = False

    if han_count >= 2 or (han_count == 1 and not words):
        traditional, simplified = _script_counts(folded)
        if simplified > traditional:
            language, strength = "zh-Hans", Strength.STRONG
        elif _has_cantonese_markers(folded):
            language, strength = "yue", Strength.STRONG
        elif traditional > 0:
            language, strength = "zh-Hant", Strength.STRONG
        else:  # script-neutral Chinese such as 你好 / 好的
            language, strength = DEFAULT_CHINESE, Strength.WEAK
        traditional_text = _convert_same_length(folded, "s2hk")
        sentence = han_count >= lex.sentence_min_han and any(
            ch in lex.sentence_chars for ch in traditional_text
        )
    elif words:
        meaningful = [w for w in words if w not in lex.loanwords]
        clear = (
            len(meaningful) >= lex.english_switch_min_words
            or len(words) >= lex.english_long_message_words
        )
        language, strength = "en", Strength.STRONG if clear else Strength.WEAK
        sentence = len(words) >= lex.sentence_min_words and any(
            w in lex.sentence_words for w in words
        )
    else:  # emoji, digits, punctuation: says nothing about language
        language, strength = None, Strength.NONE
    return Detection(language, strength, requested, bare, sentence)


def _resolve_request(requested: str, detection: Detection, previous: str | None) -> str:
    """Turn a request target into a label; "Chinese" keeps the script the customer uses."""
    if requested != "chinese":
        return requested
    if detection.language in CHINESE and detection.strength is Strength.STRONG:
        return detection.language
    if previous in CHINESE:
        return previous
    return DEFAULT_CHINESE


def decide(
    previous: str | None, detection: Detection, intent: str | None = None, *,
    answering: bool = False,
) -> str:
    """The reply language after this message.

    An explicit request wins when the classifier agrees it is one (or the message is only the
    language name); a strong detection switches; a weak one keeps the current family (a Chinese
    conversation stays Chinese through "ok thx"), and only sets the language when none is known.
    While the customer is ``answering`` a form's question, only an explicit request or a full
    sentence switches: a diagnosis typed in English ("colon cancer stage 2"), a date, a number or
    "Cantonese" as the preferred call language says nothing about the language of the chat;
    "請用返中文覆我" or "Sorry, can you tell me what this costs first?" still does.
    """
    if answering and previous:
        # A bare language name is an answer ("Cantonese" for the call), not a request.
        if detection.requested and intent == "switch_language" and not detection.bare_request:
            return _resolve_request(detection.requested, detection, previous)
        if detection.sentence and detection.strength is Strength.STRONG and detection.language:
            return detection.language
        return previous
    if detection.requested and (intent == "switch_language" or detection.bare_request):
        return _resolve_request(detection.requested, detection, previous)
    if detection.language is None:
        return previous or DEFAULT_CHINESE
    if detection.strength is Strength.STRONG or previous is None:
        return detection.language
    previous_is_chinese = previous in CHINESE
    if (detection.language in CHINESE) == previous_is_chinese:
        return previous
    # Weak signal across families: Chinese characters still clearly mean Chinese; a lone "ok" does
    # not clearly mean English.
    return detection.language if detection.language in CHINESE else previous


def reply_script(language: str | None) -> str:
    """The response variant a language gets: ``en``, ``zh-Hant`` or ``zh-Hans``."""
    if language == "en":
        return "en"
    if language == "zh-Hans":
        return "zh-Hans"
    return "zh-Hant"
