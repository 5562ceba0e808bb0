"""Emergency first: after a message the screening calls an emergency, ``action_emergency`` wins
over every other policy's prediction, whatever the dialogue was doing. Fast: no model trained.

The policies are the ones ``config.yml`` lists, configured as Rasa configures them (each one's
defaults, then its entry); the emergency policy predicts on a real tracker of the real domain;
Rasa's own ensemble picks the winner against the strongest rivals any other policy can offer:
full confidence, as a form's continuation ("no user" prediction, which overrules ordinary ones)
or as an end-to-end prediction, whichever order the predictions come in. (The same in whole
conversations: tests/test_care_flow_e2e.py and tests/conversations/emergencies.yml, slow.)
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from itertools import permutations
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.recipes.default_components import DEFAULT_COMPONENTS
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.nlu.emergency_policy import ACTION_EMERGENCY, EmergencyPolicy
from bot.paths import ROOT
from bot.screening import screen

EMERGENCIES = {"en": "my father has crushing chest pain and cannot breathe",
               "yue": "我阿爸心口好痛唞唔到氣", "zh-Hans": "我爸爸胸口剧痛喘不上气"}


@lru_cache(maxsize=1)
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@lru_cache(maxsize=1)
def policies() -> list[tuple[type, dict[str, Any]]]:
    """(class, configuration) of each policy in config.yml, in its order."""
    entries = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))["policies"]
    found = []
    for entry in entries:
        name = entry["name"]
        if "." in name:  # ours, by module path
            module, _, attribute = name.rpartition(".")
            cls = getattr(importlib.import_module(module), attribute)
        else:  # one of Rasa's own, by class name, as its recipe finds them
            cls = next(c for c in DEFAULT_COMPONENTS if c.__name__ == name)
        config = {**cls.get_default_config(), **{k: v for k, v in entry.items() if k != "name"}}
        found.append((cls, config))
    return found


def emergency_prediction(tracker: DialogueStateTracker) -> PolicyPrediction:
    """What the emergency policy, configured as config.yml says, predicts for ``tracker``."""
    configured = [config for cls, config in policies() if cls is EmergencyPolicy]
    assert configured, "config.yml must list bot.nlu.emergency_policy.EmergencyPolicy"
    context = SimpleNamespace(is_finetuning=False, node_name="emergency", model_id=None)
    policy = EmergencyPolicy(configured[0], None, None, context)  # type: ignore[arg-type]
    return policy.predict_action_probabilities(tracker, domain())


def rivals(action: str) -> list[PolicyPrediction]:
    """Every other policy of config.yml predicting ``action`` as strongly as it possibly can."""
    index = domain().index_for_action(action)
    made = []
    for cls, config in policies():
        if cls is EmergencyPolicy:
            continue
        for no_user, end_to_end in ((True, False), (False, True), (False, False)):
            probabilities = [0.0] * domain().num_actions
            probabilities[index] = 1.0
            made.append(PolicyPrediction(probabilities, cls.__name__, config["priority"],
                                         is_no_user_prediction=no_user,
                                         is_end_to_end_prediction=end_to_end))
    return made


def tracker_at(language: str, situation: str) -> DialogueStateTracker:
    text = EMERGENCIES[language]
    assert screen(text).category == "emergency"  # the premise: the screening says so
    message = UserUttered(text, {"name": "describe_condition", "confidence": 0.4},
                          parse_data={"text": text, "screening": screen(text).as_dict()})
    events: list[Any] = [ActionExecuted(ACTION_LISTEN_NAME)]
    if situation == "inside a form":  # the verification form waits for a policy number
        events += [ActionExecuted("verification_form"), ActiveLoop("verification_form"),
                   SlotSet("requested_slot", "policy_number"), ActionExecuted(ACTION_LISTEN_NAME)]
    events.append(message)
    if situation == "after the slots were read":
        events.append(ActionExecuted("action_extract_slots"))
    return DialogueStateTracker.from_events("emergency-first", events, domain().slots)


@pytest.mark.parametrize("situation", ["at rest", "inside a form", "after the slots were read"])
@pytest.mark.parametrize("language", list(EMERGENCIES))
@pytest.mark.parametrize("rival_action", ["verification_form", "action_default_fallback",
                                          "utter_greet"])
def test_an_emergency_beats_every_other_prediction(language: str, situation: str,
                                                   rival_action: str) -> None:
    tracker = tracker_at(language, situation)
    ours = emergency_prediction(tracker)
    ensemble = DefaultPolicyPredictionEnsemble()
    for rival in rivals(rival_action):
        for order in permutations([ours, rival]):
            winner = ensemble.combine_predictions(list(order), tracker, domain())
            best = max(range(len(winner.probabilities)), key=winner.probabilities.__getitem__)
            assert domain().action_names_or_texts[best] == ACTION_EMERGENCY, (
                rival.policy_name, rival.is_no_user_prediction, rival.is_end_to_end_prediction)
            assert winner.policy_name == ours.policy_name


def test_the_emergency_answer_is_followed_by_listening() -> None:
    """After ``action_emergency`` the bot waits for the customer (no form resumes over it)."""
    tracker = tracker_at("en", "inside a form")
    tracker.update(ActionExecuted(ACTION_EMERGENCY))
    ours = emergency_prediction(tracker)
    best = max(range(len(ours.probabilities)), key=ours.probabilities.__getitem__)
    assert domain().action_names_or_texts[best] == ACTION_LISTEN_NAME
    assert ours.probabilities[best] == 1.0 and ours.is_no_user_prediction


def test_the_emergency_action_is_in_the_domain_and_the_policy_outranks_the_others() -> None:
    assert ACTION_EMERGENCY in domain().action_names_or_texts
    priorities = {cls: config["priority"] for cls, config in policies()}
    assert EmergencyPolicy in priorities, "config.yml must list the emergency policy"
    others = [priority for cls, priority in priorities.items() if cls is not EmergencyPolicy]
    assert priorities[EmergencyPolicy] > max(others)
