"""Keeping a newly issued session: the one step every issuing face ends with.

The magics and the MFA form both hand what the broker issued to ``keep``: the ledger adds it
(active unless told otherwise), ``--no-renew`` takes its automatic renewal away, and the
``--env`` export follows the choice made for this session (on, or off again when neither the
flag nor ``StsMagics.export_env`` asks for it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .outlets import environ
from .renewal import without_renewal

if TYPE_CHECKING:
    from .ledger import SessionLedger
    from .session import IssuedSession


def keep(
    session: IssuedSession,
    ledger: SessionLedger,
    *,
    activate: bool = True,
    export_env: bool | None = None,
    auto_renew: bool = True,
) -> IssuedSession:
    """Add ``session`` to ``ledger`` and return it as kept (labelled).

    ``activate``: make it the session every client signs with. ``export_env``: True mirrors
    the active session into ``os.environ`` from now on; False turns an earlier export off (a
    magic's activation without ``--env``, the trait off); None leaves the export as it is.
    Nothing about the export changes when the session is kept inactive.
    ``auto_renew=False`` is ``--no-renew``.
    """
    if not auto_renew:
        session = without_renewal(session)
    kept = ledger.add(session, activate=activate)
    if activate and export_env is not None:
        environ.export_environ(export_env, ledger)
    return kept
