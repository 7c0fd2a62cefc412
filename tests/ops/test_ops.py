"""The alert rules and the dashboard only name metrics the code defines."""

from __future__ import annotations

import json
import re

from tests.support.services import ROOT

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
    candidates = set(re.findall(r"\b((?:stripe|checkout|cart|dramatiq)_[a-z0-9_]+)", text))
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


def test_dashboard_is_json_and_names_defined_metrics():
    dashboard = json.loads((ROOT / "ops" / "grafana-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    used = used_metrics(exprs)
    assert used <= defined_metrics(), used - defined_metrics()
    assert len(dashboard["panels"]) >= 8
