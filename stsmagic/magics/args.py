"""How the magics read their arguments: the line, AWS CLI shorthand, policies, variable names.

Plain functions, no IPython state: each takes what it needs (the user's namespace as a mapping)
and raises ``UsageError`` with one line that names the flag to fix. None of them ever puts the
value of a secret flag (``--trade-in-token``, ``--access-token``) into a message.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import stat
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from IPython.core import magic_arguments as ipython_arguments
from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument
from traitlets import TraitError

from .. import limits
from ..errors import ParameterError

# A word that can only be a variable's name; a leading `$` is allowed, as in IPython's `$name`.
# Patterns here are text, compiled (and cached by `re`) when a magic first runs, not at %load_ext.
_NAME = r"\$?([A-Za-z_][A-Za-z0-9_]*)"
# A literal token typed in a cell is long; a short bare word that names no variable is almost
# certainly a mistyped name, and is refused rather than sent to AWS as a token.
LITERAL_SECRET_MIN_LENGTH = 32


# The AWS parameter each flag carries, so an error names the flag the user typed.
FLAGS = {
    "profile": "--profile",
    "endpoint_url": "--endpoint-url",
    "SerialNumber": "--serial-number",
    "TokenCode": "--token-code",
    "DurationSeconds": "--duration-seconds",
    "Name": "--name",
    "Policy": "--policy",
    "PolicyArns": "--policy-arns",
    "Tags": "--tags",
    "TradeInToken": "--trade-in-token",
    "accountId": "--account-id",
    "roleName": "--role-name",
    "accessToken": "--access-token",
    "timeout": "--timeout",
    "RoleArn": "--role-arn",
    "RoleSessionName": "--role-session-name",
    "ExternalId": "--external-id",
    "SourceIdentity": "--source-identity",
    "TransitiveTagKeys": "--transitive-tag-keys",
}
DURATION_HELP = (
    "how long the credentials last: 900-129600 seconds "
    "(default: StsMagics.duration_seconds, else the profile's duration_seconds, else 43200)"
)
SECRET_HELP = (
    "the name of a notebook variable holding {what} (best: the secret is then never in a "
    "cell), or the value itself; a bare word under "
    f"{LITERAL_SECRET_MIN_LENGTH} characters that names no variable is refused as a mistyped "
    "name. Never shown"
)


def endpoint_url(text: str) -> str:
    """argparse type for ``--endpoint-url``: an http(s) URL."""
    try:
        return limits.endpoint_url(text, "--endpoint-url")
    except ParameterError as e:
        raise argparse.ArgumentTypeError(f"{e.problem}; {e.limit}") from None


def issuing(func: Callable[..., Any]) -> Callable[..., Any]:
    """The flags every issuing magic takes, listed after its own in the help."""
    flags = [
        argument("--profile", help="AWS profile whose long-term credentials sign the request"),
        argument("--region", help="AWS region of the endpoint (default: the profile's)"),
        argument("--endpoint-url", type=endpoint_url, help="send the request to this URL"),
        argument("--label", help="name for the session (default: <kind>-<n>, e.g. session-1)"),
        argument("--no-activate", action="store_true", help="keep the current active session"),
        argument(
            "--no-renew",
            action="store_true",
            help="never renew this session by itself (default: StsMagics.auto_renew)",
        ),
        argument(
            "--allow-http",
            action="store_true",
            help="allow a plain http:// --endpoint-url that is not loopback (tokens and keys "
            "then cross the network in clear text; default: StsMagics.allow_http)",
        ),
        argument(
            "--env",
            action="store_true",
            help="also export the active session to os.environ (AWS_ACCESS_KEY_ID, ...) "
            "for !aws and subprocesses; removed again when it is no longer active",
        ),
    ]
    for flag in reversed(flags):
        func = flag(func)
    return func


def checked_trait(owner: object, proposal: Any, check: Callable[[Any], Any]) -> Any:
    """A trait's ``@validate`` by one of the limits' checks: None stays None, a refusal is a
    ``TraitError`` naming ``Class.trait`` (``StsMagics.duration_seconds: ...``)."""
    value = proposal["value"]
    try:
        return None if value is None else check(value)
    except ParameterError as e:
        raise TraitError(f"{type(owner).__name__}.{e}") from None


def explain(error: Exception) -> str:
    """One line for an stsmagic or botocore error; a ParameterError also names the flag."""
    if isinstance(error, ParameterError):
        flag = FLAGS.get(error.parameter.split("[")[0])
        where = f"{flag} ({error.parameter})" if flag else error.parameter
        return one_line(f"{where}: {error.problem}; {error.limit}")
    return one_line(str(error))


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) folded into one space."""
    return " ".join(str(text).split())


