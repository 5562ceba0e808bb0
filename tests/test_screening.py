"""Screening (bot/screening.py + data/screening/*.yml) against how customers describe things.

The cases live in tests/screening_cases.yml; every case is its own test, so a failure names its
text. Emergency recall must be 1.0: every emergency description is caught, with or without a
language hint.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from bot.language import detect
from bot.paths import DATA_DIR
from bot.screening import (
    CATEGORIES,
    LEXICON_LANGUAGES,
    SECTIONS,
    Screening,
    find_terms,
    screen,
)
from bot.screening import _fold as fold
from bot.yamlfile import load_yaml

CASES_FILE = Path(__file__).with_name("screening_cases.yml")
CASES: list[dict] = load_yaml(CASES_FILE)
LANGS = ("en", "yue", "zh")
# The language hint a caller would pass for a case's main language.
HINTS = {"en": "en", "yue": "yue"}


def _hint(case: dict) -> str:
    if case["lang"] in HINTS:
        return HINTS[case["lang"]]
    detected = detect(case["text"]).language
    return detected if detected in ("zh-Hans", "zh-Hant") else "zh-Hant"


def _case_id(case: dict) -> str:
    index = CASES.index(case)
    tag = f"{case['lang']}{'-mixed' if case.get('mixed') else ''}"
    return f"{index:03d}-{tag}-{case['category']}"


def _lexicon(lang: str) -> dict:
    return load_yaml(DATA_DIR / "screening" / f"{lang}.yml")


# ---------------------------------------------------------------------------- the case file itself


def test_cases_file_is_well_formed() -> None:
    assert isinstance(CASES, list)
    for case in CASES:
        assert set(case) <= {"text", "category", "lang", "mixed"}, case
        assert isinstance(case["text"], str) and case["text"].strip(), case
        assert case["category"] in CATEGORIES, case
        assert case["lang"] in LANGS, case
    texts = [c["text"] for c in CASES]
    assert len(texts) == len(set(texts)), "duplicate case texts"


def test_cases_cover_every_language_and_category() -> None:
    assert len(CASES) >= 200
    single = [c for c in CASES if not c.get("mixed")]
    per_lang = Counter(c["lang"] for c in single)
    for lang in LANGS:
        assert per_lang[lang] >= 60, per_lang
    assert sum(1 for c in CASES if c.get("mixed")) >= 20
    pairs = {(c["lang"], c["category"]) for c in single}
    missing = [(lang, cat) for lang in LANGS for cat in CATEGORIES if (lang, cat) not in pairs]
    assert not missing, missing
    mixed_categories = {c["category"] for c in CASES if c.get("mixed")}
    assert mixed_categories == set(CATEGORIES)
    # Standard Chinese: about half Simplified, half Traditional.
    scripts = Counter(detect(c["text"]).language for c in single if c["lang"] == "zh")
    assert scripts["zh-Hans"] >= 30 and scripts["zh-Hant"] >= 30, scripts


# ---------------------------------------------------------------------------- every case


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_case_without_language_hint(case: dict) -> None:
    result = screen(case["text"])
    assert result.category == case["category"], (
        f"{case['text']!r}: got {result.category}, matched={result.matched}, "
        f"negated={result.negated}"
    )


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_case_with_language_hint(case: dict) -> None:
    result = screen(case["text"], _hint(case))
    assert result.category == case["category"], (
        f"{case['text']!r} (hint {_hint(case)}): got {result.category}, "
        f"matched={result.matched}, negated={result.negated}"
    )


def test_emergency_recall_is_total() -> None:
    """No emergency description may slip through, whatever the hint."""
    emergencies = [c for c in CASES if c["category"] == "emergency"]
    assert len(emergencies) >= 60
    missed = [
        c["text"]
        for c in emergencies
        if screen(c["text"]).category != "emergency"
        or screen(c["text"], _hint(c)).category != "emergency"
    ]
    assert not missed, f"emergency recall {1 - len(missed) / len(emergencies):.3f}: {missed}"


def test_accuracy_per_language(capsys: pytest.CaptureFixture[str]) -> None:
    totals: dict[str, int] = defaultdict(int)
    right: dict[str, int] = defaultdict(int)
    confusion: Counter[tuple[str, str]] = Counter()
    for case in CASES:
        key = "mixed" if case.get("mixed") else case["lang"]
        got = screen(case["text"]).category
        totals[key] += 1
        right[key] += got == case["category"]
        if got != case["category"]:
            confusion[(case["category"], got)] += 1
    with capsys.disabled():
        print()
        for key in (*LANGS, "mixed"):
            print(
                f"screening accuracy {key:>5}: {right[key]}/{totals[key]} "
                f"= {right[key] / totals[key]:.3f}"
            )
        for (expected, got), n in confusion.most_common():
            print(f"  expected {expected} got {got}: {n}")
    assert all(right[k] == totals[k] for k in totals), dict(confusion)


# ---------------------------------------------------------------------------- the lexicons


def test_every_lexicon_has_all_sections_and_negation() -> None:
    for lang in LEXICON_LANGUAGES:
        raw = _lexicon(lang)
        for section in SECTIONS:
            assert raw.get(section), f"{lang}.yml: section {section} is empty"
        negation = raw["negation"]
        assert negation["before"] and negation["breaks"], lang
        assert isinstance(negation.get("after", []), list), lang
        assert 2 <= int(negation["window"]) <= 60, lang


def test_lexicons_are_generous() -> None:
    total = sum(len(_lexicon(lang).get(s) or []) for lang in LEXICON_LANGUAGES for s in SECTIONS)
    assert total >= 600, total
    for lang in LEXICON_LANGUAGES:
        assert len(_lexicon(lang)["emergency"]) >= 60, lang


def test_every_term_is_listed_once() -> None:
    """One spelling per term (scripts are folded), in one file and one section."""
    seen: dict[str, str] = {}
    for lang in LEXICON_LANGUAGES:
        for section in SECTIONS:
            for term in _lexicon(lang).get(section) or []:
                key = fold(str(term)).strip()
                where = f"{lang}.yml:{section}"
                assert key not in seen, (
                    f"{term!r} is in {seen[key]} and {where} (same after folding)"
                )
                seen[key] = where


GENERIC_ENGLISH = {
    "pain",
    "sick",
    "ill",
    "stroke",
    "fall",
    "fell",
    "burn",
    "cut",
    "bleed",
    "blood",
    "fit",
    "attack",
    "heart",
    "cancer?",
    "hurt",
    "injury?",
}


def test_no_term_fires_on_harmless_text() -> None:
    """No single Chinese character, no bare generic English word."""
    for lang in LEXICON_LANGUAGES:
        for section in SECTIONS:
            for term in _lexicon(lang).get(section) or []:
                folded = fold(str(term)).strip()
                if folded.isascii():
                    assert folded not in GENERIC_ENGLISH, f"{lang}.yml:{section}: {term!r}"
                    assert len(folded) >= 3, f"{lang}.yml:{section}: {term!r}"
                else:
                    chars = [ch for ch in folded if not ch.isspace()]
                    assert len(chars) >= 2, f"{lang}.yml:{section}: {term!r}"
    harmless = [
        "Hi, I'd like to know more about the service",
        "Thank you so much, have a nice day",
        "今日天氣好好，我哋去飲茶",
        "请问你们的服务时间是几点到几点",
        "請問這個計劃的保費是多少",
        "ok thx 👍",
        "我想問下點樣申請第二醫療意見",
        "I stroked the cat and went for a walk",
    ]
    for text in harmless:
        assert screen(text).category == "unclear", (text, screen(text).matched)


# Openers customers put in front of a red flag; none of them may hide it.
EMERGENCY_OPENERS = {
    "en": [
        "",
        "help ",
        "my dad ",
        "not sure why but ",
        "no idea what happened, he is ",
        "I don't know why, ",
        "she is ",
        "not sure if it is ",
        "no warning, just ",
    ],
    "yue": [
        "",
        "救命！",
        "阿爸",
        "冇啦啦",
        "無端端",
        "唔知點解",
        "唔知係咪",
        "佢突然",
        "冇耐之前",
        "係唔係",
        "有冇可能係",
    ],
    "zh": [
        "",
        "救命，",
        "我爸",
        "不知道为什么",
        "突然",
        "没多久就",
        "无缘无故",
        "不确定是不是",
        "他一直",
        "有没有可能是",
    ],
}


@pytest.mark.parametrize("lang", LEXICON_LANGUAGES)
def test_every_emergency_term_is_caught_after_common_openers(lang: str) -> None:
    missed = []
    for term in _lexicon(lang)["emergency"]:
        for opener in EMERGENCY_OPENERS[lang]:
            text = f"{opener}{term}"
            if screen(text).category != "emergency":
                missed.append(text)
    assert not missed, missed


# ---------------------------------------------------------------------------- negation


@pytest.mark.parametrize(
    ("text", "negated", "matched"),
    [
        ("no chest pain but lung cancer", "chest pain", "lung cancer"),
        ("my son doesn't have a fever but has a sore throat", "fever", "sore throat"),
        ("He denies chest pain, but has gastric cancer", "chest pain", "gastric cancer"),
        ("negative for covid, it's a liver tumour", "covid", "liver tumour"),
        ("chest pain: none. Doctor found colon cancer", "chest pain", "colon cancer"),
        ("without any fever, only a brain tumour", "fever", "brain tumour"),
        ("冇胸口痛，但係醫生話我有肺癌", "胸口痛", "肺癌"),
        ("冇發燒，不過喉嚨痛", "發燒", "喉嚨痛"),
        ("没有发烧，但是胃癌", "发烧", "胃癌"),
        ("否認胸痛，但確診食道癌", "胸痛", "食道癌"),
        ("無發燒，但有大腸癌", "發燒", "大腸癌"),
        ("唔係感冒，係淋巴癌", "感冒", "淋巴癌"),
        ("沒有併發症，只是高血壓", "併發症", "高血壓"),
        ("冇chest pain，但係有colon cancer", "chest pain", "colon cancer"),
        ("佢冇 chest pain，係 colon cancer", "chest pain", "colon cancer"),
        ("冇胸口痛 肺癌", "胸口痛", "肺癌"),
    ],
)
def test_negated_terms_are_reported(text: str, negated: str, matched: str) -> None:
    result = screen(text)
    negated_folded = {fold(t) for t in result.negated}
    matched_folded = {fold(t) for t in result.matched}
    assert any(fold(negated) in t or t in fold(negated) for t in negated_folded), result.as_dict()
    assert any(fold(matched) in t or t in fold(matched) for t in matched_folded), result.as_dict()
    assert not (negated_folded & matched_folded)


@pytest.mark.parametrize(
    "text",
    [
        "no fever, no cough",
        "冇發燒冇咳嗽",
        "没有发烧也没有胸闷",
        "she doesn't have any chest pain or shortness of breath",
        "佢冇心口痛，亦都冇透唔到氣",
    ],
)
def test_everything_negated_is_unclear(text: str) -> None:
    result = screen(text)
    assert result.category == "unclear", result.as_dict()
    assert result.negated and not result.matched


@pytest.mark.parametrize(
    "text",
    [
        "no idea why but he collapsed",
        "not sure if it's a heart attack",
        "no he isn't breathing",
        "唔知點解阿媽暈低咗",
        "冇啦啦心口好痛",
        "無端端暈低",
        "不知道为什么他一直抽搐",
        "我奶奶没多久就晕过去了",
        "佢冇反應，好似冇咗呼吸",
        "有冇可能係中風？塊面歪咗",
        "他一直不停抽搐",
        "no fever and now he can't breathe",
        "no fever 但係 chest pain 好犀利",
        "冇發燒 心口好痛",
        "沒有發燒 呼吸困難",
        "no 發燒 心口好痛",
    ],
)
def test_pseudo_negation_never_hides_an_emergency(text: str) -> None:
    result = screen(text)
    assert result.category == "emergency", result.as_dict()
    assert not [f for f in result.findings if f.section == "emergency" and f.negated]


def test_a_symptom_containing_a_negation_word_is_matched_not_negated() -> None:
    result = screen("佢冇反應")
    assert result.category == "emergency"
    assert result.matched and not result.negated
    result = screen("dad is not breathing")
    assert result.category == "emergency" and not result.negated


def test_typographic_apostrophes() -> None:
    assert screen("she can’t breathe").category == "emergency"
    assert screen("she cant breathe").category == "emergency"
    assert "fever" in " ".join(screen("he doesn’t have a fever, it's lung cancer").negated)


# ---------------------------------------------------------------------------- matched terms


def test_matched_lists_the_terms_found() -> None:
    result = screen("My father has diabetes and now has kidney failure")
    matched = {fold(t) for t in result.matched}
    assert "diabetes" in matched and "kidney failure" in matched
    assert result.negated == []
    sections = set(result.as_dict()["sections"])
    assert {"chronic_disease", "complication"} <= sections


def test_longest_term_wins() -> None:
    terms = [fold(f.term) for f in find_terms("糖尿病引致腎衰竭")]
    assert fold("腎衰竭") in terms
    assert not any(t == fold("衰竭") for t in terms)


def test_find_terms_gives_offsets_into_the_text() -> None:
    text = "阿爸有糖尿，而家要洗腎"
    for finding in find_terms(text):
        assert fold(text[finding.start : finding.end]).replace(" ", "") == fold(
            finding.term
        ).replace(" ", "")


# ---------------------------------------------------------------------------- chronic disease


@pytest.mark.parametrize(
    "text",
    [
        "diabetes now with kidney failure",
        "糖尿病引致腎衰竭",
        "阿爸有糖尿，而家要洗腎",
        "糖尿病导致肾衰竭，要透析",
        "hypertension for years, now heart failure",
        "乙肝變咗肝硬化",
        "糖尿上眼，醫生話要打激光",
        "阿媽有diabetes，而家要做dialysis",
    ],
)
def test_complication_of_chronic_disease_is_eligible_and_flagged(text: str) -> None:
    result = screen(text)
    assert result.category == "eligible", result.as_dict()
    assert result.complication_of_chronic is True
    assert result.eligible
    assert result.as_dict()["complication_of_chronic"] is True


@pytest.mark.parametrize(
    "text",
    [
        "I have diabetes and want to ask about my insulin dose",
        "血壓高，想轉藥",
        "慢性乙肝，定期复查",
        "冇併發症，淨係想睇下糖尿控制得好唔好",
    ],
)
def test_routine_chronic_care_is_not_flagged(text: str) -> None:
    result = screen(text)
    assert result.category == "chronic_management", result.as_dict()
    assert result.complication_of_chronic is False
    assert not result.eligible


def test_serious_condition_alone_is_eligible_without_the_flag() -> None:
    result = screen("Lung cancer stage 3, want a second opinion on chemo")
    assert result.category == "eligible" and result.complication_of_chronic is False


# ---------------------------------------------------------------------------- past vs acute


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("had a heart attack 2 years ago, doctor recommends bypass", "eligible"),
        ("I think I'm having a heart attack", "emergency"),
        ("my dad had a heart attack", "emergency"),
        ("had a stroke last year, now deciding on rehab surgery", "eligible"),
        ("my dad suddenly can't speak and his face is drooping", "emergency"),
        ("兩年前心臟病發，而家醫生建議搭橋", "eligible"),
        ("阿爸心臟病發", "emergency"),
        ("两年前心梗，医生建议搭桥", "eligible"),
        ("我觉得我心脏病发作了", "emergency"),
        ("had a heart attack 2 years ago, now chest pain again", "emergency"),
    ],
)
def test_past_events_are_not_emergencies(text: str, category: str) -> None:
    assert screen(text).category == category, screen(text).as_dict()


# ---------------------------------------------------------------------------- robustness


def _warm() -> None:
    screen("warm up")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "😀😀👍🙏",
        "...",
        "\n\n",
        "a" * 10_000,
        ("blah " * 2_000)[:10_000],
        ("我想問下點樣申請" * 1_250)[:10_000],
        "🙏" * 10_000,
    ],
    ids=[
        "empty",
        "spaces",
        "emoji",
        "dots",
        "newlines",
        "10k-a",
        "10k-words",
        "10k-chinese",
        "10k-emoji",
    ],
)
def test_empty_emoji_and_huge_text_are_unclear_and_quick(text: str) -> None:
    _warm()
    started = time.perf_counter()
    result = screen(text)
    elapsed = time.perf_counter() - started
    assert isinstance(result, Screening)
    assert result.category == "unclear"
    assert result.matched == [] and result.negated == []
    assert elapsed < 2.0, f"{elapsed:.2f} s"


def test_none_and_long_text_with_a_red_flag() -> None:
    assert screen(None).category == "unclear"  # type: ignore[arg-type]
    text = "blah " * 1_900 + " and now my dad is vomiting blood"
    _warm()
    started = time.perf_counter()
    assert screen(text).category == "emergency"
    assert time.perf_counter() - started < 2.0


def test_as_dict_shape() -> None:
    data = screen("no chest pain but lung cancer").as_dict()
    assert set(data) == {
        "category",
        "language",
        "matched",
        "negated",
        "complication_of_chronic",
        "sections",
        "acute_signs",
        "ask_if_now",
    }
    assert data["category"] == "eligible" and data["language"] == "en"


def test_past_emergency_is_reported_as_historical() -> None:
    findings = find_terms("had a heart attack 2 years ago, doctor recommends bypass")
    attack = next(f for f in findings if f.section == "emergency")
    assert attack.historical and not attack.negated
    assert attack.effective_section == "serious"
    result = screen("had a heart attack 2 years ago, doctor recommends bypass")
    assert "emergency" not in result.as_dict()["sections"]
    assert "heart attack" in result.matched


# ---------------------------------------------------------------------------- names, not conditions


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("癌症全護計劃有冇第二醫療意見", "unclear"),
        ("癌症全护计划能不能用第二医疗意见", "unclear"),
        ("is my Cancer Comprehensive Care Plan eligible", "unclear"),
        ("新冠疫苗去邊打", "unclear"),
        ("我有癌症全護計劃，阿媽確診肺癌", "eligible"),
        ("我没意识到他不舒服", "unclear"),
    ],
)
def test_names_that_contain_a_condition_word(text: str, category: str) -> None:
    assert screen(text).category == category, screen(text).as_dict()


# Colloquial and regional forms the lexicons must know, with the section each belongs to.
EXPECTED_FORMS = [
    ("心口痛", "emergency"),
    ("唞唔到氣", "emergency"),
    ("暈低", "emergency"),
    ("抽筋", "emergency"),
    ("胸闷", "emergency"),
    ("喘不上气", "emergency"),
    ("晕倒", "emergency"),
    ("can't breathe", "emergency"),
    ("cannot breathe", "emergency"),
    ("short of breath", "emergency"),
    ("passed out", "emergency"),
    ("collapsed", "emergency"),
    ("chest tightness", "emergency"),
    ("跌親", "accident"),
    ("撞車", "accident"),
    ("车祸", "accident"),
    ("傷風", "common_illness"),
    ("喉嚨痛", "common_illness"),
    ("出疹", "common_illness"),
    ("发烧", "common_illness"),
    ("拉肚子", "common_illness"),
    ("血壓高", "chronic_disease"),
    ("糖尿", "chronic_disease"),
    ("血糖高", "chronic_disease"),
    ("洗腎", "complication"),
    ("腎衰竭", "complication"),
    ("kidney failure", "complication"),
    ("lung cancer", "serious"),
    ("had a stroke last year", "serious"),
]


@pytest.mark.parametrize(("text", "section"), EXPECTED_FORMS)
def test_colloquial_and_regional_forms_are_known(text: str, section: str) -> None:
    findings = find_terms(text)
    assert findings, text
    assert {f.effective_section for f in findings} == {section}, [
        (f.term, f.section) for f in findings
    ]


# ------------------------------------------------------------------------ issue 16: generalising


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # negation in all three languages, "no other …" included
        ("My mum has breast cancer; she hasn't lost consciousness", "eligible"),
        ("he hasn't had a seizure since 2019, the question is his brain tumour", "eligible"),
        ("she has never fainted, the doctor found a lymphoma", "eligible"),
        ("he no longer has chest pain, they want to replace a heart valve", "eligible"),
        ("no other complications, just diabetes follow up", "chronic_management"),
        ("糖尿病，冇其他併發症，想覆診", "chronic_management"),
        ("高血压多年，没有其他并发症", "chronic_management"),
        ("血壓高，冇再有其他併發症", "chronic_management"),
        ("已经没有再出血了，想问子宫内膜癌的治疗方案", "eligible"),
        ("无发烧，是甲状腺癌要不要开刀", "eligible"),
        ("佢未有暈過，係腦膜瘤", "eligible"),
        # … but "never … like this" is now
        ("I've never had chest pain like this before", "emergency"),
        ("從來冇試過咁心口痛", "emergency"),
        # a common illness denied or set aside, then a serious one named
        ("唔係感冒，係肺癌", "eligible"),
        ("唔係感冒係肺癌", "eligible"),
        ("不是感冒是肺癌", "eligible"),
        ("以為係感冒，點知係血癌", "eligible"),
        ("本来以为是感冒，结果是肺癌", "eligible"),
        ("I thought it was just a cold but it turned out to be leukaemia", "eligible"),
        ("it's not just a cold, it's lung cancer", "eligible"),
        ("had the flu last month, now diagnosed with lymphoma", "eligible"),
        # colloquial Cantonese bleeding that won't stop, and rashes
        ("佢隻手流血流唔停", "emergency"),
        ("個傷口止唔住血", "emergency"),
        ("佢一直流血，點都止唔到", "emergency"),
        ("阿爸流鼻血流咗成個鐘都止唔到", "emergency"),
        ("手臂起咗好多紅點，好痕", "common_illness"),
        ("成身出疹，好痕", "common_illness"),
        ("皮膚起紅點", "common_illness"),
        # Cantonese typed with 左 / 既 / 野
        ("阿爸暈左", "emergency"),
        ("佢冇左呼吸", "emergency"),
    ],
)
def test_issue_16_phrasings(text: str, category: str) -> None:
    result = screen(text)
    assert result.category == category, result.as_dict()


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("triple-negative breast cancer", "breast cancer"),
        ("small cell lung carcinoma", "carcinoma"),
        ("my dad has a glioblastoma", "glioblastoma"),
        ("cholangiocarcinoma, is surgery worth it", "cholangiocarcinoma"),
        ("acute lymphoblastic leukemia", "leukemia"),
        ("a benign tumour on her ovary that needs removing", "tumour"),
        ("非小細胞肺癌", "肺癌"),
        ("三陰性乳癌", "乳癌"),
        ("膽管癌", "癌"),
        ("確診膠質母細胞瘤", "瘤"),
        ("卵巢有個良性瘤要切", "瘤"),
    ],
)
def test_disease_families_and_sub_types_are_eligible(text: str, found: str) -> None:
    result = screen(text)
    assert result.category == "eligible", result.as_dict()
    assert any(fold(found) in fold(term) for term in result.matched), result.matched


def test_a_family_finding_carries_the_text_it_matched() -> None:
    findings = find_terms("They found a Meningioma last week")
    assert [(f.term, f.section) for f in findings] == [("Meningioma", "serious")]


def test_names_that_only_look_like_a_family_are_not_conditions() -> None:
    for text in ("I have a diploma in nursing", "the aroma of the soup", "防癌檢查幾錢"):
        assert screen(text).category == "unclear", screen(text).as_dict()


def test_an_emergency_is_never_set_aside() -> None:
    for text in (
        "I thought it was indigestion but now he can't breathe",
        "以為係感冒，點知而家唞唔到氣",
        "not just a cold, she collapsed",
        "本来以为是胃痛，现在胸口剧痛",
    ):
        assert screen(text).category == "emergency", screen(text).as_dict()


def test_the_longest_match_wins_between_a_term_and_a_family() -> None:
    result = screen("my dad with lung cancer is coughing up big clots of blood")
    assert result.category == "emergency"
    assert not any(f.section == "common_illness" for f in result.findings)


# ---------------------------------------------------------------------------- the second net


@pytest.mark.parametrize(
    "text",
    [
        "she's got blood in her urine",
        "grandma is very pale and sweating, she's not herself",
        "she hasn't lost consciousness",
        "mum fell and hit her head on the table, she is bleeding",
        "阿爺而家面色好差，出晒冷汗",
        "BB而家好唔舒服",
        "佢個頭流緊血",
        "孩子现在脸色苍白，很不舒服",
        "my son has a fever and his breathing sounds funny",
    ],
)
def test_not_sure_with_signs_of_danger_asks_if_it_is_happening_now(text: str) -> None:
    result = screen(text)
    assert result.category != "emergency"
    assert result.ask_if_now, result.as_dict()
    assert result.as_dict()["ask_if_now"] is True and result.as_dict()["acute_signs"]


@pytest.mark.parametrize(
    "text",
    [
        "I want to apply now",
        "my policy number is CI10000001",
        "what's the number for the hotline?",
        "the insurance terms are confusing",
        "my son has a fever and a cough",
        "I have a blood test next week",
        "血壓高，想轉藥",
        "我有啲頭暈",
        "阿媽膝頭好痛",
        "my mum has breast cancer and the chest wall is involved",  # eligible: no net
        "Lung cancer stage 3, bleeding from the biopsy site has stopped",
        "I stroked the cat and went for a walk",
    ],
)
def test_ordinary_messages_do_not_trip_the_second_net(text: str) -> None:
    result = screen(text)
    assert not result.ask_if_now, result.as_dict()


def test_an_emergency_is_answered_not_asked_about() -> None:
    result = screen("my dad is not breathing")
    assert result.category == "emergency" and not result.ask_if_now


def test_distress_counts_only_with_a_person_or_a_time() -> None:
    assert not screen("very pale and sweating").ask_if_now
    assert screen("my baby is very pale and sweating").ask_if_now
    assert screen("very pale and sweating right now").ask_if_now


def test_every_lexicon_has_acute_cues_and_families_compile() -> None:
    for lang in LEXICON_LANGUAGES:
        acute = _lexicon(lang)["acute"]
        assert acute["danger"] and acute["person"] and acute["now"], lang
    raw = _lexicon("yue")
    assert raw["families"]["serious"] and raw["families"]["emergency"]
    assert _lexicon("en")["families"]["serious"]


def test_a_broken_family_names_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import bot.screening as screening
    from bot.yamlfile import DataFileError

    folder = tmp_path / "screening"
    shutil.copytree(DATA_DIR / "screening", folder)
    en = folder / "en.yml"
    en.write_text(
        en.read_text(encoding="utf-8").replace("families:\n", "families:\n  nonsense: ['x']\n", 1),
        encoding="utf-8",
    )
    monkeypatch.setattr(screening, "DATA_DIR", tmp_path)
    screening._load.cache_clear()
    try:
        with pytest.raises(DataFileError, match="en.yml.*nonsense"):
            screening.screen("anything")
    finally:
        monkeypatch.undo()
        screening._load.cache_clear()
    assert screening.screen("lung cancer").category == "eligible"


# ---------------------------------------------------------------------------- make eval's part


def _eval_set(folder: Path, rows: dict[str, list[dict]]) -> Path:
    import yaml

    folder.mkdir()
    for name, items in rows.items():
        (folder / f"{name}.yml").write_text(yaml.safe_dump(items, allow_unicode=True), "utf-8")
    return folder


def test_screening_eval_scores_splits_apart_and_lists_dev_misses_only(tmp_path: Path) -> None:
    from bot import screening_eval

    folder = _eval_set(tmp_path / "set", {
        "en": [
            {"text": "dad collapsed and is not breathing", "category": "emergency", "lang": "en",
             "split": "dev"},
            {"text": "she has a rash", "category": "eligible", "lang": "en", "split": "dev",
             "note": "wrong on purpose"},
            {"text": "my wife's lips look a bit grey and she's sweating right now",
             "category": "emergency", "lang": "en", "split": "heldout"},
            {"text": "lung cancer, second opinion on chemo", "category": "eligible", "lang": "en",
             "split": "heldout"},
        ],
    })
    cases = screening_eval.load_cases(folder)
    report = screening_eval.evaluate(cases)
    dev, heldout = report["splits"]["dev"], report["splits"]["heldout"]
    assert dev["overall"]["n"] == 2 and dev["overall"]["accuracy"] == 0.5
    assert [m["text"] for m in dev["misses"]] == ["she has a rash"]
    assert "misses" not in heldout  # held-out lines are figures, never texts
    assert heldout["overall"]["n"] == 2
    assert heldout["categories"]["emergency"]["n"] == 1
    table = screening_eval.format_report(report)
    assert "she has a rash" in table and "grey" not in table


def test_screening_eval_counts_the_second_net_as_recall_but_not_as_accuracy() -> None:
    from bot import screening_eval

    case = screening_eval.Case("x", "emergency", "en", "dev", "en")

    def netted(_: str) -> Screening:
        return Screening("unclear", "en", (), False, ("blood",))

    scores = screening_eval.evaluate([case], netted)["splits"]["dev"]["overall"]
    assert scores["recall"] == 1.0 and scores["strict_recall"] == 0.0 and scores["accuracy"] == 0.0


@pytest.mark.parametrize(
    "row",
    [
        {"text": "x", "category": "emergency", "lang": "en"},  # no split
        {"text": "x", "category": "urgent", "lang": "en", "split": "dev"},
        {"text": "x", "category": "emergency", "lang": "fr", "split": "dev"},
        {"text": "x", "category": "emergency", "lang": "en", "split": "test"},
        {"text": "x", "category": "emergency", "lang": "en", "split": "dev", "extra": 1},
    ],
)
def test_a_malformed_eval_set_is_refused_by_name(tmp_path: Path, row: dict) -> None:
    from bot import screening_eval
    from bot.yamlfile import DataFileError

    folder = _eval_set(tmp_path / "set", {"en": [row]})
    with pytest.raises(DataFileError, match="en.yml line 1"):
        screening_eval.load_cases(folder)


def test_make_eval_exit_code_only_for_a_malformed_screening_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import evaluate, screening_eval

    good = _eval_set(tmp_path / "good", {"en": [
        {"text": "she has a rash", "category": "eligible", "lang": "en", "split": "heldout"},
    ]})
    monkeypatch.setattr(screening_eval, "EVAL_DIR", good)
    monkeypatch.setattr(screening_eval, "RESULTS", tmp_path / "out.json")
    assert evaluate.main(["--screening-only"]) == 0  # a missed goal is reported, not failed
    assert (tmp_path / "out.json").exists()
    assert (tmp_path / "out.md").exists()  # the summary a reader sees
    bad = _eval_set(tmp_path / "bad", {"en": [{"text": "x"}]})
    monkeypatch.setattr(screening_eval, "EVAL_DIR", bad)
    assert evaluate.main(["--screening-only"]) == 2


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("my son has a cough", "common_illness"),
        ("I keep getting headaches", "common_illness"),
        ("headaches for months, the MRI found a meningioma", "eligible"),
        ("咳咗三個月，照CT見到肺有陰影", "eligible"),
        ("我成日胃痛 照咗胃鏡話有腫瘤", "eligible"),
        ("高血壓，最近有啲咳", "chronic_management"),
        # an illness, not a symptom: the priority holds
        ("she has breast cancer and has caught the flu", "common_illness"),
    ],
)
def test_an_everyday_symptom_yields_to_a_serious_finding(text: str, category: str) -> None:
    assert screen(text).category == category, screen(text).as_dict()
