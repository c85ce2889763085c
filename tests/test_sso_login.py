"""%sso_login and the plain sso_login(): the device flow over HTTP against the sandbox's SSO
OIDC, the AWS CLI's cache file it writes, and the refresh grant used by whoever reads it."""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from stsmagic.errors import StsMagicError
from stsmagic.sso import login as login_module
from stsmagic.sso.cache import default_cache_dir, find_token
from stsmagic.sso.login import DeviceAuthorization, LoginNotApproved, sso_login

CLI_FIELDS = {
    "startUrl",
    "region",
    "accessToken",
    "expiresAt",
    "clientId",
    "clientSecret",
    "registrationExpiresAt",
    "refreshToken",
}


@pytest.fixture
def work(sandbox: Any, clean_environ: Path) -> Path:
    """A profile `work` with an sso_session, as `aws configure sso` writes it; its cache file."""
    clean_environ.joinpath("config").write_text(
        "[profile work]\nsso_session = corp\n"
        f"sso_account_id = {sandbox.sso_account_id}\nsso_role_name = {sandbox.sso_role_name}\n"
        f"region = us-east-1\nendpoint_url = {sandbox.endpoint_url}\n"
        f"\n[sso-session corp]\nsso_start_url = {sandbox.sso_start_url}\n"
        f"sso_region = {sandbox.sso_region}\nsso_registration_scopes = sso:account:access\n"
    )
    return default_cache_dir() / (hashlib.sha1(b"corp").hexdigest() + ".json")


class User:
    """Plays the user at the browser and the passing of time: the injected sleep and clock."""

    def __init__(self, sandbox: Any, approve_after: int | None = 1, step: float | None = None):
        self.sandbox = sandbox
        self.approve_after = approve_after
        self.step = step
        self.shown: list[DeviceAuthorization] = []
        self.slept: list[float] = []
        self.now = 0.0
        self.interrupt_after: int | None = None

    def show(self, authorization: DeviceAuthorization) -> None:
        self.shown.append(authorization)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += self.step or seconds
        if self.interrupt_after is not None and len(self.slept) >= self.interrupt_after:
            raise KeyboardInterrupt
        if self.approve_after is not None and len(self.slept) == self.approve_after:
            self.sandbox.approve_device(self.shown[-1].user_code)

    def clock(self) -> float:
        return self.now

    def login(self, **kwargs: Any) -> Any:
        return sso_login("work", show=self.show, sleep=self.sleep, clock=self.clock, **kwargs)


def no_secret_in(text: str, sandbox: Any) -> None:
    for secret in sandbox.issued_secrets():
        assert secret not in text