MAX_LINE = 64 * 1024
# Words, spaces and the punctuation of ARNs, numbers and labels: nothing shlex would interpret.
_PLAIN = r"[\w ,.:/@+=*-]*"


def without_comment(line: str) -> str:
    """``line`` up to a ``#`` that begins a word outside quotes, as a POSIX shell reads it: a
    trailing ``# comment`` goes, a ``#`` inside a quoted value or a word (``a#b``) stays.
    shlex's own ``comments=True`` also cuts inside a word, which a shell does not."""
    if "#" not in line:
        return line
    quote = ""
    escaped = False
    for i, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def parse_line(magic: Callable[..., Any], line: str, *, secret_flags: bool = False) -> Any:
    """Parse a magic's line with its ``@magic_arguments`` parser, as a POSIX shell would.

    IPython's ``parse_argstring`` splits without POSIX rules and keeps quotes inside the values,
    so ``--policy '{"Version": ...}'`` would reach us quoted; users of the AWS CLI quote JSON as
    in a shell, so the line is split with ``shlex`` in POSIX mode instead, after its trailing
    ``# comment`` is cut (``without_comment``).
    ``secret_flags``: the line may hold a secret, so stray words are counted, never shown
    (stray ``--flags`` are still named).
    """
    name = magic.__name__
    if len(line) > MAX_LINE:
        # shlex's time grows with the square of the length: a pasted megabyte would freeze the
        # kernel before being refused. The largest good line (a 2,048-char policy and 50 tags
        # of 128+256 chars) is far below this.
        raise UsageError(
            f"%{name}: the line is {len(line):,} characters, over the {MAX_LINE:,} a magic takes;"
            " put long values in a notebook variable and pass its name"
        )
    line = without_comment(line)
    try:
        # A line with nothing for shlex to interpret splits the same on whitespace, and faster.
        argv = line.split() if re.fullmatch(_PLAIN, line) else shlex.split(line, posix=True)
    except ValueError as e:
        raise UsageError(f"%{name}: {one_line(str(e)).lower()} in the line; see %{name}?") from e
    parser: argparse.ArgumentParser = magic.parser  # type: ignore[attr-defined]
    try:
        args, extra = parser.parse_known_args(argv)
    except UsageError as e:
        # argparse quotes `--acc=VALUE` whole in "ambiguous option": never show a flag's value
        raise UsageError(f"%{name}: {_without_values(one_line(str(e)))}; see %{name}?") from None
    if extra:
        flags = [word.split("=", 1)[0] for word in extra if word.startswith("-")]
        if flags:
            unknown = ", ".join(flags)
            hint = nearest_flag(parser, flags[0])
            hint = f" (did you mean {hint}?)" if hint else ""
            word = "argument" if len(flags) == 1 else "arguments"
            raise UsageError(f"%{name}: unrecognized {word} {unknown}{hint}; see %{name}?")
        if secret_flags:  # a value with no flag may be a token typed in the wrong place
            raise UsageError(
                f"%{name}: a value without its flag (not shown); write each value after its "
                f"flag; see %{name}?"
            )
        shown = ", ".join(repr(word) for word in extra)
        raise UsageError(f"%{name}: unrecognized arguments: {shown}; see %{name}?")
    return args


_FLAG_VALUE = r"(--?[\w-]+)=\S*"


def _without_values(text: str) -> str:
    """``--flag=VALUE`` -> ``--flag=…`` everywhere in ``text``."""
    return re.sub(_FLAG_VALUE, r"\1=…", text)


def nearest_flag(parser: argparse.ArgumentParser, typed: str) -> str | None:
    """The parser's flag closest to ``typed`` (``--token_code`` -> ``--token-code``), or None."""
    import difflib  # only for a mistyped flag

    names = [f[2:] for f in parser._option_string_actions if f.startswith("--")]
    wanted = typed.lstrip("-").replace("_", "-").lower()
    close = difflib.get_close_matches(wanted, names, n=1, cutoff=0.7)
    return f"--{close[0]}" if close else None


