"""A refused form action is shown and audited with its own status, on every admin page."""

from __future__ import annotations

import pytest

from tests.web.admin_helpers import logged_in


def audited(client, action: str) -> list[tuple[str, int]]:
    items = client.get(f"/admin/api/audit?action={action}").json["items"]
    return [(item["outcome"], item["status_code"]) for item in items]


def test_a_bad_discount_code_form_and_an_unknown_code_are_audited_as_refused(client):
    token = logged_in(client, "owner")

    bad = client.post(
        "/admin/discount-codes",
        data={"code": "SALE", "percent": "250", "csrf_token": token},
        follow_redirects=True,
    )
    client.post("/admin/discount-codes/NOPE/disable", data={"csrf_token": token})

    assert "Check the form: percent." in bad.get_data(as_text=True)
    assert audited(client, "create_discount_code") == [("failed", 422)]
    assert audited(client, "disable_discount_code") == [("failed", 404)]


@pytest.mark.parametrize(
    "form", [{"role": "emperor"}, {"disabled": "maybe", "role": "superuser"}, {"role": "x" * 5000}]
)
def test_a_tampered_staff_form_is_a_refusal_not_a_server_error(client, form):
    token = logged_in(client, "owner")

    response = client.post("/admin/staff/1", data={**form, "csrf_token": token})
    unknown = client.post("/admin/staff/99999", data={"role": "viewer", "csrf_token": token})

    assert (response.status_code, unknown.status_code) == (303, 303)
    assert audited(client, "update_user") == [("failed", 404), ("failed", 422)]


def test_a_dead_letter_already_gone_is_audited_as_not_found(client, broker):
    token = logged_in(client, "operator")

    client.post("/admin/dead-letters/no-such-id/requeue", data={"csrf_token": token})
    client.post("/admin/dead-letters/no-such-id/delete", data={"csrf_token": token})

    assert audited(client, "requeue_dead_letter") == [("failed", 404)]
    assert audited(client, "delete_dead_letter") == [("failed", 404)]
