"""IssuedSession: the four kinds' fields and expiry, and no secret in any rendering."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.credentials import ReadOnlyCredentials
from dateutil.tz import tzutc

from stsmagic.session import IssuedSession, mask_access_key

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
KEY = "ASIAEXAMPLEKEY00WXYZ"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLETOKEN//////////wEaDEXAMPLE"


def sts_response(**extra: Any) -> dict[str, Any]:
    # botocore parses Expiration into an aware datetime (dateutil's tzutc).
    expiration = datetime(2026, 1, 1, 13, 0, tzinfo=tzutc())
    credentials = {
        "AccessKeyId": KEY,
        "SecretAccessKey": SECRET,
        "SessionToken": TOKEN,
        "Expiration": expiration,
    }
    return {"Credentials": credentials, **extra}


def sso_response() -> dict[str, Any]:
    expiration_ms = int((T0 + timedelta(hours=8)).timestamp() * 1000)
    return {
        "roleCredentials": {
            "accessKeyId": KEY,
            "secretAccessKey": SECRET,
            "sessionToken": TOKEN,
            "expiration": expiration_ms,
        }
    }


def test_session_kind() -> None:
    s = IssuedSession.from_sts("session", sts_response(), issued_at=T0, profile="dev")
    assert (s.kind, s.principal, s.access_key_id, s.profile) == ("session", None, KEY, "dev")
    assert s.expiration == datetime(2026, 1, 1, 13, 0, tzinfo=timezone.utc)
    assert s.expiration.tzinfo is timezone.utc
    assert s.issued_at == T0
    assert s.packed_policy_size is None
    assert isinstance(s.credentials, ReadOnlyCredentials)
    assert (s.credentials.access_key, s.credentials.secret_key, s.credentials.token) == (
        KEY,
        SECRET,
        TOKEN,
    )


def test_federation_kind() -> None:
    arn = "arn:aws:sts::123456789012:federated-user/bob"
    response = sts_response(
        FederatedUser={"Arn": arn, "FederatedUserId": "123456789012:bob"}, PackedPolicySize=12
    )
    s = IssuedSession.from_sts("federation", response, issued_at=T0, region="eu-west-1")
    assert (s.principal, s.packed_policy_size, s.region) == (arn, 12, "eu-west-1")


def test_delegated_kind() -> None:
    arn = "arn:aws:sts::123456789012:assumed-role/Partner/session"
    s = IssuedSession.from_sts(
        "delegated", sts_response(AssumedPrincipal=arn, PackedPolicySize=3), issued_at=T0
    )
    assert (s.kind, s.principal, s.packed_policy_size) == ("delegated", arn, 3)


def test_sso_expiration_is_epoch_milliseconds() -> None:
    s = IssuedSession.from_sso(
        sso_response(), account_id="123456789012", role_name="Admin", issued_at=T0
    )
    assert s.kind == "sso"
    assert s.expiration == T0 + timedelta(hours=8)
    assert s.principal == "arn:aws:sts::123456789012:assumed-role/Admin"
    assert s.credentials.secret_key == SECRET


def test_remaining_and_expired_at_a_given_time() -> None:
    s = IssuedSession.from_sts("session", sts_response(), issued_at=T0)
    assert s.remaining_at(T0) == timedelta(hours=1)
    assert s.remaining_at(T0 + timedelta(minutes=59, seconds=30)) == timedelta(seconds=30)
    assert not s.expired_at(T0 + timedelta(minutes=59, seconds=59))
    assert s.expired_at(T0 + timedelta(hours=1))
    assert s.remaining_at(T0 + timedelta(days=3)) == timedelta(0)  # never negative
    # The real clock: 2026-01-01 13:00 is long past... or not yet; either way consistent.
    assert s.expired == (datetime.now(timezone.utc) >= s.expiration)


def test_masked_access_key() -> None:
    assert mask_access_key(KEY) == "ASIA…WXYZ"
    assert mask_access_key("ABCD") == "…ABCD"
    s = IssuedSession.from_sts("session", sts_response(), issued_at=T0)
    assert s.masked_access_key == "ASIA…WXYZ"


def test_with_label_keeps_everything_else() -> None:
    s = IssuedSession.from_sts("session", sts_response(), issued_at=T0)
    labelled = s.with_label("mine")
    assert labelled.label == "mine" and s.label is None
    assert labelled.credentials == s.credentials
    assert dataclasses.replace(labelled, label=None) == s


def test_naive_times_and_unknown_kinds_are_refused() -> None:
    s = IssuedSession.from_sts("session", sts_response(), issued_at=T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        dataclasses.replace(s, expiration=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="kind must be one of"):
        dataclasses.replace(s, kind="no-such-kind")


@pytest.mark.parametrize("kind", ["session", "federation", "delegated", "sso", "role"])
def test_no_secret_in_any_rendering(kind: str) -> None:
    if kind == "sso":
        s = IssuedSession.from_sso(
            sso_response(), account_id="123456789012", role_name="Admin", issued_at=T0
        )
    else:
        s = IssuedSession.from_sts(kind, sts_response(), issued_at=T0, label="x")
    renderings = [
        repr(s),
        str(s),
        s._repr_html_(),
        f"{s}",
        repr(s.credentials),
        str(s.credentials),
        repr([s]),
        repr({"s": s}),
    ]
    for text in renderings:
        assert SECRET not in text and TOKEN not in text
        assert KEY not in text  # the access key only ever masked
    assert "ASIA…WXYZ" in repr(s) and "ASIA…WXYZ" in s._repr_html_() and "ASIA…WXYZ" in str(s)
    assert "credentials" not in [f.name for f in dataclasses.fields(s) if f.repr]
    # asdict, pickle (%store), copy: none of them turns the secret into data or text.
    assert "credentials" not in dataclasses.asdict(s)
    assert SECRET not in json.dumps(dataclasses.asdict(s), default=str)
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(s)
    assert copy.copy(s) is s and copy.deepcopy([s])[0] is s
    assert (s.credentials.secret_key, s.credentials.token) == (SECRET, TOKEN)
    assert dataclasses.replace(s, label="y").credentials.secret_key == SECRET


def test_html_is_escaped() -> None:
    s = IssuedSession.from_sts("session", sts_response(), issued_at=T0, label="<b>x</b>")
    assert "<b>x</b>" not in s._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in s._repr_html_()


def test_vars_of_a_session_hold_no_secret() -> None:
    """Issue 22 item 7: pandas prints a tuple in a cell item by item, not by its masked repr,
    so the credentials must not be in the instance's __dict__ at all."""
    pd = pytest.importorskip("pandas")
    session = IssuedSession.from_sts(
        "session", sts_response(), issued_at=T0, label="v", profile="p", region="us-east-1"
    )
    frame = pd.DataFrame([vars(session)])
    texts = [repr(vars(session)), frame.to_string(), frame.to_html(), repr(frame.to_dict())]
    texts += [json.dumps(vars(session), default=str)]
    for text in texts:
        assert SECRET not in text and TOKEN not in text
    assert "label" in vars(session) and vars(session)["access_key_id"] == KEY
    # still there for botocore, through every copy
    assert session.credentials == ReadOnlyCredentials(KEY, SECRET, TOKEN)
    assert session.with_label("w").credentials.secret_key == SECRET
    assert copy.deepcopy(session).credentials.token == TOKEN
    with pytest.raises(dataclasses.FrozenInstanceError):
        session._secret = None  # type: ignore[attr-defined]
