"""Follows the cart-hint channel on Redis and hands each hint to the gateway.

Redis going away (a restart, a failover) ends the subscription; it is taken up again
with backoff, and on success every connected client is told to refetch
(``Gateway.resync``), since hints published meanwhile are lost (pub/sub keeps nothing).
"""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from realtime.gateway import Gateway
from services.hint_wire import CHANNEL, decode

logger = logging.getLogger(__name__)

# Reconnect delays: quick first tries, so clients catch up within seconds of Redis' return.
BACKOFF_S = (0.2, 0.5, 1.0, 2.0)
HEALTH_CHECK_S = 2


async def follow(gateway: Gateway, redis_url: str, *, subscribed: asyncio.Event) -> None:
    """Forever: subscribe, relay hints, and on a lost connection start over."""
    failures = 0
    while True:
        client = aioredis.from_url(
            redis_url,
            socket_connect_timeout=2,
            health_check_interval=HEALTH_CHECK_S,
            socket_keepalive=True,
        )
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(CHANNEL)
                if failures:
                    logger.info("Hint channel back; %d client(s) told to refetch", gateway.resync())
                failures = 0
                subscribed.set()
                await _relay(gateway, pubsub)
        except (RedisError, OSError) as error:
            subscribed.clear()
            delay = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
            failures += 1
            logger.warning("Hint channel lost (%s); retrying in %.1f s", error, delay)
            await asyncio.sleep(delay)
        finally:
            await client.aclose()


async def _relay(gateway: Gateway, pubsub: aioredis.client.PubSub) -> None:
    while True:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=HEALTH_CHECK_S)
        if message is None:
            # Idle: a ping proves the connection is alive (a dead one raises here).
            await pubsub.ping()
            continue
        hint = decode(message["data"])
        if hint is not None:
            gateway.hint(*hint)