class magic_arguments(ipython_arguments.magic_arguments):
    """IPython's ``@magic_arguments()``, with the parser and the help built on first use.

    IPython builds a magic's ``argparse`` parser, and formats its help into ``__doc__``, when
    the class is defined: a cost paid by every ``%load_ext``, for help nobody may ask for.
    Here the magic becomes a ``LazyMagic``: ``.parser`` (what ``parse_line`` uses) and
    ``__doc__`` (what ``%magic?`` shows) are made when first read, the same ones IPython
    would have made. Declared exactly as with IPython's: ``@line_magic`` over
    ``@magic_arguments()`` over ``@argument(...)``.
    """

    def __call__(self, func: Callable[..., Any]) -> Any:
        if not getattr(func, "has_arguments", False):
            func.has_arguments = True  # type: ignore[attr-defined]
            func.decorators = []  # type: ignore[attr-defined]
        if self.name is not None:
            func.argcmd_name = self.name  # type: ignore[attr-defined]
        return LazyMagic(func)


class LazyMagic:
    """A magic method whose parser and help are built when first asked for.

    Binds like a function (``self.sts_session`` is a bound method); other attributes (the
    ``@argument`` decorators, ``_ipython_no_var_expand``) live in its ``__dict__`` as they
    would on the function.
    """

    def __init__(self, func: Callable[..., Any]) -> None:
        self.__dict__.update(func.__dict__)
        self.__wrapped__ = func
        self.__module__ = func.__module__
        self.__name__ = func.__name__
        self.__qualname__ = func.__qualname__
        self._docstring = func.__doc__
        self._parser: argparse.ArgumentParser | None = None
        self._help: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__wrapped__(*args, **kwargs)

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        return self if instance is None else types.MethodType(self, instance)

    @property
    def parser(self) -> argparse.ArgumentParser:
        if self._parser is None:
            self._build()
        assert self._parser is not None
        return self._parser

    @property
    def __doc__(self) -> str:  # type: ignore[override]
        if self._help is None:
            self._build()
        assert self._help is not None
        return self._help

    def _build(self) -> None:
        # IPython's own construct_parser, given what it reads of the function and a place
        # to write the help it formats.
        func = types.SimpleNamespace(**self.__dict__)
        func.__name__, func.__doc__ = self.__name__, self._docstring
        parser = ipython_arguments.construct_parser(func)
        self._help = plain_help(str(func.__doc__))
        self._parser = parser


def plain_help(doc: str) -> str:
    """``%magic?`` starts with the usage, not the reStructuredText ``::`` IPython puts there."""
    if not doc.startswith("::\n\n"):
        return doc
    return "\n".join(
        line[2:] if line.startswith("  ") else line for line in doc[len("::\n\n") :].split("\n")
    )


def duration_seconds(text: str) -> int:
    """argparse type for ``--duration-seconds``: whole seconds within AWS's limits."""
    try:
        return limits.duration_seconds(int(text), "--duration-seconds")
    except ValueError as e:  # int() or ParameterError (also a ValueError)
        problem = f"{e.problem}; {e.limit}" if isinstance(e, ParameterError) else None
        raise argparse.ArgumentTypeError(
            problem or f"{text!r} is not a whole number of seconds"
        ) from None


# --duration-seconds, shared by %sts_session and %sts_federation (an argument decorator keeps no
# state of its own, so one serves both).
duration_argument = argument(
    "--duration-seconds", metavar="N", type=duration_seconds, help=DURATION_HELP
)


