"""The REST channel: the website widget, ``make chat``, the sandbox and the tests.

Two processes serve it. The public gateway admits a request (who may call, the visitor's token,
rate limits) and relays a body it built itself; the core runs it through the model. Both parse
with the same rules (:mod:`channels.rest.message`), so there is one reading of every request.
Everything here except :mod:`channels.rest.input` is free of Rasa, so the gateway can use it.
"""
