"""Where a request goes: https, or plain ``http://`` to this machine only, unless the user opts
in; and a request for this machine never through a proxy.

Over plain http the SSO bearer token, trade-in tokens, OIDC client secrets and refresh
tokens, request signatures and the issued credentials in the answer all cross the network in
clear text. The URL is read as botocore's HTTP client reads it (``limits.endpoint_host``), and
"this machine" is a literal loopback address or ``localhost`` itself (``*.localhost`` names go
through DNS). An ``HTTP_PROXY``/``HTTPS_PROXY`` would carry a loopback request (in clear) to
the proxy's machine, so clients for a loopback endpoint are made without proxies.

The SSO modules use this too (``sso/oidc.py``): it imports nothing of the broker's.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from .. import limits
from ..errors import ParameterError

OPT_IN = "--allow-http, StsMagics.allow_http or Broker(allow_http=True)"


def is_loopback(host: str) -> bool:
    """``localhost`` or a literal loopback address (127.0.0.0/8, ::1); no name is resolved."""
    if host.lower() == "localhost":
        return True
    import ipaddress  # only when an http:// URL is checked

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check(url: str | None, allow_http: bool, parameter: str = "endpoint_url") -> None:
    """Refuse ``url`` when its host is ambiguous, or it is plain http to a host that is not
    this machine (``allow_http`` lifts only the second)."""
    if not url:
        return
    host = limits.endpoint_host(url, parameter)
    if allow_http or urlsplit(url).scheme.lower() != "http" or is_loopback(host):
        return
    raise ParameterError(
        parameter,
        f"http://{host} would carry tokens, signatures and the issued keys in clear text",
        f"use https:// (or, on a network you trust, allow it with {OPT_IN})",
    )


def origin(session: Any, service_id: str, url: str | None) -> str:
    """Where botocore found the endpoint ``url`` it chose for ``service_id`` without an explicit
    one: the name a refusal gives (an environment variable, or the profile's config)."""
    variable = "AWS_ENDPOINT_URL_" + service_id.replace(" ", "_").upper()
    for name in (variable, "AWS_ENDPOINT_URL"):
        if url is not None and os.environ.get(name) == url:
            return name
    profile = session.profile or "default"
    return f"endpoint_url (profile {profile!r} or its services section)"


def create_client(
    session: Any,
    service: str,
    *,
    allow_http: bool,
    config: Any,
    endpoint_url: str | None = None,
    **kwargs: Any,
) -> Any:
    """``session.create_client(service, ...)``, refused (nothing sent) when the endpoint
    botocore chose (``endpoint_url``, ``AWS_ENDPOINT_URL_<SERVICE>``, the ``services``
    section, ``AWS_ENDPOINT_URL``, the profile's) breaks ``check``; a loopback endpoint's
    client connects directly, whatever proxy the environment or ``config`` names."""
    from botocore.config import Config  # botocore: not until a request is made
    from botocore.utils import get_environ_proxies  # as above

    client = session.create_client(service, endpoint_url=endpoint_url, config=config, **kwargs)
    url = client.meta.endpoint_url
    parameter = (
        "endpoint_url"
        if endpoint_url is not None
        else origin(session, client.meta.service_model.service_id, url)
    )
    check(url, allow_http, parameter)
    proxied = (config is not None and config.proxies) or get_environ_proxies(url or "")
    if url and proxied and is_loopback(limits.endpoint_host(url, parameter)):
        direct = Config(proxies={})
        config = direct if config is None else config.merge(direct)
        client = session.create_client(service, endpoint_url=endpoint_url, config=config, **kwargs)
    return client