def role_duration_seconds(text: str) -> int:
    """argparse type for ``%sts_role --duration-seconds``: whole seconds (the broker checks
    AssumeRole's limits, which depend on who signs)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds") from None


server_argument = argument(
    "--server",
    action="store_true",
    help="sign in the Jupyter server instead of this kernel: the session goes in the server's "
    "ledger, and every kernel and terminal of the server signs with it (a kernel it started)",
)

role_duration_argument = argument(
    "--duration-seconds",
    metavar="N",
    type=role_duration_seconds,
    help="how long the role session lasts: 900-43200 seconds, at most 3600 with --chain "
    "(default: none sent, so AWS's 3600; %%sts_profile: the profile's duration_seconds)",
)


def parse_tags(items: list[str] | None) -> list[dict[str, str]] | None:
    """``--tags``: each item is AWS CLI shorthand ``Key=k,Value=v`` or plain ``k=v``."""
    if not items:
        return None
    tags = []
    for item in items:
        shorthand = re.fullmatch(r"Key=(?P<key>[^,]*),Value=(?P<value>.*)", item, re.DOTALL)
        if shorthand is None:
            shorthand = re.fullmatch(r"Value=(?P<value>[^,]*),Key=(?P<key>.*)", item, re.DOTALL)
        if shorthand is not None:
            key, value = shorthand["key"], shorthand["value"]
        elif item.startswith(("Key=", "Value=")):
            raise UsageError(
                f"--tags: {item!r} is half of the shorthand; write Key=k,Value=v (or k=v)"
            )
        elif "=" in item and not item.startswith("="):
            key, value = item.split("=", 1)
        else:
            raise UsageError(
                f"--tags: {item!r} is not a tag; write Key=k,Value=v (AWS CLI shorthand) or k=v"
            )
        tags.append({"Key": key, "Value": value})
    return tags


def parse_policy_arns(items: list[str] | None) -> list[dict[str, str]] | None:
    """``--policy-arns``: each item an ARN, or AWS CLI shorthand ``arn=ARN``."""
    if not items:
        return None
    arns = []
    for item in items:
        arn = item[len("arn=") :] if item.startswith("arn=") else item
        if not arn.startswith("arn:"):
            raise UsageError(
                f"--policy-arns: {item!r} is not a policy ARN; write "
                "arn:aws:iam::aws:policy/NAME (or arn=ARN)"
            )
        arns.append({"arn": arn})
    return arns


def resolve_policy(value: str | None, user_ns: Mapping[str, Any]) -> object:
    """``--policy``: JSON text, ``@file.json``, or the name of a variable (a dict or JSON text).

    Returns the text or the dict; ``limits.policy`` (in the broker) checks it against AWS's
    limits, so a policy is judged the same from Python and from a magic.
    """
    if value is None:
        return None
    if value.startswith("@"):
        return read_policy_file(Path(value[1:]).expanduser())
    name = re.fullmatch(_NAME, value)
    if name is None:
        return value
    if name[1] not in user_ns:
        raise UsageError(
            f"--policy: there is no notebook variable named {name[1]!r}; give its name, "
            "JSON text or @file.json"
        )
    held = user_ns[name[1]]
    if not isinstance(held, (Mapping, str)):
        raise UsageError(
            f"--policy: the variable {name[1]!r} holds a {type(held).__name__}; it must hold a "
            "dict or JSON text"
        )
    return held


# A policy is at most POLICY_MAX characters, each at most 2 bytes in UTF-8 (U+0000-U+00FF).
POLICY_FILE_MAX = 2 * limits.POLICY_MAX


def read_policy_file(path: Path) -> str:
    """``--policy @FILE``: a regular file's text, reading at most one byte over the limit.

    Opened without blocking (a FIFO would wait for a writer for ever) and refused unless it is
    a regular file (``/dev/zero`` never ends); a sparse giant costs one read of a few KB.
    """
    where = f"--policy: {str(path)!r}"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise UsageError(
            f"{where} cannot be read ({e.strerror or type(e).__name__}); "
            "give @file.json of an existing file"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UsageError(f"{where} is not a regular file; give @file.json of a policy file")
    with os.fdopen(fd, "rb") as file:
        try:
            data = file.read(POLICY_FILE_MAX + 1)
        except OSError as e:
            raise UsageError(f"{where} cannot be read ({e.strerror or type(e).__name__})") from None
    if len(data) > POLICY_FILE_MAX:
        raise UsageError(
            f"{where} is over {POLICY_FILE_MAX:,} bytes; a policy is at most "
            f"{limits.POLICY_MAX:,} characters"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(
            f"{where} is not UTF-8 text (byte {e.start}); give a JSON policy file"
        ) from None


def resolve_secret(flag: str, value: str, user_ns: Mapping[str, Any]) -> str:
    """A secret flag's value: the named notebook variable's string, or the value itself.

    A bare word (letters, digits, ``_``; optionally ``$name``) is looked up in ``user_ns``.
    A word shorter than ``LITERAL_SECRET_MIN_LENGTH`` that names no variable is refused as a
    mistyped name; anything else is taken literally. Messages never show ``value``.
    """
    name = re.fullmatch(_NAME, value)
    if name is not None and name[1] in user_ns:
        held = user_ns[name[1]]
        if not isinstance(held, str) or not held:
            kind = "an empty string" if isinstance(held, str) else f"a {type(held).__name__}"
            raise UsageError(f"{flag}: the notebook variable named there holds {kind}, not a token")
        return held
    if name is not None and (value.startswith("$") or len(value) < LITERAL_SECRET_MIN_LENGTH):
        raise UsageError(
            f"{flag}: no notebook variable has the name given (value not shown); assign the "
            "token to a variable first (tok = ...) and pass its name"
        )
    return value
