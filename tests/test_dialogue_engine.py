"""Our dialogue-engine shortcuts (bot.dialogue) give exactly what stock Rasa gives.

A real agent with the trained model runs whole conversations (the second-opinion flow through
its forms, FAQ answers, an emergency, a nurse request) with the patches installed; on every call
the patched function's result is compared with the stock function's on the same input:
applied events, featurised states, tracker copies, rule lookups, graph runs (parse and
policy predictions), the intent classifier's graph calls and the policies' prediction states.
Then the conversation must have gone through forms (the states really covered them) and no
comparison may differ.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

CONVERSATIONS = [
    ["hello", "I want to get a second medical opinion", "yes I agree", "CI10000001",
     "15/03/1980", "My doctor diagnosed stage 2 colon cancer and wants to operate next month",
     "He also suggested chemotherapy afterwards", "no that's all", "how long does the report take",
     "thanks"],
    ["我想攞第二醫療意見", "同意", "CI10000007", "25/04/1979", "報告要幾耐先有呀",
     "可唔可以搵護士"],
    ["哪些计划可以使用这个服务", "我想申请第二医疗意见", "不同意",
     "my father has crushing chest pain and can't breathe", "ok", "可以安排去海外治疗吗",
     "/restart", "😀", "what is this service"],
]


def _compare(counts: Counter, problems: list[str]) -> None:
    """Wrap each patched function so every call also runs stock and compares."""
    from rasa.core.featurizers.tracker_featurizers import (
        MaxHistoryTrackerFeaturizer,
        TrackerFeaturizer,
    )
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import Event
    from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
    from rasa.shared.nlu.training_data.message import Message
    from rasa.utils.tensorflow.models import RasaModel

    from bot.dialogue import (
        event_types,
        graph_runner,
        history,
        model_inference,
        prediction_states,
        rule_matching,
        tracker_copy,
    )

    def applied(self):  # noqa: ANN001, ANN202
        mine, stock = history.applied_events(self), history._STOCK_APPLIED(self)
        counts["applied"] += 1
        if [id(e) for e in mine] != [id(e) for e in stock]:
            problems.append("applied_events differs")
        return mine

    def states(self, tracker, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        mine = history.states_for_tracker_history(self, tracker, *args, **kwargs)
        stock = history._STOCK_STATES(self, tracker, *args, **kwargs)
        counts["states"] += 1
        counts["form states"] += any("active_loop" in s for s in stock)
        if mine != stock:
            problems.append(f"states differ for {args} {kwargs}")
        return mine

    def copied(self):  # noqa: ANN001, ANN202
        mine, stock = tracker_copy.copy(self), tracker_copy._STOCK_COPY(self)
        counts["copies"] += 1
        slots = {k: (v.value, v.has_been_set) for k, v in mine.slots.items()}
        if (mine.current_state(EventVerbosity.ALL) != stock.current_state(EventVerbosity.ALL)
                or slots != {k: (v.value, v.has_been_set) for k, v in stock.slots.items()}):
            problems.append("tracker copy differs")
        return mine

    def keys(self, lookup, states_):  # noqa: ANN001, ANN202
        mine = rule_matching._get_possible_keys(self, lookup, states_)
        stock = rule_matching._STOCK_POSSIBLE_KEYS(self, lookup, states_)
        counts["rule lookups"] += 1
        if mine != stock:
            problems.append("rule keys differ")
        return mine

    def comparable(value):  # noqa: ANN001, ANN202
        if isinstance(value, list):
            return [comparable(item) for item in value]
        if isinstance(value, Message):
            return value.as_dict(only_output_properties=True)
        return value

    def graph(self, inputs=None, targets=None):  # noqa: ANN001, ANN202
        mine = graph_runner.run(self, inputs, targets)
        stock = graph_runner._STOCK_RUN(self, inputs, targets)
        counts["graph runs"] += 1
        if mine.keys() != stock.keys() or any(
                comparable(mine[key]) != comparable(stock[key]) for key in mine):
            problems.append(f"graph results differ for {targets}")
        return mine

    def resolved(type_name, default=None):  # noqa: ANN001, ANN202
        mine = event_types.resolve_by_type(type_name, default)
        stock = event_types._STOCK_RESOLVE.__func__(type_name, default)
        counts["event types"] += 1
        if mine is not stock:
            problems.append(f"event type {type_name} resolves differently")
        return mine

    def predicted(self, batch_in):  # noqa: ANN001, ANN202
        mine = model_inference._rasa_predict(self, batch_in)
        stock = model_inference._STOCK_PREDICT(self, batch_in)
        counts["model predictions"] += 1
        if mine.keys() != stock.keys() or any(
                not np.array_equal(mine[key], stock[key]) for key in mine
                if isinstance(mine[key], np.ndarray)):
            problems.append("model prediction differs")
        return mine

    def featurised(self, trackers, domain, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        mine = prediction_states.prediction_states(self, trackers, domain, *args, **kwargs)
        stock = prediction_states._STOCK_PREDICTION_STATES(self, trackers, domain, *args,
                                                           **kwargs)
        counts["prediction states"] += 1
        counts["long prediction states"] += len(mine[0]) > 10
        if mine != stock:
            problems.append("prediction states differ")
        return mine

    def text_removed(trackers_as_states):  # noqa: ANN001, ANN202
        import copy

        stock_input = copy.deepcopy(trackers_as_states)
        prediction_states._STOCK_REMOVE_TEXT.__func__(stock_input)
        prediction_states.remove_user_text_if_intent(trackers_as_states)
        counts["text removals"] += 1
        if trackers_as_states != stock_input:
            problems.append("user text removed differently")

    def feature_key(self, states):  # noqa: ANN001, ANN202
        mine = rule_matching._create_feature_key(self, states)
        stock = rule_matching._STOCK_FEATURE_KEY(self, list(states))
        counts["feature keys"] += 1
        counts["long feature keys"] += (mine or "").count("prev_action") > 10
        if mine != stock:
            problems.append("rule feature key differs")
        return mine

    DialogueStateTracker.applied_events = applied
    MaxHistoryTrackerFeaturizer.prediction_states = featurised
    RulePolicy._create_feature_key = feature_key
    TrackerFeaturizer._remove_user_text_if_intent = staticmethod(text_removed)
    RasaModel._rasa_predict = predicted
    Event.resolve_by_type = staticmethod(resolved)
    DaskGraphRunner.run = graph
    Domain.states_for_tracker_history = states
    DialogueStateTracker.copy = copied
    RulePolicy._get_possible_keys = keys


def _as_json(event) -> object:  # noqa: ANN001
    """An event as stored (JSON turns tuples into lists)."""
    return json.loads(json.dumps(event.as_dict()))


@pytest.fixture()
def restored_rasa():  # noqa: ANN201
    """Whatever this test replaces in this process is put back afterwards."""
    yield
    from bot.dialogue.patching import restore

    restore()


def test_patched_dialogue_engine_matches_stock(assistant, trained_model: Path, tmp_path: Path,
                                               restored_rasa, monkeypatch) -> None:
    monkeypatch.setenv("SMO_VAR_DIR", str(assistant.var_dir))
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.endpoints import EndpointConfig

    import bot.dialogue
    from bot.core_server import tracker_endpoint

    bot.dialogue.install()
    counts: Counter = Counter()
    problems: list[str] = []
    _compare(counts, problems)
    endpoints = AvailableEndpoints(
        action=EndpointConfig(url=f"http://127.0.0.1:{assistant.action_port}/webhook",
                              headers={"X-SMO-Action-Token": assistant.action_token}),
        tracker_store=tracker_endpoint(f"sqlite:///{tmp_path / 'tracker.db'}", only_writer=True))

    async def run() -> list[int]:
        agent = await load_agent(model_path=str(trained_model), endpoints=endpoints)
        answered = []
        # After every message, the conversation our store holds in memory is what stock Rasa's
        # SQL store reads back from what ours wrote, event for event.
        stock_store = SQLTrackerStore(agent.domain, dialect="sqlite",
                                      db=str(tmp_path / "tracker.db"))
        for index, conversation in enumerate(CONVERSATIONS):
            for text in conversation:
                out = CollectingOutputChannel()
                await agent.handle_message(UserMessage(text, out, f"engine-{index}"))
                answered.append(len(out.messages))
                ours = await agent.tracker_store.retrieve(f"engine-{index}")
                stock = await stock_store.retrieve(f"engine-{index}")
                counts["stored turns"] += 1
                if [_as_json(e) for e in ours.events] != [_as_json(e) for e in stock.events]:
                    problems.append(f"engine-{index} after {text!r}: held differs from stored")
        return answered

    answered = asyncio.run(run())
    flat = [t for c in CONVERSATIONS for t in c]
    # In process, "/restart" is Rasa's restart command (silent; it exercises the restart paths);
    # the channels turn it into plain text for customers.
    assert [t for t, n in zip(flat, answered, strict=True) if not n] == ["/restart"]
    assert counts["graph runs"] > 50 and counts["stored turns"] == len(flat)
    assert counts["event types"] > 20
    assert counts["model predictions"] >= len(flat) - 1  # all but "/restart" went through DIET
    assert counts["long prediction states"] > 20 and counts["text removals"] > 100
    assert counts["long feature keys"] > 10
    assert counts["states"] > 100 and counts["copies"] > 20 and counts["rule lookups"] > 50
    assert counts["form states"] > 10, "the conversations must go through forms"
    assert problems == []
