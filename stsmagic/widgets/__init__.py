"""ipywidgets for stsmagic: the MFA form and the live panel of issued sessions.

Both are composed from stock ipywidgets 8 controls. ipywidgets is an optional dependency
(``pip install 'stsmagic[widgets]'``), imported only when a widget is first asked for.
"""

from __future__ import annotations

try:
    import ipywidgets  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the installation
    raise ImportError(
        "stsmagic's widgets need ipywidgets and pandas: pip install 'stsmagic[widgets]'"
    ) from e

from .mfa_form import MfaForm
from .panel import SessionPanel

__all__ = ["MfaForm", "SessionPanel"]
