"""The fake WeChat API driven by wechatpy 1.8.18's own WeChatClient."""

from __future__ import annotations

import pytest
import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import APILimitedException, WeChatClientException

from channels.sandbox import defaults, fake_wechat

APP_ID = defaults.WECHAT_APP_ID
SECRET = defaults.WECHAT_APP_SECRET
USER = "oSandboxUser1"


def _client(server, **kwargs) -> WeChatClient:
    return fake_wechat.sandbox_wechat_client(APP_ID, SECRET, server.url, timeout=5, **kwargs)


def _post(server, path: str, json=None) -> requests.Response:
    response = requests.post(server.url + path, json=json, timeout=5)
    assert response.status_code == 200, response.text
    return response


def test_wechatpy_urls_are_the_ones_the_fake_serves() -> None:
    # what the fake mirrors: the class attribute, and the token URL written out in full
    assert WeChatClient.API_BASE_URL == "https://api.weixin.qq.com/cgi-bin/"
    calls = []
    client = WeChatClient(APP_ID, SECRET)
    client._fetch_access_token = lambda url, params: calls.append((url, params))
    client.fetch_access_token()
    assert calls == [(
        "https://api.weixin.qq.com/cgi-bin/token",
        {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET},
    )]


def test_client_fetches_a_token_and_sends_text(wechat_fake, sandbox_get) -> None:
    client = _client(wechat_fake)
    result = client.message.send_text(USER, "你好！請選擇：\n1. 預約\n2. 查詢")
    assert result["errcode"] == 0
    assert result["errmsg"] == "ok"
    assert client.access_token.startswith("SANDBOX_")
    [record] = sandbox_get(wechat_fake, "/_sandbox/messages", touser=USER)
    assert record["msgtype"] == "text"
    assert record["text"]["content"] == "你好！請選擇：\n1. 預約\n2. 查詢"
    assert record["kind"] == "custom"
    client.message.send_text(USER, "again")
    stats = sandbox_get(wechat_fake, "/_sandbox/stats")
    assert stats["token_fetches"] == 1  # the token is cached by the client
    assert stats["messages_accepted"] == 2


def test_point_client_at_redirects_a_plain_client(wechat_fake, sandbox_get) -> None:
    client = fake_wechat.point_client_at(WeChatClient(APP_ID, SECRET, timeout=5), wechat_fake.url)
    assert client.message.send_text(USER, "hi")["errcode"] == 0
    assert WeChatClient.API_BASE_URL == "https://api.weixin.qq.com/cgi-bin/"  # class untouched
    assert sandbox_get(wechat_fake, "/_sandbox/stats")["token_fetches"] == 1


def test_wrong_credentials(wechat_fake, sandbox_get) -> None:
    with pytest.raises(WeChatClientException) as info:
        fake_wechat.sandbox_wechat_client(APP_ID, "wrong", wechat_fake.url).fetch_access_token()
    assert info.value.errcode == 40125
    with pytest.raises(WeChatClientException) as info:
        fake_wechat.sandbox_wechat_client("wxwrong", SECRET, wechat_fake.url).fetch_access_token()
    assert info.value.errcode == 40013
    raw = requests.get(wechat_fake.url + "/cgi-bin/token",
                       params={"grant_type": "password", "appid": APP_ID, "secret": SECRET},
                       timeout=5).json()
    assert raw["errcode"] == 40002
    stats = sandbox_get(wechat_fake, "/_sandbox/stats")
    assert stats["token_fetches"] == 3
    assert stats["token_failures"] == 3


def test_bad_tokens_and_bodies_get_wechat_errors(wechat_fake, sandbox_get) -> None:
    send = wechat_fake.url + "/cgi-bin/message/custom/send"
    body = {"touser": USER, "msgtype": "text", "text": {"content": "x"}}
    assert requests.post(send, json=body, timeout=5).json()["errcode"] == 41001
    assert requests.post(send, params={"access_token": "nope"}, json=body,
                         timeout=5).json()["errcode"] == 40001
    token = _client(wechat_fake).access_token
    cases = [
        (b"", 44002),
        (b"{not json", 47001),
        (b'{"msgtype": "text", "text": {"content": "x"}}', 40003),
        (b'{"touser": "o1", "msgtype": "telegram"}', 40008),
        (b'{"touser": "o1", "msgtype": "text", "text": {"content": ""}}', 44003),
    ]
    for data, errcode in cases:
        answer = requests.post(send, params={"access_token": token}, data=data, timeout=5).json()
        assert answer["errcode"] == errcode, data
        assert " rid: " in answer["errmsg"]
    assert sandbox_get(wechat_fake, "/_sandbox/messages") == []


def test_injected_40001_is_retried_by_wechatpy(wechat_fake, sandbox_get) -> None:
    client = _client(wechat_fake)
    client.fetch_access_token()
    _post(wechat_fake, "/_sandbox/faults", {"errcode": 40001, "count": 1})
    assert client.message.send_text(USER, "after retry")["errcode"] == 0
    stats = sandbox_get(wechat_fake, "/_sandbox/stats")
    assert stats["token_fetches"] == 2  # auto_retry fetched a new token
    assert [m["text"]["content"] for m in sandbox_get(wechat_fake, "/_sandbox/messages")] == [
        "after retry"
    ]


