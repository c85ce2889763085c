"""botocore's data files, parsed once per process.

Every botocore session loads its JSON data through its own loader: the endpoint rules of all
partitions (``endpoints.json``, about 1 MB) and each service's model, parsed again in each
new session. The broker makes a fresh session for every request it sends (it reads the
profile as it is now), so without sharing, each ``%sts_*`` magic would parse them all again:
about 0.2 s of CPU per issue on a small machine. Sessions that read the same data path share
one loader instead; its cache holds the parsed files, which botocore never changes.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.lru_cache(maxsize=8)
def _loader(data_path: str | None) -> Any:
    from botocore.loaders import create_loader  # botocore: only when used, not on importing source/

    return create_loader(data_path)


def share_loader(session: Any) -> Any:
    """``session``, made to load its data through the process's loader for its data path (the
    profile's ``data_path`` or ``AWS_DATA_PATH``, as botocore's own loader would read)."""
    from botocore.exceptions import ConfigParseError, ProfileNotFound  # botocore: as above

    try:
        data_path = session.get_config_variable("data_path")
    except (ProfileNotFound, ConfigParseError):  # the caller's own reading names the problem
        return session
    session.register_component("data_loader", _loader(data_path))
    return session
