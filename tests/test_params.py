"""params.py: AWS's limits, pure. Each refusal names the parameter, the problem and the limit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stsmagic import limits as params
from stsmagic.errors import ParameterError

ARN = "arn:aws:iam::123456789012:policy/ReadOnly"
SERIAL = "arn:aws:iam::123456789012:mfa/alice"


def refusal(function: Any, *args: Any) -> ParameterError:
    with pytest.raises(ParameterError) as caught:
        function(*args)
    error = caught.value
    message = str(error)
    assert "\n" not in message
    assert message == f"{error.parameter}: {error.problem}; {error.limit}"
    return error


# --- DurationSeconds ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [900, 3600, 43200, 129600])
def test_duration_in_range_is_kept(value: int) -> None:
    assert params.duration_seconds(value) == value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (899, "899 is too short"),
        (129601, "129601 is too long"),
        (0, "0 is too short"),
        ("3600", "'3600' (a str) is not an int"),
        (True, "True (a bool) is not an int"),
        (3600.0, "3600.0 (a float) is not an int"),
        (None, "None (a NoneType) is not an int"),
    ],
)
def test_duration_refused(value: object, problem: str) -> None:
    error = refusal(params.duration_seconds, value)
    assert error.parameter == "DurationSeconds"
    assert error.problem == problem
    assert "900" in error.limit and "129600" in error.limit


# --- GetSessionToken ------------------------------------------------------------------------


def test_serial_number_limits() -> None:
    assert params.serial_number(SERIAL) == SERIAL
    assert params.serial_number("GAHT12345678") == "GAHT12345678"  # a hardware token's serial
    assert refusal(params.serial_number, "x" * 8).problem == "'xxxxxxxx' is 8 characters"
    assert "257 characters" in refusal(params.serial_number, "x" * 257).problem
    assert "not allowed" in refusal(params.serial_number, SERIAL + " x").problem
    assert "not allowed" in refusal(params.serial_number, SERIAL + "\u00e9").problem
    assert refusal(params.serial_number, 123456789).parameter == "SerialNumber"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("12345", "is 5 characters"),
        ("1234567", "is 7 characters"),
        ("12a456", "has a character that is not a digit"),
        ("\u0661\u0662\u0663\u0664\u0665\u0666", "has a character that is not a digit"),
        ("", "is empty"),
        (123456, "an int is not a string"),
    ],
)
def test_token_code_refused_without_echoing_it(value: object, problem: str) -> None:
    error = refusal(params.token_code, value)
    assert error.parameter == "TokenCode"
    assert error.problem == problem
    assert "6 digits" in error.limit
    if value:
        assert str(value) not in str(error)


def test_session_request_keeps_only_what_was_given() -> None:
    assert params.session_token_request() == {}
    assert params.session_token_request(SERIAL, "123456", 900) == {
        "SerialNumber": SERIAL,
        "TokenCode": "123456",
        "DurationSeconds": 900,
    }
    assert refusal(params.session_token_request, SERIAL).parameter == "TokenCode"
    assert refusal(params.session_token_request, None, "123456").parameter == "SerialNumber"


# --- GetFederationToken ---------------------------------------------------------------------


def test_federation_name_limits() -> None:
    assert params.federation_name("bob@example.com") == "bob@example.com"
    assert refusal(params.federation_name, "a").problem == "'a' is 1 character"
    assert "33 characters" in refusal(params.federation_name, "a" * 33).problem
    assert "not allowed" in refusal(params.federation_name, "bad name").problem
    assert "not allowed" in refusal(params.federation_name, "\u03a9mega").problem


def test_policy_dict_is_serialized_compactly() -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}
    text = params.policy(document)
    assert text == '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}'
    assert json.loads(text) == document


def test_policy_text_is_kept_as_given() -> None:
    text = '{\n  "Version": "2012-10-17"\n}'
    assert params.policy(text) == text


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "is JSON, but a list, not an object"),
        ("", "is empty"),
        ('{"Sid": "\u0101"}', "has the character U+0101"),
        ('{"Sid": "' + "x" * 2040 + '"}', "is 2051 characters"),
        (42, "42 (an int) is not a string"),
    ],
)
def test_policy_refused(value: object, problem: str) -> None:
    error = refusal(params.policy, value)
    assert error.parameter == "Policy"
    assert error.problem.startswith(problem)
    assert "2048" in error.limit


def test_policy_at_the_limit_is_accepted() -> None:
    text = '{"Sid": "' + "x" * (2048 - 11) + '"}'
    assert len(text) == 2048
    assert params.policy(text) == text


def test_policy_arns_both_forms() -> None:
    assert params.policy_arns([ARN]) == [{"arn": ARN}]
    assert params.policy_arns([{"arn": ARN}]) == [{"arn": ARN}]
    assert params.policy_arns([]) == []
    assert len(params.policy_arns([ARN] * 10)) == 10


@pytest.mark.parametrize(
    ("value", "parameter", "problem"),
    [
        ([ARN] * 11, "PolicyArns", "has 11 ARNs"),
        (ARN, "PolicyArns", "a str is not a list"),
        (["arn:short"], "PolicyArns[0]", "'arn:short' is 9 characters"),
        ([ARN, "x" * 30], "PolicyArns[1]", "is not an ARN"),
        ([{"ARN": ARN}], "PolicyArns[0]", "has keys ['ARN']"),
        ([7], "PolicyArns[0]", "7 is not a string"),
    ],
)
def test_policy_arns_refused(value: object, parameter: str, problem: str) -> None:
    error = refusal(params.policy_arns, value)
    assert error.parameter == parameter
    assert problem in error.problem
    assert "at most 10" in error.limit


def test_tags_both_forms() -> None:
    expected = [{"Key": "team", "Value": "data"}, {"Key": "cost center", "Value": ""}]
    assert params.tags({"team": "data", "cost center": ""}) == expected
    assert params.tags(expected) == expected
    assert len(params.tags({f"k{i}": "v" for i in range(50)})) == 50
    assert params.tags({"Équipe": "données"}) == [{"Key": "Équipe", "Value": "données"}]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({f"k{i}": "v" for i in range(51)}, "has 51 tags"),
        ({"": "v"}, "key '' is 0 characters"),
        ({"k" * 129: "v"}, "is 129 characters"),
        ({"k": "v" * 257}, "value is 257 characters"),
        ({"Team": "a", "team": "b"}, "keys 'Team' and 'team' differ only in case"),
        ({"k!": "v"}, "key 'k!' has a character not allowed"),
        ({"k": 1}, "value 1 is not a string"),
        ([{"Key": "k"}], "is not {'Key', 'Value'}"),
        (["Key=k,Value=v"], "is not {'Key', 'Value'}"),
        ("k=v", "a str is not a dict or list"),
    ],
)
def test_tags_refused(value: object, problem: str) -> None:
    error = refusal(params.tags, value)
    assert error.parameter.startswith("Tags")
    assert problem in error.problem
    assert "50" in error.limit and "128" in error.limit and "256" in error.limit


def test_federation_request() -> None:
    request = params.federation_token_request(
        "bob", {"Version": "2012-10-17"}, [ARN], {"team": "data"}, 3600
    )
    assert request == {
        "Name": "bob",
        "Policy": '{"Version":"2012-10-17"}',
        "PolicyArns": [{"arn": ARN}],
        "Tags": [{"Key": "team", "Value": "data"}],
        "DurationSeconds": 3600,
    }
    assert params.federation_token_request("bob") == {"Name": "bob"}
    assert params.federation_token_request("bob", None, [], {}) == {"Name": "bob"}


# --- the secret ones: never echoed ------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "parameter"),
    [(params.trade_in_token, "TradeInToken"), (params.access_token, "accessToken")],
)
def test_secret_tokens_only_say_emptiness_or_type(function: Any, parameter: str) -> None:
    secret = "s3cr3t-token-value"
    assert function(secret) == secret
    assert refusal(function, "").problem == "is empty"
    assert refusal(function, "   ").problem == "is only whitespace"
    error = refusal(function, [secret])
    assert error.parameter == parameter
    assert error.problem == "a list is not a string"
    assert secret not in str(error)


# --- SSO GetRoleCredentials -----------------------------------------------------------------


def test_account_id_and_role_name() -> None:
    assert params.account_id("012345678901") == "012345678901"
    assert refusal(params.account_id, "12345").problem == "'12345' is not 12 digits"
    assert refusal(params.account_id, "\u0661" * 12).problem.endswith("is not 12 digits")
    assert refusal(params.account_id, 123456789012).problem == (
        "123456789012 (an int) is not a string"
    )
    assert params.role_name("Admin.Role+x=y,z@w-v_u") == "Admin.Role+x=y,z@w-v_u"
    assert refusal(params.role_name, "").problem == "'' is 0 characters"
    assert "65 characters" in refusal(params.role_name, "r" * 65).problem
    assert "not allowed" in refusal(params.role_name, "Admin Role").problem
    request = params.role_credentials_request("012345678901", "Admin", "tok")
    assert request == {"accountId": "012345678901", "roleName": "Admin", "accessToken": "tok"}
