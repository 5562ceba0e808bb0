"""The dialogue-engine replacements run only on the Rasa they were written for; SMO_STOCK_RASA runs
Rasa as shipped instead (tests/test_dialogue_engine.py plays conversations both ways)."""

from __future__ import annotations

from pathlib import Path

import pytest

import bot.dialogue
from bot.core_server import build_endpoints, prepare_engine
from bot.dialogue import patching
from bot.settings import Settings, SettingsError, load_settings


def test_the_installed_rasa_is_the_one_the_replacements_were_written_for() -> None:
    import rasa

    assert rasa.__version__ == bot.dialogue.RASA_VERSION
    bot.dialogue.check_rasa_version()  # no refusal


def test_another_rasa_is_refused_with_what_to_do() -> None:
    with pytest.raises(bot.dialogue.RasaVersionError) as refused:
        bot.dialogue.check_rasa_version("3.7.0")
    message = str(refused.value)
    assert "Rasa 3.7.0 is installed" in message and "rasa==3.6.21" in message
    assert "SMO_STOCK_RASA=true" in message


def test_install_refuses_before_replacing_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.dialogue, "RASA_VERSION", "0.0.1")
    replaced = dict(patching._ORIGINALS)
    try:
        with pytest.raises(bot.dialogue.RasaVersionError):
            prepare_engine(Settings())
        assert replaced == dict(patching._ORIGINALS)
    finally:
        if replaced != dict(patching._ORIGINALS):  # the refusal failed: leave Rasa as it was
            patching.restore()


def test_stock_setting_installs_nothing_even_on_another_rasa(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.dialogue, "RASA_VERSION", "0.0.1")
    replaced = dict(patching._ORIGINALS)
    prepare_engine(Settings(stock_rasa=True))
    assert replaced == dict(patching._ORIGINALS)


def test_stock_setting_uses_rasas_own_tracker_store_and_action_endpoint(tmp_path: Path) -> None:
    from rasa.utils.endpoints import EndpointConfig

    from bot.action_server import TOKEN_HEADER
    from bot.dialogue.action_endpoint import PooledEndpointConfig

    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    ours = build_endpoints(Settings(action_token="k", tracker_db_url=url))
    stock = build_endpoints(Settings(action_token="k", tracker_db_url=url, stock_rasa=True))
    assert ours.tracker_store.type == "bot.dialogue.tracker_store.CachedSQLTrackerStore"
    assert isinstance(ours.action, PooledEndpointConfig)
    assert stock.tracker_store.type == "sql" and type(stock.action) is EndpointConfig
    assert stock.tracker_store.kwargs == {"dialect": "sqlite", "db": str(tmp_path / "tracker.db")}
    assert (stock.action.url, stock.action.headers) == (ours.action.url, {TOKEN_HEADER: "k"})


@pytest.mark.parametrize(("value", "stock"), [("", False), ("false", False), ("true", True)])
def test_the_setting_is_read_with_the_others(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             value: str, stock: bool) -> None:
    monkeypatch.setenv("SMO_ENV_FILE", str(tmp_path / "none.env"))
    monkeypatch.setenv("SMO_STOCK_RASA", value)
    assert load_settings().stock_rasa is stock


def test_a_malformed_setting_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SMO_ENV_FILE", str(tmp_path / "none.env"))
    monkeypatch.setenv("SMO_STOCK_RASA", "maybe")
    with pytest.raises(SettingsError, match="SMO_STOCK_RASA"):
        load_settings()


def test_the_launcher_refuses_before_starting_anything(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    import bot.model
    from bot import launcher

    def started(*_args: object, **_kwargs: object) -> Path:
        raise AssertionError("the launcher went past the version check")

    monkeypatch.setattr(bot.model, "ensure_model", started)
    monkeypatch.setenv("SMO_ENV_FILE", str(tmp_path / "none.env"))
    monkeypatch.delenv("SMO_STOCK_RASA", raising=False)
    monkeypatch.delenv("SMO_MODEL", raising=False)
    monkeypatch.setattr(bot.dialogue, "RASA_VERSION", "0.0.1")
    assert launcher.main() == 2
    assert "configuration error: Rasa 3.6.21 is installed" in capsys.readouterr().err
