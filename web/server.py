"""The web process's HTTP front: waitress's buffering server inside gunicorn workers.

gunicorn's gthread worker hands a connection to a thread as soon as its first byte
arrives, and the thread then blocks reading the rest of the head and body: a few dozen
clients that send part of a request and wait hold every thread, and ``/healthz`` times
out. waitress reads every request, head and body, in one non-blocking loop and gives a
thread only a request that has fully arrived, so a slow client costs a socket, not a
thread. This worker runs that loop on the sockets gunicorn's master listens on; the
master (process management, the ``gunicorn_conf`` hooks, Prometheus multiprocess clean
up) stays as it was.

Errors the server answers itself (a head too large, a malformed request line, a control
byte in a header, a body over the limit) are JSON in the shape of API.md.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time

from gunicorn.workers.base import Worker
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from web.body_limits import MAX_BODY_BYTES, UPLOAD_BODY_BYTES, UPLOAD_PATH

logger = logging.getLogger(__name__)

MAX_HEADER_BYTES = 32 * 1024  # request line and every header field together

# waitress's error classes by status; a transfer coding it does not implement (its 501)
# is the client's doing, so it is answered 400 like any other malformed request.
ERROR_CODES = {
    400: "bad_request",
    413: "payload_too_large",
    431: "request_header_fields_too_large",
}


class JSONErrorTask(ErrorTask):
    """waitress's own error responses, as ``{"error", "message"}`` JSON."""

    def execute(self) -> None:
        error = self.request.error
        status = error.code if error.code in ERROR_CODES else 400
        reason = error.reason if status == error.code else "Bad Request"
        body = json.dumps(
            {"error": ERROR_CODES[status], "message": f"{error.reason}: {error.body}"}
        ).encode()
        self.status = f"{status} {reason}"
        self.response_headers.extend(
            [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff")]
        )
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class TimedRequestParser(HTTPRequestParser):
    """Remembers when the request's first bytes arrived (see ``Server.maintenance``), and
    lets an image upload's body grow past the 1 MiB every other request keeps to."""

    def __init__(self, adj: Adjustments) -> None:
        super().__init__(adj)
        self.started = time.monotonic()

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        if self.command == "POST" and UPLOAD_PATH.fullmatch(self.path):
            # waitress compares the body with adj.max_request_body_size as it arrives.
            self.adj = copy.copy(self.adj)
            self.adj.max_request_body_size = UPLOAD_BODY_BYTES + 1


class Channel(HTTPChannel):
    error_task_class = JSONErrorTask
    parser_class = TimedRequestParser


class Server(TcpWSGIServer):
    """A waitress server on a socket gunicorn's master already listens on.

    ``request_seconds``: a request's head and body must have arrived by then.
    """

    channel_class = Channel

    def __init__(self, *args, request_seconds: float, **kwargs) -> None:
        self.request_seconds = request_seconds
        super().__init__(*args, **kwargs)

    def maintenance(self, now: float) -> None:
        # waitress closes idle connections; a client that dribbles a byte now and then
        # is never idle, so a request still arriving after request_seconds is closed too.
        super().maintenance(now)
        cutoff = time.monotonic() - self.request_seconds
        for channel in self.active_channels.values():
            pending = channel.request
            if pending is not None and not pending.completed and pending.started < cutoff:
                channel.will_close = True


def adjustments(cfg) -> Adjustments:
    """waitress's settings from gunicorn's (``threads``, ``worker_connections``...)."""
    return Adjustments(
        threads=cfg.threads,
        connection_limit=cfg.worker_connections,
        backlog=cfg.backlog,
        channel_timeout=max(cfg.keepalive, 1),
        cleanup_interval=1,
        max_request_header_size=MAX_HEADER_BYTES,
        # waitress refuses a body of this size or more; the app's limit is "over 1 MiB".
        max_request_body_size=MAX_BODY_BYTES + 1,
        asyncore_use_poll=True,  # select() stops at 1024 file descriptors
        ident="cartfleet",
    )


class WaitressWorker(Worker):
    """A gunicorn worker serving with waitress (``worker_class`` in gunicorn_conf.py)."""

    def run(self) -> None:
        adj = adjustments(self.cfg)
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(adj.threads)
        socket_map: dict = {}
        servers = [
            Server(
                self.wsgi,
                socket_map,
                _sock=listener.sock,
                dispatcher=dispatcher,
                adj=adj,
                bind_socket=False,
                request_seconds=self.cfg.timeout,
                sockinfo=(listener.family, listener.type, listener.proto, listener.getsockname()),
            )
            for listener in self.sockets
        ]
        next_beat = 0.0
        while self.alive:
            now = time.monotonic()
            if now >= next_beat:  # once a second, not once per poll under load
                next_beat = now + 1.0
                self.notify()
                if self.ppid != os.getppid():
                    self.log.info("Parent changed, shutting down: %s", self)
                    break
            wasyncore.loop(timeout=1.0, map=socket_map, use_poll=True, count=1)
        self._stop(servers, socket_map, dispatcher)

    def _stop(self, servers: list[Server], socket_map: dict, dispatcher) -> None:
        """Accept no more; let requests under way finish within ``graceful_timeout``."""
        for server in servers:
            # Not server.close(): that closes the trigger pipe the threads still use to
            # wake the loop when a response is ready.
            server.accepting = False
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while time.monotonic() < deadline and any(
            channel.requests or channel.total_outbufs_len
            for channel in list(socket_map.values())
            if isinstance(channel, HTTPChannel)
        ):
            self.notify()
            wasyncore.loop(timeout=0.2, map=socket_map, use_poll=True, count=1)
        dispatcher.shutdown(timeout=max(deadline - time.monotonic(), 0.5))
        wasyncore.close_all(socket_map)
