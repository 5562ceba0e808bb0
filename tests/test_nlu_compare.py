"""The pipelines ``python -m bot.nlu_compare`` sets against ours are derived from config.yml, so
they stay sized as ours when it changes."""

from __future__ import annotations

import yaml

from bot.nlu_compare import nonsense, stock_config, with_seed
from bot.paths import ROOT


def _ours() -> dict:
    return yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))


def test_stock_variant_is_ours_without_our_components() -> None:
    ours, stock = _ours(), stock_config(_ours())
    names = [step["name"] for step in stock["pipeline"]]
    assert not [name for name in names if name.startswith("bot.")]
    tokenizer = next(s for s in stock["pipeline"] if s["name"] == "JiebaTokenizer")
    ours_tokenizer = next(s for s in ours["pipeline"] if s["name"].endswith("Tokenizer"))
    assert tokenizer["dictionary_path"] == ours_tokenizer["dictionary_path"]
    # Rasa's own components exactly as we configure them (featurisers, DIET, fallback).
    assert [s for s in stock["pipeline"] if s["name"] != "JiebaTokenizer"] == [
        s for s in ours["pipeline"] if not s["name"].startswith("bot.")]
    plain = stock_config(ours, dictionary=False)
    assert "dictionary_path" not in next(s for s in plain["pipeline"]
                                         if s["name"] == "JiebaTokenizer")


def test_jieba_variant_swaps_only_the_tokenizer() -> None:
    ours, swapped = _ours(), stock_config(_ours(), keep_ours=True)
    differing = [(a["name"], b["name"]) for a, b in
                 zip(ours["pipeline"], swapped["pipeline"], strict=True) if a != b]
    assert differing == [("bot.nlu.tokenizer.TrilingualTokenizer", "JiebaTokenizer")]


def test_seed_reaches_every_seeded_component() -> None:
    seeded = with_seed(_ours(), 7)
    assert [s["random_seed"] for s in seeded["pipeline"] if "random_seed" in s] == [7]


def test_nonsense_is_the_same_every_run_and_all_different() -> None:
    texts = nonsense()
    assert texts == nonsense() and len(set(texts)) == len(texts) == 200
