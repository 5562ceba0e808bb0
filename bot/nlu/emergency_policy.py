"""Rasa policy: an emergency description is answered first, from any dialogue state.

After every user message whose screening (``bot.nlu.condition_screener``) says ``emergency``, this
policy predicts ``action_emergency`` with a priority above the rule policy, so it wins over forms,
rules and stories alike. It reads the screening, not the intent, so it never depends on the
classifier. (A conversation a nurse holds is paused and runs no policy at all: the public server's
emergency guard answers those.)

The same holds for a "yes" to the screening's second net: when the bot's previous turn asked
whether it is happening now (``utter_emergency_check``, sent by ``bot.handoff.guard``), an
affirmation is an emergency.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

ACTION_EMERGENCY = "action_emergency"
EMERGENCY_PRIORITY = 7  # above all (Rasa 3.6: RulePolicy 4, MemoizationPolicy 3)
CHECK = "utter_emergency_check"  # "is it happening now? if so call 999 / 120 at once"
YES_INTENTS = ("affirm",)


def is_emergency(parse_data: dict[str, Any] | None) -> bool:
    """True when the message's screening says emergency."""
    return ((parse_data or {}).get("screening") or {}).get("category") == "emergency"


def asked_since_last_message(events: Any) -> bool:
    """True when the bot's turn before the latest customer message asked the emergency check."""
    users = 0
    for event in reversed(list(events)):
        kind = getattr(event, "type_name", None)
        if kind == "user":
            users += 1
            if users == 2:
                return False
        elif kind == "bot" and users == 1 and (event.metadata or {}).get("response") == CHECK:
            return True
    return False


def confirms_check(tracker: DialogueStateTracker) -> bool:
    """A "yes" to "is it happening now?" asked in the bot's previous turn."""
    intent = ((tracker.latest_message.intent if tracker.latest_message else None) or {}).get("name")
    return intent in YES_INTENTS and asked_since_last_message(tracker.events)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class EmergencyPolicy(Policy):
    """Predicts ``action_emergency`` right after an emergency message, then ``action_listen``."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Highest priority of the ensemble."""
        return {"priority": EMERGENCY_PRIORITY}

    @staticmethod
    def supported_data() -> SupportedData:
        """Needs no stories or rules."""
        return SupportedData.ML_AND_RULE_DATA

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Any = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)

    def train(
        self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        """Nothing to learn; the resource only marks the policy as trained."""
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Full confidence in ``action_emergency`` when the turn's message is an emergency."""
        probabilities = self._default_predictions(domain)
        latest_action = tracker.latest_action_name
        if latest_action == ACTION_EMERGENCY:  # then wait for the customer
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
            return self._prediction(probabilities, is_no_user_prediction=True)
        if (
            latest_action in (ACTION_LISTEN_NAME, "action_extract_slots")
            and tracker.latest_message is not None
            and (is_emergency(tracker.latest_message.parse_data) or confirms_check(tracker))
            and ACTION_EMERGENCY in domain.action_names_or_texts
        ):
            probabilities[domain.index_for_action(ACTION_EMERGENCY)] = 1.0
            # Marked "no user" like the rule policy's form continuation, which otherwise overrules
            # every other prediction; between the two, the higher priority (ours) wins.
            return self._prediction(probabilities, is_no_user_prediction=True)
        return self._prediction(probabilities)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> EmergencyPolicy:
        """Stateless."""
        return cls(config, model_storage, resource, execution_context)
