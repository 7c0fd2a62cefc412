"""The alert rules load in promtool and fire when they should; rules and dashboard only
name metrics the code defines and SQL the migrations create."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from sqlalchemy import text

from models.db import Session
from tests.support.services import ROOT

RULES = ROOT / "ops" / "prometheus-alerts.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool absent (apt-get install -y prometheus ships it)"
)

# Dramatiq's Prometheus middleware defines these at worker boot.
DRAMATIQ_METRICS = {
    "dramatiq_messages_total",
    "dramatiq_message_errors_total",
    "dramatiq_message_retries_total",
    "dramatiq_message_rejects_total",
    "dramatiq_messages_inprogress",
    "dramatiq_delayed_messages_inprogress",
    "dramatiq_message_duration_milliseconds",
}
SUFFIXES = ("_bucket", "_sum", "_count")


def defined_metrics() -> set[str]:
    names = set(DRAMATIQ_METRICS)
    for folder in ("web", "jobs", "models", "worker"):
        for path in (ROOT / folder).rglob("*.py"):
            names.update(
                re.findall(
                    r"(?:Counter|Gauge|Histogram|Summary)\(\s*\"([a-z_]+)\"", path.read_text()
                )
            )
    return names


def used_metrics(text: str) -> set[str]:
    candidates = set(
        re.findall(r"\b((?:stripe|checkout|cart|cartfleet|dramatiq)_[a-z0-9_]+)", text)
    )
    names = set()
    for name in candidates:
        for suffix in SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
        names.add(name)
    return names


def test_alert_rules_name_defined_metrics():
    used = used_metrics((ROOT / "ops" / "prometheus-alerts.yml").read_text())
    assert used <= defined_metrics(), used - defined_metrics()
    assert "stripe_webhooks_received_total" in used


def dashboard() -> dict:
    return json.loads((ROOT / "ops" / "grafana-dashboard.json").read_text())


def test_dashboard_is_json_and_names_defined_metrics():
    panels = dashboard()["panels"]
    exprs = " ".join(t["expr"] for p in panels for t in p["targets"] if "expr" in t)
    used = used_metrics(exprs)
    assert used <= defined_metrics(), used - defined_metrics()
    assert len(panels) >= 8


def test_the_reconciliation_panels_query_the_view(schema):
    panels = {p["title"]: p for p in dashboard()["panels"]}
    assert {
        "Reservation confirmation failure rate (24 h)",
        "Orders with confirmation errors",
        "Top failing products",
        "Confirmation failure reasons",
    } <= set(panels)
    reconciliation = [
        t["rawSql"]
        for title, p in panels.items()
        if "onfirmation" in title or "failing products" in title
        for t in p["targets"]
        if "rawSql" in t
    ]
    assert reconciliation
    assert all("orders_with_reservation_errors" in query for query in reconciliation)


def test_every_sql_panel_runs_against_the_migrated_schema(schema):
    queries = [t["rawSql"] for p in dashboard()["panels"] for t in p["targets"] if "rawSql" in t]
    assert len(queries) >= 5
    with Session() as session:
        for query in queries:
            # Grafana's time-range macro, as it expands for "the last day".
            runnable = re.sub(r"\$__timeFilter\(([^)]+)\)", r"\1 > now() - interval '1 day'", query)
            session.execute(text(runnable)).all()


def test_the_funnel_and_recovery_panels_are_there():
    titles = {p["title"] for p in dashboard()["panels"]}
    assert {
        "Cart funnel (carts reaching each step in the range)",
        "Most abandoned products (in carts that never completed)",
        "Recovery reminders sent and links clicked, by step",
        "Revenue recovered and discount given (last 30 days)",
    } <= titles


def test_the_web_and_email_lag_panels_are_there():
    panels = dashboard()["panels"]
    exprs = {p["title"]: " ".join(t.get("expr", "") for t in p["targets"]) for p in panels}
    assert "cartfleet_http_request_duration_seconds_bucket" in exprs["Web latency p99 by route"]
    assert 'status=~"5.."' in exprs["Web 5xx share by route, and requests in flight"]
    assert (
        "cartfleet_order_confirmation_lag_seconds_bucket"
        in (exprs["Payment to confirmation email p50 / p99"])
    )


def test_every_alert_the_issue_asks_for_is_there():
    alerts = set(re.findall(r"- alert: (\w+)", RULES.read_text()))
    assert {
        "ReservationConfirmationsFailing",
        "StripeWebhookFailureRateHigh",
        "DeadLetterQueueGrowing",
        "ScheduleNotRunOnTime",
        "QueueLagHigh",
        "WebRouteSlow",
        "WebServerErrors",
        "ConfirmationEmailsLagging",
    } <= alerts
    assert 'rate(checkout_reservation_confirmations_total{status="failed"}[5m]) > 0.05' in (
        RULES.read_text()
    )


@needs_promtool
def test_promtool_loads_the_rules():
    done = subprocess.run(
        [PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def without_annotations(rules: str) -> str:
    """The rules minus their annotations, which promtool would otherwise compare too."""
    kept, depth = [], None
    for line in rules.splitlines():
        indent = len(line) - len(line.lstrip())
        if depth is not None and (indent > depth or not line.strip()):
            continue
        depth = indent if line.strip() == "annotations:" else None
        if depth is None:
            kept.append(line)
    return "\n".join(kept) + "\n"


def alert(name: str, at: str, *labels: dict[str, str]) -> dict:
    return {"eval_time": at, "alertname": name, "exp_alerts": [{"exp_labels": x} for x in labels]}


@needs_promtool
def test_alerts_fire_when_they_should(tmp_path):
    """promtool's rule unit tests: series in, alerts out (JSON is YAML)."""
    rules = tmp_path / "rules.yml"
    rules.write_text(without_annotations(RULES.read_text()))
    wait_bucket = "cartfleet_queue_wait_seconds_bucket"
    latency_bucket = (
        'cartfleet_http_request_duration_seconds_bucket{route="/api/carts/<cart_id>/checkout"'
    )
    lag_bucket = "cartfleet_order_confirmation_lag_seconds_bucket"
    answers = 'cartfleet_http_requests_total{route="/api/carts", method="POST"'

    failed = 'checkout_reservation_confirmations_total{status="failed", instance="w1"}'
    suite = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {  # 6 failures a minute (0.1/s) for 20 minutes: pages after 10.
                "interval": "1m",
                "input_series": [{"series": failed, "values": "0+6x20"}],
                "alert_rule_test": [
                    alert("ReservationConfirmationsFailing", "8m"),
                    alert(
                        "ReservationConfirmationsFailing",
                        "17m",
                        {"status": "failed", "instance": "w1", "severity": "page"},
                    ),
                ],
            },
            {  # 1 failure a minute (0.017/s): under the threshold.
                "interval": "1m",
                "input_series": [{"series": failed, "values": "0+1x20"}],
                "alert_rule_test": [alert("ReservationConfirmationsFailing", "17m")],
            },
            {  # A one-minute job that last succeeded at t=0; another that keeps succeeding.
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'cartfleet_periodic_job_period_seconds{job="relay_outbox"}',
                        "values": "60x20",
                    },
                    {
                        "series": "cartfleet_periodic_job_last_success_timestamp_seconds"
                        '{job="relay_outbox"}',
                        "values": "0x20",
                    },
                    {
                        "series": 'cartfleet_periodic_job_period_seconds{job="prune_outbox"}',
                        "values": "86400x20",
                    },
                    {
                        "series": "cartfleet_periodic_job_last_success_timestamp_seconds"
                        '{job="prune_outbox"}',
                        "values": "0x20",
                    },
                ],
                "alert_rule_test": [
                    alert("ScheduleNotRunOnTime", "9m"),
                    alert(
                        "ScheduleNotRunOnTime", "13m", {"job": "relay_outbox", "severity": "page"}
                    ),
                ],
            },
            {  # Messages waiting 2 minutes for a worker, for 15 minutes.
                "interval": "1m",
                "input_series": [
                    {
                        "series": wait_bucket + '{queue_name="email", le="60"}',
                        "values": "0x15",
                    },
                    {
                        "series": wait_bucket + '{queue_name="email", le="120"}',
                        "values": "0+10x15",
                    },
                    {
                        "series": wait_bucket + '{queue_name="email", le="+Inf"}',
                        "values": "0+10x15",
                    },
                ],
                "alert_rule_test": [
                    alert("QueueLagHigh", "15m", {"queue_name": "email", "severity": "page"})
                ],
            },
            {  # Every checkout takes between 1 and 2.5 s, for 20 minutes.
                "interval": "1m",
                "input_series": [
                    {"series": latency_bucket + ', le="1"}', "values": "0x20"},
                    {"series": latency_bucket + ', le="2.5"}', "values": "0+60x20"},
                    {"series": latency_bucket + ', le="+Inf"}', "values": "0+60x20"},
                ],
                "alert_rule_test": [
                    alert("WebRouteSlow", "5m"),
                    alert(
                        "WebRouteSlow",
                        "15m",
                        {"route": "/api/carts/<cart_id>/checkout", "severity": "ticket"},
                    ),
                ],
            },
            {  # 1 answer in 11 a 500 (9%): pages; 1 in 1001 would not.
                "interval": "1m",
                "input_series": [
                    {"series": answers + ', status="500"}', "values": "0+60x20"},
                    {"series": answers + ', status="201"}', "values": "0+600x20"},
                ],
                "alert_rule_test": [
                    alert("WebServerErrors", "3m"),
                    alert("WebServerErrors", "12m", {"route": "/api/carts", "severity": "page"}),
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    {"series": answers + ', status="500"}', "values": "0+1x20"},
                    {"series": answers + ', status="201"}', "values": "0+1000x20"},
                ],
                "alert_rule_test": [alert("WebServerErrors", "12m")],
            },
            {  # Confirmations reach the server 1 to 5 minutes after payment.
                "interval": "1m",
                "input_series": [
                    {"series": lag_bucket + '{le="60"}', "values": "0x30"},
                    {"series": lag_bucket + '{le="300"}', "values": "0+5x30"},
                    {"series": lag_bucket + '{le="+Inf"}', "values": "0+5x30"},
                ],
                "alert_rule_test": [
                    alert("ConfirmationEmailsLagging", "8m"),
                    alert("ConfirmationEmailsLagging", "25m", {"severity": "ticket"}),
                ],
            },
            {  # 30 dead letters an hour on webhooks.
                "interval": "1m",
                "input_series": [
                    {
                        "series": "dramatiq_dead_lettered_messages_total"
                        '{queue_name="webhooks", actor_name="process_stripe_event"}',
                        "values": "0+0.5x90",
                    }
                ],
                "alert_rule_test": [
                    alert(
                        "DeadLetterQueueGrowing",
                        "80m",
                        {"queue_name": "webhooks", "severity": "page"},
                    )
                ],
            },
        ],
    }
    path = tmp_path / "alerts_test.yml"
    path.write_text(json.dumps(suite))
    done = subprocess.run(
        [PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_runbook_sql_runs(schema):
    runbook = (ROOT / "docs" / "runbooks" / "reconciliation.md").read_text()
    [block] = re.findall(r"```sql\n(.*?)```", runbook, flags=re.S)
    statements = [s for s in block.split(";") if s.strip()]
    assert len(statements) == 4
    with Session() as session:
        for statement in statements:
            session.execute(text(statement)).all()
