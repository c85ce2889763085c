"""%sts_serve and StsMagics.serve through an InteractiveShell (issue 19): what they print (never
the token), serving and --env excluding each other, every way back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

import stsmagic
from stsmagic.outlets import environ
from stsmagic.outlets.serve import serving
from tests.helpers.refusals import fails_cleanly


def child_arn() -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-1000:]
    return done.stdout.strip()


def test_sts_serve_serves_says_so_and_off_puts_everything_back(
    sandbox: Any, ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before = dict(os.environ)
    session = ip.run_line_magic("sts_federation", "--name served --duration-seconds 3600")
    capsys.readouterr()
    ip.run_line_magic("sts_serve", "")
    out = capsys.readouterr().out
    server = serving()
    assert server is not None
    lines = out.splitlines()
    assert lines[0].startswith(f"Serving 'federation-1' (federation {session.masked_access_key})")
    assert server.url in lines[0]
    exports = [line.strip() for line in lines if line.strip().startswith("export ")]
    assert exports[:2] == [
        f"export AWS_CONTAINER_CREDENTIALS_FULL_URI={server.url}",
        f"export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE={server.token_file}",
    ]
    token = server.token_file.read_text()
    assert token not in out
    assert child_arn() == session.principal
    assert sandbox.signers("GetCallerIdentity")[-1] == session.access_key_id

    ip.run_line_magic("sts_serve", "")  # idempotent: says where it serves
    again = capsys.readouterr().out
    assert again.startswith("Already serving. Serving") and serving() is server
    assert token not in again

    ip.run_line_magic("sts_serve", "--off")
    assert capsys.readouterr().out.startswith("Stopped serving")
    assert dict(os.environ) == before and serving() is None
    assert not server.token_file.parent.exists()
    ip.run_line_magic("sts_serve", "--off")
    assert capsys.readouterr().out.strip() == "Not serving"


def test_env_and_serving_exclude_each_other(
    sandbox: Any, ip: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    session = ip.run_line_magic("sts_federation", "--name exported --env")
    assert os.environ["AWS_ACCESS_KEY_ID"] == session.access_key_id
    ip.run_line_magic("config", "StsMagics.export_env = True")
    ip.run_line_magic("sts_serve", "")
    out = capsys.readouterr().out
    assert "the --env export is off while serving" in out.lower()
    assert "AWS_ACCESS_KEY_ID" not in os.environ and not environ.exporting()
    assert stsmagic.sessions.active is session
    magics = ip.magics_manager.registry["StsMagics"]
    assert magics.export_env is False  # the trait too: the next magic does not export
    error = fails_cleanly(
        sandbox,
        lambda: ip.run_line_magic("sts_federation", "--name refused --env"),
        UsageError,
        active=session,
    )
    assert "--env" in str(error) and "%sts_serve --off" in str(error)
    caplog.clear()
    ip.run_line_magic("config", "StsMagics.export_env = True")  # %config logs the refusal
    (refused,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert refused.startswith("StsMagics.export_env: ") and "%sts_serve --off" in refused
    assert magics.export_env is False and "AWS_ACCESS_KEY_ID" not in os.environ
    # issuing without --env goes on while serving, and children get the new session
    other = ip.run_line_magic("sts_federation", "--name next")
    assert child_arn() == other.principal


def test_the_trait_serves_from_load_ext_and_unload_ext_stops(
    sandbox: Any, ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before = dict(os.environ)
    ip.run_line_magic("config", "StsMagics.serve = True")
    server = serving()
    assert server is not None and "Serving no session yet" in capsys.readouterr().out
    ip.run_line_magic("config", "StsMagics.serve = False")
    assert serving() is None and dict(os.environ) == before
    ip.run_line_magic("unload_ext", "stsmagic")
    ip.config.StsMagics.serve = True  # as a config file would set it
    ip.run_line_magic("load_ext", "stsmagic")
    server = serving()
    assert server is not None
    ip.run_line_magic("unload_ext", "stsmagic")
    assert serving() is None and not server.running
    assert dict(os.environ) == before
    ip.config.pop("StsMagics", None)
    ip.run_line_magic("load_ext", "stsmagic")  # for the fixture to unload
    assert serving() is None


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("--bogus", "--bogus"),
        ("--port 70000", "--port: 70000 is not a port"),
        ("--off --port 5", "--port: only when serving starts"),
        ("extra", "extra"),
    ],
)
def test_bad_lines_are_one_line_and_change_nothing(
    sandbox: Any, ip: Any, line: str, says: str
) -> None:
    error = fails_cleanly(sandbox, lambda: ip.run_line_magic("sts_serve", line), UsageError)
    assert str(error).startswith("%sts_serve") and says in str(error)
    assert serving() is None


def test_a_config_file_that_does_not_parse_is_one_line(
    sandbox: Any, ip: Any, aws_profile: Path
) -> None:
    aws_profile.write_text("[default\nregion = us-east-1\n")
    error = fails_cleanly(sandbox, lambda: ip.run_line_magic("sts_serve", ""), UsageError)
    assert str(aws_profile) in str(error) and "not serving" in str(error)
    assert serving() is None


def test_the_token_is_in_the_environment_only_when_asked(
    sandbox: Any, ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before = dict(os.environ)
    ip.run_line_magic("sts_serve", "")
    server = serving()
    assert server is not None
    secret = server.token_file.read_text()
    ip.run_line_magic("env", "")  # what a cell would print into a saved notebook
    printed = capsys.readouterr().out + repr(dict(os.environ))
    assert "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" in printed and secret not in printed
    assert "AWS_CONTAINER_AUTHORIZATION_TOKEN" not in os.environ
    assert "AWS_CONTAINER_AUTHORIZATION_TOKEN" not in server.environ()

    ip.run_line_magic("config", "StsMagics.serve_token_in_env = True")
    (warning,) = capsys.readouterr().out.splitlines()
    assert warning.startswith("Warning: the serving token is in os.environ")
    assert "printed" in warning and secret not in warning
    assert os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"] == secret
    assert server.environ()["AWS_CONTAINER_AUTHORIZATION_TOKEN"] == secret
    ip.run_line_magic("config", "StsMagics.serve_token_in_env = False")
    assert "AWS_CONTAINER_AUTHORIZATION_TOKEN" not in os.environ

    ip.run_line_magic("sts_serve", "--off")
    ip.run_line_magic("config", "StsMagics.serve_token_in_env = True")
    capsys.readouterr()
    ip.run_line_magic("sts_serve", "")  # a server started with the trait on
    server = serving()
    assert server is not None
    assert os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"] == server.token_file.read_text()
    ip.run_line_magic("sts_serve", "--off")
    assert dict(os.environ) == before
    ip.run_line_magic("config", "StsMagics.serve_token_in_env = False")


def test_off_says_a_terminal_started_while_serving_needs_a_new_one(
    sandbox: Any, ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic("sts_serve", "")
    capsys.readouterr()
    ip.run_line_magic("sts_serve", "--off")
    said = capsys.readouterr().out
    assert said.count("\n") == 1 and "could not be found" in said and "terminal" in said
