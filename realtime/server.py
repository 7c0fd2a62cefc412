"""Runs the gateway: the WebSocket server and the hint subscriber in one event loop.

``websockets`` (asyncio) rather than an ASGI server: one endpoint needs no framework,
its ``process_request`` hook refuses a bad token with a plain HTTP answer before the
upgrade, ``max_size`` bounds frames, ``broadcast`` never waits on a slow client, and a
connection without compression costs a few tens of kilobytes (``bench/live.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

from websockets.asyncio.server import Server, serve

from realtime import subscriber
from realtime.gateway import MAX_FRAME_BYTES, Gateway, TokenCheck

logger = logging.getLogger(__name__)


@dataclass
class Running:
    gateway: Gateway
    server: Server
    subscribed: asyncio.Event

    @property
    def port(self) -> int:
        return next(iter(self.server.sockets)).getsockname()[1]


@contextlib.asynccontextmanager
async def running(
    *, host: str, port: int, redis_url: str, tokens: TokenCheck
) -> AsyncIterator[Running]:
    """The gateway listening on ``host:port`` (0: any free port) while the block runs."""
    gateway = Gateway(tokens)
    subscribed = asyncio.Event()
    follower = asyncio.create_task(subscriber.follow(gateway, redis_url, subscribed=subscribed))
    try:
        async with serve(
            gateway.handler,
            host,
            port,
            process_request=gateway.process_request,
            compression=None,  # deflate state costs ~100 KB a connection; hints are tiny
            max_size=MAX_FRAME_BYTES,
            max_queue=4,
            write_limit=4096,
            ping_interval=20,
            ping_timeout=20,
            server_header=None,
        ) as server:
            yield Running(gateway, server, subscribed)
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower


async def serve_forever(*, host: str, port: int, redis_url: str, tokens: TokenCheck) -> None:
    """Until SIGTERM or SIGINT; then connections are closed (clients reconnect elsewhere)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with running(host=host, port=port, redis_url=redis_url, tokens=tokens) as gateway:
        logger.info("Realtime gateway on %s:%d", host, gateway.port)
        await stop.wait()
