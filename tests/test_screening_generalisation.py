"""The screening beyond its word lists (issue 16, item 5), in English, Cantonese and Chinese.

Each mechanism is tested in all three languages: negation and its scope ("hasn't", "no longer",
冇其他, 没有再, 无), disease and injury families (names no list holds), and the second net (an
accident that just happened; a covered condition with danger happening now). The phrasings were
written for these tests, not taken from ``tests/screening_eval``.
"""

from __future__ import annotations

import pytest

from bot.screening import screen


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # a negated red flag beside a covered condition: the condition, no 999, no check
        ("she hasn't lost consciousness, she has stage 2 breast cancer", "eligible"),
        ("阿媽冇暈過，佢有乳癌第二期", "eligible"),
        ("她没有昏迷过，是乳腺癌二期", "eligible"),
        # "no longer" / 冇再 / 没有再
        ("no longer bleeding, but the scope showed a polyp that might be cancerous", "eligible"),
        ("冇再流血，照胃鏡發現胃癌", "eligible"),
        ("没有再出血了，但是胃镜发现是胃癌", "eligible"),
        # "no other …" / 冇其他 / 无其他
        ("no other complications, just the kidney cancer", "eligible"),
        ("冇其他併發症，淨係腎癌", "eligible"),
        ("无其他并发症，只是肾癌", "eligible"),
        # 无 … 无 … in a list
        ("无发热，无咳嗽，CT显示肺癌", "eligible"),
        # a negated red flag alone is no emergency
        ("she hasn't lost consciousness", "unclear"),
        ("佢呼吸正常，冇心口痛", "unclear"),
        ("他呼吸正常，没有胸痛", "unclear"),
        # the negation ends at a clause break: what follows is still an emergency
        ("no fever, but now he can't breathe", "emergency"),
        ("冇發燒，但係而家透唔到氣", "emergency"),
        ("没有发烧，但是现在喘不上气", "emergency"),
        # "no breathing problems" is no "no breathing"
        ("my son has a cold, no breathing problems", "common_illness"),
    ],
)
def test_negation_and_its_scope(text: str, category: str) -> None:
    result = screen(text)
    assert result.category == category, (text, result.matched, result.negated)
    if category != "emergency":
        assert not result.ask_if_now or category == "unclear", result.acute_signs


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # any …oma / …癌 / …瘤, sub-types, benign tumours, abbreviations
        ("my father was diagnosed with cholangiocarcinoma", "eligible"),
        ("I was told I have a meningioma, should I have surgery or wait", "eligible"),
        ("diagnosed with GIST, what treatment", "eligible"),
        ("阿媽有腦膜瘤，醫生話要開腦", "eligible"),
        ("阿媽有良性嘅纖維瘤，使唔使切", "eligible"),
        ("我爸是胆囊癌晚期", "eligible"),
        ("我有良性的甲状腺腺瘤，要切吗", "eligible"),
        # a fracture from weak bones is a condition, not an accident
        ("she has a hip fracture from osteoporosis and needs surgery", "eligible"),
        # a stroke in the past is a serious condition
        ("阿爸幾年前中過風，而家頸動脈塞咗", "eligible"),
        # injuries: any injury verb with any body part, in each language
        ("jammed my finger in the car door", "accident"),
        ("my son crashed his bike and chipped a tooth", "accident"),
        ("返工搬嘢閃親條腰", "accident"),
        ("煮飯嗰陣俾熱油彈親手，起咗水泡", "accident"),
        ("搬东西的时候闪了腰", "accident"),
        ("打羽毛球把脚崴了", "accident"),
        # words that look like an injury but are none
        ("体重跌了好多，一直呕吐，医生怀疑胃癌", "eligible"),
        ("凍親，流鼻水", "common_illness"),
        ("I fell asleep on the sofa", "unclear"),
        # emergencies written in ways no list holds
        ("mum says her chest feels like it's being squeezed", "emergency"),
        ("my 2 year old ate some of grandma's heart tablets", "emergency"),
        ("toddler drank some drain cleaner", "emergency"),
        ("老豆話個心好痛，痛到左手都麻埋", "emergency"),
        ("個女飲咗半樽消毒藥水", "emergency"),
        ("個仔食咗嫲嫲啲血壓藥，唔知食咗幾多粒", "emergency"),
        ("我妈的左边身体突然不能动了", "emergency"),
        ("拉了很多黑色的大便，头晕得站不起来", "emergency"),
        ("孩子喝了洗洁精，现在一直吐", "emergency"),
        # a symptom that has lasted for months is no 999 call
        ("she's been short of breath for months, diagnosed with pulmonary fibrosis", "eligible"),
    ],
)
def test_families(text: str, category: str) -> None:
    result = screen(text)
    assert result.category == category, (text, result.matched, result.negated)


@pytest.mark.parametrize(
    "text",
    [
        "grandma fell down the stairs just now",
        "阿爺啱啱喺街跌親",
        "奶奶刚刚在家摔倒了",
    ],
)
def test_an_accident_that_just_happened_asks_if_it_is_happening_now(text: str) -> None:
    result = screen(text)
    assert result.category == "accident" and result.ask_if_now, result.as_dict()


@pytest.mark.parametrize(
    "text",
    [
        "I sprained my ankle 2 years ago",
        "我兩年前扭親腳",
        "我两年前扭伤了脚",
    ],
)
def test_a_past_accident_does_not_ask(text: str) -> None:
    result = screen(text)
    assert result.category == "accident" and not result.ask_if_now, result.as_dict()


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        # a covered condition with danger happening now: ask, with 999 / 120
        ("dad has lymphoma, he is bleeding right now", True),
        ("阿爸有淋巴癌，而家流緊血", True),
        ("爸爸有淋巴瘤，现在在出血", True),
        # the danger negated: no question
        ("mum has breast cancer, no bleeding now", False),
        ("阿媽有乳癌，而家冇流血", False),
        ("妈妈有乳腺癌，现在没有出血", False),
        # an organ named with the condition is no danger
        ("two stents in his heart, now the doctor wants another", False),
        ("阿爸心臟有兩個支架，而家醫生話要再做", False),
        ("我爸心脏装了两个支架，现在医生说还要再装", False),
    ],
)
def test_a_covered_condition_asks_only_for_danger_now(text: str, asks: bool) -> None:
    result = screen(text)
    assert result.category == "eligible", (text, result.matched)
    assert result.ask_if_now is asks, result.as_dict()


@pytest.mark.parametrize(
    "text",
    [
        "my nan has gone really pale and sweaty and is clutching her left arm",
        "阿婆面色好白，出晒冷汗",
        "奶奶脸色苍白，出冷汗",
    ],
)
def test_distress_with_a_person_is_caught_by_the_net_at_least(text: str) -> None:
    result = screen(text)
    assert result.category == "emergency" or result.ask_if_now, result.as_dict()
