"""Loading into a Jupyter server: the desk made from ``c.StsMagicServer``, its routes added,
and serving started *before* any kernel or terminal: jupyter_client copies the server's
``os.environ`` into every kernel it launches (a restart reuses it) and terminals start from it.
"""

from __future__ import annotations

from typing import Any

from .config import StsMagicServer
from .desk import ServerDesk
from .handlers import handlers

_DESK = "stsmagic_desk"  # where the server's settings keep the desk


def load(serverapp: Any) -> ServerDesk:
    config = StsMagicServer(parent=serverapp)
    desk = ServerDesk(config)
    web_app = serverapp.web_app
    web_app.add_handlers(".*$", handlers(web_app.settings["base_url"], desk))
    web_app.settings[_DESK] = desk
    desk.start()
    state = "serving its session to every kernel and terminal" if desk.serving else "not serving"
    serverapp.log.info(
        "stsmagic: the server signs in for profile %s (%s); REST at %sstsmagic/api/",
        desk.profile or "default",
        state,
        web_app.settings["base_url"],
    )
    return desk


def unload(serverapp: Any) -> None:
    desk = serverapp.web_app.settings.pop(_DESK, None)
    if desk is not None:
        desk.stop()
