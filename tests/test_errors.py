"""stsmagic's errors as other code handles them: made again from their message alone (polars
re-raises an error as ``type(e)(message)``), pickled, and saying how to renew what expired."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import pickle
import pkgutil
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from IPython.core.error import UsageError

import stsmagic
from stsmagic.errors import (
    NoSourceCredentials,
    ParameterError,
    RequestRefused,
    SessionExpired,
    StsMagicError,
)
from stsmagic.session import KINDS

EXPIRATION = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)

# One of each, made with the constructor the code raising it uses.
EXAMPLES: dict[str, Exception] = {
    "StsMagicError": StsMagicError("a trade-in token is single use; issue a new session"),
    "ParameterError": ParameterError(
        "DurationSeconds", "100 is too short", "must be seconds from 900 to 129600"
    ),
    "RequestRefused": RequestRefused("GetSessionToken", "AccessDenied", "MFA failed: try again"),
    "RequestRefused without message": RequestRefused("AssumeRole", "ReadTimeoutError", ""),
    "NoSourceCredentials": NoSourceCredentials("GetSessionToken", "default"),
    "SessionExpired": SessionExpired("nightly", "federation", EXPIRATION),
    "SessionExpired with cause": SessionExpired(
        "mfa", "session", EXPIRATION, "no stdin to ask for a code"
    ),
}


def every_error_class() -> set[type]:
    """Every StsMagicError subclass the package defines (each module imported first)."""
    for module in pkgutil.walk_packages(stsmagic.__path__, "stsmagic."):
        if module.name.startswith(("stsmagic.sandbox", "stsmagic.dask")):
            continue
        importlib.import_module(module.name)
    found: set[type] = set()
    todo = [StsMagicError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return {cls for cls in found if cls.__module__.startswith("stsmagic.")}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_an_error_is_made_again_from_its_message(name: str) -> None:
    error = EXAMPLES[name]
    again = type(error)(str(error))
    assert type(again) is type(error) and str(again) == str(error)
    twice = type(again)(str(again))
    assert str(twice) == str(error)


def test_every_error_class_takes_one_message() -> None:
    classes = every_error_class()
    assert {"ParameterError", "RequestRefused", "SessionExpired", "NoSourceCredentials"} <= {
        c.__name__ for c in classes
    }
    for cls in classes:
        made = cls("something went wrong; do this instead")
        assert str(made) == "something went wrong; do this instead", cls
        assert str(cls(str(made))) == str(made)
        assert isinstance(made, StsMagicError)


def test_one_message_reads_the_fields_back_when_it_has_their_shape() -> None:
    parameter = ParameterError("DurationSeconds: 100 is too short; must be 900 to 129600")
    assert (parameter.parameter, parameter.problem, parameter.limit) == (
        "DurationSeconds",
        "100 is too short",
        "must be 900 to 129600",
    )
    refused = RequestRefused("GetSessionToken refused: AccessDenied: MFA failed: try again")
    assert (refused.operation, refused.code, refused.message) == (
        "GetSessionToken",
        "AccessDenied",
        "MFA failed: try again",
    )
    expired = SessionExpired(str(EXAMPLES["SessionExpired"]))
    assert expired.label == "nightly"
    # the one-message forms that are not of that shape keep the text whole
    plain = ParameterError("a label must be printable")
    assert str(plain) == "a label must be printable" and plain.problem == str(plain)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_an_error_pickles_and_copies_as_itself(name: str) -> None:
    error = EXAMPLES[name]
    for again in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
        assert type(again) is type(error) and str(again) == str(error)
    rebuilt = type(error)(str(error))
    assert str(pickle.loads(pickle.dumps(rebuilt))) == str(error)


def test_no_source_credentials_is_still_a_refusal_with_botocores_code() -> None:
    error = EXAMPLES["NoSourceCredentials"]
    assert isinstance(error, RequestRefused) and error.code == "NoCredentialsError"
    assert "refused" not in str(error)


# --- %sts_use of an expired session names the magic that renews its kind ---------------------

# kind -> (the magic that makes it again, whether the panel's Renew can)
RENEWED_BY = {
    "session": ("%sts_session", True),
    "federation": ("%sts_federation", True),
    "delegated": ("%sts_delegated", False),
    "role": ("%sts_role", True),
    "sso": ("%sso_role", True),
}
ISSUING = ("%sts_session", "%sts_federation", "%sts_delegated", "%sts_role", "%sso_role")


def test_every_kind_has_its_own_way_to_renew() -> None:
    assert set(RENEWED_BY) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(RENEWED_BY))
def test_sts_use_of_an_expired_session_names_the_magic_of_its_kind(
    sandbox: Any, ip: Any, kind: str
) -> None:
    good = ip.run_line_magic("sts_federation", "--name alice --label good")
    past = good.issued_at - timedelta(seconds=1)
    expired = dataclasses.replace(good, label=f"old-{kind}", kind=kind, expiration=past)
    stsmagic.sessions.add(expired, activate=False)
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("sts_use", f"old-{kind}")
    message = str(caught.value)
    magic, by_panel = RENEWED_BY[kind]
    assert message.startswith(f"%sts_use: session 'old-{kind}' expired at ")
    assert f"{past:%Y-%m-%d %H:%M:%S} UTC" in message
    assert [m for m in ISSUING if m in message] == [magic]
    assert ("the panel's Renew" in message) is by_panel
    assert stsmagic.sessions.active == good
