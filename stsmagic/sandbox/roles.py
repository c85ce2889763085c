"""The roles the sandbox knows, and who may assume them (the trust policy, as AWS judges it).

Three are seeded in every sandbox: ``plain`` (anyone in the account), ``mfa`` (its trust
demands ``aws:MultiFactorAuthPresent``) and ``external-id`` (it demands ``sts:ExternalId``).
Roles made through moto's IAM (``iam.create_role``) can be assumed too, by anyone in the
account, up to their MaxSessionDuration.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import moto_backend

EXTERNAL_ID = "stsmagic-sandbox-external-id"
ROLE_NAMES = {
    "plain": "stsmagic-plain",
    "mfa": "stsmagic-mfa",
    "external-id": "stsmagic-external-id",
}


@dataclass(frozen=True)
class Role:
    name: str
    arn: str
    role_id: str
    max_session_duration: int = 3600
    requires_mfa: bool = False
    external_id: str | None = None


def seeded_roles(account_id: str) -> dict[str, Role]:
    """The three seeded roles, by ARN."""
    from .tokens import unique_id

    roles = [
        Role(ROLE_NAMES["plain"], "", unique_id("AROA"), max_session_duration=43200),
        Role(
            ROLE_NAMES["mfa"], "", unique_id("AROA"), max_session_duration=43200, requires_mfa=True
        ),
        Role(ROLE_NAMES["external-id"], "", unique_id("AROA"), external_id=EXTERNAL_ID),
    ]
    made = {}
    for role in roles:
        arn = f"arn:aws:iam::{account_id}:role/{role.name}"
        made[arn] = Role(
            role.name,
            arn,
            role.role_id,
            role.max_session_duration,
            role.requires_mfa,
            role.external_id,
        )
    return made


def moto_role(arn: str, account_id: str) -> Role | None:
    """A role made through moto's IAM, trusted by anyone in the account."""
    try:
        for role in list(moto_backend.iam(account_id).roles.values()):
            if role.arn == arn:
                return Role(role.name, role.arn, role.id, int(role.max_session_duration or 3600))
    except (KeyError, AttributeError, TypeError, ValueError):  # moto internals moved
        return None
    return None
