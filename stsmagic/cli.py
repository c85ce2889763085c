"""The ``stsmagic`` command: ``stsmagic sandbox``, ``stsmagic demo`` and ``stsmagic --version``."""

from __future__ import annotations

import argparse
import sys

from ._version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stsmagic",
        description="Short-lived AWS credentials in Jupyter: a local AWS sandbox and a demo.",
    )
    parser.add_argument("--version", action="version", version=f"stsmagic {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sandbox = commands.add_parser(
        "sandbox",
        help="serve the local AWS sandbox (STS, SSO, SSO OIDC, and moto) on 127.0.0.1",
        description="Serve the local AWS sandbox on 127.0.0.1 until Ctrl-C. Point boto3 at it "
        "with AWS_ENDPOINT_URL=<the printed URL>.",
    )
    sandbox.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)"
    )

    demo = commands.add_parser(
        "demo",
        help="start a sandbox and JupyterLab on the example notebooks, offline",
        description="Start a sandbox, write a throwaway AWS config (a 'demo' profile), and run "
        "JupyterLab on the example notebooks. Ctrl-C stops everything.",
    )
    demo.add_argument(
        "--port",
        type=int,
        default=None,
        help="JupyterLab's port (default 8888, or a free one when 8888 is taken)",
    )
    demo.add_argument(
        "--sandbox-port", type=int, default=0, help="the sandbox's port (default: a free one)"
    )
    demo.add_argument(
        "--notebooks",
        default=None,
        help="folder of notebooks to open (default: the bundled examples)",
    )
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "sandbox":
        from .sandbox.serve import serve  # sandbox: moto and its server, only for `stsmagic serve`

        return serve(port=args.port)
    from .demo import run_demo  # demo: only for `stsmagic demo`

    return run_demo(
        port=args.port,
        sandbox_port=args.sandbox_port,
        notebooks=args.notebooks,
        open_browser=not args.no_browser,
    )


if __name__ == "__main__":
    sys.exit(main())
