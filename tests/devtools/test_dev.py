"""The newcomer's commands: ``seed-demo`` once, ``pay`` refusals, ``var/dev.env`` for a
second terminal, and the processes ``make run`` hands to honcho."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from cli import main as cli
from cli.database import DEMO_CATALOGUE, DEMO_DISCOUNT_CODES
from devtools import fleet
from models.base import utcnow
from models.carts.tables import DiscountCode
from models.db import Session
from models.stock.tables import StockLevel
from services.settings import ConfigurationError, get_settings
from tests.support import factories
from tests.support.services import ROOT

BANNER_ENV = {"ADMIN_TOKEN": "t", "MAIL_DIR": "/clone/var/mail", "STRIPE_WEBHOOK_SECRET": "whsec_x"}


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def on_hand(sku: str, warehouse: str = "main") -> int:
    with Session() as session:
        return session.scalar(
            select(StockLevel.on_hand).where(
                StockLevel.sku == sku, StockLevel.warehouse == warehouse
            )
        )


def test_seed_demo_creates_the_catalogue_once_and_never_restores_sold_stock():
    first = run("seed-demo")
    sku = DEMO_CATALOGUE[0][0]
    with Session.begin() as session:  # a run of the store sold some of it
        session.execute(update(StockLevel).where(StockLevel.sku == sku).values(on_hand=3))
        session.get(DiscountCode, "WELCOME10").used_at = utcnow()

    again = run("seed-demo")

    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    assert f"Seeded {len(DEMO_CATALOGUE)} demo products and 3 discount codes" in first.output
    assert "Seeded 0 demo products and 0 discount codes" in again.output
    assert on_hand(sku) == 3
    with Session() as session:
        codes = {code.code: code for code in session.scalars(select(DiscountCode))}
    assert {code: codes[code].percent for code in codes} == DEMO_DISCOUNT_CODES
    assert codes["WELCOME10"].used_at is not None


def test_pay_refuses_an_order_that_is_not_awaiting_payment(stripe_sandbox):
    with Session.begin() as session:
        factories.product(session, "SKU-1")
        order = factories.order(session, status="paid", payment_intent_id="pi_paid")

    result = run("pay", order.order_number)

    assert result.exit_code == 1
    assert f"order {order.order_number} is paid: not payable" in result.output
    assert stripe_sandbox.control.requests() == []


def test_pay_refuses_an_unknown_order_and_a_live_key(stripe_sandbox):
    assert "no order CF-999999" in run("pay", "CF-999999").output

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STRIPE_API_KEY", "sk_live_real_money")
        get_settings.cache_clear()
        result = run("pay", "CF-999999")
    get_settings.cache_clear()

    assert result.exit_code == 1 and "test payments only" in result.output
    assert stripe_sandbox.control.requests() == []


@pytest.fixture
def second_terminal(tmp_path, monkeypatch):
    """A shell in the clone while ``make run`` runs: nothing exported, var/dev.env written."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "dev.env").write_text(
        "REDIS_URL=redis://127.0.0.1:45555/0\nSTRIPE_API_BASE=http://127.0.0.1:12111\n"
    )
    monkeypatch.delenv("REDIS_URL")
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def test_a_second_terminal_finds_make_runs_services_in_development(second_terminal):
    second_terminal.setenv("CARTFLEET_ENV", "development")
    second_terminal.setenv("STRIPE_API_BASE", "http://stripe.example")

    settings = get_settings()

    assert settings.redis_url == "redis://127.0.0.1:45555/0"
    assert settings.stripe_api_base == "http://stripe.example"  # the environment wins


def test_var_dev_env_is_never_read_outside_development(second_terminal):
    second_terminal.setenv("CARTFLEET_ENV", "test")
    assert get_settings().redis_url == ""

    second_terminal.setenv("CARTFLEET_ENV", "production")
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="REDIS_URL"):
        get_settings()


def test_make_run_runs_the_procfile_commands_and_the_sandbox_posting_to_its_port():
    processes = fleet.procfile_processes()
    processes["stripe"] = fleet.sandbox_command(
        "http://127.0.0.1:12111", 5601, {"STRIPE_WEBHOOK_SECRET": "whsec_a,whsec_old"}
    )

    procfile = dict(line.split(": ", 1) for line in fleet.PROCFILE.read_text().splitlines() if line)
    assert "realtime" in fleet.PROCESSES
    assert {name: processes[name] for name in fleet.PROCESSES} == {
        name: f"exec {procfile[name]}" for name in fleet.PROCESSES
    }
    assert processes["stripe"] == (
        "exec cartfleet stripe-sandbox --port 12111 --state-dir var/stripe-sandbox"
        " --webhook http://127.0.0.1:5601/webhooks/stripe --webhook-secret whsec_a"
    )


def test_every_admin_url_the_banner_prints_answers(client):
    headers = {"Authorization": "Bearer test-admin-token"}

    statuses = {
        path: client.get(path, headers=headers).status_code for path in fleet.ADMIN_ENTRY_POINTS
    }

    banner = fleet.banner(BANNER_ENV, 5000, None, login=("owner@example.com", "pw"))
    assert set(statuses.values()) == {200}, statuses
    assert all(path in banner for path in fleet.ADMIN_ENTRY_POINTS)
    assert "http://localhost:5000/admin/  log in as owner@example.com / pw" in banner
    assert client.get("/admin/login").status_code == 200


@pytest.mark.slow  # a process of its own: make test-slow
def test_ctrl_c_lets_the_job_under_way_finish(broker):
    from tests.support.actors import take_time

    key = "ctrl-c-" + uuid.uuid4().hex
    worker = "exec dramatiq worker.app tests.support.actors --processes 1 --threads 1"
    script = (
        "import os, sys; from devtools import fleet; sys.exit(fleet.run("
        f"{{'worker': {worker!r}}}, dict(os.environ), sandbox_url=None, port=0))"
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    fleet = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    take_time.send(key, 2)
    deadline = time.monotonic() + 60
    while broker.client.lrange(key, 0, -1) != [b"started"]:
        assert time.monotonic() < deadline and fleet.poll() is None, "the job never started"
        time.sleep(0.05)

    fleet.send_signal(signal.SIGINT)  # what Ctrl-C sends to `make run`
    output, _ = fleet.communicate(timeout=60)

    assert broker.client.lrange(key, 0, -1) == [b"started", b"finished"]
    assert "worker stopped (rc=0)" in output and "SIGKILL" not in output
