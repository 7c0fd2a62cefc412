"""``GET /api/openapi.json`` and the drift between the document and the app.

A JSON route without an entry in ``web.openapi.operations.OPERATIONS`` (or an entry whose
route is gone), a request schema that requires other fields than the view enforces, or an
answer that does not match its documented shape fails here, fast. ``make test-api`` runs
Schemathesis on top (tests/web/test_openapi_contract.py).
"""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from werkzeug.routing import Rule

from models.db import Session
from tests.support import factories
from web.openapi.document import api_rules, openapi_path
from web.openapi.operations import OPERATIONS

ADMIN = {"Authorization": "Bearer test-admin-token"}
UNDOCUMENTED = "zz_not_in_the_schema"
ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1 Main St",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture
def contract(app, client):
    """The document as Schemathesis reads it: ``contract[path][method]`` validates answers."""
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


def test_the_document_is_openapi_3_1_with_both_apis(document):
    assert document["openapi"] == "3.1.0"
    tags = {op["tags"][0] for path in document["paths"].values() for op in path.values()}
    assert tags == {"storefront", "admin"}
    admin = document["paths"]["/admin/api/orders"]["get"]
    assert admin["security"] == [{"bearer": []}]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_every_json_route_is_documented_and_every_entry_has_a_route(app):
    routes = {rule.endpoint for rule, _ in api_rules(app)}

    undocumented = sorted(routes - set(OPERATIONS))
    assert not undocumented, f"add these endpoints to web/openapi/operations.py: {undocumented}"
    assert not sorted(set(OPERATIONS) - routes), "entries without a route"


def test_every_route_and_method_is_in_the_document(app, document):
    documented = {
        (path, method.upper()) for path, ops in document["paths"].items() for method in ops
    }

    assert documented == {(openapi_path(rule)[0], method) for rule, method in api_rules(app)}


def _example_path(rule: Rule) -> str:
    """The rule with made-up values: 1 for numbers, a UUID otherwise (ids parse first)."""
    _, parameters = openapi_path(rule)
    values = {
        parameter["name"]: 1 if parameter["schema"]["type"] == "integer" else str(uuid.uuid4())
        for parameter in parameters
    }
    return rule.build(values, append_unknown=False)[1]


def _body_rules(app) -> list[tuple[Rule, str]]:
    return [(rule, method) for rule, method in api_rules(app) if OPERATIONS[rule.endpoint].body]


def test_each_documented_body_requires_what_its_view_requires(app, client, document):
    """An empty body with one unknown field: the 422 names exactly the documented required
    fields and the unknown one, so the document and the view read the same schema."""
    for rule, method in _body_rules(app):
        path = _example_path(rule)
        component = OPERATIONS[rule.endpoint].body.__name__
        required = set(document["components"]["schemas"][component].get("required", ()))

        response = client.open(path, method=method, json={UNDOCUMENTED: 1}, headers=ADMIN)

        assert response.status_code == 422, (method, path, response.get_json())
        fields = {error["field"] for error in response.get_json()["errors"]}
        assert fields == required | {UNDOCUMENTED}, (method, rule.rule)


def test_real_answers_match_their_documented_shapes(client, contract, stripe_sandbox):
    with Session.begin() as session:
        factories.product(session, "MUG", stock={"main": 5})

    def checked(method: str, path: str, template: str | None = None, **options):
        response = client.open(path, method=method, **options)
        contract[template or path][method].validate_response(response)
        return response

    listing = checked("GET", "/api/products")
    created = checked("POST", "/api/carts", json={"email": "ada@example.com"})
    cart_id = created.get_json()["id"]
    cart = f"/api/carts/{cart_id}"
    checked(
        "POST", f"{cart}/items", "/api/carts/{cart_id}/items", json={"sku": "MUG", "quantity": 2}
    )
    stale = checked(
        "DELETE",
        f"{cart}/items/MUG",
        "/api/carts/{cart_id}/items/{sku}",
        headers={"If-Match": '"1"'},
    )
    checkout = checked(
        "POST",
        f"{cart}/checkout",
        "/api/carts/{cart_id}/checkout",
        json={"email": "ada@example.com", "shipping_address": ADDRESS},
    )
    order_id = checkout.get_json()["order_id"]
    checked("GET", f"/api/orders/{order_id}", "/api/orders/{order_id}")
    checked("GET", "/admin/api/orders", headers=ADMIN)
    checked("GET", f"/admin/api/orders/{order_id}", "/admin/api/orders/{order_id}", headers=ADMIN)
    checked("GET", "/admin/api/analytics/funnel", headers=ADMIN)
    checked("GET", "/admin/api/analytics/recovery", headers=ADMIN)
    checked("GET", "/admin/api/queues", headers=ADMIN)
    checked("GET", "/admin/api/schedules", headers=ADMIN)
    checked("GET", "/admin/api/webhooks/health", headers=ADMIN)
    checked("GET", "/admin/api/orders.csv", headers=ADMIN)
    unauthorized = checked("GET", "/admin/api/orders")

    assert listing.get_json()["items"][0]["sku"] == "MUG"
    assert stale.status_code == 409 and checkout.status_code == 201
    assert unauthorized.status_code == 401
