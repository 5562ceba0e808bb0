"""Responses: three variants each, the right script, and facts that match the data files."""

from __future__ import annotations

import re
from pathlib import Path

import opencc
import pytest
import yaml
from domain_texts import responses, text_of, variant_script

from bot.plans import catalogue, eligible_codes

ROOT = Path(__file__).resolve().parent.parent
FACTS = yaml.safe_load((ROOT / "data" / "facts.yml").read_text(encoding="utf-8"))
SINGLE_VARIANT = {"utter_welcome_subscribe"}  # trilingual on purpose: sent before any language
MAX_BUBBLE = {"en": 450, "zh-Hant": 350, "zh-Hans": 350}
HK_STANDARD = set("台")  # Hong Kong's standard form, though s2t maps it to 臺
QUOTES = str.maketrans("", "", '“”「」"')
t2s = opencc.OpenCC("t2s")
s2t = opencc.OpenCC("s2t")
ALL = sorted(responses())
MULTI = [name for name in ALL if name not in SINGLE_VARIANT]


@pytest.mark.parametrize("name", MULTI)
def test_three_variants_one_per_script(name: str) -> None:
    scripts = [variant_script(v) for v in responses()[name]]
    assert sorted(scripts) == ["en", "zh-Hans", "zh-Hant"]


@pytest.mark.parametrize("name", MULTI)
def test_variants_are_in_their_script(name: str) -> None:
    hans = text_of(name, "zh-Hans")
    hant = text_of(name, "zh-Hant")
    assert t2s.convert(hans) == hans, "Traditional characters in the Simplified variant"
    simplified_only = [
        a for a, b in zip(hant, s2t.convert(hant), strict=True) if a != b and a not in HK_STANDARD
    ]
    assert not simplified_only, (
        f"Simplified characters in the Traditional variant: {simplified_only}"
    )
    assert not re.search(
        r"[\u4e00-\u9fff]", re.sub(r"[（(][^)）]*[)）]|•.*", "", text_of(name, "en"))
    ), "Chinese outside a plan or provider name in the English variant"


@pytest.mark.parametrize("name", ALL)
def test_bubbles_are_messenger_sized(name: str) -> None:
    for variant in responses()[name]:
        limit = MAX_BUBBLE[variant_script(variant)]
        assert len(variant["text"]) <= limit
        assert variant["text"].count("\n") <= 6


@pytest.mark.parametrize("name", MULTI)
def test_buttons_match_across_variants(name: str) -> None:
    payloads = {tuple(b["payload"] for b in v.get("buttons", [])) for v in responses()[name]}
    assert len(payloads) == 1


def test_every_phone_number_is_a_known_fact() -> None:
    known = set(FACTS["hotlines"].values()) | set(FACTS["emergency"].values())
    phone = re.compile(r"\(\d{2,3}\) [\d ]{7,}\d|\b\d{4} \d{4}\b|\b(?:999|120)\b")
    for name in ALL:
        for variant in responses()[name]:
            for number in phone.findall(variant["text"]):
                assert number.strip() in known, f"{name}: {number} not in data/facts.yml"


@pytest.mark.parametrize("language", ["en", "yue", "zh-Hans"])
def test_hotlines_and_emergency_numbers(language: str) -> None:
    start = text_of("utter_how_to_start", language)
    assert FACTS["hotlines"]["smo_hong_kong"] in start
    assert FACTS["hotlines"]["smo_mainland"] in start
    for name in ("utter_emergency", "utter_emergency_check"):
        emergency = text_of(name, language)
        assert FACTS["emergency"]["hong_kong"] in emergency
        assert FACTS["emergency"]["mainland"] in emergency
    assert FACTS["hotlines"]["customer_service"] in text_of("utter_out_of_scope", language)


