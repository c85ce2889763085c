"""The kernel's container-credentials endpoint (issue 19), over HTTP on 127.0.0.1: what it
answers, from memory, and every request it refuses."""

from __future__ import annotations

import getpass
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import RefreshableCredentials
from dateutil.tz import tzlocal

from stsmagic.broker import Broker
from stsmagic.ledger import SessionLedger
from stsmagic.outlets import endpoint
from stsmagic.outlets.endpoint import PATH
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
    # an hour-long session: answered as ending SERVED_FOR from now (the SDKs fetch again soon)
    left = parse_expiration(body["Expiration"]) - datetime.now(timezone.utc)
    assert abs(left - endpoint.SERVED_FOR) <= timedelta(seconds=2)
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


# --- hardening 4 ------------------------------------------------------------------------------


def raw(server: CredentialServer, *header_lines: str) -> tuple[int, dict[str, Any]]:
    """A GET sent byte by byte as written (repeated headers included): (status, JSON body)."""
    request = "\r\n".join([f"GET {PATH} HTTP/1.1", *header_lines, "", ""]).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request)
        return _read_answer(sock)


def _read_answer(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body) if body else {}


def until(condition: Callable[[], bool], seconds: float = 10) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_repeated_host_or_authorization_header_is_refused(
    sandbox: Any, ledger: SessionLedger, server: CredentialServer
) -> None:
    session = ledger.add(Broker().get_federation_token(Name="twice", DurationSeconds=3600))
    host, auth = f"Host: 127.0.0.1:{server.port}", f"Authorization: {token(server)}"
    assert raw(server, host, auth)[1]["AccessKeyId"] == session.access_key_id
    for lines in (
        (host, f"Host: evil.example:{server.port}", auth),
        (host, auth, "Authorization: wrong"),
        (host, auth, auth),
    ):
        status, body = raw(server, *lines)
        assert (status, body["Code"]) == (403, "Forbidden"), lines
        assert "repeated" in body["Message"] and "AccessKeyId" not in body


def test_idle_connections_are_bounded_and_closed(
    sandbox: Any,
    ledger: SessionLedger,
    server: CredentialServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert endpoint.READ_TIMEOUT <= 5 and endpoint.MAX_CONNECTIONS == 64
    monkeypatch.setattr(endpoint._Handler, "timeout", 1)  # the default's behaviour, faster
    session = ledger.add(Broker().get_federation_token(Name="idle", DurationSeconds=3600))
    threads = threading.active_count()
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(100)]
    idle[0].sendall(b"GET /stsmagic/cred")  # half a request line
    try:
        assert until(lambda: server.open_connections == endpoint.MAX_CONNECTIONS)
        time.sleep(0.2)
        assert threading.active_count() <= threads + endpoint.MAX_CONNECTIONS
        # every one of them is closed by the server: the extra ones at once, the rest after
        # the timeout, and a real fetch is answered again
        assert until(lambda: server.open_connections == 0, 5)
        for sock in idle:
            sock.settimeout(5)
            assert sock.recv(1) == b""
        assert threading.active_count() <= threads + 1
        assert fetch(server)[2]["AccessKeyId"] == session.access_key_id
    finally:
        for sock in idle:
            sock.close()