def test_login_writes_the_cli_cache_file_botocore_reads(
    sandbox: Any, work: Path, private_umask: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from botocore.session import Session
    from botocore.tokens import SSOTokenProvider
    from botocore.utils import JSONFileCache, SSOTokenLoader

    sandbox.reset_requests()
    user = User(sandbox, approve_after=3)
    done = user.login()

    assert done.path == work and done.session_name == "corp"
    assert work.stat().st_mode & 0o777 == 0o600
    cached = json.loads(work.read_text())
    assert set(cached) == CLI_FIELDS
    assert cached["startUrl"] == sandbox.sso_start_url and cached["region"] == sandbox.sso_region
    assert cached["accessToken"] in sandbox.issued_secrets()
    assert cached["refreshToken"] in sandbox.issued_secrets()
    assert cached["clientSecret"] in sandbox.issued_secrets()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", cached["expiresAt"])
    assert [a.user_code for a in user.shown] and user.slept == [1, 1, 1]
    assert sandbox.count("RegisterClient") == 1
    assert sandbox.count("StartDeviceAuthorization") == 1
    assert sandbox.count("CreateToken") == 3  # two pending, then the token
    assert list(work.parent.iterdir()) == [work]  # no temporary file left

    # botocore's own readers take it as the AWS CLI's
    token = SSOTokenProvider(
        Session(profile="work"), cache=JSONFileCache(str(work.parent))
    ).load_token()
    assert token is not None and token.get_frozen_token().token == cached["accessToken"]
    loader = SSOTokenLoader(cache=JSONFileCache(str(work.parent)))
    assert (
        loader(sandbox.sso_start_url, session_name="corp")["accessToken"] == cached["accessToken"]
    )

    # and the SSO portal accepts it
    from stsmagic.broker import Broker

    session = Broker(profile="work").get_role_credentials(
        accountId=sandbox.sso_account_id,
        roleName=sandbox.sso_role_name,
        accessToken=find_token("work"),
    )
    assert session.kind == "sso"
    no_secret_in(str(done) + repr(done) + repr(user.shown) + capsys.readouterr().out, sandbox)


def test_the_link_is_clickable_and_has_a_text_fallback(sandbox: Any, work: Path) -> None:
    user = User(sandbox)
    user.login()
    shown = user.shown[0]
    assert shown.verification_uri_complete.endswith(f"user_code={shown.user_code}")
    assert f'<a href="{shown.verification_uri_complete}"' in shown.html()
    assert shown.user_code in shown.html() and shown.user_code in shown.text()
    assert shown.verification_uri_complete in shown.text()


def test_slow_down_adds_five_seconds_to_every_later_poll(sandbox: Any, work: Path) -> None:
    sandbox.reset_requests()
    sandbox.fail_next("CreateToken", status=400, code="SlowDownException", message="Slow down")
    user = User(sandbox, approve_after=3)
    user.login()
    assert user.slept == [1, 6, 6]
    assert sandbox.count("CreateToken") == 3


def test_timeout_writes_nothing(sandbox: Any, work: Path) -> None:
    sandbox.reset_requests()
    user = User(sandbox, approve_after=None)
    with pytest.raises(LoginNotApproved, match=r"not approved within 3 s \(--timeout\)"):
        user.login(timeout=3)
    assert user.slept == [1, 1, 1] and sandbox.count("CreateToken") == 3
    assert not work.exists()


def test_the_device_code_expiring_writes_nothing(sandbox: Any, work: Path) -> None:
    user = User(sandbox, approve_after=None, step=200)
    with pytest.raises(LoginNotApproved, match="expired after 600 s without approval"):
        user.login()
    assert len(user.slept) == 3 and not work.exists()
    # AWS saying so first ends it too
    sandbox.fail_next("CreateToken", status=400, code="ExpiredTokenException", message="gone")
    with pytest.raises(LoginNotApproved, match="expired without approval; nothing was cached"):
        User(sandbox, approve_after=None).login()
    assert not work.exists()


def test_interrupt_while_polling_writes_nothing(sandbox: Any, work: Path) -> None:
    user = User(sandbox, approve_after=None)
    user.interrupt_after = 2
    with pytest.raises(KeyboardInterrupt):
        user.login()
    assert not work.exists() and not work.parent.exists()


# -- the magic ----------------------------------------------------------------------------------


def test_sso_login_magic_shows_the_link_and_then_sso_role_works(
    sandbox: Any, ip: Any, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from IPython.utils.capture import capture_output

    def sleep(seconds: float) -> None:  # the user approves the code the cell shows
        shown = captured.outputs[-1].data
        code = re.search(r"the code (\S+);", shown["text/plain"]).group(1)  # type: ignore[union-attr]
        assert f"user_code={code}" in shown["text/html"] and "<a href=" in shown["text/html"]
        sandbox.approve_device(code)

    monkeypatch.setattr(login_module, "_sleep", sleep)
    with capture_output() as captured:
        assert ip.run_line_magic("sso_login", "--profile work") is None
    assert "Logged in: SSO token for profile 'work' cached until" in captured.stdout
    # the folder is named; the file's 40-hex name would read like a secret in a saved notebook
    assert f"in {work.parent}" in captured.stdout and work.name not in captured.stdout
    assert work.stat().st_mode & 0o777 == 0o600

    with capture_output() as more:
        line = f"--account-id {sandbox.sso_account_id} --role-name {sandbox.sso_role_name}"
        session = ip.run_line_magic("sso_role", f"{line} --profile work")
    assert session.kind == "sso"
    text = captured.stdout + more.stdout + "".join(str(o.data) for o in captured.outputs)
    no_secret_in(text, sandbox)


def test_sso_login_magic_interrupted_says_one_line(
    sandbox: Any, ip: Any, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from IPython.utils.capture import capture_output

    def sleep(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(login_module, "_sleep", sleep)
    with capture_output() as captured:
        ip.run_line_magic("sso_login", "--profile work")
    assert captured.stdout.splitlines()[-1] == "%sso_login: interrupted; nothing was cached"
    assert not work.exists()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--timeout 0", "%sso_login: --timeout (timeout): 0 seconds is out of range; must be"),
        ("--timeout 4000", "%sso_login: --timeout (timeout): 4000 seconds is out of range"),
        ("--timeout soon", "%sso_login: argument --timeout: invalid float value: 'soon'"),
        ("--profile nope", "%sso_login: profile 'nope' is not in the AWS config files"),
        ("--profile plain", "%sso_login: profile 'plain' has no sso_session or sso_start_url"),
    ],
)
def test_bad_input_is_one_line_and_sends_nothing(
    sandbox: Any, ip: Any, work: Path, line: str, message: str
) -> None:
    from IPython.core.error import UsageError

    with open(os.environ["AWS_CONFIG_FILE"], "a") as f:
        f.write("\n[profile plain]\nregion = us-east-1\n")
    sandbox.reset_requests()
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("sso_login", line)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert sandbox.count("RegisterClient") == 0


# -- refreshing what was cached -----------------------------------------------------------------


def expire(path: Path, **changes: str) -> dict[str, Any]:
    cached = json.loads(path.read_text())
    past = datetime.now(timezone.utc) - timedelta(minutes=5)
    cached.update(expiresAt=past.strftime("%Y-%m-%dT%H:%M:%SZ"), **changes)
    path.write_text(json.dumps(cached))
    return cached


def test_an_expired_token_is_refreshed_and_written_back(
    sandbox: Any, work: Path, private_umask: None
) -> None:
    User(sandbox).login()
    old = expire(work)
    sandbox.reset_requests()
    token = find_token("work")
    assert sandbox.count("CreateToken") == 1  # the refresh grant, nothing else
    assert token != old["accessToken"] and token in sandbox.issued_secrets()
    cached = json.loads(work.read_text())
    assert cached["accessToken"] == token and set(cached) == CLI_FIELDS
    assert cached["refreshToken"] != old["refreshToken"]  # the sandbox's are single use
    assert cached["clientId"] == old["clientId"]
    assert datetime.fromisoformat(cached["expiresAt"].replace("Z", "+00:00")) > datetime.now(
        timezone.utc
    )
    assert work.stat().st_mode & 0o777 == 0o600
    assert find_token("work") == token and sandbox.count("CreateToken") == 1  # not again


def test_sso_role_refreshes_an_expired_cached_token(sandbox: Any, ip: Any, work: Path) -> None:
    User(sandbox).login()
    expire(work)
    sandbox.reset_requests()
    line = f"--account-id {sandbox.sso_account_id} --role-name {sandbox.sso_role_name}"
    session = ip.run_line_magic("sso_role", f"{line} --profile work")
    assert session.kind == "sso"
    assert sandbox.count("CreateToken") == 1 and sandbox.count("GetRoleCredentials") == 1


@pytest.mark.parametrize(
    ("changes", "message", "sent"),
    [
        ({"refreshToken": ""}, "expired at", 0),
        ({"registrationExpiresAt": "2020-01-01T00:00:00Z"}, "expired at", 0),
        ({"refreshToken": "aor" + "x" * 60}, "could not be refreshed (InvalidGrantException)", 1),
    ],
)
def test_a_token_that_cannot_be_refreshed_says_to_log_in(
    sandbox: Any, work: Path, changes: dict[str, str], message: str, sent: int
) -> None:
    User(sandbox).login()
    before = expire(work, **changes)
    sandbox.reset_requests()
    with pytest.raises(StsMagicError) as caught:
        find_token("work")
    text = str(caught.value)
    assert message in text and text.endswith("; run %sso_login --profile work")
    assert "\n" not in text and sandbox.count("CreateToken") == sent
    no_secret_in(text, sandbox)
    assert json.loads(work.read_text()) == before  # left as it was


# -- issue 22 items 2 and 3: the OIDC endpoint follows the http rule, checked before sending ----

ELSEWHERE = "http://oidc.example.com"


def point_work_at(url: str) -> None:
    config = Path(os.environ["AWS_CONFIG_FILE"])
    lines = config.read_text().splitlines()
    config.write_text(
        "\n".join(f"endpoint_url = {url}" if x.startswith("endpoint_url") else x for x in lines)
    )


@pytest.mark.parametrize("url", [ELSEWHERE, "http://oidc.example.com:80\\@127.0.0.1:9"])
def test_sso_login_refuses_a_plain_http_oidc_endpoint_before_sending(
    sandbox: Any, work: Path, proxy: Any, url: str
) -> None:
    """RegisterClient, StartDeviceAuthorization and CreateToken carry the client secret, the
    device code and the tokens: never over plain http to another machine."""
    from stsmagic.errors import ParameterError

    point_work_at(url)
    user = User(sandbox)
    with pytest.raises(ParameterError) as caught:
        user.login()
    assert ("clear text" if url == ELSEWHERE else "backslash") in str(caught.value)
    assert proxy.requests == [] and user.shown == []
    assert not work.exists()
    with pytest.raises(ParameterError):
        sso_login("work", endpoint_url=url, show=user.show, sleep=user.sleep, clock=user.clock)
    assert proxy.requests == []


def test_sso_login_magic_refuses_plain_http_unless_allowed(
    sandbox: Any, ip: Any, work: Path, proxy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from IPython.core.error import UsageError

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # the proxy's 502, not botocore's backoff
    point_work_at(ELSEWHERE)
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("sso_login", "--profile work")
    message = str(caught.value)
    assert message.startswith("%sso_login: endpoint_url (profile 'work'")
    assert "clear text" in message and "--allow-http" in message and "\n" not in message
    assert proxy.requests == []
    # asked for: sent (here to the recording proxy, which answers 502), refused in one line
    with pytest.raises(UsageError, match="RegisterClient refused"):
        ip.run_line_magic("sso_login", "--profile work --allow-http")
    assert {line for line, _ in proxy.requests} == {f"POST {ELSEWHERE}/client/register HTTP/1.1"}
    assert not work.exists()


def test_an_expired_token_is_not_refreshed_at_a_plain_http_endpoint(
    sandbox: Any, ip: Any, work: Path, proxy: Any
) -> None:
    """The refresh grant sends the refresh token and the client secret: the endpoint is checked
    first, by whoever reads the cache (find_token, %sso_role, %sts_profile)."""
    from IPython.core.error import UsageError

    from stsmagic.errors import ParameterError

    User(sandbox).login()
    before = expire(work)
    point_work_at(ELSEWHERE)
    sandbox.reset_requests()
    with pytest.raises(ParameterError, match="clear text"):
        find_token("work")
    line = f"--account-id {sandbox.sso_account_id} --role-name {sandbox.sso_role_name}"
    with pytest.raises(UsageError, match="clear text"):
        ip.run_line_magic("sso_role", f"{line} --profile work")
    with pytest.raises(UsageError, match="clear text"):
        ip.run_line_magic("sts_profile", "work")
    assert proxy.requests == [] and sandbox.count("CreateToken") == 0
    assert proxy.sent(before["refreshToken"]) == []
    assert json.loads(work.read_text()) == before
