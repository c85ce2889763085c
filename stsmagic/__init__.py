"""stsmagic: short-lived AWS credentials in Jupyter, live in boto3's default session.

``import stsmagic`` stays cheap: it imports neither boto3, pandas nor ipywidgets. Every public
name below is loaded on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import ParameterError, RequestRefused, SessionExpired, StsMagicError

if TYPE_CHECKING:
    from .broker.broker import Broker
    from .ledger import SessionLedger
    from .outlets.serve import serve_credentials
    from .session import IssuedSession
    from .widgets.mfa_form import MfaForm
    from .widgets.panel import SessionPanel

    sessions: SessionLedger

from ._version import __version__

__all__ = [
    "Broker",
    "IssuedSession",
    "MfaForm",
    "ParameterError",
    "RequestRefused",
    "SessionExpired",
    "SessionLedger",
    "SessionPanel",
    "StsMagicError",
    "__version__",
    "load_ipython_extension",
    "serve_credentials",
    "sessions",
    "unload_ipython_extension",
]

_LAZY = {
    "Broker": ("stsmagic.broker", "Broker"),
    "IssuedSession": ("stsmagic.session", "IssuedSession"),
    "SessionLedger": ("stsmagic.ledger", "SessionLedger"),
    "sessions": ("stsmagic.outlets", "sessions"),
    "serve_credentials": ("stsmagic.outlets.serve", "serve_credentials"),
    "MfaForm": ("stsmagic.widgets.mfa_form", "MfaForm"),
    "SessionPanel": ("stsmagic.widgets.panel", "SessionPanel"),
}


# The subpackages and modules the reference documents: ``stsmagic.console.signin_url`` works
# after ``import stsmagic`` alone, and loads the module only then.
_SUBMODULES = frozenset(
    {
        "broker",
        "console",
        "dask",
        "errors",
        "ledger",
        "limits",
        "outlets",
        "policy_draft",
        "renewal",
        "sandbox",
        "session",
        "source",
        "sso",
        "usage",
        "widgets",
    }
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return import_module(f"{__name__}.{name}")  # the import sets the attribute too
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'stsmagic' has no attribute {name!r}") from None
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The Jupyter server extension (``stsmagic.server``): one sign-in for every kernel and
    terminal of the server."""
    return [{"module": "stsmagic.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension (the status-bar item), for ``jupyter labextension
    develop``: ``stsmagic/labextension/``, which ``labextension/`` builds; the wheel installs it
    under ``share/jupyter/labextensions/stsmagic``."""
    return [{"src": "labextension", "dest": "stsmagic"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext stsmagic``: register the magics and install the live credentials."""
    # magics: IPython and the outlets, only at %load_ext
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext stsmagic``: restore boto3's default session as it was."""
    # magics: IPython and the outlets, only at %unload_ext
    from .magics import unload_ipython_extension as unload

    unload(ipython)
