"""The public path of the console sign-in link: ``stsmagic.console.signin_url(session, ...)``.

The request itself is one of the broker's (``stsmagic.broker.console``); this module keeps the
name users import from.
"""

from __future__ import annotations

from .broker.console import SigninLink, partition_of, signin_url

__all__ = ["SigninLink", "partition_of", "signin_url"]
