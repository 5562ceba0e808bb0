"""Install the official account's menu: the way in that the leaflet gives.

    python -m channels.wechat_menu show       # the menus data/wechat_menu.yml describes
    python -m channels.wechat_menu install    # menu/create, then menu/addconditional for each

The leaflet tells customers to follow the account, then tap 「客戶服務」 > 「健康辦公室」; the
click's key is answered by the WeChat channel with the greeting and the main choices
(``bot/intake.py`` reads the same file). Credentials come from the environment as
for the channel (``WECHAT_APP_ID``, ``WECHAT_APP_SECRET``, ``WECHAT_TOKEN``, and
``WECHAT_API_URL`` for the sandbox's fake); the access token is shared with the running
channel through the same storage, so installing never invalidates the channel's token.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from wechatpy.exceptions import WeChatClientException

from bot.intake import menu_data
from bot.settings import SettingsError
from channels.core.kv import shared_storage
from channels.settings import load_wechat


def menus(data: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the default menu, the conditional menus) as WeChat's API takes them."""
    data = data if data is not None else menu_data()
    default = {"button": data["default"]["button"]}
    conditional = [{"button": m["button"], "matchrule": m["matchrule"]}
                   for m in data.get("conditional") or []]
    return default, conditional


def click_keys(menu: dict[str, Any]) -> set[str]:
    """Every click key of a menu (each must be answered: see :func:`unanswered`)."""
    keys = set()
    for button in menu["button"]:
        for item in button.get("sub_button") or [button]:
            if item.get("type") == "click":
                keys.add(item["key"])
    return keys


def unanswered(data: dict[str, Any] | None = None) -> set[str]:
    """Click keys in the menus that no entry of ``clicks`` answers (should be none)."""
    data = data if data is not None else menu_data()
    default, conditional = menus(data)
    keys = set().union(*(click_keys(m) for m in [default, *conditional]))
    return keys - set(data.get("clicks") or {})


def install(client: Any, data: dict[str, Any] | None = None) -> list[str]:
    """Create the default menu, then each conditional one; lines saying what was done."""
    default, conditional = menus(data)
    client.menu.create(default)
    done = ["default menu installed"]
    for menu in conditional:
        answer = client.menu.add_conditional(menu)
        done.append(f"conditional menu {json.dumps(menu['matchrule'])} installed "
                    f"(menuid {answer.get('menuid')})")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["show", "install"])
    args = parser.parse_args(argv)
    missing = unanswered()
    if missing:
        print(f"data/wechat_menu.yml: no answer for click keys {sorted(missing)}", file=sys.stderr)
        return 2
    if args.command == "show":
        default, conditional = menus()
        print(json.dumps({"default": default, "conditional": conditional},
                         ensure_ascii=False, indent=2))
        return 0
    try:
        settings = load_wechat()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if settings is None:
        print("WeChat is not configured: set WECHAT_APP_ID, WECHAT_APP_SECRET and WECHAT_TOKEN",
              file=sys.stderr)
        return 2
    from channels.wechat import ConfiguredClient

    client = ConfiguredClient(settings, shared_storage(f"wechat:{settings.app_id}"))
    try:
        for line in install(client):
            print(line)
    except WeChatClientException as exc:
        print(f"WeChat refused the menu: errcode {exc.errcode} {exc.errmsg}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