def test_no_keys_after_stop_on_a_connection_accepted_before(
    sandbox: Any, ledger: SessionLedger, server: CredentialServer
) -> None:
    ledger.add(Broker().get_federation_token(Name="late", DurationSeconds=3600))
    secret = token(server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        assert until(lambda: server.open_connections == 1)  # accepted, waiting for its request
        server.stop()
        request = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        sock.sendall(f"{request}Authorization: {secret}\r\n\r\n".encode())
        status, body = _read_answer(sock)
    assert (status, body["Code"]) == (503, "NotServing")
    assert not {"AccessKeyId", "SecretAccessKey", "Token"} & set(body)


def test_no_token_or_secret_in_a_walk_of_vars(
    sandbox: Any, ledger: SessionLedger, aws_profile: Path
) -> None:
    other = "OtherProfilesSecretKey/0123456789abcdefghij"
    aws_profile.with_name("credentials").write_text(
        aws_profile.with_name("credentials").read_text()
        + f"[other]\naws_access_key_id = AKIAOTHERPROFILE0000\naws_secret_access_key = {other}\n"
    )
    ledger.add(Broker().get_federation_token(Name="walked", DurationSeconds=3600))
    with serve_credentials(ledger) as server:
        assert other in server.credentials_file.read_text()  # the copy keeps other profiles
        found = list(walk(server)) + list(walk(server._endpoint))
        secret = token(server)
        assert [where for where, text in found if secret in text or other in text] == []
        assert len(found) > 20  # the walk went somewhere


def walk(root: object) -> Iterator[tuple[str, str]]:
    """Every value reachable through vars() and __slots__ (what a debugger's variables view
    opens), as (path, text); the ledger's sessions are the ledger's concern and not walked."""
    seen: set[int] = set()
    stack: list[tuple[str, object]] = [("root", root)]
    while stack:
        where, value = stack.pop()
        if id(value) in seen or isinstance(value, SessionLedger):
            continue
        seen.add(id(value))
        if isinstance(value, (str, bytes, int, float, bool, type(None), Path)):
            yield where, value.decode("latin-1") if isinstance(value, bytes) else str(value)
            continue
        if isinstance(value, dict):
            stack.extend((f"{where}[{k!r}]", v) for k, v in value.items())
            stack.extend((f"{where} key", k) for k in value)
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(value))
            continue
        yield where, repr(value)
        names = list(getattr(value, "__dict__", {}))
        for cls in type(value).__mro__:
            slots = cls.__dict__.get("__slots__", ())
            names += [slots] if isinstance(slots, str) else list(slots)
        for name in names:
            try:
                stack.append((f"{where}.{name}", object.__getattribute__(value, name)))
            except AttributeError:
                continue


def test_the_no_session_message_is_the_servers(sandbox: Any, ledger: SessionLedger) -> None:
    said = "no one has signed in to this Jupyter server: sign in from the AWS status bar item"
    with serve_credentials(ledger, no_session=said) as server:
        status, _, body = fetch(server)
    assert (status, body) == (404, {"Code": "NoActiveSession", "Message": said})


def test_the_expiration_is_capped_and_botocore_fetches_again(
    sandbox: Any, ledger: SessionLedger, clock: OffsetClock, server: CredentialServer
) -> None:
    session = ledger.add(Broker().get_federation_token(Name="long", DurationSeconds=43200))
    status, _, body = fetch(server)
    answered = parse_expiration(body["Expiration"])
    now = datetime.now(timezone.utc)
    assert status == 200 and answered < session.expiration - timedelta(hours=11)
    assert abs((answered - (now + endpoint.SERVED_FOR)).total_seconds()) <= 2
    assert timedelta(minutes=16) >= endpoint.SERVED_FOR

    # botocore's own refresh rule over what was answered: none now, one once a minute passed
    moved = timedelta()
    fetched: list[str] = []

    def refetch() -> dict[str, str]:
        _, _, again = fetch(server)
        fetched.append(again["AccessKeyId"])
        return {
            "access_key": again["AccessKeyId"],
            "secret_key": again["SecretAccessKey"],
            "token": again["Token"],
            "expiry_time": again["Expiration"],
        }

    creds = RefreshableCredentials(
        body["AccessKeyId"],
        body["SecretAccessKey"],
        body["Token"],
        answered,
        refetch,
        "container-role",
        time_fetcher=lambda: datetime.now(tzlocal()) + moved,
    )
    assert not creds.refresh_needed()
    creds.get_frozen_credentials()
    assert fetched == []
    # a switch in the kernel, then a minute and a second later the child asks again
    switched = ledger.add(Broker().get_federation_token(Name="other", DurationSeconds=43200))
    moved = endpoint.SERVED_FOR - timedelta(minutes=15) + timedelta(seconds=1)
    clock.offset = moved  # the kernel's clock too: its answers are capped from its now
    assert creds.refresh_needed()
    assert creds.get_frozen_credentials().access_key == switched.access_key_id
    assert fetched == [switched.access_key_id]
    # a session that ends sooner than the cap is answered with its own end
    ledger.activate(str(session.label))
    clock.to(session.expiration - timedelta(minutes=5))
    status, _, body = fetch(server)
    left = parse_expiration(body["Expiration"]) - datetime.now(timezone.utc)  # children's clock
    assert status == 200 and abs(left.total_seconds() - 300) <= 2


def parse_expiration(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