def refusal_responses() -> list[str]:
    """Every response that turns a customer away: one per eligibility reason that is not
    ``eligible`` (actions/verification.py), per exclusion category (actions/condition.py), and
    the verification failure and lock (the uniform failure, the pause)."""
    from bot.eligibility import REASONS
    from bot.screening import CATEGORIES

    not_eligible = [f"utter_not_eligible_{r}" for r in REASONS if r != "eligible"]
    excluded = [f"utter_excluded_{c}" for c in CATEGORIES
                if c not in ("emergency", "eligible", "unclear")]
    return [*not_eligible, *excluded, "utter_verification_failed", "utter_verification_locked"]


NURSE = {"en": "nurse", "zh-Hant": "護士", "zh-Hans": "护士"}


@pytest.mark.parametrize("language", ["en", "zh-Hant", "zh-Hans"])
@pytest.mark.parametrize("name", refusal_responses())
def test_every_refusal_gives_both_next_steps(name: str, language: str) -> None:
    """A refusal names the nurse chat here and the customer service hotline, whose number is
    the one in data/facts.yml (the offer with the nurse button follows; this is the why)."""
    text = text_of(name, language)
    assert NURSE[language] in text.lower(), f"{name} ({language}) offers no nurse"
    assert FACTS["hotlines"]["customer_service"] in text, f"{name} ({language}) gives no hotline"


@pytest.mark.parametrize("language", ["en", "zh-Hant", "zh-Hans"])
def test_customer_service_and_macau_answers(language: str) -> None:
    """Claims, premiums and policies go to customer service, not to the service hotlines; from
    Macau the service hotlines work, with long-distance or roaming charges possible."""
    hotlines = FACTS["hotlines"]
    claims = text_of("utter_customer_service", language)
    assert hotlines["customer_service"] in claims
    assert hotlines["smo_hong_kong"] not in claims and hotlines["smo_mainland"] not in claims
    macau = text_of("utter_macau", language)
    assert hotlines["smo_hong_kong"] in macau and hotlines["smo_mainland"] in macau
    assert any(word in macau for word in ("Macau", "澳門", "澳门"))
    assert any(word in macau for word in ("roaming", "漫遊", "漫游"))


@pytest.mark.parametrize("language", ["en", "zh-Hant", "zh-Hans"])
def test_eligible_plans_match_the_catalogue(language: str) -> None:
    text = text_of("utter_eligible_plans", language).translate(QUOTES)
    plans = catalogue()
    for code in eligible_codes():
        script = "zh-Hans" if language == "zh-Hans" else "zh-Hant"
        assert plans[code].names[script].translate(QUOTES) in text
        if language == "en":
            assert plans[code].names["en"].translate(QUOTES) in text
    for plan in plans.values():
        if not plan.eligible:
            assert plan.names["zh-Hant"] not in text


@pytest.mark.parametrize("language", ["en", "zh-Hant", "zh-Hans"])
def test_provider_figures(language: str) -> None:
    text = text_of("utter_provider", language)
    figures = FACTS["figures"]
    for key in ("case_doctors", "experts", "specialties", "countries"):
        assert figures[key] in text
    clients = figures["clients_en"] if language == "en" else figures["clients_zh"]
    assert (t2s.convert(clients) if language == "zh-Hans" else clients) in text


@pytest.mark.parametrize("language", ["en", "zh-Hant", "zh-Hans"])
def test_never_claims_free_service(language: str) -> None:
    for name in ALL:
        for variant in responses()[name]:
            assert not re.search(r"\bfree of charge\b|\bfor free\b|免費|免费", variant["text"]), (
                name
            )


@pytest.mark.parametrize("language", ["en", "zh-Hant", "zh-Hans"])
def test_report_never_replaces_the_attending_doctor(language: str) -> None:
    terms = text_of("utter_terms", language)
    assert any(word in terms for word in ("not replace", "不能代替"))


def test_every_intent_has_a_rule() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    ruled = set()
    for file in (ROOT / "data" / "rules").glob("*.yml"):
        for rule in yaml.safe_load(file.read_text(encoding="utf-8"))["rules"]:
            ruled.update(step["intent"] for step in rule["steps"] if "intent" in step)
    # an intent is a name, or a one-key mapping when it sets which entities it featurizes
    names = {next(iter(i)) if isinstance(i, dict) else i for i in domain["intents"]}
    assert names <= ruled
