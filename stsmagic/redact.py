"""Keeps secrets out of botocore's DEBUG logs: a filter on its wire loggers."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable

_SECRET_NAMES = (
    "SecretAccessKey|SessionToken|secretAccessKey|sessionToken|TradeInToken|accessToken"
    "|refreshToken|clientSecret|deviceCode|x-amz-sso_bearer_token|X-Amz-Security-Token|SecurityToken"
    "|aws_secret_access_key|aws_session_token"
)


@functools.cache
def _secret_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    # Compiled when the first DEBUG record is redacted: most kernels never log botocore at
    # DEBUG, so %load_ext does not pay for them.
    return (
        # XML bodies: <SecretAccessKey>...</SecretAccessKey>, or one cut off before the closing tag
        (re.compile(rf"<({_SECRET_NAMES})>[^<]*"), r"<\1>***"),
        # dicts, JSON and header reprs: 'TradeInToken': '...', "sessionToken": "...", b'...'
        (
            re.compile(rf"""(["']({_SECRET_NAMES})["']\s*:\s*b?["'])[^"']*""", re.IGNORECASE),
            r"\1***",
        ),
        # canonical requests and raw headers: x-amz-security-token:...
        (re.compile(rf"^(({_SECRET_NAMES})\s*:)[^\n]*", re.IGNORECASE | re.MULTILINE), r"\1***"),
        # query strings and form bodies: TradeInToken=...&
        (re.compile(rf"\b(({_SECRET_NAMES})=)[^&\s'\"]*", re.IGNORECASE), r"\1***"),
    )


# botocore's loggers that write requests, headers or bodies (a filter sees only the records of
# the logger it is attached to, not its children's).
WIRE_LOGGERS = (
    "botocore.endpoint",
    "botocore.parsers",
    "botocore.auth",
    "botocore.httpsession",
    "botocore.hooks",
    "botocore.retryhandler",
    "botocore.credentials",
    "botocore.utils",
    "botocore.client",
    "botocore.httpchecksum",
    "urllib3.connectionpool",
)


def redact(text: str) -> str:
    """``text`` with the values of secret-bearing fields replaced by ``***``."""
    for pattern, replacement in _secret_patterns():
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record's message with the secrets taken out. Runs only for records that are
    actually made, so costs nothing unless DEBUG logging is on."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_redactor = RedactSecrets("stsmagic")


def redact_wire_logs() -> None:
    """Attach the redacting filter to botocore's wire loggers (idempotent)."""
    for name in WIRE_LOGGERS:
        logger = logging.getLogger(name)
        if _redactor not in logger.filters:
            logger.addFilter(_redactor)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` as one line, each of ``secrets`` in it replaced by ``***`` (for the message of
    an endpoint's refusal, which may quote what was sent)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())
