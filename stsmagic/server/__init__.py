"""The Jupyter server extension: one sign-in for every kernel and terminal of a server.

``jupyter server`` (and ``jupyter lab``, Notebook 7) load it as the extension ``stsmagic``
(``stsmagic._jupyter_server_extension_points``): the server gets its own ledger, Broker,
renewal ahead of time and credentials endpoint — the same code a kernel uses, wired once more
(``desk.py``) — and a REST API under ``/stsmagic/api/`` (``handlers.py``) that the status-bar
item in JupyterLab and the kernels call. Configured as ``c.StsMagicServer.<trait>``
(``config.py``). Nothing below this folder imports it.
"""

from __future__ import annotations

from typing import Any


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from .extension import load  # jupyter_server and tornado: only inside a Jupyter server

    load(serverapp)


def _unload_jupyter_server_extension(serverapp: Any) -> None:
    from .extension import unload  # extension: jupyter_server and tornado, only at unload

    unload(serverapp)
