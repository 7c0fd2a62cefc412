"""The load's HTTP client: one keep-alive ``http.client`` connection per origin and user.

``requests`` costs the load generator more CPU than the requests it makes: each call
builds a prepared request, merges settings, reads the proxy variables of the whole
environment and runs the cookie jar. The load needs none of that: JSON or form bodies to
two known loopback origins, an optional bearer token, the status and the JSON answer.
A connection the server closed while idle (its keep-alive timeout) is noticed before
reuse, as urllib3 does, and replaced. The close can still cross a request on the wire:
then the kept connection fails before any answer, and the request is sent once more on a
new connection, as browsers do (the server closed it unread). Any other failure is not
retried here (the load records it as status 0, or retries it itself) and its connection
is dropped.
"""

from __future__ import annotations

import http.client
import json
import select
from typing import Any
from urllib.parse import urlencode, urlsplit


class HTTPFailure(Exception):
    """No answer: the connection failed, timed out or was closed mid-exchange."""


class Response:
    def __init__(self, status: int, body: bytes) -> None:
        self.status_code = status
        self.content = body

    def json(self) -> Any:
        return json.loads(self.content)


class Client:
    """Requests to one origin (``http://host:port``) over one kept-alive connection."""

    def __init__(self, origin: str, *, timeout: float, headers: dict[str, str] | None = None):
        parts = urlsplit(origin)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self.headers = dict(headers or {})
        self._connection: http.client.HTTPConnection | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        body, sent = None, {**self.headers, **(headers or {})}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent["Content-Type"] = "application/json"
        elif form is not None:
            body = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if self._connection is not None and _closed_by_peer(self._connection):
            self.close()
        for reused in (self._connection is not None, False):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout
                )
            try:
                self._connection.request(method, path, body=body, headers=sent)
                answer = self._connection.getresponse()
                response = Response(answer.status, answer.read())
            except (OSError, http.client.HTTPException) as error:
                self.close()
                if reused and isinstance(error, _CLOSED_UNREAD):
                    continue
                raise HTTPFailure(str(error)) from error
            if answer.will_close:
                self.close()
            return response
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# How a kept-alive connection the server closed as the request went out fails.
_CLOSED_UNREAD = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """An idle kept-alive socket that is readable was closed by the server (or is broken):
    a server sends nothing unasked."""
    if connection.sock is None:
        return False
    readable, _, _ = select.select([connection.sock], [], [], 0)
    return bool(readable)
