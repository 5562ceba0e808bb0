"""Conversations as customers really have them (issue 16, items 1-4), over REST, in English,
Cantonese and Simplified Chinese.

1. A condition and a request (or "how do I apply?") in one message start the request at once
   (consent first) and keep what was said: the condition is not asked again (it is screened at
   once, and it is the packet's diagnosis), the packet holds it and the person it is for.
2. After an offer with one main action, "ok" / 好 / 可以 / 👍 take it; numbers still choose; the
   consent question is still asked, and a policy number sent before answering it is kept.
3. Inside forms: a question is answered, then the question asked again once, shorter; a value
   inside a sentence is read; a correction replaces the earlier value (a corrected date right after
   a failure is tried with the same policy); a nurse request and "stop" work at every step.
4. A full sentence in another language switches the reply language inside a form too; a short
   answer (a policy number, a date, "ok") never does.

Seed policies: data/seed/policies.csv (CI10000001 born 15/3/1980, CA20000001 born 5/5/1985).
"""

from __future__ import annotations

import pytest
from conversation import Customer, Staff

pytestmark = pytest.mark.slow

LANGUAGES = ["en", "yue", "zh-Hans"]

TEXT = {
    "en": {
        "first": "Hi, my mother was just diagnosed with breast cancer and we'd like a second "
        "opinion. How do we apply?",
        "person": "mother",
        "request": "I want to get a second medical opinion",
        "yes": "yes",
        "ok": "ok",
        "plans": "which plans include the second opinion service?",
        "cost": "how much does it cost?",
        "report": "how long does the report take?",
        "policy_in_sentence": "his policy number is CA20000001",
        "correction": "sorry, I mean policy CI10000001",
        "born": "15/03/1980",
        "born_in_sentence": "she was born on 15/03/1980",
        "dob_correction": "sorry, the date of birth is 15/3/1980",
        "how_with_condition": "How do I apply? My husband has colon cancer",
        "describe": "My doctor found a 3 cm tumour in my liver and wants to operate",
        "nurse": "can I talk to a nurse please",
        "stop": "cancel",
    },
    "yue": {
        "first": "你好，我阿媽啱啱確診乳癌，想搵第二意見，點樣申請？",
        "person": "mother",
        "request": "我想申請第二醫療意見",
        "yes": "同意",
        "ok": "好",
        "plans": "邊啲計劃可以用第二醫療意見？",
        "cost": "呢個服務要幾多錢？",
        "report": "幾耐先有報告？",
        "policy_in_sentence": "佢嘅保單號碼係CA20000001",
        "correction": "唔好意思，保單號碼應該係CI10000001",
        "born": "1980年3月15日",
        "born_in_sentence": "佢係1980年3月15日出世嘅",
        "dob_correction": "唔好意思，出生日期應該係1980年3月15日",
        "how_with_condition": "想問點樣申請第二醫療意見？我阿爸有肝癌",
        "describe": "醫生話我肝有個三厘米嘅腫瘤，要做手術切除",
        "nurse": "我想搵護士傾下",
        "stop": "取消申請",
    },
    "zh-Hans": {
        "first": "我爸爸肺癌三期，医生建议化疗，我想申请第二医疗意见",
        "person": "father",
        "request": "我想申请第二医疗意见",
        "yes": "同意",
        "ok": "可以",
        "plans": "哪些计划可以用第二医疗意见？",
        "cost": "这个服务要多少钱？",
        "report": "多久可以拿到报告？",
        "policy_in_sentence": "他的保单号码是CA20000001",
        "correction": "不好意思，我是说保单CI10000001",
        "born": "1980-03-15",
        "born_in_sentence": "她是1980年3月15日出生的",
        "dob_correction": "不好意思，出生日期是1980年3月15日",
        "how_with_condition": "请问怎么申请第二医疗意见？我老公有肠癌",
        "describe": "医生发现我肝上有一个三厘米的肿瘤，建议手术切除",
        "nurse": "我想找护士",
        "stop": "取消申请",
    },
}
# A full sentence in another language than the conversation's, and the language it switches to.
SWITCH = {
    "en": ("我想問下幾時先會有報告呀？", "yue"),
    "yue": ("Sorry, could you tell me how much this service costs?", "en"),
    "zh-Hans": ("Sorry, could you tell me how much this service costs?", "en"),
}
# The packet's questions after the diagnosis (named in the description, so not asked).
PACKET = [
    ("last month, surgery then chemo", ["utter_ask_opinion_question"]),
    ("is surgery the best option", ["utter_ask_call_language"]),
    ("Cantonese", ["utter_ask_callback_number"]),
    ("+852 9123 4567", ["utter_ask_callback_time"]),
    ("weekday afternoons", ["utter_ask_summary_confirmed"]),
]


