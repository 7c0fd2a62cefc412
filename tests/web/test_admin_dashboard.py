"""The admin home: today's and the week's orders, webhooks, queues, dead letters, schedules."""

from __future__ import annotations

import pytest

from models.base import utcnow
from models.db import Session
from tests.support import factories
from tests.web.admin_helpers import dead_letter, failed_confirmation, log_in, logged_in, make_user


def test_a_viewer_sees_the_figures_each_linking_to_its_page(client, broker):
    with Session.begin() as session:
        factories.product(session, "TEE-1")
        factories.order(session, lines={"TEE-1": 3}, status="paid").paid_at = utcnow()
        factories.order(session, lines={"TEE-1": 1})
    failed_confirmation()
    dead_letter(broker, queue="emails", actor="send_email", args=(1,), traceback="KeyError: 'x'")
    logged_in(client, "viewer")

    response = client.get("/admin/")
    page = response.get_data(as_text=True)

    assert response.status_code == 200 and "<h1>Dashboard</h1>" in page
    assert 'id="orders-today">3</a>' in page and "$30.00" in page and 'id="awaiting">1</a>' in page
    assert 'id="reservation-errors">1</a>' in page
    assert '<a href="/admin/dead-letters?queue=emails" class="status failed">1</a>' in page
    assert page.count('<svg class="chart"') == 3 and "Orders per hour, 24 h" in page
    assert 'href="/admin/schedules#job-' in page  # nothing ran: every schedule missed
    assert "Traceback" not in page and "KeyError" not in page


def test_logging_in_leads_to_the_dashboard(client):
    make_user("ops@example.com", "viewer")

    assert log_in(client).headers["Location"] == "/admin/"


PAGES = [
    "/admin/",
    "/admin/webhooks",
    "/admin/queues",
    "/admin/queues/emails",
    "/admin/dead-letters",
    "/admin/schedules",
    "/admin/reconciliation",
    "/admin/analytics",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_for_staff_only_and_shows_no_secret(client, broker, path):
    dead_letter(broker, queue="emails", actor="send_email", args=(1,), traceback="KeyError: 'x'")

    anonymous = client.get(path, headers={"Accept": "text/html"})
    logged_in(client, "viewer")
    page = client.get(path).get_data(as_text=True)

    assert anonymous.status_code == 401 and "send_email" not in anonymous.get_data(as_text=True)
    assert "Log in" in anonymous.get_data(as_text=True)
    assert client.get(path).status_code == 200
    for secret in ("sk_test_cartfleet", "whsec_test", "test-admin-token"):
        assert secret not in page
