"""The whole-conversation evaluation (``tests/conversations``) in parts with one job each.

:mod:`.replies` names the responses a reply holds, :mod:`.drivers` plays a customer on each
channel and reads the cases, :mod:`.product` starts the product the way the tests do,
:mod:`.judge` decides what a finished conversation achieved, :mod:`.report` sums it up.
:mod:`bot.conversation_eval` runs them (``make eval``).
"""
