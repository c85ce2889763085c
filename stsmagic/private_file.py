"""Files that hold secrets: created 0600 (0700 for their directory) and replaced atomically.

The mode is given to ``os.open`` when the file is made, so no other user can open it in the
moment between creating and a later chmod, whatever the umask; a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

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
