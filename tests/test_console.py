"""Console sign-in links: getSigninToken at the sandbox over HTTP, the login page it opens, every
refusal before sending, the endpoint by partition and override, the widget's countdown, and
the secrets scan (no repr, output, widget state or log record holds the URL)."""

from __future__ import annotations

import html
import json
import logging
import pickle
import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from stsmagic.broker import Broker, console
from stsmagic.console import SigninLink, signin_url
from stsmagic.errors import ParameterError, RequestRefused
from stsmagic.session import IssuedSession, SecretCredentials
from tests.helpers.clock import Clock
from tests.helpers.widgets import widget_states


@pytest.fixture
def broker(sandbox: Any, aws_profile: Path) -> Broker:
    return Broker(endpoint_url=sandbox.endpoint_url)


@pytest.fixture
def signin(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """STSMAGIC_SIGNIN_URL at the sandbox, as ``stsmagic demo`` sets it."""
    monkeypatch.setenv("STSMAGIC_SIGNIN_URL", sandbox.signin_url)
    return str(sandbox.signin_url)


@pytest.fixture(scope="module")
def federation(sandbox: Any) -> IssuedSession:
    """One federation session for the module (read-only in every test), as the broker makes
    it from GetFederationToken's answer: one request, not a Broker per test."""
    import boto3

    keys = sandbox.source_credentials
    sts = boto3.Session(
        aws_access_key_id=keys.access_key,
        aws_secret_access_key=keys.secret_key,
        region_name="us-east-1",
    ).client("sts", endpoint_url=sandbox.endpoint_url)
    issued_at = datetime.now(timezone.utc)
    answer = sts.get_federation_token(Name="console-user")
    return IssuedSession.from_sts(
        "federation", answer, issued_at=issued_at, label="fed", region="us-east-1"
    )


@pytest.fixture
def role(broker: Broker, sandbox: Any) -> IssuedSession:
    return broker.assume_role(
        RoleArn=sandbox.role_arn("plain"), RoleSessionName="console-role", label="role"
    )


def tokens_asked(sandbox: Any) -> int:
    return sandbox.count("getSigninToken")


def login_page(link: SigninLink) -> str:
    """What the browser gets for the link: the sandbox's login page."""
    with urllib.request.urlopen(link.url, timeout=10) as answer:
        return html.unescape(answer.read().decode())


def page_field(page: str, name: str) -> str:
    (value,) = re.findall(rf"class='{name}'>([^<]*)<", page)
    return value


# -- the link ------------------------------------------------------------------------------


def test_a_federation_session_gets_a_login_url_that_signs_in_as_its_principal(
    sandbox: Any, federation: IssuedSession, signin: str
) -> None:
    asked = tokens_asked(sandbox)
    before = datetime.now(timezone.utc)
    link = signin_url(federation)
    assert tokens_asked(sandbox) == asked + 1
    sent = [r for r in sandbox.requests if r.operation == "getSigninToken"][-1]
    assert (sent.service, sent.status) == ("signin", 200)

    parts = urlsplit(link.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == signin
    query = parse_qs(parts.query, strict_parsing=True)
    assert set(query) == {"Action", "Issuer", "Destination", "SigninToken"}
    assert query["Action"] == ["login"] and query["Issuer"] == ["stsmagic"]
    assert query["Destination"] == ["https://console.aws.amazon.com/"]
    (token,) = query["SigninToken"]
    assert token in sandbox.issued_secrets()  # the one the sandbox just issued

    assert link.destination == "https://console.aws.amazon.com/"
    assert (link.label, link.kind, link.principal) == ("fed", "federation", federation.principal)
    assert link.signin_endpoint == signin
    assert before <= link.issued_at <= datetime.now(timezone.utc)
    assert link.expires_at == link.issued_at + timedelta(minutes=15)

    page = login_page(link)
    assert page_field(page, "principal") == federation.principal
    assert page_field(page, "issuer") == "stsmagic"
    assert page_field(page, "destination") == "https://console.aws.amazon.com/"
    with pytest.raises(urllib.error.HTTPError):  # a sign-in token signs in once
        login_page(link)


@pytest.mark.parametrize("kind", ["role", "sso", "delegated"])
def test_role_sso_and_delegated_sessions_sign_in_too(
    sandbox: Any, broker: Broker, signin: str, kind: str
) -> None:
    if kind == "role":
        session = broker.assume_role(RoleArn=sandbox.role_arn("plain"), RoleSessionName="r1")
    elif kind == "sso":
        session = broker.get_role_credentials(
            accountId=sandbox.sso_account_id,
            roleName=sandbox.sso_role_name,
            accessToken=sandbox.sso_access_token(),
        )
    else:
        session = broker.get_delegated_access_token(TradeInToken=sandbox.mint_trade_in_token())
    page = login_page(signin_url(session))
    assert session.principal and page_field(page, "principal").startswith(session.principal)


def test_a_role_sends_session_duration_and_opens_a_service_in_a_region(
    sandbox: Any, role: IssuedSession, signin: str
) -> None:
    link = signin_url(role, region="eu-west-1", session_duration=7200, service="s3")
    assert link.destination == "https://eu-west-1.console.aws.amazon.com/s3/home?region=eu-west-1"
    page = login_page(link)
    assert page_field(page, "destination") == link.destination
    # SessionDuration was sent: the console sessions granted differ by what was asked (the
    # sandbox's clock may have been moved by other tests, so no absolute time is compared).
    shorter = login_page(signin_url(role, session_duration=900))
    gap = until(page) - until(shorter)
    # The shorter one was asked for later (whole seconds): 7200 - 900 less the seconds between.
    assert timedelta(seconds=6300 - 30) < gap <= timedelta(seconds=6300)


def until(page: str) -> datetime:
    return datetime.fromisoformat(page_field(page, "until").replace("Z", "+00:00"))


def test_destinations_by_region_and_service() -> None:
    aws, cn = console.PARTITIONS["aws"], console.PARTITIONS["aws-cn"]
    assert console.console_destination(aws) == "https://console.aws.amazon.com/"
    assert (
        console.console_destination(aws, region="us-west-2")
        == "https://us-west-2.console.aws.amazon.com/console/home?region=us-west-2"
    )
    assert (
        console.console_destination(aws, "ec2", "us-west-2")
        == "https://us-west-2.console.aws.amazon.com/ec2/home?region=us-west-2"
    )
    assert console.console_destination(aws, "iam") == "https://console.aws.amazon.com/iam/home"
    assert (
        console.console_destination(cn, "s3", "cn-north-1")
        == "https://console.amazonaws.cn/s3/home?region=cn-north-1"
    )


def test_a_destination_on_a_console_subdomain_is_sent_as_given(
    sandbox: Any, federation: IssuedSession, signin: str
) -> None:
    page = "https://us-east-2.console.aws.amazon.com/cloudwatch/home?region=us-east-2#logs:"
    link = signin_url(federation, destination=page)
    assert parse_qs(urlsplit(link.url).query)["Destination"] == [page]
    assert page_field(login_page(link), "destination") == page


# -- refused before anything is sent -------------------------------------------------------


def refused(sandbox: Any, call: Any, *words: str) -> str:
    """``call()`` raises a one-line ParameterError naming ``words``, and nothing was sent."""
    asked = tokens_asked(sandbox)
    with pytest.raises(ParameterError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message
    assert tokens_asked(sandbox) == asked
    return message


def test_a_get_session_token_session_is_refused_naming_the_magics_to_use(
    sandbox: Any, broker: Broker, signin: str
) -> None:
    session = broker.get_session_token(TokenCode=sandbox.mfa_code(), label="plain-session")
    message = refused(sandbox, lambda: signin_url(session), "session:", "plain-session")
    assert "%sts_federation" in message and "%sts_role" in message


def test_an_expired_session_is_refused(
    sandbox: Any, federation: IssuedSession, signin: str
) -> None:
    later = Clock(federation.expiration)
    message = refused(sandbox, lambda: signin_url(federation, clock=later), "expired", "fed")
    assert "%sts_federation" in message  # how to renew it


def test_session_duration_only_for_role_and_sso_within_900_to_43200(
    sandbox: Any, broker: Broker, federation: IssuedSession, role: IssuedSession, signin: str
) -> None:
    refused(
        sandbox,
        lambda: signin_url(federation, session_duration=3600),
        "SessionDuration",
        "federation",
        "900 to 43200",
    )
    delegated = broker.get_delegated_access_token(TradeInToken=sandbox.mint_trade_in_token())
    refused(sandbox, lambda: signin_url(delegated, session_duration=3600), "SessionDuration")
    for bad in (899, 43201, 0, -1, "3600", 3600.0, True):
        refused(sandbox, lambda bad=bad: signin_url(role, session_duration=bad), "SessionDuration")
    for good in (900, 43200):
        assert "role" in login_page(signin_url(role, session_duration=good))


@pytest.mark.parametrize(
    "destination",
    [
        "http://console.aws.amazon.com/",
        "https://example.com/",
        "https://console.aws.amazon.com.example.com/",
        "https://evilconsole.aws.amazon.com/",
        "https://user@console.aws.amazon.com/",
        "https://console.aws.amazon.com:8443/",
        "https://console.amazonaws.cn/",
        "javascript:alert(1)",
        "console.aws.amazon.com",
        "https://console.aws.amazon.com/\nx",
        "",
    ],
)
def test_a_destination_off_the_console_is_refused(
    sandbox: Any, federation: IssuedSession, signin: str, destination: str
) -> None:
    refused(
        sandbox,
        lambda: signin_url(federation, destination=destination),
        "Destination:",
        "https:// URL on console.aws.amazon.com",
    )


def test_bad_service_region_and_their_mixes_are_refused(
    sandbox: Any, federation: IssuedSession, signin: str
) -> None:
    refused(sandbox, lambda: signin_url(federation, service="S3"), "service:")
    refused(sandbox, lambda: signin_url(federation, service="s3/../x"), "service:")
    refused(sandbox, lambda: signin_url(federation, region="moon"), "region:")
    refused(
        sandbox, lambda: signin_url(federation, region="cn-north-1"), "region:", "aws-cn", "(aws)"
    )
    refused(
        sandbox,
        lambda: signin_url(federation, service="s3", destination="https://console.aws.amazon.com/"),
        "Destination:",
        "either",
    )
    refused(sandbox, lambda: signin_url("fed"), "session:", "not an IssuedSession")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("endpoint", "words"),
    [
        ("http://signin.example.com/federation", ("http://signin.example.com", "https://")),
        ("ftp://127.0.0.1/federation", ("http(s)",)),
        ("https://signin.aws.amazon.com/federation?x=1", ("query",)),
        ("not a url", ("whitespace", "http:// or https://")),
    ],
)
def test_a_bad_endpoint_is_refused_naming_where_it_came_from(
    sandbox: Any,
    federation: IssuedSession,
    monkeypatch: pytest.MonkeyPatch,
    endpoint: str,
    words: tuple[str, ...],
) -> None:
    refused(sandbox, lambda: signin_url(federation, signin_endpoint=endpoint), "signin_endpoint")
    refused(sandbox, lambda: signin_url(federation, signin_endpoint=endpoint), *words)
    monkeypatch.setenv("STSMAGIC_SIGNIN_URL", endpoint)
    refused(sandbox, lambda: signin_url(federation), "STSMAGIC_SIGNIN_URL:", *words)


# -- the endpoint: by partition, overridden ------------------------------------------------


def with_principal(session: IssuedSession, principal: str | None, **changes: Any) -> IssuedSession:
    """The same keys (the sandbox knows them), as another partition's principal."""
    fields = {
        name: getattr(session, name)
        for name in (
            "label",
            "kind",
            "access_key_id",
            "issued_at",
            "expiration",
            "packed_policy_size",
            "profile",
            "region",
        )
    }
    return IssuedSession(
        **{**fields, "principal": principal, **changes}, credentials=session.credentials
    )


def test_the_endpoint_and_console_follow_the_sessions_partition(
    sandbox: Any, federation: IssuedSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STSMAGIC_SIGNIN_URL", raising=False)
    cases = {
        "aws": ("https://signin.aws.amazon.com/federation", "https://console.aws.amazon.com/"),
        "aws-cn": ("https://signin.amazonaws.cn/federation", "https://console.amazonaws.cn/"),
        "aws-us-gov": (
            "https://signin.amazonaws-us-gov.com/federation",
            "https://console.amazonaws-us-gov.com/",
        ),
    }
    for name, (endpoint, home) in cases.items():
        session = with_principal(federation, f"arn:{name}:sts::123456789012:federated-user/x")
        partition = console.partition_of(session)
        assert partition.name == name
        assert console.resolve_endpoint(partition) == endpoint
        assert console.console_destination(partition) == home
    # SSO (whose ARN stsmagic writes) and sessions without a principal: by region.
    sso = with_principal(federation, "arn:aws:sts::1:assumed-role/R", kind="sso", region=None)
    assert console.partition_of(sso).name == "aws"
    assert console.partition_of(sso, "us-gov-west-1").name == "aws-us-gov"
    gov = with_principal(federation, "arn:aws:sts::1:assumed-role/R", kind="sso")
    gov = with_principal(gov, gov.principal, kind="sso", region="us-gov-east-1")
    assert console.partition_of(gov).name == "aws-us-gov"
    assert console.partition_of(with_principal(federation, None, region="cn-north-1")).name == (
        "aws-cn"
    )
    iso = with_principal(federation, "arn:aws-iso:sts::1:federated-user/x")
    with pytest.raises(ParameterError, match=r"aws-iso.*signin_endpoint"):
        console.partition_of(iso)


def test_a_china_session_at_the_sandbox_gets_the_china_console_home(
    sandbox: Any, federation: IssuedSession, signin: str
) -> None:
    china = with_principal(federation, "arn:aws-cn:sts::123456789012:federated-user/x")
    link = signin_url(china)
    assert link.destination == "https://console.amazonaws.cn/"
    refused(
        sandbox,
        lambda: signin_url(china, destination="https://console.aws.amazon.com/"),
        "console.amazonaws.cn",
    )


def test_the_argument_beats_the_environment_which_beats_the_partition(
    sandbox: Any, federation: IssuedSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/federation"
    aws = console.PARTITIONS["aws"]
    monkeypatch.setenv("STSMAGIC_SIGNIN_URL", dead)
    assert console.resolve_endpoint(aws) == dead
    assert console.resolve_endpoint(aws, sandbox.signin_url) == sandbox.signin_url
    # Over HTTP: the argument reaches the sandbox although the environment names a dead port.
    assert signin_url(federation, signin_endpoint=sandbox.signin_url).signin_endpoint == (
        sandbox.signin_url
    )
    with pytest.raises(RequestRefused, match="getSigninToken refused: ConnectionRefusedError"):
        signin_url(federation)
    monkeypatch.delenv("STSMAGIC_SIGNIN_URL")
    assert console.resolve_endpoint(aws) == "https://signin.aws.amazon.com/federation"


# -- refused by the endpoint ---------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_endpoints_refusals_are_one_line_with_awss_code(
    sandbox: Any, federation: IssuedSession, signin: str
) -> None:
    unknown = IssuedSession(
        label="forged",
        kind="federation",
        principal="arn:aws:sts::123456789012:federated-user/x",
        access_key_id="ASIAFORGEDFORGED0000",
        issued_at=federation.issued_at,
        expiration=federation.expiration,
        packed_policy_size=None,
        profile=None,
        region=None,
        credentials=SecretCredentials("ASIAFORGEDFORGED0000", "s" * 40, "t" * 200),
    )
    with pytest.raises(RequestRefused) as caught:
        signin_url(unknown)
    assert caught.value.code == "InvalidClientTokenId"
    assert str(caught.value) == (
        "getSigninToken refused: InvalidClientTokenId: "
        "The security token included in the request is invalid."
    )

    sandbox.fail_next("getSigninToken", status=500, code="InternalFailure")
    with pytest.raises(RequestRefused, match="InternalFailure"):
        signin_url(federation)

    sandbox.hang_next("getSigninToken", 3)
    started = time.monotonic()
    with pytest.raises(RequestRefused) as caught:
        signin_url(federation, timeout=0.5)
    assert caught.value.code == "ReadTimeoutError" and time.monotonic() - started < 2.5
    assert "\n" not in str(caught.value)


def test_keys_expired_at_the_endpoint_are_refused_as_aws_does(
    aws_profile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stsmagic.sandbox import Sandbox

    with Sandbox() as box:  # its own: this test moves the sandbox's clock
        monkeypatch.setenv("STSMAGIC_SIGNIN_URL", box.signin_url)
        keys = box.source_credentials
        (aws_profile.parent / "credentials").write_text(
            f"[default]\naws_access_key_id = {keys.access_key}\n"
            f"aws_secret_access_key = {keys.secret_key}\n"
        )
        session = Broker(endpoint_url=box.endpoint_url).get_federation_token(
            Name="short", DurationSeconds=900
        )
        box.advance(901)  # the keys expired at AWS; this machine's clock has not caught up
        with pytest.raises(RequestRefused) as caught:
            signin_url(session)
        assert caught.value.code == "ExpiredToken"


def test_the_sandbox_refuses_what_aws_refuses(sandbox: Any, broker: Broker) -> None:
    """getSigninToken asked directly, as another client would: AWS's errors."""

    def ask(session: IssuedSession, **extra: str) -> tuple[int, dict[str, Any]]:
        creds = session.credentials
        blob = json.dumps(
            {
                "sessionId": creds.access_key,
                "sessionKey": creds.secret_key,
                "sessionToken": creds.token,
            }
        )
        query = "&".join(
            f"{k}={quote(v)}"
            for k, v in {"Action": "getSigninToken", "Session": blob, **extra}.items()
        )
        try:
            with urllib.request.urlopen(f"{sandbox.signin_url}?{query}", timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    plain = broker.get_session_token(TokenCode=sandbox.mfa_code())
    status, body = ask(plain)
    assert (status, body["code"]) == (400, "AccessDenied")
    assert "Only federation tokens or assume role tokens" in body["message"]
    fed = broker.get_federation_token(Name="direct")
    assert ask(fed, SessionDuration="3600")[1]["code"] == "InvalidParameter"
    role = broker.assume_role(RoleArn=sandbox.role_arn("plain"), RoleSessionName="direct")
    assert ask(role, SessionDuration="3600")[0] == 200
    assert ask(role, SessionDuration="899")[1]["code"] == "InvalidParameter"
    assert ask(role, SessionDuration="43201")[1]["code"] == "InvalidParameter"


# -- secrets -------------------------------------------------------------------------------


def secret_forms(link: SigninLink, session: IssuedSession) -> list[str]:
    """The URL, its token and the session's secret parts, raw and URL-encoded."""
    token = parse_qs(urlsplit(link.url).query)["SigninToken"][0]
    creds = session.credentials
    raw = [link.url, token, creds.secret_key, str(creds.token)]
    return raw + [quote(value, safe="") for value in raw]


def assert_clean(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text


def test_no_text_form_of_the_link_holds_the_url(
    sandbox: Any, federation: IssuedSession, signin: str
) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    link = signin_url(federation)
    secrets = secret_forms(link, federation)
    formatter = InteractiveShell.instance().display_formatter
    data, _ = formatter.format(link)
    texts = [
        repr(link),
        str(link),
        f"{link}",
        f"{link!r}",
        f"{link:>200}",
        "%s" % (link,),  # noqa: UP031 - the old formatting too
        "{}".format(link),  # noqa: UP032
        json.dumps(data),
        repr([link]),
    ]
    for text in texts:
        assert_clean(text, secrets)
    assert "url=<hidden: .url>" in repr(link) and federation.principal in repr(link)
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(link)
    with pytest.raises(TypeError):
        json.dumps(link)


def test_no_log_record_holds_the_url_or_the_secret(
    sandbox: Any, federation: IssuedSession, signin: str, caplog: pytest.LogCaptureFixture
) -> None:
    import http.client

    caplog.set_level(logging.DEBUG)  # the root logger: every logger's records, restored after
    http.client.HTTPConnection.debuglevel = 1  # would print, not log: must not be used either
    try:
        link = signin_url(federation)
    finally:
        http.client.HTTPConnection.debuglevel = 0
    records = "\n".join(r.getMessage() + repr(r.args) + str(r.exc_info) for r in caplog.records)
    assert_clean(records, secret_forms(link, federation))


def test_an_error_never_quotes_the_url_nor_its_secrets(
    sandbox: Any, federation: IssuedSession, signin: str
) -> None:
    sandbox.fail_next("getSigninToken", status=400, code="Bad", message="nope")
    with pytest.raises(RequestRefused) as caught:
        signin_url(federation)
    error = caught.value
    creds = federation.credentials
    for text in (str(error), repr(error), repr(error.__cause__), repr(error.__context__)):
        assert creds.secret_key not in text and str(creds.token) not in text
        assert quote(creds.secret_key, safe="") not in text
    assert error.__cause__ is None and error.__suppress_context__


# -- the widget ----------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def made(sandbox: Any, federation: IssuedSession, signin: str, clock: Clock) -> SigninLink:
    return signin_url(federation, clock=clock)


@pytest.fixture
def widget(made: SigninLink, clock: Clock) -> Iterator[Any]:
    pytest.importorskip("anywidget")
    from stsmagic.widgets.console_link import ConsoleLink

    link = ConsoleLink(made, clock=clock, interval=None)
    yield link
    link.close()


def answers(widget: Any, monkeypatch: pytest.MonkeyPatch, content: Any) -> list[Any]:
    """What the kernel sends back to a view that sent ``content``."""
    sent: list[Any] = []
    monkeypatch.setattr(widget, "send", lambda message, buffers=None: sent.append(message))
    widget._handle_custom_msg(content, [])
    return sent


def test_the_widget_counts_down_then_says_expired_and_forgets_the_url(
    widget: Any, made: SigninLink, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (widget.countdown, widget.expired) == ("0:15:00", False)
    assert widget.who == made.principal and widget.destination == made.destination
    assert answers(widget, monkeypatch, {"ask": "href"}) == [{"href": made.url}]
    assert answers(widget, monkeypatch, {"something": "else"}) == []
    clock.move(minutes=5, seconds=1)
    widget.refresh()
    assert (widget.countdown, widget.expired) == ("0:09:59", False)
    clock.move(minutes=9, seconds=58)
    widget.refresh()
    assert widget.countdown == "0:00:01" and widget.link is made
    clock.move(seconds=1)
    widget.refresh()
    assert (widget.countdown, widget.expired, widget.link) == ("expired", True, None)
    assert answers(widget, monkeypatch, {"ask": "href"}) == [{"expired": True}]
    assert "expired" in repr(widget)


def test_a_view_asking_after_expiry_gets_no_url_even_before_the_timer_ticked(
    widget: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.move(minutes=15)
    assert widget.expired is False  # no tick yet
    assert answers(widget, monkeypatch, {"ask": "href"}) == [{"expired": True}]
    assert widget.expired is True


def test_the_timer_ends_by_itself_at_expiry_and_on_close(made: SigninLink, clock: Clock) -> None:
    pytest.importorskip("anywidget")
    from stsmagic.widgets.console_link import ConsoleLink

    ticking = ConsoleLink(made, clock=clock, interval=0.02)
    assert ticking.timer is not None and ticking.timer.is_alive()
    clock.move(minutes=15)
    ticking.timer.join(timeout=5)
    assert not ticking.timer.is_alive() and ticking.countdown == "expired"
    ticking.close()

    other = ConsoleLink(made, clock=Clock(made.issued_at), interval=0.02)
    assert other.timer is not None and other.timer.is_alive()
    other.close()
    assert not other.timer.is_alive() and other.link is None


def test_no_widget_state_nor_its_text_holds_the_url(
    widget: Any, made: SigninLink, federation: IssuedSession, clock: Clock
) -> None:
    states = widget_states()
    assert made.principal in states  # the scan sees the link's state
    data, _ = widget._repr_mimebundle_()
    shown = json.dumps(data)
    assert "ConsoleLink(who=" in shown
    for text in (states, shown, repr(widget), str(widget)):
        assert_clean(text, secret_forms(made, federation))


# -- the panel's Details -------------------------------------------------------------------


def test_details_has_a_console_button_for_each_row_that_can_sign_in(
    sandbox: Any, broker: Broker, signin: str, clock: Clock
) -> None:
    pytest.importorskip("anywidget")
    from stsmagic.ledger import SessionLedger
    from stsmagic.widgets.console_link import ConsoleLink
    from stsmagic.widgets.panel import SessionPanel

    ledger = SessionLedger(clock=clock)
    fed = ledger.add(broker.get_federation_token(Name="panel-console", DurationSeconds=900))
    plain = ledger.add(broker.get_session_token(TokenCode=sandbox.mfa_code()), activate=False)
    panel = SessionPanel(ledger, interval=None)
    try:
        view = panel.rows[fed.label]
        line = view.details_line.children
        assert list(line) == [view.details, view.detail_buttons["Console"]]
        assert list(panel.rows[plain.label].details_line.children) == [
            panel.rows[plain.label].details
        ]
        asked = tokens_asked(sandbox)
        line[1].click()
        assert tokens_asked(sandbox) == asked + 1
        assert isinstance(panel.console, ConsoleLink)
        assert list(panel.console_box.children) == [panel.console]
        assert panel.console.who == fed.principal
        assert panel.console.link is not None
        assert fed.principal in login_page(panel.console.link)
        assert "Console link for" in panel.message.value

        clock.to(fed.expiration)  # the session is over: its button is disabled
        panel.refresh()
        assert panel.rows[fed.label].detail_buttons["Console"].disabled
        first = panel.console
        panel.close()
        assert panel.console is None and first.link is None
    finally:
        panel.close()


def test_the_panels_console_click_shows_a_refusal_in_its_message_line(
    sandbox: Any, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("anywidget")
    from stsmagic.ledger import SessionLedger
    from stsmagic.widgets.panel import SessionPanel

    monkeypatch.setenv("STSMAGIC_SIGNIN_URL", "http://signin.example.com/federation")
    ledger = SessionLedger()
    fed = ledger.add(broker.get_federation_token(Name="panel-refused"))
    panel = SessionPanel(ledger, interval=None)
    try:
        asked = tokens_asked(sandbox)
        panel.rows[fed.label].detail_buttons["Console"].click()
        assert "STSMAGIC_SIGNIN_URL" in panel.message.value and "https://" in panel.message.value
        assert panel.console is None and tokens_asked(sandbox) == asked
    finally:
        panel.close()


# -- the magic -----------------------------------------------------------------------------


def printed_link(capsys: pytest.CaptureFixture[str]) -> str:
    """The URL %sts_console printed (a terminal: no widget frontend), alone on its line."""
    lines = capsys.readouterr().out.splitlines()
    urls = [line for line in lines if line.startswith("http")]
    assert len(urls) == 1, lines
    return urls[0]


def open_page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return html.unescape(answer.read().decode())


def test_the_magic_prints_the_link_in_a_terminal_for_the_active_session(
    sandbox: Any, ip: Any, signin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fed = ip.run_line_magic("sts_federation", "--name magic-console")
    capsys.readouterr()
    asked = tokens_asked(sandbox)
    assert ip.run_line_magic("sts_console", "") is None
    assert tokens_asked(sandbox) == asked + 1
    url = printed_link(capsys)
    assert url.startswith(signin + "?Action=login&Issuer=stsmagic&")
    assert page_field(open_page(url), "principal") == fed.principal


def test_the_magic_opens_a_named_session_on_a_service_page_for_a_while(
    sandbox: Any, ip: Any, signin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic(
        "sts_role", f"--role-arn {sandbox.role_arn('plain')} --label ops --no-activate"
    )
    capsys.readouterr()
    ip.run_line_magic("sts_console", "ops --service ec2 --region us-west-2 --session-duration 900")
    page = open_page(printed_link(capsys))
    assert page_field(page, "destination") == (
        "https://us-west-2.console.aws.amazon.com/ec2/home?region=us-west-2"
    )
    assert "assumed-role/stsmagic-plain/" in page_field(page, "principal")


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("", ("no session is active", "%sts_federation")),
        ("nobody", ("nobody",)),
        ("fed --service s3 --destination https://console.aws.amazon.com/", ("either",)),
        ("fed --session-duration 3600", ("SessionDuration", "federation", "900 to 43200")),
        ("fed --session-duration soon", ("--session-duration",)),
        ("fed --destination https://example.com/", ("Destination", "console.aws.amazon.com")),
        ("plain", ("GetSessionToken", "%sts_federation", "%sts_role")),
    ],
)
def test_the_magic_refuses_in_one_line_and_sends_nothing(
    sandbox: Any, ip: Any, signin: str, line: str, words: tuple[str, ...]
) -> None:
    from IPython.core.error import UsageError

    if line:
        ip.run_line_magic("sts_federation", "--name magic-refused --label fed --no-activate")
        ip.run_line_magic("sts_session", f"--token-code {sandbox.mfa_code()} --label plain")
        ip.run_line_magic("sts_use", "--source")
    asked = tokens_asked(sandbox)
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("sts_console", line)
    message = str(caught.value)
    assert message.startswith("%sts_console") and "\n" not in message
    for word in words:
        assert word in message, message
    assert tokens_asked(sandbox) == asked


def test_the_trait_beats_the_environment_and_is_checked(
    sandbox: Any, ip: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from traitlets import TraitError

    magics = ip.magics_manager.registry["StsMagics"]
    monkeypatch.setenv("STSMAGIC_SIGNIN_URL", f"http://127.0.0.1:{closed_port()}/federation")
    ip.run_line_magic("sts_federation", "--name magic-trait")
    ip.run_line_magic("config", f"StsMagics.signin_url = {sandbox.signin_url!r}")
    capsys.readouterr()
    ip.run_line_magic("sts_console", "")
    assert printed_link(capsys).startswith(sandbox.signin_url + "?")
    with pytest.raises(TraitError, match=r"StsMagics\.signin_url: .*https://"):
        magics.signin_url = "http://signin.example.com/federation"
    assert magics.signin_url == sandbox.signin_url
    ip.run_line_magic("config", "StsMagics")
    assert "StsMagics.signin_url" in capsys.readouterr().out


def test_in_a_kernel_the_link_is_a_widget_whose_url_only_a_view_gets(
    sandbox: Any, aws_profile: Path, signin: str
) -> None:
    """A real ipykernel, spoken to as JupyterLab does: the cell's output and the widget's
    state hold no URL; a view's ask gets it in a custom message, and it signs in."""
    pytest.importorskip("anywidget")
    import os
    import queue

    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", env=dict(os.environ))
    try:
        messages: list[dict[str, Any]] = []

        def run(code: str) -> list[dict[str, Any]]:
            msg_id = kc.execute(code)
            seen = []
            while True:
                msg = kc.get_iopub_msg(timeout=60)
                messages.append(msg)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                seen.append(msg)
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    return seen

        run("%load_ext stsmagic")
        run("fed = %sts_federation --name kernel-console")
        shown = run("%sts_console")
        errors = [m["content"] for m in shown if m["msg_type"] == "error"]
        assert errors == []
        (result,) = [m["content"] for m in shown if m["msg_type"] == "execute_result"]
        assert result["data"]["text/plain"].startswith("ConsoleLink(who='arn:aws:sts::")
        model_id = result["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
        opened = [
            m["content"]
            for m in shown
            if m["msg_type"] == "comm_open" and m["content"]["comm_id"] == model_id
        ]
        assert opened and re.fullmatch(r"0:1[45]:\d\d", opened[0]["data"]["state"]["countdown"])

        # A view renders and asks, as the widget's JavaScript does.
        ask = kc.session.msg(
            "comm_msg",
            {"comm_id": model_id, "data": {"method": "custom", "content": {"ask": "href"}}},
        )
        kc.shell_channel.send(ask)
        href = None
        deadline = time.monotonic() + 30
        while href is None and time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            data = msg["content"].get("data", {})
            if msg["msg_type"] == "comm_msg" and data.get("method") == "custom":
                href = data["content"].get("href")
            else:
                messages.append(msg)
        assert href is not None and href.startswith(signin + "?Action=login&")
        assert "federated-user/kernel-console" in page_field(open_page(href), "principal")

        token = parse_qs(urlsplit(href).query)["SigninToken"][0]
        everything_else = json.dumps([m["content"] for m in messages], default=str)
        for secret in (href, token, quote(token, safe="")):
            assert secret not in everything_else
        for secret in sandbox.issued_secrets():
            assert secret not in everything_else
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
