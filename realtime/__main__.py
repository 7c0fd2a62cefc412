"""``python -m realtime``: the live-cart gateway (Procfile ``realtime``).

Started on its own rather than through the ``cartfleet`` command, whose imports (the
web, the actors, SQLAlchemy) this process never uses: it holds thousands of idle
connections and its resident memory is what sizes it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from realtime.gateway import TokenCheck
from realtime.server import serve_forever
from services.settings import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m realtime", description=__doc__)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, help="default: REALTIME_PORT (5001)")
    arguments = parser.parse_args()
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    tokens = TokenCheck(secret=settings.secret_key, ttl_s=settings.live_token_seconds)
    asyncio.run(
        serve_forever(
            host=arguments.host,
            port=arguments.port or settings.realtime_port,
            redis_url=settings.redis_url,
            tokens=tokens,
        )
    )


if __name__ == "__main__":
    main()
