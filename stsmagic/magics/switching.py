"""The magics that manage what was issued: %sts_use (switch, or back to the source
credentials), %sts_forget, and %sts_panel (the live table of sessions)."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument

from .. import limits
from ..errors import SessionExpired
from . import args as magic_args
from .args import magic_arguments
from .base import OPTIONAL, WIDGETS_MISSING, MagicsBase, describe


@magics_class
class SwitchingMagics(MagicsBase):
    """%sts_use, %sts_forget, %sts_panel."""

    @line_magic
    @magic_arguments()
    @argument("label", nargs="?", help="the session to make active")
    @argument("--source", action="store_true", help="go back to the source credentials")
    def sts_use(self, line: str) -> None:
        """Make an issued session active (every boto3 client uses it at once), or go back to
        the source credentials with --source. %sts_panel lists the labels. Under a Jupyter
        server that serves stsmagic sessions, a label of the server's (and not this kernel's)
        switches the server: every kernel and terminal of it."""
        with self._errors("sts_use"):
            args = magic_args.parse_line(self.sts_use, line)
            if (args.label is None) == (not args.source):
                raise UsageError("%sts_use: give either LABEL or --source; see %sts_use?")
            if args.source:
                self.ledger.deactivate()
                print("Using the source credentials (no stsmagic session is active)")
                return
            if args.label not in self.ledger and self._on_the_server(args.label):
                # server_link: not at %load_ext, only with a Jupyter server
                from .. import server_link

                server_link.use(args.label)
                print(f"Using {limits.printable(args.label)} on the Jupyter server")
                return
            chosen = self.ledger.get(args.label)
            if chosen.expired:
                raise SessionExpired(chosen.label or args.label, chosen.kind, chosen.expiration)
            here = " in this kernel" if self._joined() else ""
            print(f"Using {describe(self.ledger.activate(args.label))}{here}")

    @line_magic
    @magic_arguments()
    @argument("label", nargs="?", help="the session to forget")
    @argument("--all", action="store_true", help="forget every session")
    def sts_forget(self, line: str) -> None:
        """Forget an issued session, or all with --all. Forgetting the active session goes
        back to the source credentials. Under a Jupyter server that serves stsmagic sessions,
        a label of the server's (and not this kernel's) is forgotten there."""
        with self._errors("sts_forget"):
            args = magic_args.parse_line(self.sts_forget, line)
            if (args.label is None) == (not args.all):
                raise UsageError("%sts_forget: give either LABEL or --all; see %sts_forget?")
            active = self.ledger.active
            if args.all:
                count = len(self.ledger.sessions)
                self.ledger.forget_all()
                what = f"{count} session{'' if count == 1 else 's'}"
            elif args.label not in self.ledger and self._on_the_server(args.label):
                # server_link: not at %load_ext, only with a Jupyter server
                from .. import server_link

                server_link.forget(args.label)
                print(f"Forgot {limits.printable(args.label)} on the Jupyter server")
                return
            else:
                self.ledger.forget(args.label)
                what = limits.printable(args.label)
                if self._joined():
                    what += " in this kernel"
            back = active is not None and self.ledger.active is None
            print(f"Forgot {what}" + ("; using the source credentials" if back else ""))

    @staticmethod
    def _joined() -> bool:
        from .. import server_link  # server_link: not at %load_ext, only with a Jupyter server

        return server_link.joined()

    def _on_the_server(self, label: str) -> bool:
        """Whether ``label`` names a session of the Jupyter server's (this kernel joined one)."""
        from .. import server_link  # server_link: not at %load_ext, only with a Jupyter server

        return server_link.joined() and label in server_link.labels()

    @line_magic
    @magic_arguments()
    def sts_panel(self, line: str) -> Any:
        """The live panel of issued sessions: expiry countdown, use and forget per row. Under
        a Jupyter server that serves stsmagic sessions, the server's sessions too, under the
        kernel's, with use and forget acting on the server."""
        with self._errors("sts_panel"):
            magic_args.parse_line(self.sts_panel, line)
        try:
            from ..widgets.panel import SessionPanel  # widgets/: ipywidgets, not at %load_ext
        except ModuleNotFoundError as e:
            if e.name not in OPTIONAL:
                raise
            raise UsageError(f"%sts_panel {WIDGETS_MISSING}") from e
        # A kernel never learns that a view went away, so an unclosed panel would keep its
        # countdown thread for ever: one live panel at a time, the newest.
        self.close_panel()
        self._panel = SessionPanel(
            self.ledger, signin_endpoint=self.signin_url, server_follower=self._server_follower
        )
        return self._panel
