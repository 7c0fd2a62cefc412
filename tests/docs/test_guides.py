"""The guides' commands work: every ``sh runnable`` block of docs/guides/ runs, in order,
in one shell per guide, against the real web process (gunicorn) on the test run's
PostgreSQL and Redis, from a directory laid out like a clone under ``make run``
(``var/admin_token``, ``.venv/bin/cartfleet``, ``ops/``) with the demo catalogue seeded.
The only rewrite is the address: ``localhost:5000`` becomes the test server's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main as cli
from tests.support.services import ROOT
from tests.support.web_server import running_web

# Each guide's commands run against a gunicorn web process: minutes, so make test-slow.
pytestmark = pytest.mark.slow

GUIDES = ROOT / "docs" / "guides"
RUNNABLE = re.compile(r"^```sh runnable\n(.*?)^```", re.DOTALL | re.MULTILINE)
MAKE_RUN_ADDRESS = "localhost:5000"


def runnable_blocks(guide: Path) -> list[str]:
    return RUNNABLE.findall(guide.read_text())


@pytest.fixture(scope="module")
def web():
    with running_web() as server:
        yield server


@pytest.fixture
def clone(tmp_path) -> Path:
    """A working directory like a clone's under ``make run``."""
    seeded = CliRunner().invoke(cli, ["seed-demo"])
    assert seeded.exit_code == 0, seeded.output
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "admin_token").write_text(os.environ["ADMIN_TOKEN"])
    (tmp_path / "ops").symlink_to(ROOT / "ops")
    command = tmp_path / ".venv" / "bin" / "cartfleet"
    command.parent.mkdir(parents=True)
    command.write_text(f'#!/bin/sh\nexec {sys.executable} -c "from cli import main; main()" "$@"\n')
    command.chmod(0o755)
    return tmp_path


@pytest.mark.parametrize("guide", sorted(GUIDES.glob("*.md")), ids=lambda path: path.name)
def test_every_runnable_command_of_the_guide_succeeds(guide, web, clone):
    blocks = runnable_blocks(guide)
    if guide.name == "README.md":
        assert blocks == []
        return
    assert blocks, f"{guide.name} has no runnable block"
    address = f"127.0.0.1:{web.port}"
    script = "set -euo pipefail\n" + "".join(
        f"echo '--- block {number}' >&2\n{block.replace(MAKE_RUN_ADDRESS, address)}"
        for number, block in enumerate(blocks, 1)
    )

    result = subprocess.run(
        ["bash", "-c", script],
        cwd=clone,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr


def test_the_locking_guide_shows_a_conflict_and_its_retry(web, clone):
    blocks = runnable_blocks(GUIDES / "optimistic-locking.md")
    script = "".join(blocks).replace(MAKE_RUN_ADDRESS, f"127.0.0.1:{web.port}")

    result = subprocess.run(
        ["bash", "-euc", script], cwd=clone, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert 'etag: "1"' in result.stdout.lower()
    assert '"error":"version_conflict"' in result.stdout.replace(" ", "")
    assert "HTTP 409" in result.stdout
    assert "HTTP 200 after 1 attempt(s)" in result.stdout


def test_every_dashboard_panel_has_its_section():
    panels = json.loads((ROOT / "ops" / "grafana-dashboard.json").read_text())["panels"]
    headings = set(re.findall(r"^### (.+)$", (GUIDES / "grafana-dashboard.md").read_text(), re.M))

    assert {panel["title"] for panel in panels} == headings


def test_the_index_lists_every_guide():
    index = (GUIDES / "README.md").read_text()

    assert {path.name for path in GUIDES.glob("*.md")} - {"README.md"} == set(
        re.findall(r"\]\(([\w-]+\.md)\)", index)
    )
