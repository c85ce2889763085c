"""An IAM policy draft from what the sessions signed (``%sts_usage --policy``).

Each operation counted becomes the IAM action named by its service's IAM prefix (botocore's
service model: ``signingName``, else ``endpointPrefix``) and its own name, when policy-sentry's
IAM database has that action. S3's operations whose permission has another name are mapped as
data (``S3_ACTIONS``), each action checked against the database as well. What the database does
not have is named under the draft, never guessed. Children's fetches from the credentials
endpoint are no AWS call: they are counted, not drafted (what the children then did is not
seen by this kernel).

policy-sentry is imported only when a draft is made (it loads AWS's IAM database, about a
second): ``pip install 'stsmagic[usage]'``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import StsMagicError
from .usage import SERVE, Record

INSTALL = "pip install 'stsmagic[usage]'"
NARROW = (
    '"Resource": "*" allows these actions on every resource: narrow it to the ARNs the '
    "notebook needs before using this policy."
)

# S3 operations -> the IAM actions they need, where the names differ (AWS's "Required
# permissions for Amazon S3 API operations"); every other S3 operation is its own action.
# Operations whose actions live under another prefix (s3express, s3-object-lambda) are left
# out: they are named as not mapped.
_GET, _PUT, _LIST = "GetObject", "PutObject", "ListBucket"
S3_ACTIONS: dict[str, tuple[str, ...]] = {
    "HeadObject": (_GET,),
    "SelectObjectContent": (_GET,),
    "CopyObject": (_GET, _PUT),
    "UploadPartCopy": (_GET, _PUT),
    "CreateMultipartUpload": (_PUT,),
    "UploadPart": (_PUT,),
    "CompleteMultipartUpload": (_PUT,),
    "DeleteObjects": ("DeleteObject",),
    "HeadBucket": (_LIST,),
    "ListObjects": (_LIST,),
    "ListObjectsV2": (_LIST,),
    "ListObjectVersions": ("ListBucketVersions",),
    "ListBuckets": ("ListAllMyBuckets",),
    "ListMultipartUploads": ("ListBucketMultipartUploads",),
    "ListParts": ("ListMultipartUploadParts",),
    "DeleteBucketCors": ("PutBucketCORS",),
    "DeleteBucketTagging": ("PutBucketTagging",),
    "DeleteBucketOwnershipControls": ("PutBucketOwnershipControls",),
    "GetBucketEncryption": ("GetEncryptionConfiguration",),
    "PutBucketEncryption": ("PutEncryptionConfiguration",),
    "DeleteBucketEncryption": ("PutEncryptionConfiguration",),
    "GetBucketLifecycle": ("GetLifecycleConfiguration",),
    "GetBucketLifecycleConfiguration": ("GetLifecycleConfiguration",),
    "PutBucketLifecycle": ("PutLifecycleConfiguration",),
    "PutBucketLifecycleConfiguration": ("PutLifecycleConfiguration",),
    "DeleteBucketLifecycle": ("PutLifecycleConfiguration",),
    "GetBucketReplication": ("GetReplicationConfiguration",),
    "PutBucketReplication": ("PutReplicationConfiguration",),
    "DeleteBucketReplication": ("PutReplicationConfiguration",),
    "GetBucketNotificationConfiguration": ("GetBucketNotification",),
    "PutBucketNotificationConfiguration": ("PutBucketNotification",),
    "GetObjectLockConfiguration": ("GetBucketObjectLockConfiguration",),
    "PutObjectLockConfiguration": ("PutBucketObjectLockConfiguration",),
    "GetPublicAccessBlock": ("GetBucketPublicAccessBlock",),
    "PutPublicAccessBlock": ("PutBucketPublicAccessBlock",),
    "DeletePublicAccessBlock": ("PutBucketPublicAccessBlock",),
    "GetBucketAccelerateConfiguration": ("GetAccelerateConfiguration",),
    "PutBucketAccelerateConfiguration": ("PutAccelerateConfiguration",),
    "GetBucketAnalyticsConfiguration": ("GetAnalyticsConfiguration",),
    "ListBucketAnalyticsConfigurations": ("GetAnalyticsConfiguration",),
    "PutBucketAnalyticsConfiguration": ("PutAnalyticsConfiguration",),
    "DeleteBucketAnalyticsConfiguration": ("PutAnalyticsConfiguration",),
    "GetBucketIntelligentTieringConfiguration": ("GetIntelligentTieringConfiguration",),
    "ListBucketIntelligentTieringConfigurations": ("GetIntelligentTieringConfiguration",),
    "PutBucketIntelligentTieringConfiguration": ("PutIntelligentTieringConfiguration",),
    "DeleteBucketIntelligentTieringConfiguration": ("PutIntelligentTieringConfiguration",),
    "GetBucketInventoryConfiguration": ("GetInventoryConfiguration",),
    "ListBucketInventoryConfigurations": ("GetInventoryConfiguration",),
    "PutBucketInventoryConfiguration": ("PutInventoryConfiguration",),
    "DeleteBucketInventoryConfiguration": ("PutInventoryConfiguration",),
    "GetBucketMetricsConfiguration": ("GetMetricsConfiguration",),
    "ListBucketMetricsConfigurations": ("GetMetricsConfiguration",),
    "PutBucketMetricsConfiguration": ("PutMetricsConfiguration",),
    "DeleteBucketMetricsConfiguration": ("PutMetricsConfiguration",),
}
# What botocore calls a service and an operation. policy-sentry reads an action name as a
# pattern ("*" is every action of the prefix), and a name is printed in the draft: a record
# of any other shape is left out, counted, never looked up nor printed.
SERVICE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
OPERATION_NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,127}")

# By IAM prefix: the operations of a service whose actions have other names.
ACTIONS: dict[str, dict[str, tuple[str, ...]]] = {"s3": S3_ACTIONS}


@dataclass(frozen=True)
class PolicyDraft:
    """The actions found (sorted, as IAM spells them), the (service, operation) pairs with
    none, and how many credential fetches by children were counted (not drafted)."""

    actions: tuple[str, ...]
    unmapped: tuple[tuple[str, str], ...]
    fetches: int = 0
    not_names: int = 0  # records whose service or operation is not a name: left out

    @property
    def document(self) -> dict[str, Any]:
        """The IAM policy: one statement allowing the actions on ``"Resource": "*"``."""
        statement = {"Effect": "Allow", "Action": list(self.actions), "Resource": "*"}
        return {"Version": "2012-10-17", "Statement": [statement]}

    def text(self) -> str:
        """The JSON, then the line on narrowing the resource, the operations not mapped and
        the children's fetches."""
        lines = []
        if self.actions:
            lines += [json.dumps(self.document, indent=2), NARROW]
        else:
            lines.append("No AWS action to draft: no call counted maps to one.")
        if self.unmapped:
            names = ", ".join(f"{service} {operation}" for service, operation in self.unmapped)
            lines.append(
                "Not mapped (no IAM action of that name in policy-sentry's database; "
                f"add what they need by hand): {names}"
            )
        if self.not_names:
            lines.append(
                f"Left out: {self.not_names:,} call{'' if self.not_names == 1 else 's'} counted "
                "under a service or operation that is not an AWS name."
            )
        if self.fetches:
            lines.append(
                f"Children fetched the session {self.fetches:,} time"
                f"{'' if self.fetches == 1 else 's'} from the credentials endpoint: "
                "their own calls are not seen in this kernel, nor in this draft."
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())


