"""The magics that carry the active session past the kernel's own clients: %sts_dask (every
worker of a Dask cluster follows the kernel) and %sts_serve (every process the kernel starts)."""

from __future__ import annotations

import sys

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument

from . import args as magic_args
from .args import magic_arguments
from .base import MagicsBase, describe


@magics_class
class OutletMagics(MagicsBase):
    """%sts_dask, %sts_serve."""

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
                from .. import dask as sts_dask  # dask: distributed, not at %load_ext
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

    @line_magic
    @magic_arguments()
    @argument(
        "--off",
        action="store_true",
        help="stop serving: every variable back as it was, the copies and the token file deleted",
    )
    @argument(
        "--port",
        type=int,
        default=0,
        help="the port on 127.0.0.1 to serve on (default: a free one)",
    )
    def sts_serve(self, line: str) -> None:
        """Serve the active session to every process the kernel starts: !aws, subprocess,
        spawn process pools, Dask workers without the plugin, pyarrow, a terminal.

        The kernel becomes a container-credentials endpoint on 127.0.0.1, the one every AWS
        SDK and the AWS CLI read (AWS_CONTAINER_CREDENTIALS_FULL_URI and a token file): each
        process fetches the session active when it starts, and again as that one nears its end
        (renewable sessions are renewed ahead of it). Your keys are taken out of their
        environment and their copy of your profile; other profiles keep theirs. The --env
        export, which this replaces, is turned off. Prints, for a terminal, the lines to
        export there. Idempotent; %sts_serve --off puts everything back.

        Example: %sts_serve, then !aws sts get-caller-identity
        """
        with self._errors("sts_serve"):
            args = magic_args.parse_line(self.sts_serve, line)
            if args.off:
                if args.port:
                    raise UsageError("--port: only when serving starts, not with --off")
                print(self.stop_serving())
                return
            if not 0 <= args.port <= 65535:
                raise UsageError(f"--port: {args.port} is not a port; give 1 to 65535")
            print(self.start_serving(port=args.port))
