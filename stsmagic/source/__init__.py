"""The source credentials: a profile's own chain and the environment as the user set it.

Outlets write ``os.environ`` (``--env`` exports the active session; serving points children
at the kernel's endpoint and at copies of the config files), yet issuing, renewal and
``%sts_profile`` must read the user's own keys and files. An outlet that changes a variable
first ``set_aside``s the value it found; ``SourceEnviron`` is ``os.environ`` read live with
those values put back; ``source_session`` a botocore session reading the user's own config
files; ``source_providers`` a credential chain without stsmagic's live provider whose env and
container providers read the environment as the user set it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

# The METHOD of stsmagic's live provider (stsmagic.outlets.live_credentials): never a source.
LIVE_METHOD = "stsmagic"

_lock = threading.Lock()
# owner -> {name: the value before the owner changed it (None: it was unset)}
_set_aside: dict[str, dict[str, str | None]] = {}


def set_aside(owner: str, values: Mapping[str, str | None]) -> None:
    """Record what ``owner`` found in ``os.environ`` before changing it (a name already
    recorded by another owner keeps the older value)."""
    with _lock:
        _set_aside[owner] = dict(values)


def release(owner: str) -> None:
    """``owner`` has put its variables back: the environment is the source again."""
    with _lock:
        _set_aside.pop(owner, None)


def put_back(owner: str, saved: Mapping[str, str | None]) -> None:
    """Put each variable ``owner`` changed back as ``saved`` holds it (None: it was unset),
    then ``release`` the owner."""
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    release(owner)


SERVED_URI = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
# Set by a serving Jupyter server (stsmagic.server) for the kernels it starts: where the user's
# own config files are, while AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE point at the copies
# its children read. Paths only: no key ever travels this way.
INHERITED = "STSMAGIC_SOURCE_"


def inherited() -> dict[str, str]:
    """The user's own config file variables as a serving parent process recorded them (a
    kernel of a serving Jupyter server), by name; empty elsewhere, and in the process that
    serves (it set them for its children, and sets its own changes aside itself)."""
    with _lock:
        if any(SERVED_URI in values for values in _set_aside.values()):
            return {}
    return {
        variable: os.environ[INHERITED + variable]
        for variable, _ in FILE_VARIABLES.values()
        if INHERITED + variable in os.environ
    }


def originals() -> dict[str, str | None]:
    """Every set-aside name and its value before any outlet (of this process, or of the
    Jupyter server that started it) changed it."""
    merged: dict[str, str | None] = dict(inherited())  # before the lock: it takes it too
    with _lock:
        # the first owner to change a name saw the user's value
        for values in _set_aside.values():
            for name, value in values.items():
                merged.setdefault(name, value)
        return merged


def source_environ() -> dict[str, str]:
    """``os.environ`` as it would be without stsmagic's outlets: where source keys live."""
    environ = dict(os.environ)
    for name, value in originals().items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ


class SourceEnviron(Mapping[str, str]):
    """``os.environ``, read live, with every variable an outlet changed as the user had it.

    For botocore's ``EnvProvider`` in the source chains (the broker's and the live ones')."""

    def __getitem__(self, name: str) -> str:
        saved = originals()
        if name in saved:
            value = saved[name]
            if value is None:
                raise KeyError(name)
            return value
        return os.environ[name]

    def __iter__(self) -> Iterator[str]:
        return iter(source_environ())

    def __len__(self) -> int:
        return len(source_environ())


# botocore's own names for the config files, the variables that set them, and their defaults
FILE_VARIABLES = {
    "config_file": ("AWS_CONFIG_FILE", "~/.aws/config"),
    "credentials_file": ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
}


def source_file(name: str) -> str:
    """The path botocore reads for ``config_file`` or ``credentials_file`` as the user set
    it (``AWS_CONFIG_FILE``, ``AWS_SHARED_CREDENTIALS_FILE``, else ``~/.aws/...``), expanded."""
    variable, default = FILE_VARIABLES[name]
    path = SourceEnviron().get(variable) or default
    return os.path.expanduser(os.path.expandvars(path))


def files_set_aside() -> bool:
    """True while an outlet points ``AWS_CONFIG_FILE``/``AWS_SHARED_CREDENTIALS_FILE`` away
    from the user's files (serving: children read private copies)."""
    saved = originals()
    return any(variable in saved for variable, _ in FILE_VARIABLES.values())


def source_session(profile: str | None = None, *, like: Any = None) -> Any:
    """A botocore session of ``profile`` that reads the user's own config files, whatever an
    outlet has pointed the environment at (``like``: a session of that class, e.g. aiobotocore's
    ``AioSession``; default botocore's)."""
    import botocore.session  # botocore: only when used, not on importing source/

    from .loader import share_loader  # loader: botocore, as above

    session = (type(like) if like is not None else botocore.session.Session)(profile=profile)
    if files_set_aside():
        for name in FILE_VARIABLES:
            session.set_config_variable(name, source_file(name))
    return share_loader(session)


def reading_source_files(session: Any) -> Any:
    """``session`` itself, or, while an outlet points the environment at other config files,
    a session of the same profile reading the user's own (to build a source chain from)."""
    if not files_set_aside():
        return session
    own = session.instance_variables()
    if any(name in own for name in FILE_VARIABLES):
        return session  # the caller chose its files itself
    return source_session(own.get("profile"), like=session)


def source_providers(providers: Iterable[Any], *, served_first: bool = True) -> list[Any]:
    """A chain without stsmagic: no live provider, and the env and container providers
    reading the environment as the user set it (the keys are the user's, never an issued
    session's; a container endpoint is the user's, never the kernel's own).

    In a kernel of a serving Jupyter server (``inherited()``), the server's active session
    goes first (``served_first``): the kernel signs with it when it has no session of its
    own, and with the profile's own keys, as before, while the server has none."""
    from botocore.credentials import ContainerProvider, EnvProvider  # botocore: as above

    chain = []
    if served_first and inherited() and os.environ.get(SERVED_URI):
        chain.append(ServedSessionProvider())
    for provider in providers:
        if provider.METHOD == LIVE_METHOD:
            continue
        if isinstance(provider, (EnvProvider, ContainerProvider)):
            provider = type(provider)(environ=SourceEnviron())
        chain.append(provider)
    return chain


NO_ACTIVE_SESSION = "NoActiveSession"


class ServedSessionProvider:
    """The Jupyter server's active session, fetched from the credentials endpoint it serves,
    or nothing (the chain goes on) while it has none. One try per fetch: a 404 is an answer,
    not a failure to retry."""

    METHOD = "container-role"  # botocore's ContainerProvider's: refetched when the server switches
    CANONICAL_NAME = "stsmagic-server"

    def load(self) -> Any:
        from botocore.credentials import ContainerProvider  # botocore: as above
        from botocore.exceptions import CredentialRetrievalError  # as above
        from botocore.utils import ContainerMetadataFetcher  # as above

        class OneTry(ContainerMetadataFetcher):
            RETRY_ATTEMPTS = 1

        provider = ContainerProvider(environ=os.environ, fetcher=OneTry())
        try:
            return provider.load()
        except CredentialRetrievalError as e:
            if NO_ACTIVE_SESSION in str(e):
                return None
            raise
