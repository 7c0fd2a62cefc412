"""A TCP fault proxy: one loopback listener per (client, dependency) pair.

Each ``FaultProxy`` forwards 127.0.0.1:<port> to one upstream address with threads, and
the test switches its mode while traffic flows:

- ``pass``: forward bytes (optionally after ``latency_s`` per chunk);
- ``reset``: refuse new connections with a RST and reset the open ones;
- ``blackhole``: accept, then never forward a byte nor answer (the peer times out);
  open connections go silent too;
- ``flap``: every other new connection is reset, the others pass.

``cut()`` resets the connections open now without changing the mode (a restart seen
from the client side).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import struct
import threading
import time

logger = logging.getLogger(__name__)

MODES = ("pass", "reset", "blackhole", "flap")
_CHUNK = 65536


def _close(sock: socket.socket, *, reset: bool = False) -> None:
    """Shut down, then close: a bare close() from one thread neither wakes the thread
    blocked in recv() on the same socket nor sends anything to the peer, which would then
    wait forever. ``reset`` sets SO_LINGER 0, so the peer gets a RST."""
    with contextlib.suppress(OSError):
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class FaultProxy:
    """Forward 127.0.0.1:``port`` (0: a free one) to ``upstream``; see the module doc."""

    def __init__(self, name: str, upstream: tuple[str, int], port: int = 0) -> None:
        self.name = name
        self.upstream = upstream
        self.mode = "pass"
        self.latency_s = 0.0
        self._listener = socket.create_server(("127.0.0.1", port), backlog=256)
        self.port = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._stopped = threading.Event()
        self.accepted = 0
        self.refused = 0
        self._thread = threading.Thread(target=self._accept_loop, name=f"proxy-{name}", daemon=True)
        self._thread.start()

    def set(self, mode: str, *, latency_s: float = 0.0) -> None:
        """Switch to ``mode``; ``reset`` and ``blackhole`` also act on open connections."""
        if mode not in MODES:
            raise ValueError(f"unknown proxy mode {mode!r}")
        self.mode, self.latency_s = mode, latency_s
        if mode == "reset":
            self.cut()

    def cut(self) -> None:
        """Reset every connection open now."""
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            _close(sock, reset=True)

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut()

    def _accept_loop(self) -> None:
        self._listener.settimeout(0.5)
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            flap_reset = self.mode == "flap" and next(self._counter) % 2 == 0
            if self.mode == "reset" or flap_reset:
                self.refused += 1
                _close(client, reset=True)
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _close(client, reset=True)
            return
        upstream.settimeout(None)
        with self._lock:
            self._open.update((client, upstream))
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        self._pump(client, upstream)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                while self.mode == "blackhole" and not self._stopped.is_set():
                    time.sleep(0.05)
                if self.latency_s:
                    time.sleep(self.latency_s)
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(target)
            for sock in (source, target):
                _close(sock)
