"""Plain ``http://`` endpoints: allowed on loopback, refused elsewhere unless the user opts in.

Over plain http the SSO bearer token, trade-in tokens, request signatures and the issued
credentials in the answer all cross the network in clear text.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import ParameterError

OPT_IN = "--allow-http, StsMagics.allow_http or Broker(allow_http=True)"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    import ipaddress  # only when an http:// URL is checked

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check(url: str | None, allow_http: bool, parameter: str = "endpoint_url") -> None:
    """Refuse ``url`` when it is plain http to a host that is not this machine."""
    if not url or allow_http:
        return
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or is_loopback(parts.hostname or ""):
        return
    raise ParameterError(
        parameter,
        f"http://{parts.hostname} would carry tokens, signatures and the issued keys in clear text",
        f"use https:// (or, on a network you trust, allow it with {OPT_IN})",
    )
