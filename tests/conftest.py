"""Test-run services and the fixtures every test shares.

The environment is set here, at import, before any project module reads its settings.
"""

from __future__ import annotations

import os
import tempfile

from tests.support import services

_services = services.provision()
_TMP = tempfile.mkdtemp(prefix="cartfleet-test-")
os.environ.update(
    DATABASE_URL=_services.database_url,
    REDIS_URL=_services.redis_url,
    CARTFLEET_ENV="test",
    ADMIN_TOKEN="test-admin-token",
    STRIPE_API_KEY="sk_test_cartfleet",
    STRIPE_WEBHOOK_SECRET="whsec_test_primary,whsec_test_rotated",
    MAIL_DIR=os.path.join(_TMP, "mail"),
    MEDIA_ROOT=os.path.join(_TMP, "media"),
    SENTRY_DSN="",
    SMTP_URL="",
    ALERT_WEBHOOK_URL="",
    dramatiq_prom_port="0",
)
# An empty PROMETHEUS_MULTIPROC_DIR would make prometheus_client write into the cwd.
for _name in ("TEST_DATABASE_URL", "TEST_REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"):
    os.environ.pop(_name, None)

import contextlib

import pytest
from alembic import command

from migrations import alembic_config
from tests.support.cleanup import DatabaseReset
from tests.support.workers import drain, running_worker

# The Sentry receiver fixtures, for the worker and services tests alike.
pytest_plugins = ["tests.support.sentry_fixtures"]


def pytest_sessionfinish(session, exitstatus):
    from models import db

    with contextlib.suppress(RuntimeError):
        db.engine().dispose()
    services.release(_services)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes():
    """argon2id at its lowest cost: the production parameters spend ~0.2 s of CPU on every
    hash and login, and the admin tests make and log in a user each (as Django's test
    settings swap in a fast hasher). Hashes are argon2id all the same."""
    from argon2 import PasswordHasher

    from models import staff

    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(staff, "_hasher", hasher)
        patch.setattr(staff, "_DUMMY_HASH", hasher.hash("not a password"))
        yield


@pytest.fixture(scope="session")
def services_info() -> services.TestServices:
    return _services


@pytest.fixture(scope="session", autouse=True)
def schema():
    """The schema, built by the migrations (never ``create_all``)."""
    command.upgrade(alembic_config(_services.database_url), "head")
    from models import db
    from services import outbox

    yield db.configure(_services.database_url)
    # Marks still held would be written by their thread after the database is dropped.
    outbox.sent_marks.flush()


@pytest.fixture(scope="session")
def broker(schema):
    import jobs  # noqa: F401  (registers every actor)
    from worker.broker import broker

    # In-process workers never boot a worker process; middleware that sets itself up
    # on boot (Dramatiq's Prometheus exporter) needs the signal once. It also points
    # PROMETHEUS_MULTIPROC_DIR at its own directory, which the web tests must not see.
    broker.emit_after("process_boot")
    for name in ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"):
        os.environ.pop(name, None)
    return broker


@pytest.fixture(scope="session")
def _database_reset(schema) -> DatabaseReset:
    import models

    reset = DatabaseReset(models.Base.metadata.sorted_tables)
    # The migrations' default warehouse is replaced by one whose row version it knows.
    with schema.connect() as connection:
        reset(connection)
    return reset


@pytest.fixture(autouse=True)
def clean_state(_database_reset):
    """Every test starts from empty tables (but the default warehouse, as the migrations
    leave it) and an empty Redis db."""
    from services import redis_loss
    from worker.broker import broker

    redis_loss.mark_complete()  # like a running fleet: Redis holds what was pushed so far
    yield
    from models import db

    # A test may have had the server drop the pool's connections.
    db.with_connection(db.engine(), _database_reset)
    broker.client.flushdb()


@pytest.fixture
def app(broker):
    from web import create_app

    return create_app({"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def worker(broker):
    """A real Dramatiq worker consuming every queue of the Redis broker in this process."""
    with running_worker(broker) as running:
        yield running


@pytest.fixture
def drain_queues(broker, worker):
    """Call to wait until every queue is empty and every message processed."""
    return lambda timeout=30: drain(broker, worker, timeout=timeout)


@pytest.fixture
def fresh_database_url(services_info):
    """An empty database of its own, dropped after the test."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    name = f"{make_url(services_info.database_url).database}_{uuid.uuid4().hex[:6]}"
    admin = services._libpq(services_info.admin_url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield make_url(services_info.database_url).set(database=name).render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def stripe_sandbox(monkeypatch):
    """The Stripe sandbox in memory; the fleet's client is pointed at it (``STRIPE_API_BASE``).

    ``.control`` drives it: ``fail_next_requests(n)``, ``requests()``, webhooks, switches.
    """
    from devtools.stripe_sandbox import SandboxServer
    from services.settings import get_settings
    from services.stripe import stripe_client

    server = SandboxServer(retry_base_s=0.05).start()
    monkeypatch.setenv("STRIPE_API_BASE", server.url)
    get_settings.cache_clear()
    stripe_client.cache_clear()
    yield server
    server.stop()
    monkeypatch.delenv("STRIPE_API_BASE")
    get_settings.cache_clear()
    stripe_client.cache_clear()


@pytest.fixture
def smtp_server(monkeypatch):
    """A real local SMTP server (aiosmtpd); ``SMTP_URL`` points the mailer at it."""
    from services.settings import get_settings
    from tests.support.smtp_server import SMTPServer

    server = SMTPServer().start()
    monkeypatch.setenv("SMTP_URL", server.url)
    get_settings.cache_clear()
    yield server
    server.stop()
    monkeypatch.setenv("SMTP_URL", "")
    get_settings.cache_clear()


@pytest.fixture
def live_server(app):
    """The app over real HTTP: a threaded werkzeug server on a free localhost port."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def skus():
    """Two products with 50 units each in the ``main`` warehouse."""
    from models.db import Session
    from tests.support import factories

    with Session.begin() as session:
        factories.product(session, "SKU-1", stock={"main": 50})
        factories.product(session, "SKU-2", stock={"main": 50})
    return ["SKU-1", "SKU-2"]
