"""The model is retrained only when its inputs change."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.model import MODEL_INPUTS, ensure_model, inputs_hash

ROOT = Path(__file__).resolve().parent.parent


def _copy_inputs(target: Path) -> None:
    for name in MODEL_INPUTS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def test_hash_is_stable_and_tracks_inputs(tmp_path: Path) -> None:
    _copy_inputs(tmp_path)
    first = inputs_hash(tmp_path)
    assert inputs_hash(tmp_path) == first
    readme = tmp_path / "data" / "nlu" / "README.md"
    readme.write_text("docs only", encoding="utf-8")
    assert inputs_hash(tmp_path) == first, "documentation must not force a retrain"
    (tmp_path / "data" / "nlu" / "en" / "chitchat.yml").write_text("changed", encoding="utf-8")
    assert inputs_hash(tmp_path) != first


def test_unchanged_model_is_not_retrained(tmp_path: Path, monkeypatch) -> None:
    _copy_inputs(tmp_path)
    name = f"smo-{inputs_hash(tmp_path)}.tar.gz"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / name).write_bytes(b"model")
    monkeypatch.setenv("SMO_MODEL_CACHE", str(tmp_path / "cache"))

    def no_training(*args, **kwargs):
        raise AssertionError("retrained an up-to-date model")

    monkeypatch.setattr("bot.model.subprocess.run", no_training)
    assert ensure_model(tmp_path) == tmp_path / "models" / name


def test_cached_model_is_reused_by_a_fresh_clone(tmp_path: Path, monkeypatch) -> None:
    _copy_inputs(tmp_path)
    name = f"smo-{inputs_hash(tmp_path)}.tar.gz"
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / name).write_bytes(b"cached model")
    monkeypatch.setenv("SMO_MODEL_CACHE", str(cache))
    monkeypatch.setattr(
        "bot.model.subprocess.run",
        lambda *a, **k: (_ for _ in ()).throw(
            AssertionError("retrained although the cache had the model")
        ),
    )
    path = ensure_model(tmp_path)
    assert path.read_bytes() == b"cached model"
