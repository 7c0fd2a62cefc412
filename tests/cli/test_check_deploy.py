"""``cartfleet check-deploy`` against the test run's real PostgreSQL and Redis: one line
per problem, exit status 1 if any, 0 for a ready environment."""

from __future__ import annotations

import pytest
from alembic import command
from click.testing import CliRunner

from cli import main as cli
from devtools.embedded import free_port
from migrations import alembic_config

READY = {
    "CARTFLEET_ENV": "staging",
    "STRIPE_API_KEY": "sk_test_51Staging",
    "STRIPE_WEBHOOK_SECRET": "whsec_staging",
    "ADMIN_TOKEN": "staging-admin-token",
    "RECOVERY_SECRET": "staging-recovery-secret",
    "SECRET_KEY": "staging-secret-key",
}


@pytest.fixture
def deployed(monkeypatch):
    """The test run's environment (its migrated database, its Redis) set up as a staging
    deployment; returns a function that runs the command with changes to it."""

    def check(**changes: str | None):
        for name, value in {**READY, **changes}.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        return CliRunner().invoke(cli, ["check-deploy"])

    return check


def problems(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("problem: ")]


def test_a_ready_staging_environment_passes(deployed):
    result = deployed()

    assert result.exit_code == 0, result.output
    assert problems(result) == []
    assert result.output.startswith("ok: ")


def test_each_missing_required_setting_is_a_line(deployed):
    result = deployed(ADMIN_TOKEN=None, SECRET_KEY="", RECOVERY_SECRET=None)

    assert result.exit_code == 1
    assert problems(result) == [
        "problem: ADMIN_TOKEN is not set",
        "problem: RECOVERY_SECRET is not set",
        "problem: SECRET_KEY is not set",
    ]
    assert "3 problem(s): not ready to deploy." in result.output


def test_a_missing_webhook_secret_and_a_malformed_one(deployed):
    missing = deployed(STRIPE_WEBHOOK_SECRET=None)
    malformed = deployed(STRIPE_WEBHOOK_SECRET="whsec_new, we_1Pxyz")

    assert problems(missing) == ["problem: STRIPE_WEBHOOK_SECRET is not set"]
    assert problems(malformed) == [
        "problem: STRIPE_WEBHOOK_SECRET holds a value that is not a signing secret (whsec_…)"
    ]
    assert missing.exit_code == malformed.exit_code == 1


def test_a_local_environment_name_is_refused(deployed):
    result = deployed(CARTFLEET_ENV="development")

    assert result.exit_code == 1
    [problem] = problems(result)
    assert problem.startswith("problem: CARTFLEET_ENV is 'development'")


@pytest.mark.parametrize(
    ("env", "key", "expected"),
    [
        ("staging", "sk_live_51Real", "a live key but CARTFLEET_ENV is 'staging'"),
        ("staging", "rk_live_51Real", "a live key but CARTFLEET_ENV is 'staging'"),
        ("production", "sk_test_51Test", "a test key but CARTFLEET_ENV is 'production'"),
        ("production", "pk_live_51Pub", "not a Stripe secret or restricted key"),
    ],
)
def test_the_stripe_key_mode_must_match_the_environment(deployed, env, key, expected):
    result = deployed(CARTFLEET_ENV=env, STRIPE_API_KEY=key)

    assert result.exit_code == 1
    [problem] = problems(result)
    assert expected in problem


@pytest.mark.parametrize(("env", "key"), [("production", "rk_live_51R"), ("staging", "rk_test_5")])
def test_restricted_keys_of_the_right_mode_pass(deployed, env, key):
    result = deployed(CARTFLEET_ENV=env, STRIPE_API_KEY=key)

    assert result.exit_code == 0, result.output


def test_postgresql_that_does_not_answer(deployed):
    url = f"postgresql://cartfleet:hunter2@127.0.0.1:{free_port()}/cartfleet"

    result = deployed(DATABASE_URL=url)

    assert result.exit_code == 1
    [problem] = problems(result)
    assert problem.startswith("problem: PostgreSQL does not answer at ")
    assert "hunter2" not in result.output


def test_a_database_behind_the_migrations(deployed, fresh_database_url):
    empty = deployed(DATABASE_URL=fresh_database_url)
    command.upgrade(alembic_config(fresh_database_url), "head")
    migrated = deployed(DATABASE_URL=fresh_database_url)

    [problem] = problems(empty)
    assert problem.startswith("problem: PostgreSQL is not migrated: at revision none")
    assert migrated.exit_code == 0, migrated.output


def test_redis_that_does_not_answer(deployed):
    result = deployed(REDIS_URL=f"redis://:hunter2@127.0.0.1:{free_port()}/0")

    assert result.exit_code == 1
    [problem] = problems(result)
    assert problem.startswith("problem: Redis does not answer at redis://")
    assert "hunter2" not in result.output


def test_a_malformed_setting_is_named(deployed):
    result = deployed(RESERVATION_MINUTES="soon")

    assert result.exit_code == 1
    [problem] = problems(result)
    assert problem.startswith("problem: RESERVATION_MINUTES: ")
