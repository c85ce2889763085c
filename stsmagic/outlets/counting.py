"""The usage outlet: every request a session signed, counted through botocore's own events.

``count_on(session, via)`` registers two handlers on a botocore (or aiobotocore) session's
event emitter, which every client made from it copies: ``before-call`` forgets who signed an
earlier request in this thread or task (a presigned URL, credentials read for another
library); the gate (``gate.credentials``) notes the label of the session it hands the signer;
``needs-retry``, which botocore emits after every attempt with its answer (or the exception
when none came), counts it under that label in the followed ledger's ``usage_table``: AWS's
error code for an error answer, the exception's name for none. A retried request is counted
at each attempt, as each was signed and sent. A request the gate did not sign (source
credentials, explicit keys, unsigned, stubbed) is not counted, nor one refused before it was
sent.

``needs-retry`` already has botocore's retry handler on every client, so counting joins an
event botocore emits anyway. What is kept is the client's service name, the operation's name
and an error code: never a parameter, a key or a resource name. The botocore and aiobotocore
outlets call ``count_on`` for every session they reach; ``live.install`` for boto3's default
session.
"""

from __future__ import annotations

import re
from typing import Any

from ..usage import AIOBOTOCORE, BOTOCORE
from . import gate, wiring

__all__ = ["AIOBOTOCORE", "BOTOCORE", "count_on", "error_code"]

# What an AWS error code looks like: words in CamelCase, dotted for a namespace (EC2's
# "Client.UnauthorizedOperation"). Anything else an endpoint sends may echo what was asked
# (a bucket or key name) and is kept as the HTTP status only, as S3's bodiless HEAD answers are.
_CODE = re.compile(r"[A-Z][A-Za-z0-9]{0,63}(?:\.[A-Z][A-Za-z0-9]{0,63}){0,2}")


def error_code(http_response: Any, parsed: Any, context: Any) -> str:
    """The AWS error code of an error answer, as botocore raises it; its HTTP status if there is
    none, or if what came is not shaped like an AWS error code."""
    code = context.get("error_code_override") if context else None
    if not code and isinstance(parsed, dict):
        code = parsed.get("Error", {}).get("Code")
    code = str(code) if code else str(http_response.status_code)
    return code if _CODE.fullmatch(code) else str(http_response.status_code)


# Looked up once: these run at every request (the gate's note of the signer is one variable
# for the process, and the process's record one slot).
_note = gate.signed_by.get
_set_note = gate.signed_by.set
_process = wiring.process


def _before_call(**_: Any) -> None:
    _set_note(None)


def _counter(via: str) -> Any:
    """The ``needs-retry`` handler that counts under ``via``."""

    def count(
        operation: Any,
        response: Any = None,
        caught_exception: Any = None,
        request_dict: Any = None,
        **_: Any,
    ) -> None:
        label = _note()
        if label is None:
            return
        _set_note(None)
        record = _process.record
        if record is None:
            return
        error = None
        if response is not None:
            http_response = response[0]
            if http_response.status_code >= 300:
                context = (request_dict or {}).get("context")
                error = error_code(http_response, response[1], context)
        elif caught_exception is not None:
            error = type(caught_exception).__name__
        record.ledger.usage_table.record(
            label, via, operation.service_model.service_name, operation.name, error
        )

    return count


_HANDLERS = {via: _counter(via) for via in (BOTOCORE, AIOBOTOCORE)}


def count_on(session: Any, via: str) -> None:
    """Count the requests of every client made from ``session`` from now on (idempotent);
    ``via`` is ``"botocore"`` or ``"aiobotocore"``."""
    session.register("before-call", _before_call, unique_id="stsmagic-usage-before-call")
    session.register("needs-retry", _HANDLERS[via], unique_id="stsmagic-usage-needs-retry")
