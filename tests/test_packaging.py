"""The production install: the wheel alone, from the lock, without the development tools."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import psycopg
import pytest
from alembic.script import ScriptDirectory

from migrations import alembic_config
from tests.support.services import ROOT, _libpq

pytestmark = pytest.mark.slow

UV = str(Path(sys.executable).parent / "uv")


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--wheel", "--out-dir", out, ROOT, cwd=ROOT)
    return next(out.glob("cartfleet-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv holding the wheel and the lock's runtime dependencies, nothing else."""
    home = tmp_path_factory.mktemp("production")
    requirements = home / "requirements.txt"
    run(UV, "export", "--frozen", "--no-emit-workspace", "--output-file", requirements, cwd=ROOT)
    run(UV, "venv", home / "venv", "--python", sys.executable, cwd=home)
    python = home / "venv" / "bin" / "python"
    run(UV, "pip", "install", "--python", python, "--require-hashes", "-r", requirements, cwd=home)
    run(UV, "pip", "install", "--python", python, "--no-deps", wheel, cwd=home)
    return home / "venv" / "bin"


def test_the_wheel_holds_the_migrations_and_no_development_tools(wheel):
    names = zipfile.ZipFile(wheel).namelist()

    assert not [name for name in names if name.startswith("devtools/")]
    assert "migrations/env.py" in names and "migrations/script.py.mako" in names
    assert [name for name in names if name.startswith("migrations/versions/")]


def test_an_installed_cartfleet_migrates_a_new_database_from_any_directory(
    installed, fresh_database_url, tmp_path
):
    env = dict(os.environ, CARTFLEET_ENV="staging", DATABASE_URL=fresh_database_url)

    assert "migrate" in run(installed / "cartfleet", "--help", cwd=tmp_path, env=env)
    run(installed / "cartfleet", "migrate", cwd=tmp_path, env=env)

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with psycopg.connect(_libpq(fresh_database_url)) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == (head,)


def test_the_development_commands_say_in_one_line_what_to_install(installed, tmp_path):
    done = subprocess.run(
        [installed / "cartfleet", "dev", "--port", "5601"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: `cartfleet dev` is a development tool: install the `dev` extra "
        "(`make run` does) to use it"
    ]
