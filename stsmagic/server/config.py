"""``c.StsMagicServer.<trait>``: how the Jupyter server signs in and serves."""

from __future__ import annotations

from typing import Any

from traitlets import Bool, Enum, Float, Int, Unicode, validate
from traitlets.config import Configurable

from .. import limits
from ..magics.args import checked_trait

SERVE_CHOICES = ("auto", "always", "never")


class StsMagicServer(Configurable):
    """The Jupyter server's AWS sign-in: its profile, where it asks, and whether it serves."""

    profile = Unicode(
        None,
        allow_none=True,
        help="The profile the server signs in with and serves for (None: AWS_PROFILE, else "
        "'default').",
    ).tag(config=True)
    region = Unicode(None, allow_none=True, help="The region (None: the profile's).").tag(
        config=True
    )
    endpoint_url = Unicode(
        None,
        allow_none=True,
        help="The STS/SSO endpoint (None: the profile's endpoint_url or AWS_ENDPOINT_URL).",
    ).tag(config=True)
    allow_http = Bool(
        False,
        help="Send requests to a plain http:// endpoint that is not loopback (tokens and keys "
        "then cross the network in clear text).",
    ).tag(config=True)
    duration_seconds = Int(
        None,
        allow_none=True,
        help="How long an MFA sign-in's session lasts, 900-129600 seconds (None: the "
        "profile's duration_seconds, else AWS's 43200).",
    ).tag(config=True)
    serve = Enum(
        SERVE_CHOICES,
        default_value="auto",
        help="Serve the server's active session to every kernel and terminal it starts "
        "(AWS_CONTAINER_CREDENTIALS_FULL_URI). 'auto': from the start when the profile needs "
        "a session (mfa_serial, sso_session/sso_start_url or role_arn), else from the first "
        "sign-in; 'always': from the start; 'never': the server only keeps sessions.",
    ).tag(config=True)
    read_timeout = Float(30.0, help="Seconds to wait for STS's answer before giving up.").tag(
        config=True
    )
    mfa_hint = Unicode(
        None,
        allow_none=True,
        help="A line the sign-in dialog shows under the MFA field (the demo says where its "
        "codes come from).",
    ).tag(config=True)

    @validate("duration_seconds")
    def _check_duration(self, proposal: Any) -> int | None:
        return checked_trait(
            self, proposal, lambda value: limits.duration_seconds(value, "duration_seconds")
        )

    @validate("endpoint_url")
    def _check_endpoint_url(self, proposal: Any) -> str | None:
        return checked_trait(self, proposal, limits.endpoint_url)