def iam_prefix(service: str, loader: Any = None) -> str | None:
    """The IAM prefix of a botocore service: its model's ``signingName``, else its
    ``endpointPrefix`` (``sts`` for STS; ``monitoring`` for CloudWatch, which IAM calls
    ``cloudwatch``: not mapped, not guessed). None for a service botocore does not know."""
    # botocore: only when a draft reads the service models
    from botocore.exceptions import DataNotFoundError
    from botocore.loaders import create_loader  # as above

    loader = loader or create_loader()
    try:
        metadata = loader.load_service_model(service, "service-2")["metadata"]
    except DataNotFoundError:
        return None
    prefix = metadata.get("signingName") or metadata.get("endpointPrefix")
    return str(prefix) if prefix else None


def _iam_database() -> Any:
    try:
        # policy_sentry: optional, stsmagic[policy]
        from policy_sentry.querying.actions import get_action_data
    except ModuleNotFoundError as e:
        if e.name is None or not e.name.startswith("policy_sentry"):
            raise
        raise StsMagicError(f"an IAM policy draft needs policy-sentry: {INSTALL}") from e
    return get_action_data


def iam_action(prefix: str, name: str, get_action_data: Any = None) -> str | None:
    """``prefix:Name`` as policy-sentry's IAM database spells it, or None if it has none.

    ``name`` is an action's name, taken literally: anything else (a pattern such as ``*``) has
    none."""
    if not OPERATION_NAME.fullmatch(name):
        return None
    get_action_data = get_action_data or _iam_database()
    wanted = f"{prefix}:{name}".lower()
    for found in get_action_data(prefix, name).get(prefix) or ():
        if str(found["action"]).lower() == wanted:
            return str(found["action"])
    return None


def draft(records: Iterable[Record]) -> PolicyDraft:
    """The policy draft for ``records`` (``stsmagic.sessions.usage_table.records()``)."""
    # botocore: only when a draft reads the service models
    from botocore.loaders import create_loader

    get_action_data = _iam_database()
    loader = create_loader()
    actions: set[str] = set()
    unmapped: set[tuple[str, str]] = set()
    fetches = not_names = 0
    prefixes: dict[str, str | None] = {}
    for record in records:
        if record.via == SERVE:
            fetches += record.calls
            continue
        service, operation = record.service, record.operation
        if not (SERVICE_NAME.fullmatch(service) and OPERATION_NAME.fullmatch(operation)):
            not_names += record.calls
            continue
        if service not in prefixes:
            prefixes[service] = iam_prefix(service, loader)
        prefix = prefixes[service]
        names = ACTIONS.get(prefix or "", {}).get(operation, (operation,))
        found = [iam_action(prefix, name, get_action_data) for name in names] if prefix else []
        if found and all(found):
            actions.update(str(action) for action in found)
        else:
            unmapped.add((service, operation))
    return PolicyDraft(tuple(sorted(actions)), tuple(sorted(unmapped)), fetches, not_names)
