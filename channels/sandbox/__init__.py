"""The local sandbox: fake Twilio and WeChat APIs, provider-exact signing, and a terminal player.

Everything runs on 127.0.0.1 with the obviously fake credentials of ``defaults``:

- ``fake_twilio``: the Twilio Messages API (``python -m channels.sandbox.fake_twilio``, port 5101);
- ``fake_wechat``: the WeChat official-account API (``python -m channels.sandbox.fake_wechat``,
  port 5102);
- ``signing``: signatures and webhook bodies built exactly as the providers build them;
- ``play``: type as a WhatsApp or WeChat user against the running assistant
  (``python -m channels.sandbox.play whatsapp|wechat``);
- ``runner.BackgroundServer``: serve an aiohttp app from a thread (for synchronous clients).

Importing this package imports nothing heavy; each module is imported on its own.
"""
