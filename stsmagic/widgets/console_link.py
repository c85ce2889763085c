"""``ConsoleLink``: a console sign-in link in the notebook, counting down to its expiry.

The URL signs in to the AWS console, so it is kept out of everything a notebook keeps. It is
not a trait: a widget's traits are its state, which JupyterLab ("Save Widget State
Automatically") and ``jupyter nbconvert --execute`` write into the notebook file. Instead
the view, when it renders, asks the kernel for the URL with a custom message and the kernel
answers with another; custom messages are delivered, never stored. The view puts the URL in
its ``<a target="_blank" rel="noopener noreferrer">`` and takes it out at expiry; the kernel
forgets it then too. A view that renders after that (a reopened notebook) gets no URL.

The countdown is a trait ticked by a timer thread in the kernel, as ``SessionPanel``'s is;
the thread ends at expiry or on ``close()``. The clock is injected so tests move time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import anywidget
from traitlets import Bool, Unicode

from ..session import format_remaining

if TYPE_CHECKING:
    from ..broker.console import SigninLink

log = logging.getLogger(__name__)

ASK = {"ask": "href"}  # what the view sends when it renders

ESM = """
function render({ model, el }) {
  el.classList.add("stsmagic-console-link");
  const anchor = document.createElement("a");
  anchor.target = "_blank";
  anchor.rel = "noopener noreferrer";
  anchor.className = "stsmagic-console-open";
  const note = document.createElement("span");
  note.className = "stsmagic-console-countdown";
  el.append(anchor, note);

  const draw = () => {
    const who = model.get("who");
    if (model.get("expired")) {
      anchor.removeAttribute("href");
      anchor.classList.add("stsmagic-console-expired");
      anchor.textContent = `AWS console sign-in link for ${who}`;
      note.textContent = "expired";
      return;
    }
    anchor.textContent = `Open the AWS console as ${who}`;
    anchor.title = `${model.get("destination")}, in a new tab`;
    note.textContent = anchor.hasAttribute("href")
      ? `expires in ${model.get("countdown")}`
      : "asking the kernel for the link…";
  };
  const answered = (message) => {
    if (message && typeof message.href === "string" && !model.get("expired")) {
      anchor.href = message.href;
    }
    draw();
  };
  model.on("msg:custom", answered);
  model.on("change:countdown", draw);
  model.on("change:expired", draw);
  draw();
  if (!model.get("expired")) model.send({ ask: "href" });
  return () => {
    model.off("msg:custom", answered);
    model.off("change:countdown", draw);
    model.off("change:expired", draw);
  };
}
export default { render };
"""

CSS = """
.stsmagic-console-link { display: flex; gap: 0.75em; align-items: baseline; padding: 2px 0; }
.stsmagic-console-link a[href] { font-weight: bold; text-decoration: underline;
  color: var(--jp-content-link-color, #1976d2); }
.stsmagic-console-link .stsmagic-console-expired { color: #888; text-decoration: line-through; }
.stsmagic-console-countdown { color: var(--jp-ui-font-color2, #666);
  font-family: var(--jp-code-font-family, monospace); }
"""


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ConsoleLink(anywidget.AnyWidget):
    """A ``SigninLink`` as a link the user clicks, with its countdown; "expired" at its end.

    Its state (``who``, ``destination``, ``countdown``, ``expired``) holds no URL, and neither
    does its repr (the notebook's text/plain). ``link`` is the ``SigninLink`` until it
    expires, then None. ``interval`` None: no timer (tests call ``refresh()``).
    """

    _esm = ESM
    _css = CSS
    who = Unicode("", help="the principal the link signs in as").tag(sync=True)
    destination = Unicode("", help="the console page it opens").tag(sync=True)
    countdown = Unicode("", help="time left, H:MM:SS, or 'expired'").tag(sync=True)
    expired = Bool(False).tag(sync=True)

    def __init__(
        self,
        link: SigninLink,
        *,
        clock: Callable[[], datetime] | None = None,
        interval: float | None = 1.0,
        **kwargs: Any,
    ) -> None:
        self._link: SigninLink | None = link
        self.expires_at = link.expires_at
        self.clock: Callable[[], datetime] = clock or _now
        self._stop = threading.Event()
        self._lock = threading.Lock()
        now = self.clock()
        over = link.expired_at(now)
        super().__init__(  # the state the view opens with is whole: no blank countdown first
            who=link.who,
            destination=link.destination,
            countdown="expired" if over else format_remaining(link.remaining_at(now)),
            expired=over,
            **kwargs,
        )
        self.on_msg(self._asked)
        self.refresh()
        self.timer: threading.Thread | None = None
        if interval and not self.expired:
            self.timer = threading.Thread(
                target=self._tick, args=(interval,), name="stsmagic-console-timer", daemon=True
            )
            self.timer.start()

    @property
    def link(self) -> SigninLink | None:
        """The sign-in link while it is good; None once it expired."""
        return self._link

    def refresh(self) -> None:
        """Count down to now; at the end, forget the link and say "expired"."""
        now = self.clock()
        with self._lock:
            link = self._link
            if link is None or link.expired_at(now):
                self._link = None
                self.countdown = "expired"
                self.expired = True
                self._stop.set()
            else:
                self.countdown = format_remaining(link.remaining_at(now))

    def _asked(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """A view rendered and asks for the URL: it gets it, while the link is good."""
        if content != ASK:
            return
        self.refresh()
        link = self._link
        self.send({"href": link.url} if link is not None else {"expired": True})

    def _tick(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.refresh()
            except Exception:  # the timer must outlive one bad tick
                log.exception("stsmagic console link countdown failed")

    def close(self) -> None:
        """Stop the countdown, forget the link, close the widget."""
        self._stop.set()
        timer = getattr(self, "timer", None)
        if timer is not None and timer is not threading.current_thread():
            timer.join(timeout=5)
        self._link = None
        layout = self.layout
        super().close()
        layout.close()  # made with the widget: not left behind in the kernel or saved state

    def __repr__(self) -> str:
        state = "expired" if self.expired else f"{self.expires_at:%Y-%m-%d %H:%M:%S} UTC"
        return f"ConsoleLink(who={self.who!r}, destination={self.destination!r}, expires={state!r})"

    __str__ = __repr__
