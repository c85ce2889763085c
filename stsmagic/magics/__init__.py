"""``%load_ext stsmagic``: the notebook face.

Thin on purpose: each magic parses its line and calls the core (a ``Broker`` request kept in
the kernel's ledger, a ledger change, an outlet); anything a magic does can be done from Python
with ``stsmagic.Broker``, ``stsmagic.sessions`` and ``stsmagic.keep.keep``. The magics come in
families, one module each: ``issuing`` (one magic a request, and %sso_login), ``switching``
(%sts_use, %sts_forget, %sts_panel), ``outlets`` (%sts_dask, %sts_serve), ``console``
(%sts_console) and ``usage`` (%sts_usage); ``base`` holds the traits that ``%config StsMagics``
lists and the steps the families share; ``args`` reads lines; ``tracebacks`` shows stsmagic's
errors raised in a cell as one line.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError
from IPython.core.error import UsageError
from IPython.core.magic import magics_class

from ..outlets import live
from . import args as magic_args
from . import tracebacks
from .base import MagicsBase, describe
from .console import ConsoleMagics
from .issuing import IssuingMagics, show_device_authorization
from .outlets import OutletMagics
from .switching import SwitchingMagics
from .usage import UsageMagics

__all__ = [
    "StsMagics",
    "describe",
    "load_ipython_extension",
    "show_device_authorization",
    "unload_ipython_extension",
]

FAMILIES = (IssuingMagics, SwitchingMagics, OutletMagics, ConsoleMagics, UsageMagics)


@magics_class
class StsMagics(*FAMILIES):  # type: ignore[misc]
    """Short-lived AWS credentials in the notebook: %sts_session, %sts_federation,
    %sts_delegated, %sso_role, %sso_login, %sts_role, %sts_profile, %sts_use, %sts_forget,
    %sts_panel, %sts_dask, %sts_serve, %sts_console, %sts_usage."""


# Each family registered its own magics (IPython's @magics_class); StsMagics answers them all.
StsMagics.magics = {
    kind: {name: method for family in FAMILIES for name, method in family.magics[kind].items()}
    for kind in ("line", "cell")
}


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext stsmagic``: install the live credentials and register the magics."""
    try:
        live.watch()
    except BotoCoreError as e:  # e.g. AWS_PROFILE names a profile that is not configured
        raise UsageError(
            f"%load_ext stsmagic: boto3's default session cannot be made: "
            f"{magic_args.one_line(str(e))}; fix AWS_PROFILE or the AWS config files"
        ) from e
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, MagicsBase)]
    magics = StsMagics(shell=ipython)
    ipython.register_magics(magics)
    magics.follow_server()  # under a serving stsmagic Jupyter server: its changes at once
    tracebacks.install(ipython)  # stsmagic's errors in a cell: one line, %tb for the rest


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext stsmagic``: restore boto3's default session and remove the magics."""
    live.uninstall()
    tracebacks.uninstall(ipython)
    for configurable in ipython.configurables:
        if isinstance(configurable, MagicsBase):
            configurable.close_panel()
            configurable.stop_following_server()
            configurable.stop_remembering()
    for table in ipython.magics_manager.magics.values():
        for name, func in list(table.items()):
            if isinstance(getattr(func, "__self__", None), MagicsBase):
                del table[name]
    ipython.magics_manager.registry.pop(StsMagics.__name__, None)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, MagicsBase)]
