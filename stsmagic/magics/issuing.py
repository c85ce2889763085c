"""The issuing magics: one a request (%sts_session, %sts_federation, %sts_delegated,
%sso_role, %sts_role, %sts_profile) and the SSO login that feeds %sso_role (%sso_login).

Each parses its line, checks the common flags, asks the Broker (or the profile's plan) for the
session and keeps it (``MagicsBase._keep``: the ledger, the export); an MFA device without a
code shows the form instead, with everything but the code checked first.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import html
import time
from collections.abc import Iterator
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument
from IPython.display import display

from .. import limits
from ..errors import RequestRefused, SessionExpired, bare
from . import args as magic_args
from .args import magic_arguments
from .base import MagicsBase

ROLE_DURATIONS = (900, 3600, 4 * 3600, 8 * 3600, 12 * 3600)
CHAINED_DURATIONS = (900, 1800, 3600)


@magics_class
class IssuingMagics(MagicsBase):
    """%sts_session, %sts_federation, %sts_delegated, %sso_role, %sso_login, %sts_role,
    %sts_profile."""

    @line_magic
    @magic_arguments()
    @argument(
        "--serial-number",
        metavar="ARN",
        help="the MFA device's ARN (default: the profile's mfa_serial)",
    )
    @argument("--token-code", metavar="CODE", help="the 6-digit code the MFA device shows now")
    @magic_args.duration_argument
    @magic_args.server_argument
    @magic_args.issuing
    def sts_session(self, line: str) -> Any:
        """Get a session token (STS GetSessionToken) for your IAM user, with MFA if you have it.

        With an MFA device (--serial-number, or mfa_serial in the profile) and no
        --token-code, shows a form to type the code in. Without a device, asks for a session
        token without MFA. The new session becomes active: every boto3 client uses it at once.
        Returns the IssuedSession (or the MfaForm).

        Example: %sts_session --token-code 123456 --duration-seconds 3600
        """
        with self._errors("sts_session"):
            args = magic_args.parse_line(self.sts_session, line, secret_flags=True)
            self._check_issuing(args)
            broker = self.broker(args)
            serial = args.serial_number or broker.mfa_serial
            duration = self._duration(args)
            if self._server_signs(args):  # a session needs long-term keys: the server's
                fields = {"serial_number": args.serial_number, "duration_seconds": duration}
                if serial and not args.token_code:
                    limits.serial_number(serial)
                    self._server_flags(args, {})  # checked now, not after the code is typed
                    return self._server_form(args, serial, duration, "session", **fields)
                return self._on_server(args, "session", {}, token_code=args.token_code, **fields)
            if serial and not args.token_code:
                limits.serial_number(serial)
                return self._mfa_form(broker, serial, duration, args)
            if args.token_code and not serial:
                raise UsageError(
                    "--token-code needs an MFA device: give --serial-number ARN or set "
                    "mfa_serial in the profile"
                )
            with self.ledger.reserve(args.label):
                session = broker.get_session_token(
                    SerialNumber=serial,
                    TokenCode=args.token_code,
                    DurationSeconds=duration,
                    label=args.label,
                )
                return self._keep(session, args)

    @line_magic
    @no_var_expand
    @magic_arguments()
    @argument(
        "--name",
        required=True,
        metavar="NAME",
        help="the federated user's name: 2-32 letters, digits or _+=,.@-",
    )
    @argument(
        "--policy",
        metavar="P",
        help="inline session policy: JSON text, @file.json, or a variable's name (dict or text)",
    )
    @argument(
        "--policy-arns",
        nargs="+",
        metavar="ARN",
        help="managed policies to scope the session (at most 10)",
    )
    @argument(
        "--tags",
        nargs="+",
        metavar="T",
        help="session tags, each Key=k,Value=v (AWS CLI shorthand) or k=v",
    )
    @magic_args.duration_argument
    @magic_args.server_argument
    @magic_args.issuing
    def sts_federation(self, line: str) -> Any:
        """Get credentials for a federated user (STS GetFederationToken), signed by your IAM user.

        --policy is JSON text, @file.json, or the name of a notebook variable holding a dict
        or JSON text. The line is taken as written: $name and {name} are not expanded, so IAM
        policy variables such as ${aws:username} stay intact. Returns the IssuedSession.

        Example: %sts_federation --name alice --policy pol --tags project=demo
        """
        with self._errors("sts_federation"):
            args = magic_args.parse_line(self.sts_federation, line)
            self._check_issuing(args)
            policy = magic_args.resolve_policy(args.policy, self._user_ns)
            if self._server_signs(args):  # needs long-term keys: the server's
                refused = {"--policy-arns": args.policy_arns, "--tags": args.tags}
                return self._on_server(
                    args,
                    "federation",
                    refused,
                    name=args.name,
                    policy=policy,
                    duration_seconds=self._duration(args),
                )
            arns = magic_args.parse_policy_arns(args.policy_arns)
            tags = magic_args.parse_tags(args.tags)
            with self.ledger.reserve(args.label):
                session = self.broker(args).get_federation_token(
                    Name=args.name,
                    Policy=policy,
                    PolicyArns=arns,
                    Tags=tags,
                    DurationSeconds=self._duration(args),
                    label=args.label,
                )
                return self._keep(session, args)

    @line_magic
    @magic_arguments()
    @argument(
        "--trade-in-token",
        required=True,
        metavar="T",
        help=magic_args.SECRET_HELP.format(what="the trade-in token"),
    )
    @magic_args.issuing
    def sts_delegated(self, line: str) -> Any:
        """Trade a trade-in token for credentials (STS GetDelegatedAccessToken).

        Put the token in a variable and pass the variable's name, so it is never typed in a
        cell or kept in the notebook: tok = ...; %sts_delegated --trade-in-token tok.
        Returns the IssuedSession.
        """
        with self._errors("sts_delegated"):
            args = magic_args.parse_line(self.sts_delegated, line, secret_flags=True)
            self._check_issuing(args)
            token = magic_args.resolve_secret(
                "--trade-in-token", args.trade_in_token, self._user_ns
            )
            with self.ledger.reserve(args.label), self._hiding(token):
                session = self.broker(args).get_delegated_access_token(
                    TradeInToken=token, label=args.label
                )
                del token  # only the broker needed it
                return self._keep(session, args)

    @line_magic
    @magic_arguments()
    @argument("--account-id", required=True, metavar="ID", help="the 12-digit AWS account ID")
    @argument("--role-name", required=True, metavar="NAME", help="the role (permission set)")
    @argument(
        "--access-token",
        metavar="T",
        help=magic_args.SECRET_HELP.format(what="an SSO access token")
        + ". Default: the token %%sso_login (or `aws sso login`) cached for the profile",
    )
    @magic_args.issuing
    def sso_role(self, line: str) -> Any:
        """Get role credentials from IAM Identity Center (SSO GetRoleCredentials).

        Without --access-token, uses the token %sso_login (or `aws sso login --profile NAME`)
        left in ~/.aws/sso/cache for the profile's sso_session (or sso_start_url), refreshed
        there first if it expired and has a refresh token.
        Returns the IssuedSession.

        Example: %sso_role --account-id 123456789012 --role-name ReadOnly --profile work
        """
        with self._errors("sso_role"):
            args = magic_args.parse_line(self.sso_role, line, secret_flags=True)
            self._check_issuing(args)
            if args.access_token is not None:
                token = magic_args.resolve_secret(
                    "--access-token", args.access_token, self._user_ns
                )
            else:
                # sso/: not at %load_ext, only for an SSO profile
                from ..sso.cache import find_token

                token = find_token(
                    args.profile or self.profile,
                    endpoint_url=args.endpoint_url or self.endpoint_url,
                    allow_http=bool(args.allow_http or self.allow_http),
                )
            with self.ledger.reserve(args.label), self._hiding(token):
                session = self.broker(args).get_role_credentials(
                    accountId=args.account_id,
                    roleName=args.role_name,
                    accessToken=token,
                    label=args.label,
                )
                del token  # only the broker needed it
                return self._keep(session, args)

    @line_magic
    @magic_arguments()
    @argument("--profile", help="the profile whose sso_session (or sso_start_url) to log in to")
    @argument(
        "--timeout",
        type=float,
        metavar="S",
        help="give up after S seconds, at most 3600 (default: when the device code expires)",
    )
    @argument(
        "--allow-http",
        action="store_true",
        help="allow a plain http:// SSO OIDC endpoint that is not loopback (the client secret "
        "and tokens then cross the network in clear text; default: StsMagics.allow_http)",
    )
    @magic_args.server_argument
    def sso_login(self, line: str) -> None:
        """Log in to IAM Identity Center from the notebook, as `aws sso login` does.

        Shows a link and a code: open the link, check the code, approve. The token is cached
        where the AWS CLI keeps it (~/.aws/sso/cache), for %sso_role, %sts_profile, boto3 and
        the AWS CLI. Interrupt the kernel to stop waiting; nothing is written then.

        Example: %sso_login --profile work
        """
        with self._errors("sso_login"):
            args = magic_args.parse_line(self.sso_login, line)
            if self._server_signs(args):
                return self._sso_login_on_server(args)
            from ..sso.login import sso_login  # sso/: not at %load_ext, only for a login

            try:
                done = sso_login(
                    args.profile or self.profile,
                    timeout=args.timeout,
                    endpoint_url=self.endpoint_url,
                    allow_http=bool(args.allow_http or self.allow_http),
                    show=show_device_authorization,
                )
            except KeyboardInterrupt:
                print("%sso_login: interrupted; nothing was cached")
                return
            print(done)

    @line_magic
    @magic_arguments()
    @argument("--role-arn", required=True, metavar="ARN", help="the role to assume")
    @argument(
        "--role-session-name",
        metavar="N",
        help="2-64 letters, digits or _+=,.@- (default: stsmagic-<your user name>)",
    )
    @argument(
        "--serial-number",
        metavar="ARN",
        help="your MFA device, when the role's trust asks for MFA; without --token-code "
        "shows the MFA form",
    )
    @argument("--token-code", metavar="CODE", help="the 6-digit code the MFA device shows now")
    @argument("--external-id", metavar="ID", help="the ExternalId the role's trust asks for")
    @argument(
        "--policy",
        metavar="P",
        help="inline session policy: JSON text, @file.json, or a variable's name (dict or text)",
    )
    @argument("--policy-arns", nargs="+", metavar="ARN", help="managed policies (at most 10)")
    @argument("--tags", nargs="+", metavar="T", help="session tags, Key=k,Value=v or k=v")
    @argument(
        "--transitive-tag-keys",
        nargs="+",
        metavar="K",
        help="tag keys that pass on to roles this session assumes (each one of --tags)",
    )
    @argument("--source-identity", metavar="S", help="2-64 letters, digits or _+=,.@-")
    @magic_args.server_argument
    @magic_args.role_duration_argument
    @argument(
        "--chain",
        action="store_true",
        help="sign with the active session instead of the profile (role chaining: 1 hour at most)",
    )
    @magic_args.issuing
    def sts_role(self, line: str) -> Any:
        """Assume an IAM role (STS AssumeRole), signed by your profile or, with --chain, by the
        active session. The role session becomes active. Returns the IssuedSession, or the MFA
        form when --serial-number is given without --token-code.

        Example: %sts_role --role-arn arn:aws:iam::123456789012:role/Analyst --duration-seconds 3600
        """
        with self._errors("sts_role"):
            args = magic_args.parse_line(self.sts_role, line, secret_flags=True)
            self._check_issuing(args)
            broker = self.broker(args)
            signer = None
            if args.chain:
                signer = self.ledger.active
                if signer is None:
                    raise UsageError(
                        "--chain signs with the active session, and none is active; issue one "
                        "first or leave out --chain"
                    )
                if signer.expired:
                    raise SessionExpired(signer.label or "?", signer.kind, signer.expiration)
            request: dict[str, Any] = {
                "RoleArn": args.role_arn,
                "RoleSessionName": args.role_session_name,
                "ExternalId": args.external_id,
                "Policy": magic_args.resolve_policy(args.policy, self._user_ns),
                "PolicyArns": magic_args.parse_policy_arns(args.policy_arns),
                "Tags": magic_args.parse_tags(args.tags),
                "TransitiveTagKeys": args.transitive_tag_keys,
                "SourceIdentity": args.source_identity,
            }
            if args.token_code and not args.serial_number:
                raise UsageError("--token-code needs the MFA device: give --serial-number ARN")
            if args.server:
                return self._role_on_server(args, request)
            if args.serial_number and not args.token_code:
                # everything else is checked now, not after the code is typed
                chained = broker.check_assume_role(
                    **request,
                    SerialNumber=args.serial_number,
                    DurationSeconds=args.duration_seconds,
                    signed_by=signer,
                )
                action = functools.partial(broker.assume_role, **request, signed_by=signer)
                return self._mfa_form(
                    broker,
                    args.serial_number,
                    args.duration_seconds,
                    args,
                    action=action,
                    action_name="Assume role",
                    durations=CHAINED_DURATIONS if chained else ROLE_DURATIONS,
                )
            with self.ledger.reserve(args.label), _trust_hint(args):
                session = broker.assume_role(
                    **request,
                    SerialNumber=args.serial_number,
                    TokenCode=args.token_code,
                    DurationSeconds=args.duration_seconds,
                    label=args.label,
                    signed_by=signer,
                )
                return self._keep(session, args)

    @line_magic
    @magic_arguments()
    @argument("name", metavar="NAME", help="the profile in your AWS config")
    @argument(
        "--token-code",
        metavar="CODE",
        help="the 6-digit code for the profile's mfa_serial (without it: the MFA form)",
    )
    @magic_args.server_argument
    @magic_args.role_duration_argument
    @magic_args.issuing
    def sts_profile(self, line: str) -> Any:
        """The session the AWS CLI would make for profile NAME: role_arn with source_profile
        (chains followed) or credential_source = Environment, mfa_serial, external_id,
        role_session_name, duration_seconds; SSO profiles through the CLI's cache; a profile
        with keys (and mfa_serial) only: GetSessionToken. Label: the profile's name.

        Example: %sts_profile analyst --token-code 123456
        """
        with self._errors("sts_profile"):
            args = magic_args.parse_line(self.sts_profile, line, secret_flags=True)
            if args.profile:
                raise UsageError("--profile: give the profile as NAME (%sts_profile NAME)")
            if args.label is None:  # the profile's name is the label: printable text too
                limits.label(args.name, "label (by default the profile's name; or give --label)")
            args.label = args.label or args.name
            self._check_issuing(args)
            from ..broker import profiles  # profiles: not at %load_ext

            plan = profiles.resolve(args.name)
            serial = plan.serial_number
            if args.duration_seconds is not None:  # checked now, not after the code is typed
                profiles.check_duration(plan, args.duration_seconds)
            broker_for = functools.partial(self.broker_for, args=args)
            if args.server:
                return self._profile_on_server(args, serial)
            if serial and not args.token_code:
                limits.serial_number(serial)
                action = functools.partial(profiles.issue, plan, broker_for)
                return self._mfa_form(
                    broker_for(plan.source_profile),
                    serial,
                    args.duration_seconds or plan.duration_seconds,
                    args,
                    action=action,
                    action_name="Assume role" if plan.kind == "role" else "Get session token",
                    durations=plan.durations,
                )
            if args.token_code and not serial:
                raise UsageError(f"--token-code: profile {args.name!r} names no mfa_serial")
            with self.ledger.reserve(args.label):
                session = profiles.issue(
                    plan,
                    broker_for,
                    TokenCode=args.token_code,
                    DurationSeconds=args.duration_seconds,
                    label=args.label,
                )
                return self._keep(session, args)

    def _sso_login_on_server(self, args: Any) -> None:
        """The server's device login (``POST /sso/login``): its link and code shown here, then
        its status polled until approved, expired or failed (or interrupted)."""

        from .. import server_link  # server_link: not at %load_ext, only with a Jupyter server

        if args.allow_http:
            self._server_flags(args, {"--allow-http": True})
        body = {"profile": args.profile} if args.profile else {}
        shown = server_link.call("POST", "sso/login", body)
        show_device_authorization(_DeviceLink(shown))
        deadline = time.monotonic() + (args.timeout or float(shown.get("expires_in") or 600))
        try:
            while time.monotonic() < deadline:
                status = server_link.call("GET", "sso/login")
                if status["status"] == "done":
                    label = status.get("label")
                    print(
                        "%sso_login: the Jupyter server is logged in"
                        + (f"; it signs with {label}" if label else "")
                    )
                    return
                if status["status"] != "pending":
                    raise UsageError(status.get("message") or f"the SSO login {status['status']}")
                time.sleep(2)
        except KeyboardInterrupt:
            print("%sso_login: stopped waiting; the Jupyter server's login goes on")
            return
        print("%sso_login: stopped waiting; the Jupyter server's login goes on")

    # -- --server: the session kept in the Jupyter server's ledger ---------------------------

    def _role_on_server(self, args: Any, request: dict[str, Any]) -> Any:
        self._require_server("--server")
        refused = {
            "--chain": args.chain,
            "--policy-arns": request["PolicyArns"],
            "--tags": request["Tags"],
            "--transitive-tag-keys": request["TransitiveTagKeys"],
            "--source-identity": request["SourceIdentity"],
        }
        fields = {
            "role_arn": request["RoleArn"],
            "role_session_name": request["RoleSessionName"],
            "external_id": request["ExternalId"],
            "policy": request["Policy"],
            "serial_number": args.serial_number,
            "duration_seconds": args.duration_seconds,
            "profile": args.profile,
        }
        keep_here = "leave out --server to keep it in this kernel"
        if args.serial_number and not args.token_code:
            self._server_flags(args, refused, keep_here)
            return self._server_form(
                args,
                args.serial_number,
                args.duration_seconds,
                "role",
                **{k: v for k, v in fields.items() if k != "serial_number"},
            )
        return self._on_server(
            args, "role", refused, keep_here, token_code=args.token_code, **fields
        )

    def _profile_on_server(self, args: Any, serial: str | None) -> Any:
        self._require_server("--server")
        keep_here = "leave out --server to keep it in this kernel"
        fields = {"profile": args.name, "duration_seconds": args.duration_seconds}
        if serial and not args.token_code:
            self._server_flags(args, {}, keep_here)
            return self._server_form(args, serial, args.duration_seconds, "profile", **fields)
        return self._on_server(args, "profile", {}, keep_here, token_code=args.token_code, **fields)


@contextlib.contextmanager
def _trust_hint(args: argparse.Namespace) -> Iterator[None]:
    """AssumeRole's AccessDenied names no cause; a role's trust policy that asks for MFA or an
    external id is the usual one: say which flag the line did not give."""
    try:
        yield
    except RequestRefused as e:
        missing = [
            flag
            for flag, given in (
                (
                    "--serial-number and --token-code (the trust policy may ask for MFA)",
                    args.serial_number,
                ),
                ("--external-id (it may ask for an external id)", args.external_id),
            )
            if not given
        ]
        if e.code != "AccessDenied" or not missing:
            raise
        hint = f"{e}; if the role trusts you, try " + ", or ".join(missing)
        bare(e)
        raise RequestRefused(hint) from None


def show_device_authorization(authorization: Any) -> None:
    """The SSO login's link and code: a clickable link, and the text where HTML is not shown."""

    display({"text/plain": authorization.text(), "text/html": authorization.html()}, raw=True)


class _DeviceLink:
    """The server's answer to ``POST /sso/login`` as ``show_device_authorization`` shows it."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.link = str(answer.get("verification_uri_complete") or "")
        self.code = str(answer.get("user_code") or "")

    def text(self) -> str:
        return f"Open {self.link} and check that it shows the code {self.code}, then approve."

    def html(self) -> str:

        link, code = html.escape(self.link), html.escape(self.code)
        return (
            f'Open <a href="{link}" target="_blank" rel="noopener">{link}</a> and check that '
            f"it shows the code <b>{code}</b>, then approve (the Jupyter server logs in)."
        )
