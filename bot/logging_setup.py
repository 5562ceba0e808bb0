"""Logging for our processes: one format, and noisy third-party loggers that print personal data
(twilio logs request bodies at INFO) turned down.

``SMO_LOG_FORMAT``: ``json`` writes one JSON object per line (time, level, logger, event, and the
exception when there is one) for a log pipeline; ``text`` is for people at a terminal; ``auto``
(default) picks text on a terminal and JSON otherwise. Both pass through the privacy filter, so
identifiers are masked whatever the format. Rasa's own structlog events follow the same choice.
"""

from __future__ import annotations

import logging

QUIET_LOGGERS = ("twilio", "twilio.http_client", "urllib3", "sanic.access", "tensorflow", "absl")


class PrivacyFilter(logging.Filter):
    """Masks identifiers (policy numbers, phone numbers, HKID-like numbers, dates) in every record.

    Defence in depth: our code logs ids, not message text, but libraries log URLs and errors that
    can carry a WhatsApp number in a conversation id.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        from bot.privacy import mask_text

        try:
            message = record.getMessage()
        except Exception:  # a library's bad format string: leave it to the handler
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def mask_all_handlers() -> None:
    """Attach the privacy filter to every handler configured so far (ours, Sanic's, Rasa's)."""
    privacy = PrivacyFilter()
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, PrivacyFilter) for f in handler.filters):
                handler.addFilter(privacy)


def log_format() -> str:
    """``json`` or ``text``, from ``SMO_LOG_FORMAT`` (``auto``: text only on a terminal)."""
    import os
    import sys

    chosen = (os.environ.get("SMO_LOG_FORMAT") or "auto").strip().lower()
    if chosen not in ("auto", "json", "text"):
        raise ValueError(f"SMO_LOG_FORMAT must be auto, json or text, got {chosen!r}")
    if chosen == "auto":
        return "text" if sys.stderr.isatty() else "json"
    return chosen


def json_formatter() -> logging.Formatter:
    """Standard-library records as JSON lines, via structlog (already installed with Rasa)."""
    import structlog

    return structlog.stdlib.ProcessorFormatter(
        processor=structlog.processors.JSONRenderer(ensure_ascii=False),
        foreign_pre_chain=[
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.format_exc_info,
        ],
    )


def configure_logging(level: str = "INFO", *, rasa: bool = True) -> None:
    """Configure the root logger once (``rasa``: also Rasa's structlog; the gateway has no Rasa)."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if log_format() == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(json_formatter())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    if rasa:
        # Rasa logs through structlog, which prints every level (message texts included at
        # DEBUG) unless told the level: use Rasa's own set-up with ours.
        from rasa.utils.log_utils import configure_structlog

        configure_structlog(logging.getLevelName(level))
    mask_all_handlers()
