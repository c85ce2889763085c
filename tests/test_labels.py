"""Labels are printed (by the magics, the panel, the Restored line): one with control
characters, an escape sequence or a line break is refused wherever a label is given, and one
that came from elsewhere is printed escaped."""

from __future__ import annotations

import json
import logging
import os
import shlex
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

import stsmagic
from stsmagic import limits
from stsmagic.broker import Broker
from stsmagic.errors import ParameterError
from stsmagic.ledger import SessionLedger
from stsmagic.session import IssuedSession, to_record

BAD = {
    "escape sequence": "red\x1b[31mALERT\x1b[0m",
    "newline": "two\nlines",
    "carriage return": "over\rwritten",
    "tab": "a\tb",
    "nul": "a\x00b",
    "delete": "a\x7fb",
    "bidi override": "abc\u202edcba",
    "line separator": "a\u2028b",
    "c1 control": "a\x9bb",
}
GOOD = ("morning", "nightly job", "équipe-ü", "role@acct:1/2", "データ")


def session(label: str | None = None) -> IssuedSession:
    now = datetime.now(timezone.utc)
    response = {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLEEXAMPLE01",
            "SecretAccessKey": "not-a-secret-for-this-test-000000000000",
            "SessionToken": "token",
            "Expiration": now + timedelta(hours=1),
        }
    }
    return IssuedSession.from_sts("session", response, issued_at=now, label=label)


def is_the_label_rule(error: ParameterError) -> bool:
    return (
        error.parameter.startswith(("label", "--label"))
        and "printable characters only" in error.limit
    )


@pytest.mark.parametrize("name", sorted(BAD))
def test_the_ledger_refuses_a_label_with_control_characters(name: str) -> None:
    ledger = SessionLedger()
    heard: list[str] = []
    ledger.subscribe(lambda event, s: heard.append(event))
    with pytest.raises(ParameterError) as caught:
        ledger.add(session(BAD[name]))
    assert is_the_label_rule(caught.value)
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)
    with pytest.raises(ParameterError) as caught, ledger.reserve(BAD[name]):
        pass
    assert is_the_label_rule(caught.value)
    assert (len(ledger), ledger.active, heard) == (0, None, [])


def test_the_ledger_takes_printable_labels_in_any_script() -> None:
    ledger = SessionLedger()
    for n, label in enumerate(GOOD):
        with ledger.reserve(label):
            kept = ledger.add(session(label), activate=n == 0)
        assert kept.label == label
    assert ledger.labels == GOOD


@pytest.mark.parametrize("label", [BAD["escape sequence"], BAD["newline"], BAD["bidi override"]])
def test_label_is_refused_before_anything_is_sent(sandbox: Any, ip: Any, label: str) -> None:
    before = (len(sandbox.requests), stsmagic.sessions.sessions)
    quoted = shlex.quote(label)
    for magic, line in (
        ("sts_federation", f"--name alice --label {quoted}"),
        ("sts_session", f"--token-code {sandbox.mfa_code()} --label {quoted}"),
    ):
        with pytest.raises(UsageError) as caught:
            ip.run_line_magic(magic, line)
        message = str(caught.value)
        assert message.startswith(f"%{magic}: --label: ")
        assert "printable characters only" in message
        assert label not in message and "\n" not in message
    with pytest.raises(ParameterError) as caught:
        Broker().get_federation_token(Name="alice", label=label)
    assert is_the_label_rule(caught.value)
    assert (len(sandbox.requests), stsmagic.sessions.sessions) == before


def test_sts_profiles_default_label_is_the_profile_name_and_checked_as_one(
    sandbox: Any, ip: Any
) -> None:
    before = len(sandbox.requests)
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("sts_profile", "'dev\x1b]0;pwned\x07'")
    message = str(caught.value)
    assert message.startswith(
        "%sts_profile: label (by default the profile's name; or give --label)"
    )
    assert "printable characters only" in message and "\x1b" not in message
    assert len(sandbox.requests) == before and len(stsmagic.sessions) == 0


def test_the_mfa_form_refuses_a_bad_label_when_made(sandbox: Any, aws_profile: Path) -> None:
    from stsmagic.widgets.mfa_form import MfaForm

    with pytest.raises(ParameterError) as caught:
        MfaForm(label=BAD["escape sequence"], ledger=SessionLedger())
    assert is_the_label_rule(caught.value)


def test_a_label_from_elsewhere_is_printed_escaped() -> None:
    from stsmagic.magics import describe

    odd = session(BAD["escape sequence"])  # made, but no ledger takes it
    for text in (str(odd), describe(odd)):
        assert text.startswith("red\\x1b[31mALERT\\x1b[0m")
        assert "\x1b" not in text
    assert limits.printable("a\nb\u202ec é") == "a\\nb\\u202ec é"
    assert limits.printable("plain label") == "plain label"


def test_sts_use_and_forget_print_a_label_they_were_given_escaped(ip: Any) -> None:
    for magic in ("sts_use", "sts_forget"):
        with pytest.raises(UsageError) as caught:
            ip.run_line_magic(magic, "'x\x1b[2J'")
        assert "\x1b" not in str(caught.value) and "x\\x1b[2J" in str(caught.value)


def test_a_sessions_file_with_a_bad_label_restores_the_others_and_says_why(
    sandbox: Any,
    ip: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    caplog: Any,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    good = Broker().get_federation_token(Name="alice", label="good")
    bad = Broker().get_federation_token(Name="mallory")
    records = [to_record(good), {**to_record(bad), "label": "evil\x1b[2J\nRestored 9 sessions"}]
    path = tmp_path / "cache" / "stsmagic" / "sessions.json"
    path.parent.mkdir(parents=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"format": 1, "active": "good", "sessions": records}, f)
    with caplog.at_level(logging.WARNING, logger="stsmagic"):
        ip.run_line_magic("config", "StsMagics.remember = True")
    out = capsys.readouterr().out
    assert out.startswith("Restored 1 session from ") and out.count("\n") == 1
    assert "using good (federation" in out and "\x1b" not in out
    assert stsmagic.sessions.labels == ("good",)
    warned = [r.getMessage() for r in caplog.records if "not restoring" in r.getMessage()]
    assert len(warned) == 1 and "\x1b" not in warned[0] and "\n" not in warned[0]
    ip.run_line_magic("config", "StsMagics.remember = False")
