"""The aiobotocore outlet: every ``AioSession`` (s3fs, so pandas/dask ``s3://``) follows.

``AioSession`` builds its credential chain with the name ``create_credential_resolver`` that
``aiobotocore/session.py`` imported from ``aiobotocore.credentials``; wrapping that name in
``aiobotocore.session`` puts an async live provider first in every chain made from then on.
aiobotocore's signer awaits ``get_frozen_credentials()`` per request, so an s3fs filesystem
made before a switch (fsspec's instance cache) signs with the new session at its next request.

This module imports aiobotocore: ``live.watch`` imports it only once aiobotocore itself is
imported (``after_import``).
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any

from aiobotocore.credentials import AioCredentialResolver, AioCredentials
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import NoCredentialsError

from ..source import source_providers
from . import counting, gate
from .botocore_sessions import reaching
from .live_credentials import METHOD, LiveProvider, masked

_lock = threading.Lock()
_patched: dict[int, tuple[ModuleType, Any]] = {}


class _AioSource:
    """The session's own chain without stsmagic, resolved once (awaited) on first need."""

    def __init__(self, resolver: AioCredentialResolver) -> None:
        self._resolver = resolver
        self._credentials: Any = None
        self._resolved = False

    async def __call__(self) -> ReadOnlyCredentials | None:
        if not self._resolved:
            chain = AioCredentialResolver(source_providers(self._resolver.providers))
            self._credentials = await chain.load_credentials()
            self._resolved = True
        if self._credentials is None:
            return None
        return masked(await self._credentials.get_frozen_credentials())


class AioLiveCredentials(AioCredentials):
    """aiobotocore credentials that are the followed ledger's active session at every call."""

    def __init__(self, source: _AioSource, profile: str | None = None) -> None:
        self.method = METHOD
        self._source = source
        self._profile = profile

    async def get_frozen_credentials(self) -> ReadOnlyCredentials:
        frozen = gate.credentials(self._profile)
        if frozen is None:
            frozen = await self._source()
            if frozen is None:
                raise NoCredentialsError()
        return frozen

    # Synchronous parts have no answer without awaiting the source; the active one's only.
    @property
    def access_key(self) -> str | None:
        frozen = gate.credentials(self._profile)
        return frozen.access_key if frozen else None

    @property
    def secret_key(self) -> str | None:
        frozen = gate.credentials(self._profile)
        return frozen.secret_key if frozen else None

    @property
    def token(self) -> str | None:
        frozen = gate.credentials(self._profile)
        return frozen.token if frozen else None

    @property
    def account_id(self) -> str | None:
        return None

    def __repr__(self) -> str:
        return "<AioLiveCredentials>"


class AioLiveProvider(LiveProvider):
    async def load(self) -> Any:
        return self._credentials


def _live_provider(resolver: Any, profile: str | None) -> AioLiveProvider:
    return AioLiveProvider(AioLiveCredentials(_AioSource(resolver), profile))


def hook(module: ModuleType) -> None:
    """Reach every ``AioSession`` that ``module`` (``aiobotocore.session``) makes from now on."""
    with _lock:
        if id(module) in _patched:
            return
        original = module.create_credential_resolver
        _patched[id(module)] = (module, original)
        module.create_credential_resolver = reaching(original, _live_provider, counting.AIOBOTOCORE)  # type: ignore[attr-defined]


def unhook() -> None:
    with _lock:
        for module, original in _patched.values():
            module.create_credential_resolver = original  # type: ignore[attr-defined]
        _patched.clear()
