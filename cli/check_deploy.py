"""``cartfleet check-deploy``: is this environment fit to run the fleet?

Run with the deployment's settings (``heroku run cartfleet check-deploy``, or in the
release phase after the migrations). Prints one line per problem and exits 1 if any.
"""

from __future__ import annotations

from collections.abc import Iterator

import click
import redis
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError, model_validator
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from migrations import alembic_config
from services.settings import LOCAL_ENVS, REQUIRED_IN_PRODUCTION, ConfigurationError, Settings

CONNECT_TIMEOUT_S = 5
LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_")
TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")


class _AsDeployed(Settings):
    """The settings exactly as the environment gives them.

    The real class fills in a missing secret key and recovery secret outside production
    (and refuses to build in production when one is missing); here every missing setting
    must stay missing so that it is reported, each on its own line.
    """

    @model_validator(mode="after")
    def _development_secret_key(self) -> _AsDeployed:
        return self

    @model_validator(mode="after")
    def _required_in_production(self) -> _AsDeployed:
        return self


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "the configured URL (malformed)"


def required_settings(settings: Settings) -> Iterator[str]:
    for name in REQUIRED_IN_PRODUCTION:
        if not getattr(settings, name):
            yield f"{name.upper()} is not set"
    if settings.env in LOCAL_ENVS:
        yield (
            f"CARTFLEET_ENV is {settings.env!r}: a deployment sets 'production' or another"
            " name such as 'staging'"
        )


def _current_revision(url: str) -> str | None:
    engine = create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def database(url: str) -> Iterator[str]:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    try:
        current = _current_revision(url)
    except SQLAlchemyError as error:
        yield f"PostgreSQL does not answer at {_redact(url)}: {str(error).splitlines()[0]}"
        return
    if current != head:
        yield (
            f"PostgreSQL is not migrated: at revision {current or 'none'}, the code's head is"
            f" {head} (run `cartfleet migrate`; the release phase does it)"
        )


def broker(url: str) -> Iterator[str]:
    try:
        client = redis.Redis.from_url(
            url, socket_timeout=CONNECT_TIMEOUT_S, socket_connect_timeout=CONNECT_TIMEOUT_S
        )
        with client:
            client.ping()
    except (redis.RedisError, ValueError) as error:
        yield f"Redis does not answer at {_redact(url)}: {error}"


def stripe_key_mode(settings: Settings) -> Iterator[str]:
    key = settings.stripe_api_key
    live = settings.env == "production"
    expected = LIVE_KEY_PREFIXES if live else TEST_KEY_PREFIXES
    if not key.startswith(LIVE_KEY_PREFIXES + TEST_KEY_PREFIXES):
        yield "STRIPE_API_KEY is not a Stripe secret or restricted key (sk_… or rk_…)"
    elif not key.startswith(expected):
        mode = "live" if live else "test"
        yield (
            f"STRIPE_API_KEY is a {'test' if live else 'live'} key but CARTFLEET_ENV is"
            f" {settings.env!r}: use a {mode} key ({' or '.join(p + '…' for p in expected)})"
        )


def webhook_secrets(settings: Settings) -> Iterator[str]:
    for secret in settings.stripe_webhook_secret:
        if not secret.startswith("whsec_"):
            yield "STRIPE_WEBHOOK_SECRET holds a value that is not a signing secret (whsec_…)"


def problems() -> Iterator[str]:
    try:
        settings = _AsDeployed()
    except ValidationError as error:
        for item in error.errors():
            name = str(item["loc"][0]).upper() if item["loc"] else "settings"
            yield f"{name}: {item['msg']}"
        return
    except ConfigurationError as error:  # the settings' own cross-field checks
        yield str(error)
        return
    yield from required_settings(settings)
    if settings.database_url:
        yield from database(settings.database_url)
    if settings.redis_url:
        yield from broker(settings.redis_url)
    if settings.stripe_api_key:
        yield from stripe_key_mode(settings)
    yield from webhook_secrets(settings)


@click.command("check-deploy")
def check_deploy() -> None:
    """Check this environment's settings and services before (or after) a deploy.

    Every required setting, PostgreSQL and Redis answering, the schema at the
    migrations' head, a Stripe key of the mode CARTFLEET_ENV calls for, a webhook
    signing secret. One line per problem; exit status 1 if there is any.
    """
    found = list(problems())
    for problem in found:
        click.echo(f"problem: {problem}")
    if found:
        click.echo(f"{len(found)} problem(s): not ready to deploy.")
        raise SystemExit(1)
    click.echo("ok: settings, PostgreSQL (migrated), Redis, Stripe key and webhook secret.")
