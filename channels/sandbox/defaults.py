"""The sandbox's credentials: obviously fake, public, and never a secret.

They are what the fakes, the player and the tests use when no real credential is set. A real
Twilio account SID is ``AC`` + 32 lowercase hex digits; the sandbox one is all zeros so that it
passes format checks yet can never be mistaken for a live account. The WhatsApp sender is
Twilio's public WhatsApp sandbox number. The AES key is the base64 of the 32 ASCII bytes
``sandbox-aes-key-not-a-secret-000`` without its ``=`` padding (WeChat keys are 43 characters).
"""

from __future__ import annotations

import os

TWILIO_ACCOUNT_SID = "AC" + "0" * 32
TWILIO_AUTH_TOKEN = "sandbox-auth-token-not-a-secret"
TWILIO_WHATSAPP_FROM = "whatsapp:+14155238886"

WECHAT_APP_ID = "wxsandbox00000000"
WECHAT_APP_SECRET = "sandbox-app-secret-not-a-secret"
WECHAT_TOKEN = "sandboxtoken"
WECHAT_ENCODING_AES_KEY = "c2FuZGJveC1hZXMta2V5LW5vdC1hLXNlY3JldC0wMDA"
# The official account's original id (ToUserName of every inbound message); real ones are gh_ + hex.
WECHAT_ORIGINAL_ID = "gh_sandbox000000"

FAKE_TWILIO_PORT = 5101
FAKE_WECHAT_PORT = 5102
RASA_PORT = 5005

SANDBOX_WHATSAPP_USER = "+85291234567"
SANDBOX_WECHAT_USER = "oSandboxUser1"

_DEFAULTS = {
    "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
    "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
    "TWILIO_WHATSAPP_FROM": TWILIO_WHATSAPP_FROM,
    "WECHAT_APP_ID": WECHAT_APP_ID,
    "WECHAT_APP_SECRET": WECHAT_APP_SECRET,
    "WECHAT_TOKEN": WECHAT_TOKEN,
    "WECHAT_ENCODING_AES_KEY": WECHAT_ENCODING_AES_KEY,
    "WECHAT_ORIGINAL_ID": WECHAT_ORIGINAL_ID,
}


def setting(name: str, environ: dict[str, str] | None = None) -> str:
    """The environment's value of ``name`` when set and not empty, else the sandbox default."""
    env = os.environ if environ is None else environ
    value = env.get(name)
    if value:
        return value
    return _DEFAULTS[name]
