"""``Sandbox``: the local AWS endpoint as a context manager, and its Python face for tests.

moto's state is process-wide. The first sandbox started in a process (or the first after all
others stopped) resets moto; sandboxes running at the same time share moto but each seeds its
own IAM user and keeps its own issued keys, tokens, clock, requests and faults.
"""

from __future__ import annotations

import threading
from datetime import datetime
from types import TracebackType
from typing import Any

from botocore.credentials import ReadOnlyCredentials

from . import moto_backend, oidc
from .context import SandboxContext, SsoAssignment
from .roles import EXTERNAL_ID, ROLE_NAMES, seeded_roles
from .seed import seed_user
from .server import FrontApp, ThreadingWSGIServer, make_server
from .state import Fault, IssuedKey, RecordedRequest

_registry_lock = threading.Lock()
_live: list[Sandbox] = []
_users_made = 0

SSO_ROLES = ("SandboxDeveloper", "SandboxReadOnly")


class Sandbox:
    """STS, SSO, SSO OIDC, console sign-in and moto on one port of 127.0.0.1."""

    def __init__(self, port: int = 0, *, region: str = "us-east-1") -> None:
        self.port = port
        self.region = region
        self._context = SandboxContext(account_id=moto_backend.default_account_id(), region=region)
        self._server: ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._source: ReadOnlyCredentials | None = None

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Serve on 127.0.0.1 (port 0: a free one) and seed the IAM user, its keys and MFA device;
        returns the sandbox. A running sandbox refuses to start again.
        """
        global _users_made
        if self._server is not None:
            raise RuntimeError("this sandbox is already running")
        self._stopping.clear()
        server = make_server(self.port, FrontApp(self._context, self._stopping))
        self._server = server
        self.port = server.server_port
        self._context.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"stsmagic-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        try:
            with _registry_lock:
                if not _live:
                    moto_backend.reset()
                    _users_made = 0
                _users_made += 1
                name = "stsmagic-user" if _users_made == 1 else f"stsmagic-user-{_users_made}"
                _live.append(self)
            self._seed(name)
        except BaseException:
            self.stop()
            raise
        self.reset_requests()
        return self

    def _seed(self, user_name: str) -> None:
        user = seed_user(self.account_id, self.region, user_name)
        context = self._context
        context.user_name, context.user_arn = user.user_name, user.user_arn
        context.mfa_serial, context.mfa_seed = user.mfa_serial, user.mfa_seed
        with context.state.lock:
            context.state.mfa_seeds[user.mfa_serial] = (user.mfa_seed, user.user_arn)
        # Known here too, so the user's keys keep working if something resets moto's globals
        # (another library's mock_aws in the same process, say).
        context.state.add_key(
            IssuedKey(
                user.access_key_id,
                user.secret_access_key,
                None,
                None,
                "user",
                user.user_arn,
                user.user_id,
                context.account_id,
            )
        )
        context.state.remember_secret(user.mfa_seed)
        context.sso_region = self.region
        context.sso_assignments = [
            SsoAssignment(context.account_id, "stsmagic-sandbox", "sandbox@example.com", SSO_ROLES)
        ]
        context.roles = seeded_roles(context.account_id)
        self._source = ReadOnlyCredentials(user.access_key_id, user.secret_access_key, None)

    def stop(self) -> None:
        """Stop serving; nothing if it is not running. Leaving a ``with`` block calls it."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # releases any hang_next in progress
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None
        with _registry_lock:
            if self in _live:
                _live.remove(self)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._server is not None else "stopped"
        return f"<Sandbox {self._context.endpoint_url or 'not started'} ({state})>"

    # -- the seeded account ----------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """Where it serves: ``http://127.0.0.1:<port>``, for ``AWS_ENDPOINT_URL``."""
        return self._context.endpoint_url

    @property
    def signin_url(self) -> str:
        """The console federation endpoint (getSigninToken, login): ``STSMAGIC_SIGNIN_URL``."""
        return f"{self._context.endpoint_url}/federation"

    @property
    def account_id(self) -> str:
        """The account id of the seeded IAM user."""
        return self._context.account_id

    @property
    def user_name(self) -> str:
        """The seeded IAM user's name."""
        return self._context.user_name

    @property
    def user_arn(self) -> str:
        """The seeded IAM user's ARN."""
        return self._context.user_arn

    @property
    def mfa_serial(self) -> str:
        """The ARN of the seeded user's virtual MFA device (``mfa_code()`` gives its codes)."""
        return self._context.mfa_serial

    def mfa_code(self, at: datetime | float | None = None) -> str:
        """The seeded MFA device's code now (the sandbox's clock) or at ``at``."""
        if isinstance(at, (int, float)):
            from datetime import timezone

            at = datetime.fromtimestamp(at, timezone.utc)
        return self._context.mfa_code(at)

    @property
    def source_credentials(self) -> ReadOnlyCredentials:
        """The IAM user's long-term keys (the profile a user would have in ~/.aws)."""
        if self._source is None:
            raise RuntimeError("the sandbox is not started")
        return self._source

    @property
    def sso_start_url(self) -> str:
        """The start URL of the sandbox's SSO portal, for a profile's ``sso_start_url``."""
        return self._context.sso_start_url

    @property
    def sso_region(self) -> str:
        """The region of the sandbox's SSO portal."""
        return self._context.sso_region

    @property
    def sso_account_id(self) -> str:
        """The account id the SSO portal assigns the user."""
        return self._context.info()["sso_account_id"]

    @property
    def sso_role_name(self) -> str:
        """The role name the SSO portal assigns the user."""
        return self._context.info()["sso_role_name"]

    def role_arn(self, which: str = "plain") -> str:
        """The ARN of a seeded role: ``"plain"``, ``"mfa"`` (its trust demands MFA) or
        ``"external-id"`` (it demands ``external_id``)."""
        if which not in ROLE_NAMES:
            raise ValueError(f"no seeded role {which!r}; choose one of {', '.join(ROLE_NAMES)}")
        return f"arn:aws:iam::{self.account_id}:role/{ROLE_NAMES[which]}"

    @property
    def external_id(self) -> str:
        """The ExternalId the ``external-id`` role's trust policy demands."""
        return EXTERNAL_ID

    def info(self) -> dict[str, str]:
        """What ``GET /_sandbox/info`` serves."""
        return self._context.info()

    # -- the user's authenticator and identity provider --------------------------------------

    def mint_trade_in_token(
        self,
        principal_arn: str | None = None,
        expires_in: float = 300,
        *,
        policy: str | None = None,
        duration_seconds: int = 3600,
    ) -> str:
        """A single-use trade-in token for GetDelegatedAccessToken, expiring in ``expires_in``
        seconds of the sandbox's clock; ``policy`` counts towards its PackedPolicySize."""
        return self._context.mint_trade_in_token(
            principal_arn, expires_in, policy=policy, duration_seconds=duration_seconds
        )

    def sso_access_token(self, expires_in: int = 28800) -> str:
        """An SSO portal bearer token, as ``aws sso login`` would have cached it."""
        return self._context.sso_access_token(expires_in)[0]

    def approve_device(self, user_code: str) -> None:
        """Approve a pending device authorization, as the user would in the browser."""
        if not oidc.approve(self._context, user_code):
            raise ValueError(f"no pending device authorization with user code {user_code!r}")

    def advance(self, seconds: float) -> None:
        """Move the sandbox's clock (expiry of keys and tokens, MFA codes) forward."""
        self._context.state.clock.advance(seconds)

    # -- observation and fault injection ----------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since the last ``reset_requests()``, in order (not the control
        API's).
        """
        with self._context.state.lock:
            return list(self._context.state.requests)

    def reset_requests(self) -> None:
        """Forget the recorded requests and the count of signature failures."""
        with self._context.state.lock:
            self._context.state.requests.clear()
            self._context.state.signature_failures = 0

    def count(self, operation: str) -> int:
        """How many requests for ``operation`` the sandbox answered since the last reset."""
        return sum(1 for r in self.requests if r.operation == operation)

    def signers(self, operation: str) -> list[str | None]:
        """The access key id that signed each request for ``operation`` since the last reset,
        in order (None: unsigned), whatever the service: "who signed this S3 GET?"."""
        return [r.access_key_id for r in self.requests if r.operation == operation]

    def fail_next(
        self,
        operation: str,
        *,
        status: int = 500,
        code: str = "InternalFailure",
        message: str = "An internal error occurred.",
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests for ``operation`` with this AWS error."""
        with self._context.state.lock:
            self._context.state.faults.append(
                Fault(operation, times, status=status, code=code, message=message)
            )

    def hang_next(self, operation: str, seconds: float, times: int = 1) -> None:
        """Hold the next ``times`` requests for ``operation`` ``seconds`` before answering."""
        with self._context.state.lock:
            self._context.state.faults.append(Fault(operation, times, hang_seconds=seconds))

    @property
    def signature_failures(self) -> int:
        """How many requests had a signature that did not check out since the last
        ``reset_requests()``.
        """
        with self._context.state.lock:
            return self._context.state.signature_failures

    def issued_secrets(self) -> list[str]:
        """Every secret the sandbox ever issued: secret keys (the source one too), session
        tokens, trade-in tokens, SSO and OIDC tokens, client secrets, sign-in tokens, and the
        MFA device's seed."""
        with self._context.state.lock:
            return list(self._context.state.secrets)

    def __getstate__(self) -> Any:
        raise TypeError("a Sandbox cannot be pickled")
