"""Logging setup: one function, level from -v, and a filter that keeps the token out of every line."""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)

REDACTED = "[token redacted]"


class RedactFilter(logging.Filter):
    """Replaces each secret in a record's final message with a marker."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redact it, and keep the record."""
        if not self.secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, REDACTED)
        if record.exc_text:
            for secret in self.secrets:
                record.exc_text = record.exc_text.replace(secret, REDACTED)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        return True


_filter = RedactFilter([])


class DropVoiceWarnings(logging.Filter):
    """Drops discord.py's "PyNaCl/davey is not installed, voice will NOT be supported": this bot has no voice."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but those two warnings."""
        return "voice will NOT be supported" not in record.getMessage()


_voice_filter = DropVoiceWarnings()


def setup_logging(verbosity: int = 0, *, terminal: bool = False) -> None:
    """Log to stderr: errors with -q, warnings by default, info with -v, debug with -vv.

    The bot (`terminal` False) also logs its start-up summary, such as which commands it synced; a terminal
    command leaves the per-day scrape news to its own output lines.
    """
    level = (
        logging.ERROR
        if verbosity < 0
        else logging.WARNING
        if verbosity == 0
        else logging.INFO
        if verbosity == 1
        else logging.DEBUG
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(_filter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # discord.py is chatty at INFO; keep it one step quieter than ours.
    logging.getLogger("discord").setLevel(max(level, logging.INFO) if verbosity < 2 else logging.DEBUG)
    logging.getLogger("discord.client").addFilter(_voice_filter)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # A terminal command prints each day's scrape outcome itself: at the default verbosity the log would repeat it.
    logging.getLogger("bot.scrape").setLevel(logging.CRITICAL if terminal and verbosity == 0 else logging.NOTSET)
    # The bot's start-up summary (which commands went to which servers) shows at the default verbosity.
    logging.getLogger("bot.client").setLevel(logging.INFO if not terminal and verbosity == 0 else logging.NOTSET)


def redact_secret(secret: str) -> None:
    """Register a secret that must never appear in a log line (applies to every handler set up here)."""
    if secret and secret not in _filter.secrets:
        _filter.secrets.append(secret)
