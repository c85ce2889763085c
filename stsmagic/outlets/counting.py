"""The usage outlet: every call a session signed, counted through botocore's own events.

``count_on(session, via)`` registers three handlers on a botocore (or aiobotocore) session's
event emitter, which every client made from it copies: ``before-call`` forgets who signed an
earlier request in this thread or task (and notes the service's name in the request's
context); the gate (``gate.credentials``) notes the label of the session it hands the signer;
``after-call`` (an answer; AWS's error code if it is an error) and ``after-call-error`` (no
answer: the exception's name) count the call under that label in the followed ledger's
``usage_table``. A call the gate did not sign (source credentials,
explicit keys, unsigned) is not counted, nor one refused before it was sent.

What is kept is the client's service name, the operation's name and an error code: never a
parameter, a key or a resource name. The botocore and aiobotocore outlets call ``count_on``
for every session they reach; ``live.install`` for boto3's default session.
"""

from __future__ import annotations

import re
from typing import Any

from ..usage import AIOBOTOCORE, BOTOCORE
from . import gate

__all__ = ["AIOBOTOCORE", "BOTOCORE", "count_on", "error_code"]

# What an error code looks like (S3's HEAD answers have no body: botocore gives the status).
_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def error_code(http_response: Any, parsed: Any, context: Any) -> str:
    """The AWS error code of an error answer, as botocore raises it (its status if none)."""
    code = context.get("error_code_override") if context else None
    if not code and isinstance(parsed, dict):
        code = parsed.get("Error", {}).get("Code")
    code = str(code) if code else str(http_response.status_code)
    return code if _CODE.fullmatch(code) else str(http_response.status_code)


# The request context's key for the service name (after-call-error is not given the model).
_SERVICE = "stsmagic_service"


def _before_call(model: Any, context: Any, **_: Any) -> None:
    gate.signed_by.set(None)
    context[_SERVICE] = model.service_model.service_name


def _counter(via: str) -> tuple[Any, Any]:
    """The ``after-call`` and ``after-call-error`` handlers that count under ``via``."""

    def after_call(http_response: Any, parsed: Any, model: Any, context: Any, **_: Any) -> None:
        label = gate.signed_by.get()
        if label is None:
            return
        gate.signed_by.set(None)
        ledger = gate.following()
        if ledger is None:
            return
        error = None
        if http_response.status_code >= 300:
            error = error_code(http_response, parsed, context)
        ledger.usage_table.record(label, via, model.service_model.service_name, model.name, error)

    def after_call_error(exception: BaseException, context: Any, event_name: str, **_: Any) -> None:
        label = gate.signed_by.get()
        if label is None:
            return
        gate.signed_by.set(None)
        ledger = gate.following()
        service = context.get(_SERVICE) if context else None
        if ledger is None or service is None:
            return
        operation = event_name.rsplit(".", 1)[-1]  # after-call-error.<service id>.<operation>
        ledger.usage_table.record(label, via, service, operation, type(exception).__name__)

    return after_call, after_call_error


_HANDLERS = {via: _counter(via) for via in (BOTOCORE, AIOBOTOCORE)}


def count_on(session: Any, via: str) -> None:
    """Count the calls of every client made from ``session`` from now on (idempotent);
    ``via`` is ``"botocore"`` or ``"aiobotocore"``."""
    after_call, after_call_error = _HANDLERS[via]
    session.register("before-call", _before_call, unique_id="stsmagic-usage-before-call")
    session.register("after-call", after_call, unique_id="stsmagic-usage-after-call")
    session.register(
        "after-call-error", after_call_error, unique_id="stsmagic-usage-after-call-error"
    )