def test_injected_45015_fails_and_records_nothing(wechat_fake, sandbox_get) -> None:
    client = _client(wechat_fake)
    _post(wechat_fake, "/_sandbox/faults", {"errcode": 45015, "count": 1})
    with pytest.raises(WeChatClientException) as info:
        client.message.send_text(USER, "outside the 48 hours")
    assert info.value.errcode == 45015
    assert sandbox_get(wechat_fake, "/_sandbox/messages") == []
    assert client.message.send_text(USER, "next one passes")["errcode"] == 0


def test_45047_45009_minus_1_and_http_500(wechat_fake, sandbox_get) -> None:
    client = _client(wechat_fake)
    _post(wechat_fake, "/_sandbox/faults",
          [{"errcode": 45047}, {"errcode": 45009}, {"errcode": -1}, {"http_status": 500}])
    with pytest.raises(WeChatClientException) as info:
        client.message.send_text(USER, "x")
    assert info.value.errcode == 45047
    with pytest.raises(APILimitedException):
        client.message.send_text(USER, "x")
    with pytest.raises(WeChatClientException) as info:
        client.message.send_text(USER, "x")
    assert info.value.errcode == -1
    with pytest.raises(WeChatClientException) as info:
        client.message.send_text(USER, "x")
    assert info.value.errcode is None
    assert info.value.response.status_code == 500
    assert sandbox_get(wechat_fake, "/_sandbox/messages") == []
    assert sandbox_get(wechat_fake, "/_sandbox/stats")["faults_injected"] == 4


def test_expired_tokens_are_refetched(wechat_fake, sandbox_get) -> None:
    client = _client(wechat_fake)
    client.message.send_text(USER, "one")
    old = client.access_token
    _post(wechat_fake, "/_sandbox/expire_tokens")
    answer = requests.post(wechat_fake.url + "/cgi-bin/message/custom/send",
                           params={"access_token": old},
                           json={"touser": USER, "msgtype": "text", "text": {"content": "x"}},
                           timeout=5).json()
    assert answer["errcode"] == 42001
    assert client.message.send_text(USER, "two")["errcode"] == 0
    assert client.access_token != old
    _post(wechat_fake, "/_sandbox/expire_tokens", {"mode": "invalid"})
    assert client.message.send_text(USER, "three")["errcode"] == 0
    stats = sandbox_get(wechat_fake, "/_sandbox/stats")
    assert stats["token_fetches"] == 3
    assert stats["token_errors"] == 3  # the raw call above and the two retried sends
    texts = [m["text"]["content"] for m in sandbox_get(wechat_fake, "/_sandbox/messages")]
    assert texts == ["one", "two", "three"]


def test_a_new_token_leaves_the_old_one_a_grace_period(wechat_fake) -> None:
    client = _client(wechat_fake)
    first = client.fetch_access_token()["access_token"]
    second = client.fetch_access_token()["access_token"]
    assert first != second
    for token in (first, second):
        answer = requests.post(wechat_fake.url + "/cgi-bin/message/custom/send",
                               params={"access_token": token},
                               json={"touser": USER, "msgtype": "text", "text": {"content": "x"}},
                               timeout=5).json()
        assert answer["errcode"] == 0


def test_token_endpoint_faults(wechat_fake) -> None:
    _post(wechat_fake, "/_sandbox/faults", {"errcode": -1, "endpoint": "token"})
    client = _client(wechat_fake)
    with pytest.raises(WeChatClientException) as info:
        client.message.send_text(USER, "x")
    assert info.value.errcode == -1
    assert client.message.send_text(USER, "x")["errcode"] == 0


def test_template_and_menu_messages(wechat_fake, sandbox_get) -> None:
    client = _client(wechat_fake)
    result = client.message.send_template(
        USER, "TPL_appointment", {"first": {"value": "預約已確認"}, "keyword1": {"value": "5月3日"}}
    )
    assert result["errcode"] == 0
    assert isinstance(result["msgid"], int)
    menu = {
        "touser": USER, "msgtype": "msgmenu",
        "msgmenu": {"head_content": "請選擇", "list": [{"id": "101", "content": "是"},
                                                      {"id": "102", "content": "否"}],
                    "tail_content": ""},
    }
    assert client.post("message/custom/send", data=menu)["errcode"] == 0
    records = sandbox_get(wechat_fake, "/_sandbox/messages", touser=USER)
    assert [r["kind"] for r in records] == ["template", "custom"]
    assert records[0]["template_id"] == "TPL_appointment"
    assert records[0]["msgid"] == result["msgid"]
    assert records[1]["msgmenu"]["list"][1]["content"] == "否"
    assert records[0]["id"] < records[1]["id"]
    assert sandbox_get(wechat_fake, "/_sandbox/messages", touser="someone-else") == []
    assert requests.delete(wechat_fake.url + "/_sandbox/messages", timeout=5).ok
    assert sandbox_get(wechat_fake, "/_sandbox/messages") == []


def test_bad_fault_specs_are_rejected(wechat_fake, sandbox_get) -> None:
    for spec in ({"errcode": 0}, {}, {"errcode": 40001, "endpoint": "moon"},
                 {"http_status": 200}, {"errcode": 40001, "count": -1}):
        response = requests.post(wechat_fake.url + "/_sandbox/faults", json=spec, timeout=5)
        assert response.status_code == 400, spec
    assert requests.delete(wechat_fake.url + "/_sandbox/faults", timeout=5).ok
    assert sandbox_get(wechat_fake, "/_sandbox/health")["status"] == "ok"
