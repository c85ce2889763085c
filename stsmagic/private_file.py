"""Files that hold secrets: created 0600 (0700 for their directory) and replaced atomically.

The mode is given to ``os.open`` when the file is made, so no other user can open it in the
moment between creating and a later chmod, whatever the umask; a reader never sees half a file.
Read back, such a file (and its folder) must still be this user's own and private: another
user's file is not taken as ours, nor is a symlink, a FIFO or a device in its place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from .errors import StsMagicError

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


def make_private_dir(directory: Path) -> None:
    """Make ``directory`` 0700 if it is missing (its parents with the usual mode)."""
    if directory.is_dir():
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(directory, DIRECTORY_MODE)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a 0600 temporary file in the same directory."""
    make_private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


class NotPrivate(StsMagicError):
    """A folder or file meant to hold secrets that another user could read, write or swap."""


def _mine(uid: int) -> bool:
    getuid = getattr(os, "geteuid", None)  # not on Windows: no owners to compare there
    return getuid is None or uid == getuid()


def check_private_dir(directory: Path) -> None:
    """Make ``directory`` 0700 if missing; one that exists must be a folder, not a symlink, and
    owned by this user (a looser mode is made 0700); otherwise ``NotPrivate``."""
    make_private_dir(directory)
    try:
        found = os.lstat(directory)
    except OSError as e:
        raise NotPrivate(f"{directory} cannot be used ({e.strerror})") from None
    if stat.S_ISLNK(found.st_mode):
        raise NotPrivate(f"{directory} is a symlink; make it a folder of your own (0700)")
    if not stat.S_ISDIR(found.st_mode):
        raise NotPrivate(f"{directory} is not a folder")
    if not _mine(found.st_uid):
        raise NotPrivate(f"{directory} belongs to another user (uid {found.st_uid})")
    if stat.S_IMODE(found.st_mode) != DIRECTORY_MODE:
        try:
            os.chmod(directory, DIRECTORY_MODE)
        except OSError as e:
            raise NotPrivate(f"{directory} cannot be made 0700 ({e.strerror})") from None


def read_private(path: Path, limit: int) -> str | None:
    """The text of ``path`` (None when it does not exist), read only if it is a regular file
    (not a symlink, FIFO or device), owned by this user, neither readable nor writable by
    others, and at most ``limit`` bytes of UTF-8; otherwise ``NotPrivate``, one line."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        # O_NONBLOCK: opening a FIFO that nobody writes would wait for ever
        descriptor = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as e:
        why = "is a symlink" if e.errno == errno.ELOOP else f"cannot be read ({e.strerror})"
        raise NotPrivate(f"{path} {why}") from None
    with os.fdopen(descriptor, "rb") as f:
        found = os.fstat(f.fileno())
        if not stat.S_ISREG(found.st_mode):
            raise NotPrivate(f"{path} is not a regular file")
        if not _mine(found.st_uid):
            raise NotPrivate(f"{path} belongs to another user (uid {found.st_uid})")
        if stat.S_IMODE(found.st_mode) & 0o077:
            mode = f"{stat.S_IMODE(found.st_mode):04o}"
            raise NotPrivate(
                f"{path} is {mode}: other users may read or change it; it must be 0600"
            )
        if found.st_size > limit:
            raise NotPrivate(f"{path} is {found.st_size:,} bytes, over {limit:,}")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise NotPrivate(f"{path} is over {limit:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotPrivate(f"{path} is not UTF-8 text") from None
