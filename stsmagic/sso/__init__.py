"""IAM Identity Center's tokens: the AWS CLI's cache (``cache.py``), the OIDC requests
(``oidc.py``) and the device login that ``%sso_login`` runs (``login.py``)."""

from importlib import import_module
from typing import Any

_MODULES = frozenset({"cache", "login", "oidc"})


def __getattr__(name: str) -> Any:
    if name in _MODULES:  # stsmagic.sso.cache after `import stsmagic` alone
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
