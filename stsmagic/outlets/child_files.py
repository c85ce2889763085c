"""The config files children read while the kernel serves: the user's, minus a profile's keys.

The SDKs' chains put a profile's keys, roles and SSO settings before the container endpoint,
so the profile a child signs for by default must give none. ``write_copies`` writes private
(0600) copies of the user's config and credentials files in which the given profiles keep
every setting (region, endpoint_url, services, s3, retries, ...) and lose their credential
sources; every other profile and section is copied as it is. The files are read with
botocore's own loader, so a file botocore cannot read is refused the way a child would fail;
comments are not kept (nothing reads them).
"""

from __future__ import annotations

import configparser
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import botocore.configloader  # loaded by then: serving runs in a kernel whose boto3 is live
from botocore.exceptions import ConfigNotFound, ConfigParseError

from ..errors import StsMagicError
from ..private_file import write_private

# What makes a profile yield credentials (botocore's chain and the other SDKs'): dropped.
CREDENTIAL_SOURCES = frozenset(
    {
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_security_token",  # botocore still reads the old name
        "role_arn",
        "source_profile",
        "credential_source",
        "credential_process",
        "web_identity_token_file",
        "login_session",
        "mfa_serial",
    }
)
CREDENTIAL_PREFIXES = ("sso_",)


class ConfigUnreadable(StsMagicError):
    """A config file botocore cannot read; the message names the file and the line, never a
    value (a malformed line may hold a key)."""


def is_credential_source(option: str) -> bool:
    return option in CREDENTIAL_SOURCES or option.startswith(CREDENTIAL_PREFIXES)


def read(path: str) -> dict[str, dict[str, Any]]:
    """``path`` as botocore reads it (sections of options; nested blocks as dicts); a missing
    file is empty. Raises ``ConfigUnreadable`` in one line."""
    try:
        return botocore.configloader.raw_config_parse(path)
    except ConfigNotFound:
        return {}
    except ConfigParseError as e:
        raise ConfigUnreadable(f"{path}: botocore cannot read it ({_where(e)})") from None
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise ConfigUnreadable(f"{path}: cannot be read ({why})") from None


def _where(error: Exception) -> str:
    """The kind of error and its line number, without the text of the line."""
    cause = getattr(error, "kwargs", {}).get("error")
    if cause is None:
        return type(error).__name__
    name = type(cause).__name__
    line = getattr(cause, "lineno", None)
    if line is None and isinstance(cause, configparser.ParsingError) and cause.errors:
        line = cause.errors[0][0]
    return f"{name} at line {line}" if line is not None else name


def config_sections(profiles: Iterable[str]) -> set[str]:
    """The config file's section names for ``profiles`` (``default`` has two spellings)."""
    names = set()
    for profile in profiles:
        names.add(f"profile {profile}")
        if profile == "default":
            names.add("default")
    return names


def without_keys(
    sections: Mapping[str, Mapping[str, Any]], cleared: set[str]
) -> dict[str, dict[str, Any]]:
    """``sections`` with every credential source dropped from the sections named ``cleared``."""
    return {
        name: {
            option: value
            for option, value in options.items()
            if name not in cleared or not is_credential_source(option)
        }
        for name, options in sections.items()
    }


def render(sections: Mapping[str, Mapping[str, Any]]) -> str:
    """INI text botocore reads back as ``sections`` (nested blocks indented)."""
    lines: list[str] = []
    for name, options in sections.items():
        lines.append(f"[{name}]")
        for option, value in options.items():
            if isinstance(value, Mapping):
                lines.append(f"{option} =")
                lines.extend(f"    {key} = {inner}" for key, inner in value.items())
            else:
                text = str(value).replace("\n", "\n    ")
                lines.append(f"{option} = {text}".rstrip())
        lines.append("")
    return "\n".join(lines)


def write_copies(
    config_file: str, credentials_file: str, profiles: Iterable[str], folder: Path
) -> tuple[Path, Path]:
    """Private copies of the two files in ``folder``, ``profiles`` cleared of their keys.

    Both files are read before anything is written: an unreadable one raises
    ``ConfigUnreadable`` and nothing is made.
    """
    profiles = set(profiles)
    config = without_keys(read(config_file), config_sections(profiles))
    credentials = without_keys(read(credentials_file), profiles)
    config_copy, credentials_copy = folder / "config", folder / "credentials"
    write_private(config_copy, render(config))
    write_private(credentials_copy, render(credentials))
    return config_copy, credentials_copy
