"""How the magics read their lines: quoting, AWS CLI shorthand, policies and variable names.

Pure parsing, no endpoint involved: what reaches the sandbox is tested in test_magics.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments

from stsmagic.magics import args as magic_args

SECRET = "s3cr3t-Value/With+Chars=="  # not a bare word: always taken literally
LONG_WORD = "A" * magic_args.LITERAL_SECRET_MIN_LENGTH  # a bare word long enough to be a token


@magic_arguments()
@argument("--policy")
@argument("--tags", nargs="+")
@argument("--duration-seconds", type=magic_args.duration_seconds)
@argument("--trade-in-token")
def demo_magic(line: str) -> None:
    """A magic with the flags under test."""


def usage_line(call: Callable[[], object]) -> str:
    """The UsageError ``call`` raises, which must be one line (as IPython shows it)."""
    with pytest.raises(UsageError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message, message
    return message


def test_line_is_split_as_a_posix_shell_would() -> None:
    args = magic_args.parse_line(
        demo_magic,
        """--policy '{"Version": "2012-10-17", "S": "${aws:username}"}' """
        """--tags Key=team,Value="data science" "cost centre=42" --duration-seconds 3600""",
    )
    assert json.loads(args.policy) == {"Version": "2012-10-17", "S": "${aws:username}"}
    assert args.tags == ["Key=team,Value=data science", "cost centre=42"]
    assert args.duration_seconds == 3600


@pytest.mark.parametrize(
    ("line", "policy", "tags"),
    [
        ("--policy P  # read-only, for the reports", "P", None),
        ("# everything is a comment", None, None),
        ("--tags a=1 b=2 # the team's", None, ["a=1", "b=2"]),
        ("--tags 'x=#1' \"y=a #b\" z=c#d # end", None, ["x=#1", "y=a #b", "z=c#d"]),
        ("""--policy '{"Sid": "a # b"}'  # quoted: kept""", '{"Sid": "a # b"}', None),
        ("--tags a=\\#1 # an escaped hash begins no comment", None, ["a=#1"]),
        ("--policy \"it's\" # don't", "it's", None),
    ],
)
def test_a_trailing_comment_is_cut_as_a_shell_cuts_it(
    line: str, policy: str | None, tags: list[str] | None
) -> None:
    args = magic_args.parse_line(demo_magic, line)
    assert (args.policy, args.tags) == (policy, tags)


def test_a_comment_after_a_secret_flag_is_no_stray_value() -> None:
    args = magic_args.parse_line(
        demo_magic, f"--trade-in-token {SECRET}  # from the admin", secret_flags=True
    )
    assert args.trade_in_token == SECRET


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("--duration-seconds 899", "--duration-seconds"),
        ("--duration-seconds 129601", "--duration-seconds"),
        ("--duration-seconds 1e5", "'1e5' is not a whole number"),
        ("--bogus 1", "unrecognized argument --bogus;"),
        ('--policy \'{"a": 1}', "no closing quotation"),
        ("--tags", "expected at least one argument"),
    ],
)
def test_bad_line_is_one_usage_line_naming_the_magic_and_flag(line: str, expected: str) -> None:
    message = usage_line(lambda: magic_args.parse_line(demo_magic, line))
    assert message.startswith("%demo_magic: ")
    assert expected in message
    assert message.endswith("see %demo_magic?")


def test_duration_limits_are_the_params_limits() -> None:
    assert magic_args.parse_line(demo_magic, "--duration-seconds 900").duration_seconds == 900
    assert magic_args.parse_line(demo_magic, "--duration-seconds 129600").duration_seconds == 129600
    with pytest.raises(UsageError, match="too short; must be a whole number of seconds from 900"):
        magic_args.parse_line(demo_magic, "--duration-seconds 60")


def test_stray_words_on_a_secret_line_are_not_shown() -> None:
    line = f"--trade-in-token tok {SECRET} --bogus {LONG_WORD}"
    message = usage_line(lambda: magic_args.parse_line(demo_magic, line, secret_flags=True))
    assert "unrecognized argument --bogus;" in message and "word" not in message
    assert SECRET not in message and LONG_WORD not in message


