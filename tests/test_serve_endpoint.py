"""The kernel's container-credentials endpoint (issue 19), over HTTP on 127.0.0.1: what it
answers, from memory, and every request it refuses."""

from __future__ import annotations

import getpass
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from stsmagic.broker import Broker
from stsmagic.ledger import SessionLedger
from stsmagic.outlets.serve import CredentialServer, serve_credentials
from tests.helpers.serving import OffsetClock, fetch, token, watched_ledger

FIELDS = {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "AccountId"}


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture
def ledger(clock: OffsetClock, aws_profile: Path) -> SessionLedger:
    return watched_ledger(clock)


@pytest.fixture
def server(ledger: SessionLedger) -> Iterator[CredentialServer]:
    with serve_credentials(ledger) as server:
        yield server


def test_answers_the_active_session_as_the_sdks_read_it(
    sandbox: Any, ledger: SessionLedger, server: CredentialServer
) -> None:
    session = ledger.add(Broker().get_federation_token(Name="served", DurationSeconds=3600))
    status, headers, body = fetch(server)
    assert status == 200
    assert set(body) == FIELDS
    creds = session.credentials
    assert (body["AccessKeyId"], body["SecretAccessKey"], body["Token"]) == (
        creds.access_key,
        creds.secret_key,
        creds.token,
    )
    assert body["Expiration"] == session.expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["AccountId"] == sandbox.account_id
    assert headers["cache-control"] == "no-store"
    assert headers["content-type"] == "application/json"
    # localhost with the port is the other name allowed
    assert fetch(server, headers={"Host": f"localhost:{server.port}"})[0] == 200


def test_follows_switches_from_memory(
    sandbox: Any, ledger: SessionLedger, server: CredentialServer
) -> None:
    broker = Broker()
    first = ledger.add(broker.get_federation_token(Name="first", DurationSeconds=3600))
    second = ledger.add(broker.get_federation_token(Name="second", DurationSeconds=3600))
    sandbox.reset_requests()
    assert fetch(server)[2]["AccessKeyId"] == second.access_key_id
    ledger.activate(str(first.label))
    assert fetch(server)[2]["AccessKeyId"] == first.access_key_id
    ledger.deactivate()
    status, _, body = fetch(server)
    assert (status, body["Code"]) == (404, "NoActiveSession")
    assert sandbox.requests == []  # every answer from memory: nothing was sent to STS
    # each session handed out is counted under its label: via serve, operation fetch
    fetches = ledger.usage().query("via == 'serve'")
    rows = zip(fetches["label"], fetches["operation"], fetches["calls"], strict=True)
    assert sorted(rows) == [
        (str(first.label), "fetch", 1),
        (str(second.label), "fetch", 1),
    ]


def test_no_active_session_is_404_never_the_long_term_keys(
    sandbox: Any, server: CredentialServer
) -> None:
    status, headers, body = fetch(server)
    assert status == 404
    assert body["Code"] == "NoActiveSession" and "%sts_use" in body["Message"]
    assert sandbox.source_credentials.access_key not in str(body)
    assert headers["cache-control"] == "no-store"


def test_expired_mfa_session_is_503_and_nobody_is_asked(
    sandbox: Any,
    ledger: SessionLedger,
    clock: OffsetClock,
    server: CredentialServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def never(*args: object, **kwargs: object) -> str:
        raise AssertionError("the server asked for a code")

    monkeypatch.setattr(getpass, "getpass", never)
    session = ledger.add(
        Broker().get_session_token(TokenCode=sandbox.mfa_code(), DurationSeconds=900)
    )
    assert session.renewal == "mfa"
    clock.to(session.expiration + timedelta(seconds=1))
    sandbox.reset_requests()
    status, headers, body = fetch(server)
    assert status == 503 and body["Code"] == "SessionExpired"
    message = body["Message"]
    assert "\n" not in message and repr(session.label) in message and "MFA code" in message
    assert ledger.active is session and sandbox.requests == []
    assert headers["cache-control"] == "no-store"


def test_expired_delegated_session_says_it_cannot_be_made_again(
    sandbox: Any, ledger: SessionLedger, clock: OffsetClock, server: CredentialServer
) -> None:
    session = ledger.add(
        Broker().get_delegated_access_token(TradeInToken=sandbox.mint_trade_in_token())
    )
    clock.to(session.expiration)
    status, _, body = fetch(server)
    assert status == 503 and "cannot be made again" in body["Message"]


REFUSALS = [
    ("no token", {"authorization": None}, 403),
    ("wrong token", {"authorization": "not-the-token"}, 403),
    ("token with a prefix", {"authorization": "Bearer right"}, 403),
    ("another host", {"headers": {"Host": "evil.example:{port}"}}, 403),
    ("another port", {"headers": {"Host": "127.0.0.1:1"}}, 403),
    ("no host", {"headers": {"Host": None}}, 403),
    ("a web page", {"headers": {"Origin": "http://127.0.0.1:{port}"}}, 403),
    ("POST", {"method": "POST"}, 405),
    ("PUT", {"method": "PUT"}, 405),
    ("DELETE", {"method": "DELETE"}, 405),
    ("HEAD", {"method": "HEAD"}, 405),
    ("PROPFIND", {"method": "PROPFIND"}, 405),
    ("another path", {"path": "/"}, 404),
    ("a query", {"path": "/stsmagic/credentials?x=1"}, 404),
]


def test_every_refusal(sandbox: Any, ledger: SessionLedger, server: CredentialServer) -> None:
    session = ledger.add(Broker().get_federation_token(Name="guarded", DurationSeconds=3600))
    secrets = (*sandbox.issued_secrets(), token(server), session.access_key_id)
    seen = {}
    for case, request, _ in REFUSALS:
        kwargs = dict(request)
        if "headers" in kwargs:
            kwargs["headers"] = {
                k: (v.format(port=server.port) if v else v) for k, v in kwargs["headers"].items()
            }
        if kwargs.get("authorization") == "Bearer right":
            kwargs["authorization"] = f"Bearer {token(server)}"
        got, headers, body = fetch(server, **kwargs)
        seen[case] = got
        assert headers["cache-control"] == "no-store", case
        text = str(body) + str(headers)
        assert not [s for s in secrets if s in text], case
    assert seen == {case: status for case, _, status in REFUSALS}
    assert ledger.active is session
    assert fetch(server)[0] == 200  # and the right request still gets its answer


def test_a_thousand_wrong_tokens_change_nothing(
    sandbox: Any, ledger: SessionLedger, server: CredentialServer
) -> None:
    session = ledger.add(Broker().get_federation_token(Name="hammered", DurationSeconds=3600))
    refused: list[int] = []

    def hammer(n: int) -> None:
        for i in range(125):
            refused.append(fetch(server, authorization=f"guess-{n}-{i}")[0])

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    # the right child is answered while the guesses go on (no lock-out, no delay on purpose)
    assert fetch(server)[2]["AccessKeyId"] == session.access_key_id
    for thread in threads:
        thread.join()
    assert refused == [403] * 1000
    assert server.answers()[403] == 1000
    assert fetch(server)[2]["AccessKeyId"] == session.access_key_id
    assert ledger.active is session and len(ledger) == 1
