"""botocore credentials that are, at every request, the ledger's active session.

One ``LiveCredentials`` goes first (``LiveProvider``) in the credential chain of each botocore
session stsmagic reaches; botocore's signer calls ``get_frozen_credentials()`` for every
request, which asks ``gate.credentials`` (the one request-time check) and, when that has
nothing for this session, answers with the session's own chain without stsmagic (``Source``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    Credentials,
    ReadOnlyCredentials,
)
from botocore.exceptions import NoCredentialsError

from .. import source
from ..errors import SessionExpired
from . import gate, wiring

METHOD = source.LIVE_METHOD


class LiveCredentials(Credentials):
    """Credentials that are the followed ledger's active session at every call.

    ``source`` returns the session's own frozen credentials (or None when there are none);
    ``profile`` is the profile its session names explicitly (None: it follows any session).
    """

    def __init__(
        self,
        source: Callable[[], ReadOnlyCredentials | None],
        profile: str | None = None,
    ) -> None:
        # Credentials.__init__ would assign the key attributes, which are properties here.
        self.method = METHOD
        self._source = source
        self._profile = profile

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        frozen = gate.credentials(self._profile)
        if frozen is None:
            frozen = self._source()
            if frozen is None:
                raise NoCredentialsError()
        return frozen

    # botocore reads these directly in a few places; each is one frozen snapshot's part.
    @property
    def access_key(self) -> str:
        return self.get_frozen_credentials().access_key

    @property
    def secret_key(self) -> str:
        return self.get_frozen_credentials().secret_key

    @property
    def token(self) -> str | None:
        return self.get_frozen_credentials().token

    @property
    def account_id(self) -> str | None:
        try:
            return self.get_frozen_credentials().account_id
        except (NoCredentialsError, SessionExpired):
            return None

    def __repr__(self) -> str:
        ledger: Any = wiring.following()
        session = ledger.active if ledger is not None else None
        return f"<LiveCredentials active={session.label if session else None!r}>"


class LiveProvider(CredentialProvider):
    """The first provider in a chain: always answers with its live credentials."""

    METHOD = METHOD
    CANONICAL_NAME = "stsmagic"

    def __init__(self, credentials: Any) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Any:
        return self._credentials


def put_first(resolver: CredentialResolver, provider: CredentialProvider) -> None:
    """Before botocore's env provider, or first when the chain has none (a named profile)."""
    if any(p.METHOD == "env" for p in resolver.providers):
        resolver.insert_before("env", provider)
    else:
        resolver.providers.insert(0, provider)


def live_provider_in(resolver: CredentialResolver) -> Any:
    """The live provider already in ``resolver``'s chain, or None."""
    return next((p for p in resolver.providers if p.METHOD == METHOD), None)


def masked(frozen: ReadOnlyCredentials) -> ReadOnlyCredentials:
    """``frozen`` as a ``SecretCredentials``: botocore's is a namedtuple, whose repr (and
    IPython's pretty) shows the secret key; this one's shows the access key masked."""
    from ..session import SecretCredentials  # not at %load_ext: only once a source answers

    return frozen if isinstance(frozen, SecretCredentials) else SecretCredentials._make(frozen)


class Source:
    """A session's own credentials, resolved once, on first need.

    ``previous`` is a credentials object the session had already resolved (clients made
    before stsmagic reached it hold it); otherwise its chain is walked without stsmagic.
    """

    def __init__(self, resolver: CredentialResolver, previous: Credentials | None = None) -> None:
        self._resolver = resolver
        self._credentials = previous
        self._resolved = previous is not None
        self._lock = threading.Lock()
        self._served_changes = _served_changes()

    def __call__(self) -> ReadOnlyCredentials | None:
        changes = _served_changes()
        if changes != self._served_changes:
            self._drop_if_served(changes)
        if not self._resolved:
            self._resolve()
        creds = self._credentials
        if creds is None:
            return None
        # The class's method, not the instance's: a previously resolved object is adopted
        # (its instance attribute points back at the live credentials).
        return masked(type(creds).get_frozen_credentials(creds))

    def _resolve(self) -> None:
        with self._lock:
            if self._resolved:
                return
            chain = CredentialResolver(source.source_providers(self._resolver.providers))
            self._credentials = chain.load_credentials()
            self._resolved = True

    def _drop_if_served(self, changes: int) -> None:
        """The source chain is walked again at the next call: it fetches the session served
        now, or, in a kernel of a Jupyter server that has none now, finds the profile's keys
        (only a joined kernel counts changes; a walk costs no request but a served fetch)."""
        with self._lock:
            self._credentials = None
            self._resolved = False
            self._served_changes = changes


def _served_changes() -> int:
    record = wiring.current()
    return record.served_changes if record is not None else 0


def refetch_served() -> None:
    """The session served to this process changed (a joined Jupyter server said so): every
    source credentials object that came from a credentials endpoint fetches again at its next
    call, instead of keeping the old session until its refresh window."""
    record = wiring.current()
    if record is not None:
        record.served_changes += 1
