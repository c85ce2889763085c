"""The REST API under ``<base_url>stsmagic/api/``: JSON in and out, behind Jupyter's own
authentication and XSRF checks (``APIHandler`` with ``@web.authenticated``).

Each handler parses, calls one method of the ``ServerDesk`` off the event loop (a request to
STS may take seconds) and answers; a ``Refused`` becomes its status with ``{"message": line}``.
No answer, URL or log line holds a secret: rows carry masked keys, an MFA code arrives only in
a POST body and is never echoed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop

from .desk import Refused, ServerDesk

LABEL = r"(?P<label>[^/]+)"


class DeskHandler(APIHandler):
    """Shared by every handler: the desk, the body, and answering a refusal."""

    desk: ServerDesk

    def initialize(self, desk: ServerDesk) -> None:
        self.desk = desk

    def body(self) -> Any:
        if not self.request.body:
            return {}
        try:
            return json.loads(self.request.body)
        except ValueError:
            raise Refused("the body is not JSON") from None

    async def run(self, call: Callable[[Any], Any], status: int = 200) -> None:
        """Answer ``call(body)``'s result as JSON (None: no body), or its refusal (a body
        that is not JSON among them)."""
        try:
            result = await IOLoop.current().run_in_executor(None, lambda: call(self.body()))
        except Refused as e:
            self.set_status(e.status)
            self.finish(json.dumps({"message": e.message}))
            return
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")
        if result is None:
            self.finish()
        else:
            self.finish(json.dumps(result))


class SessionsHandler(DeskHandler):
    @web.authenticated
    async def get(self) -> None:
        await self.run(lambda _: self.desk.state())

    @web.authenticated
    async def post(self) -> None:
        await self.run(self.desk.sign_in, status=201)


class SessionHandler(DeskHandler):
    @web.authenticated
    async def delete(self, label: str) -> None:
        await self.run(lambda _: self.desk.forget(label), status=204)


class RenewHandler(DeskHandler):
    @web.authenticated
    async def post(self, label: str) -> None:
        await self.run(lambda body: self.desk.renew(label, body))


class ActiveHandler(DeskHandler):
    @web.authenticated
    async def put(self) -> None:
        await self.run(self.desk.switch)


class SsoLoginHandler(DeskHandler):
    @web.authenticated
    async def post(self) -> None:
        await self.run(self.desk.sso_start)

    @web.authenticated
    async def get(self) -> None:
        await self.run(lambda _: self.desk.sso_status())


def handlers(base_url: str, desk: ServerDesk) -> list[tuple[str, type, dict[str, Any]]]:
    """The routes, under ``base_url``."""
    api = url_path_join(base_url, "stsmagic", "api")
    options = {"desk": desk}
    return [
        (url_path_join(api, "sessions"), SessionsHandler, options),
        (url_path_join(api, "sessions", LABEL, "renew"), RenewHandler, options),
        (url_path_join(api, "sessions", LABEL), SessionHandler, options),
        (url_path_join(api, "active"), ActiveHandler, options),
        (url_path_join(api, "sso", "login"), SsoLoginHandler, options),
    ]