def consent_and_policy(customer: Customer) -> None:
    """From the consent question to the date-of-birth question, with CI10000001."""
    assert customer.ask(TEXT[customer.language]["yes"]) == ["utter_ask_policy_number"]
    assert customer.ask("CI10000001") == ["utter_ask_date_of_birth"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_condition_and_request_in_one_message_start_it_and_are_kept(
    assistant, language: str
) -> None:
    t = TEXT[language]
    customer = Customer(assistant.base_url, language)
    assert customer.ask(t["first"]) == ["utter_ask_consent_given"]
    consent_and_policy(customer)
    # the condition is not asked again: it is screened at once and is the diagnosis
    assert customer.ask(t["born"]) == [
        "utter_eligible", "utter_screen_eligible", "utter_ask_diagnosis_when"]
    for answer, asks in PACKET:
        assert customer.ask(answer) == asks, answer
    assert customer.ask(t["yes"]) == ["utter_case_created", "utter_what_next"]
    case = Staff.member(assistant, "dr.lee", "case_doctor").case_of(customer)
    assert case["packet"]["description"] == [t["first"]]
    assert case["packet"]["person"] == t["person"]
    assert case["packet"]["diagnosis"] and case["packet"]["diagnosis"] in t["first"]
    assert case["screening"]["category"] == "eligible"


@pytest.mark.parametrize("language", LANGUAGES)
def test_short_yes_takes_the_offer_and_answers_the_question(assistant, language: str) -> None:
    t = TEXT[language]
    customer = Customer(assistant.base_url, language)
    assert customer.ask(t["plans"]) == ["utter_eligible_plans", "utter_eligible_plans_2"]
    assert customer.ask(t["ok"]) == ["utter_ask_consent_given"]  # "check my eligibility"
    assert customer.ask("👍") == ["utter_ask_policy_number"]  # yes to the consent question
    # a typed option number still chooses
    other = Customer(assistant.base_url, language)
    assert other.ask(t["plans"]) == ["utter_eligible_plans", "utter_eligible_plans_2"]
    assert other.ask("1") == ["utter_ask_consent_given"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_question_in_a_form_is_answered_then_asked_again_shorter(
    assistant, language: str
) -> None:
    t = TEXT[language]
    customer = Customer(assistant.base_url, language)
    assert customer.ask(t["request"]) == ["utter_ask_consent_given"]
    assert customer.ask(t["yes"]) == ["utter_ask_policy_number"]
    assert customer.ask(t["cost"]) == ["utter_cost", "utter_ask_policy_number_short"]
    # a value inside a sentence is read; a correction replaces it
    assert customer.ask(t["policy_in_sentence"]) == ["utter_ask_date_of_birth"]
    assert customer.ask(t["correction"]) == ["utter_ask_date_of_birth"]
    assert customer.ask(t["born_in_sentence"]) == ["utter_eligible", "utter_ask_condition_text"]
    # one description is screened at once; the tumour it names is the diagnosis
    assert customer.ask(t["describe"]) == ["utter_screen_eligible", "utter_ask_diagnosis_when"]
    assert customer.ask(t["report"]) == [
        "utter_report_time",
        "utter_terms",
        "utter_ask_diagnosis_when_short",
    ]
    assert customer.ask("last month") == ["utter_ask_opinion_question"]
    assert customer.ask(t["stop"]) == ["utter_flow_stopped"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_nurse_request_in_the_packet_makes_a_case(assistant, language: str) -> None:
    t = TEXT[language]
    customer = Customer(assistant.base_url, language)
    assert customer.ask(t["first"]) == ["utter_ask_consent_given"]
    consent_and_policy(customer)
    assert customer.ask(t["born"]) == [
        "utter_eligible", "utter_screen_eligible", "utter_ask_diagnosis_when"]
    assert customer.ask(t["nurse"]) == ["utter_handoff_queued"]
    case = Staff.member(assistant).case_of(customer)
    assert case["queue"] == "nurse" and case["reason"] == "request_human"


@pytest.mark.parametrize("language", LANGUAGES)
def test_stop_at_the_policy_number_ends_the_request(assistant, language: str) -> None:
    t = TEXT[language]
    customer = Customer(assistant.base_url, language)
    assert customer.ask(t["request"]) == ["utter_ask_consent_given"]
    assert customer.ask(t["yes"]) == ["utter_ask_policy_number"]
    assert customer.ask(t["stop"]) == ["utter_flow_stopped"]
    assert customer.ask(t["cost"]) == ["utter_cost"]  # the form is gone


@pytest.mark.parametrize("language", LANGUAGES)
def test_full_sentence_switches_language_in_a_form_short_answers_do_not(
    assistant, language: str
) -> None:
    t = TEXT[language]
    customer = Customer(assistant.base_url, language)
    assert customer.ask(t["request"]) == ["utter_ask_consent_given"]
    assert customer.ask(t["yes"]) == ["utter_ask_policy_number"]
    assert customer.ask("ok") == ["utter_policy_number_format", "utter_ask_policy_number"]
    assert customer.ask("CI10000001") == ["utter_ask_date_of_birth"]  # no switch either
    sentence, switched = SWITCH[language]
    customer.language = switched
    expected = ["utter_report_time", "utter_terms"] if switched == "yue" else ["utter_cost"]
    assert customer.ask(sentence) == [*expected, "utter_ask_date_of_birth_short"]
    # a date in the first language's way of writing keeps the new language
    assert customer.ask(TEXT[language]["born"]) == ["utter_eligible", "utter_ask_condition_text"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_how_to_apply_with_a_condition_starts_the_request(assistant, language: str) -> None:
    t = TEXT[language]
    customer = Customer(assistant.base_url, language)
    assert customer.ask(t["how_with_condition"]) == ["utter_ask_consent_given"]
    consent_and_policy(customer)
    assert customer.ask(t["born"]) == [
        "utter_eligible", "utter_screen_eligible", "utter_ask_diagnosis_when"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_corrected_date_of_birth_is_tried_with_the_same_policy(assistant, language: str) -> None:
    t = TEXT[language]
    customer = Customer(assistant.base_url, language)
    assert customer.ask(t["request"]) == ["utter_ask_consent_given"]
    consent_and_policy(customer)
    assert customer.ask("16/3/1980") == ["utter_verification_failed", "utter_ask_policy_number"]
    assert customer.ask(t["dob_correction"]) == ["utter_eligible", "utter_ask_condition_text"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_policy_number_sent_before_consent_is_kept(assistant, language: str) -> None:
    t = TEXT[language]
    customer = Customer(assistant.base_url, language)
    assert customer.ask(t["plans"]) == ["utter_eligible_plans", "utter_eligible_plans_2"]
    assert customer.ask(t["ok"]) == ["utter_ask_consent_given"]  # consent is still asked
    assert customer.ask("CI10000001") == ["utter_ask_consent_given"]
    assert customer.ask(t["yes"]) == ["utter_ask_date_of_birth"]
    assert customer.ask(t["born"]) == ["utter_eligible", "utter_ask_condition_text"]
