"""Files that hold a secret are born readable by their owner only.

``write_text`` then ``chmod`` leaves a moment (and, under a permissive umask, a file) in
which anyone on the machine may read the secret; ``os.open`` with a mode does not.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE = 0o600


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path``, created (or truncated) with mode 0600 whatever the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, flags, PRIVATE)
    try:
        os.fchmod(descriptor, PRIVATE)  # an existing file keeps its mode through O_CREAT
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            descriptor = -1
            handle.write(text)
    finally:
        if descriptor >= 0:
            os.close(descriptor)
    return path
