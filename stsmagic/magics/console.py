"""The magic that opens the AWS console as an issued session: %sts_console (a sign-in link,
good for 15 minutes; the work is ``stsmagic.console.signin_url``)."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument

from . import args as magic_args
from .args import magic_arguments
from .base import MagicsBase

CONSOLE_WIDGET_MISSING = (
    "shows its link in a widget, which needs ipywidgets and anywidget: "
    "pip install 'stsmagic[widgets]' (or, in Python, stsmagic.console.signin_url(...).url)"
)


@magics_class
class ConsoleMagics(MagicsBase):
    """%sts_console."""

    @line_magic
    @magic_arguments()
    @argument("label", nargs="?", help="the session to sign in as (default: the active one)")
    @argument("--service", metavar="NAME", help="open a service's console page: s3, ec2, iam, …")
    @argument(
        "--destination",
        metavar="URL",
        help="open this console page: an https:// URL on console.aws.amazon.com or a "
        "subdomain (in China and GovCloud, their console's domain)",
    )
    @argument("--region", metavar="R", help="the console's region (default: the session's)")
    @argument(
        "--session-duration",
        type=int,
        metavar="N",
        help="how long the console session lasts, 900-43200 seconds (role and SSO sessions "
        "only; a federation session's lasts as long as it does)",
    )
    def sts_console(self, line: str) -> Any:
        """Open the AWS console as an issued session (federation, role, SSO or delegated).

        Asks AWS's federation endpoint for a sign-in token (getSigninToken) and shows a link
        that opens the console in a new tab, with a countdown: the link is good once, for 15
        minutes. In a notebook it is a widget, and the URL stays out of the saved notebook;
        in a terminal it is printed. GetSessionToken sessions cannot sign in (AWS's rule).
        The endpoint: StsMagics.signin_url, else STSMAGIC_SIGNIN_URL, else the partition's.

        Example: %sts_console --service s3 --region eu-west-1
        """
        # broker.console: not at %load_ext, only when a link is made
        from ..broker.console import signin_url

        with self._errors("sts_console"):
            args = magic_args.parse_line(self.sts_console, line)
            if args.service is not None and args.destination is not None:
                raise UsageError("give either --service or --destination, not both")
            session = self.ledger.get(args.label) if args.label else self.ledger.active
            if session is None:
                raise UsageError(
                    "no session is active: name one (LABEL; %sts_panel lists them) or "
                    "issue one with %sts_federation or %sts_role"
                )
            widget_class = None if self._in_a_terminal else self._console_link_class()
            link = signin_url(
                session,
                destination=args.destination,
                region=args.region,
                session_duration=args.session_duration,
                signin_endpoint=self.signin_url,
                service=args.service,
                clock=self.ledger.now,
            )
        if widget_class is None:
            print(
                f"The AWS console as {link.who}, good once until "
                f"{link.expires_at:%H:%M:%S} UTC (a secret until then):\n{link.url}"
            )
            return None
        return widget_class(link, clock=self.ledger.now)

    @property
    def _in_a_terminal(self) -> bool:
        """No kernel, so no widget frontend: IPython in a terminal (or a plain shell)."""
        return getattr(self.shell, "kernel", None) is None

    @staticmethod
    def _console_link_class() -> Any:
        try:
            from ..widgets.console_link import ConsoleLink  # widgets/: ipywidgets, not at %load_ext
        except ModuleNotFoundError as e:
            if e.name not in ("ipywidgets", "anywidget"):
                raise
            raise UsageError(f"%sts_console {CONSOLE_WIDGET_MISSING}") from None
        return ConsoleLink
