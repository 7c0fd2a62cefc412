"""Checks and headers every request and response gets, whichever route (if any) serves it.

- A body without ``Content-Length`` (chunked) is read here, bounded by
  ``MAX_CONTENT_LENGTH``: over it is 413 like a body whose length says so, never a
  silently shortened body.
- NUL in the path or in a query parameter is refused at the door (404 / 422): no route
  has a use for it and PostgreSQL cannot store it.
- ``X-Content-Type-Options: nosniff`` on every response; ``Cache-Control: no-store`` on
  every admin response and every one that carries a ``client_secret``;
  ``WWW-Authenticate`` on every 401.
"""

from __future__ import annotations

import io

from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from web.errors import APIError

ADMIN_REALM = 'Bearer realm="cartfleet-admin"'
_READ_CHUNK = 64 * 1024
NUL_MESSAGE = "NUL characters are not allowed."


def is_admin_path(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/")


def _buffer_unsized_body(limit: int | None) -> None:
    """Read a chunked body up to ``limit`` + 1 bytes; over ``limit`` is 413."""
    environ = request.environ
    if limit is None or request.content_length is not None:
        return
    if "wsgi.input_terminated" not in environ:
        return  # werkzeug reads no body of unknown length from such a server
    stream = environ["wsgi.input"]
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(min(_READ_CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise RequestEntityTooLarge()
    # From here the body is an ordinary one of known length.
    environ["wsgi.input"] = io.BytesIO(b"".join(chunks))
    environ["CONTENT_LENGTH"] = str(size)
    environ.pop("HTTP_TRANSFER_ENCODING", None)


def _refuse_nul() -> None:
    if "\x00" in request.path:
        raise APIError(404, "not_found", "No such resource.")
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise APIError(
                422,
                "validation_error",
                "A query parameter is invalid.",
                errors=[{"field": name.replace("\x00", "\\u0000"), "message": NUL_MESSAGE}],
            )


def _secure_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    if is_admin_path(request.path) or _carries_client_secret(response):
        response.headers["Cache-Control"] = "no-store"
    if response.status_code == 401 and "WWW-Authenticate" not in response.headers:
        response.headers["WWW-Authenticate"] = ADMIN_REALM
    return response


def _carries_client_secret(response: Response) -> bool:
    if response.is_streamed or not response.is_json:
        return False
    return b'"client_secret"' in response.get_data()


def register_guards(app: Flask) -> None:
    """Install the checks and headers above on ``app``, ahead of every blueprint's."""

    @app.before_request
    def _guard_request() -> None:
        _buffer_unsized_body(request.max_content_length)
        _refuse_nul()

    app.after_request(_secure_headers)
