"""What every family of stsmagic's magics shares: the traits (``%config StsMagics``), the
kernel's ledger, the Broker for a line's flags, and the steps around a request (checking the
common flags, keeping the session, the MFA form, one-line errors).

The magics themselves live in one module a family (``issuing``, ``switching``, ``outlets``);
``StsMagics`` (the package's ``__init__``) is all of them over this base.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError
from IPython.core.error import UsageError
from IPython.core.magic import Magics
from traitlets import Bool, Float, Int, TraitError, Unicode, observe, validate
from traitlets.config import Configurable

from .. import limits
from ..errors import ParameterError, StsMagicError, bare
from ..keep import keep
from ..outlets import environ, sessions, wiring
from . import args as magic_args
from .args import checked_trait

if TYPE_CHECKING:
    from ..broker.broker import Broker
    from ..ledger import SessionLedger
    from ..session import IssuedSession

OPTIONAL = ("ipywidgets", "pandas")
WIDGETS_MISSING = "needs ipywidgets and pandas: pip install 'stsmagic[widgets]'"


def describe(session: IssuedSession) -> str:
    """One line about a session, without its secret: label, kind, masked key, time left."""
    from ..session import describe  # loaded with the first session, not by %load_ext

    return describe(session)


class MagicsBase(Magics, Configurable):
    """The traits and shared steps of ``StsMagics`` (each family of magics builds on this)."""

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
    signin_url = Unicode(
        None,
        allow_none=True,
        help="The console federation endpoint of %sts_console and the panel's Console button "
        "(None: STSMAGIC_SIGNIN_URL, else the session's partition's, "
        "https://signin.aws.amazon.com/federation in aws).",
    ).tag(config=True)
    serve = Bool(
        False,
        help="Serve the active session to every process the kernel starts, as %sts_serve "
        "does (from %load_ext on when set in a config file); False stops serving, as "
        "%sts_serve --off does.",
    ).tag(config=True)
    serve_token_in_env = Bool(
        False,
        help="While serving, put the token itself in os.environ too "
        "(AWS_CONTAINER_AUTHORIZATION_TOKEN), for an SDK that reads only that variable; "
        "botocore, the AWS CLI and pyarrow read the token file. The token is then visible "
        "wherever os.environ is printed (print(os.environ), !env, %env, a saved notebook).",
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
        self.ledger.renewer.enabled = self.auto_renew  # the trait's value from this instance on
        self._panel: Any = None  # the last %sts_panel: closed by the next (its timer with it)
        self._server_follower: Any = None  # under a serving Jupyter server: its changes

    @validate("duration_seconds")
    def _check_duration(self, proposal: Any) -> int | None:
        return checked_trait(
            self, proposal, lambda value: limits.duration_seconds(value, "duration_seconds")
        )

    @validate("endpoint_url")
    def _check_endpoint_url(self, proposal: Any) -> str | None:
        return checked_trait(self, proposal, limits.endpoint_url)

    @validate("signin_url")
    def _check_signin_url(self, proposal: Any) -> str | None:
        from ..broker.console import check_endpoint  # the broker: not at %load_ext

        value = proposal["value"]
        try:
            return None if value is None else check_endpoint(value, "signin_url")
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
        # stsmagic set is removed and what was there is back. Refused while serving.
        try:
            environ.export_environ(bool(proposal.value), self.ledger)
        except ParameterError as e:
            raise TraitError(f"StsMagics.export_env: {e.problem}; {e.limit}") from None
        return bool(proposal.value)

    @observe("serve")
    def _serve_changed(self, change: Any) -> None:
        from ..outlets import serve  # http.server and the children's files: once serving

        try:
            said = serve.switch_serving(
                bool(change["new"]),
                self.ledger,
                profile=self.profile,
                token_in_env=self.serve_token_in_env,
            )
        except StsMagicError as e:
            self.serve = False
            raise TraitError(f"StsMagics.serve: {magic_args.one_line(str(e))}") from None
        if change["new"]:
            self._export_off_while_serving()
            print(said)

    def start_serving(self, port: int = 0) -> str:
        """Serve the active session to child processes (idempotent); what %sts_serve prints.
        The --env export, which serving excludes, is turned off, the trait with it."""
        from ..outlets import serve  # http.server and the children's files: once serving

        said = serve.switch_serving(
            True, self.ledger, profile=self.profile, port=port, token_in_env=self.serve_token_in_env
        )
        self._export_off_while_serving()
        return said

    @observe("serve_token_in_env")
    def _token_in_env_changed(self, change: Any) -> None:
        from ..outlets import serve  # http.server and the children's files: once serving

        on = bool(change["new"])
        if on:
            print(f"Warning: {serve.TOKEN_IN_ENV_WARNING}")
        server = serve.serving()
        if server is not None:
            server.put_token_in_env(on)  # a server started with the other value follows

    def stop_serving(self) -> str:
        """Stop serving; one line saying so."""
        from ..outlets import serve  # http.server and the children's files: once serving

        return serve.switch_serving(False)

    def _export_off_while_serving(self) -> None:
        if self.export_env:
            self.export_env = False  # else every magic would try to export again

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
        self.ledger.renewer.enabled = bool(change["new"])

    @observe("remember")
    def _remember_changed(self, change: Any) -> None:
        from ..outlets import remember  # the sessions file: only where remembering is on

        self._remembering, said = remember.switch_remembering(
            bool(change["new"]), self.ledger, self._remembering
        )
        if said is not None:
            print(said)

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
            return sessions
        return self._ledger

    def broker(self, args: argparse.Namespace) -> Broker:
        """The Broker for the flags (or traits): one per (profile, region, endpoint_url)."""
        # AWS_PROFILE named here, so the key (and any error) says which profile is meant
        profile = args.profile or self.profile or os.environ.get("AWS_PROFILE") or None
        try:
            return self.broker_for(profile, args)
        except ParameterError as e:
            if e.parameter != "profile" or args.profile:
                raise
            # not --profile: name where the profile came from, and how to change it there
            if self.profile:
                where, fix = "StsMagics.profile", "%config StsMagics.profile = NAME"
            else:
                where, fix = "AWS_PROFILE", "set AWS_PROFILE to one (or unset it)"
            raise ParameterError(where, e.problem, f"{e.limit}; {fix}") from None

    def broker_for(self, profile: str | None, args: argparse.Namespace) -> Broker:
        """The Broker of ``profile`` with the flags' (or traits') region and endpoint."""
        key = (
            profile,
            args.region or self.region,
            args.endpoint_url or self.endpoint_url,
            bool(getattr(args, "allow_http", False) or self.allow_http),
        )
        if key not in self._brokers:
            from ..broker.broker import Broker  # on the first request, not at %load_ext

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

    # -- a kernel under a serving stsmagic Jupyter server (server_link) ----------------------

    def follow_server(self) -> None:
        """Under a serving stsmagic Jupyter server: follow its changes (``%load_ext``)."""
        if "STSMAGIC_SERVER_URL" not in os.environ:
            return  # no server: server_link (2 ms of imports) is not loaded at %load_ext
        from .. import server_link  # server_link: not at %load_ext, only with a Jupyter server

        if server_link.joined() and self._server_follower is None:
            self._server_follower = server_link.ServerFollower().start()

    def stop_following_server(self) -> None:
        if self._server_follower is not None:
            self._server_follower.stop()
            self._server_follower = None

    @staticmethod
    def _require_server(flag: str) -> None:
        from .. import server_link  # server_link: not at %load_ext, only with a Jupyter server

        if not server_link.joined():
            raise UsageError(
                f"{flag}: this kernel was not started by a Jupyter server that serves stsmagic "
                "sessions (jupyter server extension enable stsmagic; StsMagicServer.serve)"
            )

    def _server_signs(self, args: argparse.Namespace) -> bool:
        """Whether this line's sign-in is the Jupyter server's (``--server``; refused in one
        line when the kernel is not under a serving stsmagic server)."""
        if not getattr(args, "server", False):
            return False
        self._require_server("--server")
        return True

    def _on_server(
        self,
        args: argparse.Namespace,
        kind: str,
        refused: dict[str, Any],
        *instead: str,
        **fields: Any,
    ) -> Any:
        """Sign the Jupyter server in (``POST /sessions``) as the line says; print one line and
        return the ``ServerSession`` (no secret). ``refused``: see ``_server_flags``."""
        from .. import server_link  # server_link: not at %load_ext, only with a Jupyter server

        self._server_flags(args, refused, *instead)
        body = {
            "kind": kind,
            **{k: v for k, v in fields.items() if v is not None},
            "label": args.label,
            "activate": not args.no_activate,
        }
        session = server_link.sign_in({k: v for k, v in body.items() if v is not None})
        print(server_link.signed_in_line(session))
        return session

    def _server_flags(
        self,
        args: argparse.Namespace,
        refused: dict[str, Any],
        instead: str = "leave out --server to sign in this kernel only",
    ) -> None:
        """Refuse, before anything is sent, a flag the server's sign-in does not take: the
        kernel's own (--env, --no-renew, --region, --endpoint-url) and ``refused`` (by flag,
        its value)."""
        kernel_only = {
            "--env": args.env,
            "--no-renew": args.no_renew,
            "--region": args.region,
            "--endpoint-url": args.endpoint_url,
            **refused,
        }
        given = [flag for flag, value in kernel_only.items() if value]
        if given:
            raise UsageError(
                f"{given[0]}: the Jupyter server signs this session in for every kernel, "
                f"with its own settings; leave out {given[0]}, or {instead}"
            )

    def _server_form(
        self, args: argparse.Namespace, serial: str, duration: int | None, kind: str, **fields: Any
    ) -> Any:
        """The MFA form whose code signs the Jupyter server in."""
        from .. import server_link  # server_link: not at %load_ext, only with a Jupyter server

        broker = self.broker(args)
        if kind == "session" and duration is None:  # the form's default is a role's hour
            duration = broker.duration_seconds or 43200
        given = {k: v for k, v in fields.items() if v is not None}
        action = server_link.signer(kind, **given, activate=not args.no_activate)
        words = {"session": "Get session token", "role": "Assume role"}.get(kind, "Sign in")
        return self._mfa_form(broker, serial, duration, args, action=action, action_name=words)

    def close_panel(self) -> None:
        """Close the panel the last %sts_panel made, if any (stops its countdown)."""
        if self._panel is not None:
            self._panel.close()
            self._panel = None

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
        if args.env or self.export_env:
            record = wiring.current()
            if record is not None and record.serving() is not None:
                flag = "--env" if args.env else "StsMagics.export_env"
                raise UsageError(
                    f"{flag}: the kernel serves its session to child processes; --env and "
                    "serving exclude each other (stop serving with %sts_serve --off)"
                )
        if args.label is not None:
            limits.label(args.label, "--label")  # printable: it is printed, here and in the panel
            known = [s.label for s in self.ledger.sessions]
            if args.label in known:
                raise UsageError(
                    f"--label: {args.label!r} is taken; choose another or %sts_forget {args.label}"
                )

    def _keep(self, session: IssuedSession, args: argparse.Namespace) -> IssuedSession:
        """Hand the new session to the ledger (active unless --no-activate), exporting it with
        --env or the trait (a magic without either stops an earlier export)."""
        return keep(
            session,
            self.ledger,
            activate=not args.no_activate,
            export_env=bool(args.env or self.export_env),
            auto_renew=not args.no_renew,
        )

    def _mfa_form(
        self,
        broker: Broker,
        serial: str,
        duration: int | None,
        args: argparse.Namespace,
        **action: Any,
    ) -> Any:
        try:
            from ..widgets.mfa_form import MfaForm  # ipywidgets: optional, never at %load_ext
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
            export_env=bool(args.env or self.export_env),
            auto_renew=not args.no_renew,
            **action,
        )

    @contextlib.contextmanager
    def _errors(self, magic: str) -> Iterator[None]:
        """Turn what stsmagic and botocore raise into one line, with no traceback."""
        # from None, and the error replaced made bare (it stays the new one's __context__):
        # its frames, and its own context's, hold the line and the tokens; the message says all
        try:
            yield
        except UsageError as e:
            text = magic_args.one_line(str(e))
            prefix = "" if text.startswith("%") else f"%{magic}: "
            bare(e)
            raise UsageError(prefix + text) from None
        except (StsMagicError, BotoCoreError) as e:
            message = f"%{magic}: {magic_args.explain(e)}"
            bare(e)
            raise UsageError(message) from None

    @contextlib.contextmanager
    def _hiding(self, secret: str) -> Iterator[None]:
        """Belt and braces: if an error's message ever quoted ``secret``, mask it."""
        try:
            yield
        except (StsMagicError, BotoCoreError) as e:
            if secret and secret in str(e):
                raise StsMagicError(str(e).replace(secret, "…")) from None
            raise
