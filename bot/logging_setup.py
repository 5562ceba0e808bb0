"""Logging for our processes: one format, and noisy third-party loggers that print personal data
(twilio logs request bodies at INFO) turned down."""

from __future__ import annotations

import logging

QUIET_LOGGERS = ("twilio", "twilio.http_client", "urllib3", "sanic.access", "tensorflow", "absl")


def configure_logging(level: str = "INFO") -> None:
    """Configure the root logger once."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # Rasa logs through structlog, which prints every level (message texts included at DEBUG)
    # unless told the level: use Rasa's own set-up with ours.
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.getLevelName(level))