@pytest.mark.parametrize(
    ("items", "tags"),
    [
        (["Key=team,Value=data"], [{"Key": "team", "Value": "data"}]),
        (["Value=data,Key=team"], [{"Key": "team", "Value": "data"}]),
        (["Key=k,Value=a,b=c"], [{"Key": "k", "Value": "a,b=c"}]),
        (["Key=empty,Value="], [{"Key": "empty", "Value": ""}]),
        (
            ["project=demo", "owner=a=b"],
            [{"Key": "project", "Value": "demo"}, {"Key": "owner", "Value": "a=b"}],
        ),
        (["empty="], [{"Key": "empty", "Value": ""}]),
    ],
)
def test_tags_accept_cli_shorthand_and_key_equals_value(
    items: list[str], tags: list[dict[str, str]]
) -> None:
    assert magic_args.parse_tags(items) == tags


@pytest.mark.parametrize("item", ["novalue", "=v", "Key=team", "Value=x"])
def test_a_tag_without_key_and_value_names_the_flag(item: str) -> None:
    with pytest.raises(UsageError, match=r"^--tags: .*Key=k,Value=v"):
        magic_args.parse_tags([item])


def test_no_tags_and_no_arns_mean_the_parameter_is_left_out() -> None:
    assert magic_args.parse_tags(None) is None
    assert magic_args.parse_policy_arns(None) is None


def test_policy_arns_accept_bare_arns_and_shorthand() -> None:
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert magic_args.parse_policy_arns([arn, f"arn={arn}"]) == [{"arn": arn}, {"arn": arn}]
    with pytest.raises(UsageError, match=r"^--policy-arns: 'ReadOnlyAccess' is not a policy ARN"):
        magic_args.parse_policy_arns(["ReadOnlyAccess"])


def test_policy_from_text_file_and_variables(tmp_path: Path) -> None:
    text = '{"Version": "2012-10-17", "Statement": []}'
    document = json.loads(text)
    (tmp_path / "p.json").write_text(text)
    ns: dict[str, Any] = {"pol": document, "pol_text": text}
    assert magic_args.resolve_policy(text, ns) == text
    assert magic_args.resolve_policy(f"@{tmp_path / 'p.json'}", ns) == text
    assert magic_args.resolve_policy("pol", ns) is document
    assert magic_args.resolve_policy("$pol", ns) is document
    assert magic_args.resolve_policy("pol_text", ns) == text
    assert magic_args.resolve_policy(None, ns) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("no_such_variable", "no notebook variable named 'no_such_variable'"),
        ("number", "the variable 'number' holds a int; it must hold a dict or JSON text"),
        ("@/nonexistent/p.json", "'/nonexistent/p.json' cannot be read (No such file"),
    ],
)
def test_policy_that_cannot_be_found_names_the_flag(value: str, expected: str) -> None:
    message = usage_line(lambda: magic_args.resolve_policy(value, {"number": 7}))
    assert message.startswith("--policy: ") and expected in message


def test_secret_from_a_variable_or_literal() -> None:
    ns = {"tok": SECRET, "long": LONG_WORD}
    assert magic_args.resolve_secret("--trade-in-token", "tok", ns) == SECRET
    assert magic_args.resolve_secret("--trade-in-token", "$tok", ns) == SECRET
    # Not a bare word, or a long one that names no variable: the token itself.
    assert magic_args.resolve_secret("--trade-in-token", SECRET, ns) == SECRET
    assert magic_args.resolve_secret("--trade-in-token", LONG_WORD + "B", ns) == LONG_WORD + "B"
    # A variable wins over the literal reading.
    assert magic_args.resolve_secret("--trade-in-token", "long", ns) == LONG_WORD


@pytest.mark.parametrize(
    ("value", "ns", "expected"),
    [
        ("tokn", {"tok": SECRET}, "no notebook variable has the name given"),
        ("$" + LONG_WORD, {}, "no notebook variable has the name given"),
        ("qz", {"qz": 987654}, "holds a int, not a token"),
        ("qz", {"qz": ""}, "holds an empty string, not a token"),
    ],
)
def test_secret_flag_refusals_never_show_the_value(
    value: str, ns: dict[str, Any], expected: str
) -> None:
    message = usage_line(lambda: magic_args.resolve_secret("--access-token", value, ns))
    assert message.startswith("--access-token: ") and expected in message
    assert value.lstrip("$") not in message and SECRET not in message
    assert "987654" not in message
