"""The front door: one WSGI app on one port that routes each request to the sandbox's own
handlers or on to moto, records it, and injects faults; served by a threaded wsgiref server.

wsgiref, not werkzeug: werkzeug drops header names with ``_``, and the SSO portal's bearer
token travels in ``x-amz-sso_bearer_token``.

Nothing reaches moto unless ``authn`` knows its signer (moto answers anyone, and its
``/moto-api/`` serves its whole state, secrets included: closed here). IAM's answers pass
through ``withhold``. A HEAD answer never has a body (s3fs retries a body after a HEAD).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from . import authn, control, moto_backend, oidc, signin, sso, sts, withhold
from .context import SandboxContext
from .request import RAW_PATH, Request
from .state import RecordedRequest
from .wire import AwsError, Response, json_error, query_error, s3_error

Handler = Callable[[Request, SandboxContext], Response]
StartResponse = Callable[..., Any]

_REASONS = {
    200: "OK",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Route:
    """Where a request goes: ``handler`` None means on to moto."""

    def __init__(
        self,
        service: str,
        operation: str,
        handler: Handler | None,
        render: Callable[[AwsError], Response],
    ) -> None:
        self.service = service
        self.operation = operation
        self.handler = handler
        self.render = render


def _passthrough_renderer(request: Request) -> Callable[[AwsError], Response]:
    if authn.looks_like_s3(request):
        return s3_error
    if "Action" in request.form:
        return query_error
    return json_error


MOTO_API = "moto-api"


def _closed(request: Request, context: SandboxContext) -> Response:
    raise AwsError("NotFound", "moto's own API is not served by the stsmagic sandbox.", 404)


def route(request: Request) -> Route:
    path, method = request.path, request.method
    signed = request.header("Authorization") is not None
    if path.lstrip("/").split("/", 1)[0] == MOTO_API:  # moto serves it, bucket or not
        return Route(MOTO_API, f"{method} {path}", _closed, json_error)
    if path in sso.PATHS and not signed:
        operation = sso.PATHS[path]
        return Route("sso", operation, sso.HANDLERS[operation], json_error)
    if method == "POST" and path in oidc.PATHS and not signed:
        operation = oidc.PATHS[path]
        return Route("sso-oidc", operation, oidc.HANDLERS[operation], oidc.render_error)
    if path == "/federation" and "Action" in request.query and not signed:
        signin_action = request.query["Action"][-1]
        return Route("signin", signin_action, signin.handler(signin_action), signin.render_error)
    action = request.form.get("Action")
    if request.signing_service == "sts" or (
        not signed and action in sts.UNSIGNED | set(sts.HANDLERS)
    ):
        operation = action or "Unknown"
        return Route("sts", operation, sts.HANDLERS.get(operation), query_error)
    target = request.header("X-Amz-Target")
    operation = action or (target.rsplit(".", 1)[-1] if target else f"{method} {path}")
    return Route(
        request.signing_service or "unknown", operation, None, _passthrough_renderer(request)
    )


class FrontApp:
    """The WSGI application in front of moto."""

    def __init__(self, context: SandboxContext, stopping: threading.Event) -> None:
        self.context = context
        self.stopping = stopping
        self.moto = moto_backend.wsgi_app()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request.from_environ(environ)
        answer = self._route(request, start_response)
        # A HEAD response has no body (its Content-Length tells the GET's): an error body after
        # it makes aiohttp (s3fs) fail with "Data after Connection: close" and retry 7 times.
        return _without_body(answer) if request.method == "HEAD" else answer

    def _route(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        if request.path.startswith(control.PREFIX):
            return self._send(control.handle(request, self.context), start_response)
        where = route(request)
        # Counted on arrival with status 0, so a request a client abandoned (hang_next) is
        # counted in the test that sent it, not seconds later in another one.
        arrived = self.context.state.record(
            RecordedRequest(where.service, where.operation, request.access_key_id, 0)
        )

        def recording_start(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            self.context.state.finish(arrived, int(status.split()[0]))
            return start_response(status, headers, *args)

        return self._answer(request, where, recording_start)

    def _answer(
        self, request: Request, where: Route, start_response: StartResponse
    ) -> Iterable[bytes]:
        fault = self.context.state.take_fault(where.operation)
        if fault is not None and fault.hang_seconds is not None:
            self.stopping.wait(fault.hang_seconds)
        elif fault is not None:
            error = AwsError(fault.code, fault.message, fault.status)
            return self._send(where.render(error), start_response)
        try:
            if where.handler is not None:
                return self._send(where.handler(request, self.context), start_response)
            if not _unsigned_sts(request, where):
                authn.check_passthrough(request, self.context)
            if where.service == "iam":
                return self._iam(request, where, start_response)
        except AwsError as error:
            return self._send(where.render(error), start_response)
        except Exception:  # a sandbox bug still answers as AWS would, and is not a secret leak
            failure = AwsError("InternalFailure", "The sandbox failed to handle the request.", 500)
            return self._send(where.render(failure), start_response)
        return self.moto(_moto_environ(request), start_response)

    def _iam(self, request: Request, where: Route, start_response: StartResponse) -> list[bytes]:
        """moto's IAM answer, read whole and stripped of what IAM must not show."""
        answer: list[Any] = []

        def keep(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            answer[:] = [status, headers]
            return lambda data: None

        chunks = self.moto(_moto_environ(request), keep)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        body = withhold.iam_answer(where.operation, body, self.context)
        status, headers = answer
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _send(response: Response, start_response: StartResponse) -> list[bytes]:
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(f"{response.status} {_REASONS.get(response.status, 'Error')}", headers)
        return [response.body]


def _unsigned_sts(request: Request, where: Route) -> bool:
    """An STS call AWS takes unsigned (AssumeRoleWithWebIdentity, ...), sent unsigned."""
    return (
        where.service == "sts"
        and where.operation in sts.UNSIGNED
        and not request.header("Authorization")
        and not request.presigned
    )


def _moto_environ(request: Request) -> dict[str, Any]:
    environ = dict(request.environ)
    environ["wsgi.input"] = io.BytesIO(request.body)
    environ["CONTENT_LENGTH"] = str(len(request.body))
    return environ


def _without_body(answer: Iterable[bytes]) -> list[bytes]:
    """A HEAD answer: the headers only (the body is read and dropped)."""
    try:
        for _chunk in answer:
            pass
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()
    return []


class _QuietHandler(WSGIRequestHandler):
    timeout = 30  # an idle client cannot hold a handler thread for ever
    # HTTP/1.1 so that "Expect: 100-continue" (botocore's S3 uploads) is answered at once
    # instead of the client waiting a second for it; wsgiref still answers one request per
    # connection.
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def get_environ(self) -> dict[str, str]:
        environ = super().get_environ()
        # The path as sent (still percent-encoded): what the client's signature covers.
        environ[RAW_PATH] = self.path.split("?", 1)[0]
        return environ

    def get_stderr(self) -> Any:
        # A client that gave up (hang_next, timeouts) makes wsgiref print a traceback.
        return io.StringIO()


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = False
    block_on_close = True  # server_close() waits for every handler thread
    allow_reuse_address = True


def make_server(port: int, app: FrontApp) -> ThreadingWSGIServer:
    server = ThreadingWSGIServer(("127.0.0.1", port), _QuietHandler)
    server.set_app(app)
    return server
