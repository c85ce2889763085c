"""``%load_ext stsmagic``: one line magic per AWS request, and a few to manage what was issued.

Thin on purpose: each magic parses its line, asks a ``Broker`` for the session, and hands the
result to the kernel's ledger (``stsmagic.sessions``). Everything here can be done from Python
with ``stsmagic.Broker`` and ``stsmagic.sessions``; this module only adds the notebook face.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument
from traitlets import Bool, Float, Int, TraitError, Unicode, observe, validate
from traitlets.config import Configurable

from . import limits, magic_args
from .errors import ParameterError, SessionExpired, StsMagicError
from .magic_args import magic_arguments
from .outlets import environ, live

if TYPE_CHECKING:
    from .broker.broker import Broker
    from .ledger import SessionLedger
    from .session import IssuedSession

OPTIONAL = ("ipywidgets", "pandas")
ROLE_DURATIONS = (900, 3600, 4 * 3600, 8 * 3600, 12 * 3600)
CHAINED_DURATIONS = (900, 1800, 3600)
WIDGETS_MISSING = "needs ipywidgets and pandas: pip install 'stsmagic[widgets]'"


def describe(session: IssuedSession) -> str:
    """One line about a session, without its secret: label, kind, masked key, time left."""
    left = max(session.remaining, timedelta(0))
    hours, rest = divmod(int(left.total_seconds()), 3600)
    minutes = rest // 60
    remaining = f"{hours} h {minutes} min" if hours else f"{minutes} min"
    return (
        f"{session.label} ({session.kind}, {session.masked_access_key}, expires "
        f"{session.expiration:%Y-%m-%d %H:%M:%S} UTC, in {remaining})"
    )


@magics_class
class StsMagics(Magics, Configurable):
    """Short-lived AWS credentials in the notebook: %sts_session, %sts_federation,
    %sts_delegated, %sso_role, %sso_login, %sts_role, %sts_profile, %sts_use, %sts_forget,
    %sts_panel, %sts_dask."""

    duration_seconds = Int(
        None,
        allow_none=True,
        help="Default --duration-seconds for %sts_session and %sts_federation, 900-129600 "
        "(None: the profile's duration_seconds, else AWS's default of 43200).",
    ).tag(config=True)
    profile = Unicode(
        None, allow_none=True, help="Default --profile (None: AWS_PROFILE, else 'default')."
    ).tag(config=True)
    region = Unicode(
        None, allow_none=True, help="Default --region (None: the profile's region)."
    ).tag(config=True)
    endpoint_url = Unicode(
        None,
        allow_none=True,
        help="Default --endpoint-url (None: the profile's endpoint_url or AWS_ENDPOINT_URL).",
    ).tag(config=True)
    connect_timeout = Float(
        10.0,
        help="Seconds to wait for the endpoint to accept a connection (botocore's default 60).",
    ).tag(config=True)
    read_timeout = Float(
        30.0,
        help="Seconds to wait for the endpoint's answer before giving up (botocore's default "
        "60); a hanging endpoint fails after this, times botocore's retry attempts.",
    ).tag(config=True)
    export_env = Bool(
        False, help="Export every session a magic activates to os.environ, as --env does."
    ).tag(config=True)
    allow_http = Bool(
        False,
        help="Send requests to a plain http:// endpoint that is not loopback, as --allow-http "
        "does (tokens, signatures and the issued keys then cross the network in clear text).",
    ).tag(config=True)
    auto_renew = Bool(
        True,
        help="Renew sessions in their last 10 minutes (or last half, if shorter than 20 "
        "minutes) or once expired, at the request that finds them so: federation, sso, role "
        "and session without MFA at once; with MFA, asks for a new code where the kernel can "
        "ask. Off: no session renews itself (--no-renew turns it off for one session).",
    ).tag(config=True)
    remember = Bool(
        False,
        help="Keep issued sessions in a 0600 file under the user's cache directory "
        "($XDG_CACHE_HOME/stsmagic, else ~/.cache/stsmagic), so %load_ext in a new kernel "
        "brings back the unexpired ones. Off: nothing is written; turning it off removes the file.",
    ).tag(config=True)

    def __init__(self, shell: Any = None, ledger: SessionLedger | None = None, **kwargs: Any):
        # before the traits are set from the config: their observers clear the cache
        self._brokers: dict[tuple[str | None, str | None, str | None, bool], Broker] = {}
        self._ledger = ledger  # before the config too: remember = True restores into it
        self._remembering: Any = None
        super().__init__(shell=shell, **kwargs)
        from . import renewal  # small: the trait's value holds from this instance on

        renewal.enabled = self.auto_renew
        self._panel: Any = None  # the last %sts_panel: closed by the next (its timer with it)

    @validate("duration_seconds")
    def _check_duration(self, proposal: Any) -> int | None:
        value = proposal["value"]
        try:
            return None if value is None else limits.duration_seconds(value, "duration_seconds")
        except ParameterError as e:
            raise TraitError(f"StsMagics.{e}") from None

    @validate("endpoint_url")
    def _check_endpoint_url(self, proposal: Any) -> str | None:
        value = proposal["value"]
        try:
            return None if value is None else limits.endpoint_url(value)
        except ParameterError as e:
            raise TraitError(f"StsMagics.{e}") from None

    @validate("connect_timeout", "read_timeout")
    def _check_timeout(self, proposal: Any) -> float:
        value = proposal["value"]
        if not 0 < value <= 3600:
            raise TraitError(
                f"StsMagics.{proposal['trait'].name}: {value} must be over 0 and at most 3600"
            )
        return float(value)

    @validate("export_env")
    def _export_env_set(self, proposal: Any) -> bool:
        # Every assignment, even of the same value (--env may have turned exporting on with
        # the trait off): on, os.environ holds the active session from now on; off, what
        # stsmagic set is removed and what was there is back.
        environ.export_environ(bool(proposal.value), self.ledger)
        return bool(proposal.value)

    def _load_config(self, cfg: Any, section_names: Any = None, traits: Any = None) -> None:
        super()._load_config(cfg, section_names=section_names, traits=traits)
        # `%config StsMagics.export_env = False` when the trait already was False (exporting
        # through --env) changes nothing, so the validator above never hears of it.
        if cfg.get(type(self).__name__, {}).get("export_env") is False:
            environ.export_environ(False)

    @observe("connect_timeout", "read_timeout", "allow_http")
    def _timeouts_changed(self, change: Any) -> None:
        self._brokers.clear()  # their clients were made with the old timeouts

    @observe("auto_renew")
    def _auto_renew_changed(self, change: Any) -> None:
        from . import renewal

        renewal.enabled = bool(change["new"])

    @observe("remember")
    def _remember_changed(self, change: Any) -> None:
        from .outlets import remember

        if change["new"]:
            if self._remembering is None:
                self._remembering = remember.Remembering(self.ledger)
                restored = self._remembering.start()
                if restored:
                    active = self.ledger.active
                    print(
                        f"Restored {len(restored)} session{'' if len(restored) == 1 else 's'} "
                        f"from {self._remembering.path}"
                        + (f"; using {describe(active)}" if active is not None else "")
                    )
        else:
            self.stop_remembering()
            remember.remove()

    def stop_remembering(self) -> None:
        """Stop writing the sessions file (it stays; %unload_ext does this)."""
        if self._remembering is not None:
            self._remembering.stop()
            self._remembering = None

    @validate("profile", "region")
    def _check_name(self, proposal: Any) -> str | None:
        value = proposal["value"]
        if value is not None and (not value or value != value.strip()):
            raise TraitError(f"StsMagics.{proposal['trait'].name}: {value!r} is not a name")
        return value

    @property
    def ledger(self) -> SessionLedger:
        """The ledger the magics feed: ``stsmagic.sessions`` unless another was given."""
        if self._ledger is None:
            from .outlets import sessions

            return sessions
        return self._ledger

    def broker(self, args: argparse.Namespace) -> Broker:
        """The Broker for the flags (or traits): one per (profile, region, endpoint_url)."""
        # AWS_PROFILE named here, so the key (and any error) says which profile is meant
        profile = args.profile or self.profile or os.environ.get("AWS_PROFILE") or None
        return self.broker_for(profile, args)

    def broker_for(self, profile: str | None, args: argparse.Namespace) -> Broker:
        """The Broker of ``profile`` with the flags' (or traits') region and endpoint."""
        key = (
            profile,
            args.region or self.region,
            args.endpoint_url or self.endpoint_url,
            bool(getattr(args, "allow_http", False) or self.allow_http),
        )
        if key not in self._brokers:
            from .broker.broker import Broker  # on the first request, not at %load_ext

            # retries stay the profile's (retry_mode, max_attempts), as botocore reads them
            config = Config(connect_timeout=self.connect_timeout, read_timeout=self.read_timeout)
            self._brokers[key] = Broker(
                profile=key[0],
                region_name=key[1],
                endpoint_url=key[2],
                config=config,
                allow_http=key[3],
            )
        return self._brokers[key]

    # -- the four requests ---------------------------------------------------------------------

    @line_magic
    @magic_arguments()
    @argument(
        "--serial-number",
        metavar="ARN",
        help="the MFA device's ARN (default: the profile's mfa_serial)",
    )
    @argument("--token-code", metavar="CODE", help="the 6-digit code the MFA device shows now")
    @magic_args.duration_argument
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
                from .sso.cache import find_token

                token = find_token(
                    args.profile or self.profile,
                    endpoint_url=args.endpoint_url or self.endpoint_url,
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
    def sso_login(self, line: str) -> None:
        """Log in to IAM Identity Center from the notebook, as `aws sso login` does.

        Shows a link and a code: open the link, check the code, approve. The token is cached
        where the AWS CLI keeps it (~/.aws/sso/cache), for %sso_role, %sts_profile, boto3 and
        the AWS CLI. Interrupt the kernel to stop waiting; nothing is written then.

        Example: %sso_login --profile work
        """
        with self._errors("sso_login"):
            args = magic_args.parse_line(self.sso_login, line)
            from .sso.login import sso_login

            try:
                done = sso_login(
                    args.profile or self.profile,
                    timeout=args.timeout,
                    endpoint_url=self.endpoint_url,
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
            if args.serial_number and not args.token_code:
                # everything else is checked now, not after the code is typed
                from .broker.broker import ROLE_SESSION_KINDS

                chained = signer is not None and signer.kind in ROLE_SESSION_KINDS
                limits.assume_role_request(
                    **{**request, "RoleSessionName": request["RoleSessionName"] or "checked"},
                    SerialNumber=args.serial_number,
                    TokenCode="000000",
                    DurationSeconds=args.duration_seconds,
                    chained=chained,
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
            with self.ledger.reserve(args.label):
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
            args.label = args.label or args.name
            self._check_issuing(args)
            from .broker import profiles

            plan = profiles.resolve(args.name)
            serial = plan.serial_number
            if args.duration_seconds is not None:  # checked now, not after the code is typed
                profiles.check_duration(plan, args.duration_seconds)
            broker_for = functools.partial(self.broker_for, args=args)
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

    # -- managing what was issued ----------------------------------------------------------

    @line_magic
    @magic_arguments()
    @argument("label", nargs="?", help="the session to make active")
    @argument("--source", action="store_true", help="go back to the source credentials")
    def sts_use(self, line: str) -> None:
        """Make an issued session active (every boto3 client uses it at once), or go back to
        the source credentials with --source. %sts_panel lists the labels."""
        with self._errors("sts_use"):
            args = magic_args.parse_line(self.sts_use, line)
            if (args.label is None) == (not args.source):
                raise UsageError("%sts_use: give either LABEL or --source; see %sts_use?")
            if args.source:
                self.ledger.deactivate()
                print("Using the source credentials (no stsmagic session is active)")
                return
            chosen = self.ledger.get(args.label)
            if chosen.expired:
                raise SessionExpired(chosen.label or args.label, chosen.kind, chosen.expiration)
            print(f"Using {describe(self.ledger.activate(args.label))}")

    @line_magic
    @magic_arguments()
    @argument("label", nargs="?", help="the session to forget")
    @argument("--all", action="store_true", help="forget every session")
    def sts_forget(self, line: str) -> None:
        """Forget an issued session, or all with --all. Forgetting the active session goes
        back to the source credentials."""
        with self._errors("sts_forget"):
            args = magic_args.parse_line(self.sts_forget, line)
            if (args.label is None) == (not args.all):
                raise UsageError("%sts_forget: give either LABEL or --all; see %sts_forget?")
            active = self.ledger.active
            if args.all:
                count = len(self.ledger.sessions)
                self.ledger.forget_all()
                what = f"{count} session{'' if count == 1 else 's'}"
            else:
                self.ledger.forget(args.label)
                what = args.label
            back = active is not None and self.ledger.active is None
            print(f"Forgot {what}" + ("; using the source credentials" if back else ""))

    @line_magic
    @magic_arguments()
    def sts_panel(self, line: str) -> Any:
        """The live panel of issued sessions: expiry countdown, use and forget per row."""
        with self._errors("sts_panel"):
            magic_args.parse_line(self.sts_panel, line)
        try:
            from .widgets.panel import SessionPanel
        except ModuleNotFoundError as e:
            if e.name not in OPTIONAL:
                raise
            raise UsageError(f"%sts_panel {WIDGETS_MISSING}") from e
        # A kernel never learns that a view went away, so an unclosed panel would keep its
        # countdown thread for ever: one live panel at a time, the newest.
        self.close_panel()
        self._panel = SessionPanel(self.ledger)
        return self._panel

    @line_magic
    @magic_arguments()
    @argument(
        "client",
        nargs="?",
        metavar="CLIENT",
        help="the variable holding the distributed.Client (default: distributed.default_client())",
    )
    def sts_dask(self, line: str) -> None:
        """Make every Dask worker of a client sign with the active session, and follow it.

        Registers stsmagic.dask.CredentialsPlugin on the client: every worker, present or
        joining later, signs its boto3/botocore/s3fs requests with this kernel's active session
        (its own credentials when none is), within a second of every switch. Undo with
        client.unregister_worker_plugin("stsmagic-credentials").

        Example: client = distributed.Client(cluster); %sts_dask client
        """
        with self._errors("sts_dask"):
            args = magic_args.parse_line(self.sts_dask, line)
            try:
                from . import dask as sts_dask
            except ModuleNotFoundError as e:
                if e.name not in ("distributed", "dask"):
                    raise
                raise UsageError("%sts_dask needs distributed: pip install 'stsmagic[dask]'") from e
            value = None
            if args.client is not None:
                if args.client not in self._user_ns:
                    raise UsageError(f"%sts_dask: CLIENT: no variable named {args.client!r}")
                value = self._user_ns[args.client]
            client = sts_dask.find_client(value)
            address = sts_dask.scheduler_address(client)
            warning = sts_dask.plaintext_warning(address)
            if warning is not None:
                print(f"Warning: {warning}", file=sys.stderr)
            sts_dask.register(client, self.ledger)
            active = self.ledger.active
            using = describe(active) if active is not None else "their own credentials"
            print(f"Dask workers of {address} now follow this kernel: {using}")

    def close_panel(self) -> None:
        """Close the panel the last %sts_panel made, if any (stops its countdown)."""
        if self._panel is not None:
            self._panel.close()
            self._panel = None

    # -- the steps they share -----------------------------------------------------------------

    @property
    def _user_ns(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

    def _duration(self, args: argparse.Namespace) -> int | None:
        if args.duration_seconds is not None:
            return args.duration_seconds
        return self.duration_seconds

    def _check_issuing(self, args: argparse.Namespace) -> None:
        """Refuse, before anything is sent, what would fail only after the request."""
        if args.env and args.no_activate:
            raise UsageError("--env exports the active session; it cannot go with --no-activate")
        if args.label is not None:
            if not args.label.strip():
                raise UsageError("--label: give a non-empty name")
            known = [s.label for s in self.ledger.sessions]
            if args.label in known:
                raise UsageError(
                    f"--label: {args.label!r} is taken; choose another or %sts_forget {args.label}"
                )

    def _keep(self, session: IssuedSession, args: argparse.Namespace) -> IssuedSession:
        """Hand the new session to the ledger (active unless --no-activate) and export it."""
        activate = not args.no_activate
        if args.no_renew:
            from .renewal import without_renewal

            session = without_renewal(session)
        kept = self.ledger.add(session, activate=activate)
        if activate:
            # DESIGN "Reach": a later magic without --env, the trait off, stops exporting.
            environ.export_environ(bool(args.env or self.export_env), self.ledger)
        return kept

    def _mfa_form(
        self,
        broker: Broker,
        serial: str,
        duration: int | None,
        args: argparse.Namespace,
        **action: Any,
    ) -> Any:
        try:
            from .widgets.mfa_form import MfaForm
        except ModuleNotFoundError as e:
            if e.name not in OPTIONAL:
                raise
            raise UsageError(
                "without --token-code a form is shown, which "
                f"{WIDGETS_MISSING}"
                " (or give --token-code)"
            ) from e
        return MfaForm(
            broker,
            self.ledger,
            serial_number=serial,
            duration_seconds=duration,
            label=args.label,
            activate=not args.no_activate,
            export_env=bool(args.env or self.export_env) and not args.no_activate,
            auto_renew=not args.no_renew,
            **action,
        )

    @contextlib.contextmanager
    def _errors(self, magic: str) -> Iterator[None]:
        """Turn what stsmagic and botocore raise into one line, with no traceback."""
        try:
            yield
        except UsageError as e:
            text = magic_args.one_line(str(e))
            prefix = "" if text.startswith("%") else f"%{magic}: "
            # from None: the cause's frames hold the line and the tokens; the message says all
            raise UsageError(prefix + text) from None
        except (StsMagicError, BotoCoreError) as e:
            raise UsageError(f"%{magic}: {magic_args.explain(e)}") from None

    @contextlib.contextmanager
    def _hiding(self, secret: str) -> Iterator[None]:
        """Belt and braces: if an error's message ever quoted ``secret``, mask it."""
        try:
            yield
        except (StsMagicError, BotoCoreError) as e:
            if secret and secret in str(e):
                raise StsMagicError(str(e).replace(secret, "…")) from None
            raise


def show_device_authorization(authorization: Any) -> None:
    """The SSO login's link and code: a clickable link, and the text where HTML is not shown."""
    from IPython.display import display

    display({"text/plain": authorization.text(), "text/html": authorization.html()}, raw=True)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext stsmagic``: install the live credentials and register the magics."""
    try:
        live.watch()
    except BotoCoreError as e:  # e.g. AWS_PROFILE names a profile that is not configured
        raise UsageError(
            f"%load_ext stsmagic: boto3's default session cannot be made: "
            f"{magic_args.one_line(str(e))}; fix AWS_PROFILE or the AWS config files"
        ) from e
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, StsMagics)]
    ipython.register_magics(StsMagics(shell=ipython))


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext stsmagic``: restore boto3's default session and remove the magics."""
    live.uninstall()
    for configurable in ipython.configurables:
        if isinstance(configurable, StsMagics):
            configurable.close_panel()
            configurable.stop_remembering()
    for table in ipython.magics_manager.magics.values():
        for name, func in list(table.items()):
            if isinstance(getattr(func, "__self__", None), StsMagics):
                del table[name]
    ipython.magics_manager.registry.pop(StsMagics.__name__, None)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, StsMagics)]
