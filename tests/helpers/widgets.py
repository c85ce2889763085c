"""The widget models alive in this process, and their state as a frontend would receive it."""

from __future__ import annotations

import json
from typing import Any


def live_widgets() -> dict[str, Any]:
    """Every widget model not closed yet, by model id (the live dict: it changes as they do)."""
    from ipywidgets.widgets import widget

    instances = getattr(widget, "_instances", None)  # ipywidgets 8; 7 has Widget.widgets
    return instances if instances is not None else widget.Widget.widgets


def widget_states() -> str:
    """Every live widget's state, as JSON text: what a leak scan reads."""
    return json.dumps(
        [w.get_state() for w in list(live_widgets().values())], default=str, ensure_ascii=False
    )
