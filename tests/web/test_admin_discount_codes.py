"""Admin discount codes: create (named or generated), list with use, disable."""

from __future__ import annotations

from models.db import Session
from tests.support import factories
from tests.web.admin_helpers import BOOTSTRAP, logged_in


def test_create_list_and_disable(client):
    named = client.post(
        "/admin/api/discount-codes",
        json={"code": "summer25", "percent": 25, "expires_at": "2100-01-01T00:00:00"},
        headers=BOOTSTRAP,
    )
    generated = client.post("/admin/api/discount-codes", json={"percent": 10}, headers=BOOTSTRAP)

    assert named.status_code == generated.status_code == 201
    assert named.json["code"] == "SUMMER25" and named.json["status"] == "active"
    assert len(generated.json["code"]) == 10
    disabled = client.post("/admin/api/discount-codes/summer25/disable", headers=BOOTSTRAP)
    assert disabled.json["status"] == "expired"
    listed = client.get("/admin/api/discount-codes", headers=BOOTSTRAP).json["items"]
    assert {(c["code"], c["status"]) for c in listed} == {
        ("SUMMER25", "expired"),
        (generated.json["code"], "active"),
    }
    audit = client.get("/admin/api/audit?target=discount_code:summer25", headers=BOOTSTRAP)
    assert [e["action"] for e in audit.json["items"]] == ["disable_discount_code"]


def test_a_used_code_shows_its_use_and_duplicates_are_refused(client):
    with Session.begin() as session:
        factories.discount_code(session, "USED1", used_at=factories.utcnow())

    again = client.post(
        "/admin/api/discount-codes", json={"code": "used1", "percent": 5}, headers=BOOTSTRAP
    )
    [row] = client.get("/admin/api/discount-codes", headers=BOOTSTRAP).json["items"]

    assert again.status_code == 409 and again.json["error"] == "code_taken"
    assert (row["status"], row["uses"]) == ("used", 1)


def test_bad_codes_are_refused(client):
    for body in ({"percent": 0}, {"percent": 101}, {"code": "a b", "percent": 5}, {}):
        response = client.post("/admin/api/discount-codes", json=body, headers=BOOTSTRAP)
        assert response.status_code == 422, body
    missing = client.post("/admin/api/discount-codes/NOPE/disable", headers=BOOTSTRAP)
    assert missing.status_code == 404


def test_discount_codes_page_creates_and_disables(client):
    token = logged_in(client, "operator")

    created = client.post(
        "/admin/discount-codes",
        data={"code": "WINTER", "percent": "15", "csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    disabled = client.post(
        "/admin/discount-codes/WINTER/disable", data={"csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)

    assert "Created WINTER." in created
    assert "Disabled WINTER." in disabled and "expired" in disabled
