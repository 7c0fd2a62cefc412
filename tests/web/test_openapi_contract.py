"""Schemathesis against ``/api/openapi.json`` (slow: ``make test-api``, marker
``api_contract``): generated requests to every documented operation of the storefront and
of the admin (with the owner's bearer token). No answer may be a 5xx, and every answer
must be documented: its status, its content type, its schema.

Requests go to the app in process (WSGI), on the test run's real PostgreSQL and Redis.
Each operation gets valid requests, invalid ones, and valid ones aimed at rows that
exist (a cart holding a product in stock, a paid order, a staff user, a discount code), so
that generated bodies reach the domain code rather than stopping at a 404.
"""

from __future__ import annotations

import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from models import staff
from models.carts import edits
from models.carts.reads import StockPolicy
from models.carts.tables import DiscountCode
from models.db import Session
from tests.support import factories
from web.openapi.operations import OPERATIONS

pytestmark = pytest.mark.api_contract

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Per operation and kind of request (valid, invalid, aimed at existing rows).
EXAMPLES = int(os.environ.get("API_CONTRACT_EXAMPLES", "25"))


def existing_rows() -> dict[str, object]:
    """Path parameters naming real rows: a cart with MUG in it, a paid order, a user."""
    with Session.begin() as session:
        factories.product(session, "MUG", stock={"main": 50})
    # Stock is read on a connection of its own: the product must be committed first.
    with Session.begin() as session:
        cart = edits.create_cart(session, email="ada@example.com", currency="usd")
        edits.add_item(
            session,
            cart_id=cart.id,
            sku="MUG",
            quantity=1,
            policy=StockPolicy(timeout_ms=5000, fallback=False),
            expected_version=None,
        )
        order = factories.order(session, lines={"MUG": 1}, status="paid")
        user = staff.create_user(
            session, email="op@example.com", password="a long password", role=staff.Role.OPERATOR
        )
        session.add(DiscountCode(code="SAVE10", percent=10))
        session.flush()
        return {
            "cart_id": cart.id,
            "sku": "MUG",
            "order_id": str(order.id),
            "user_id": user.id,
            "code": "SAVE10",
            "queue": "webhooks",
            "name": "relay_outbox",
        }


def auth_headers(path: str) -> dict[str, str]:
    if path.startswith("/admin/"):
        return {"Authorization": f"Bearer {os.environ['ADMIN_TOKEN']}"}
    return {}


def exercise(operation, mode: GenerationMode, path_parameters: dict | None = None) -> None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate(headers=auth_headers(case.path), checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        # Nothing of the operation can be made invalid (a free-text path parameter).
        if mode is not GenerationMode.NEGATIVE:
            raise


@pytest.mark.parametrize("endpoint", sorted(OPERATIONS))
def test_every_answer_is_documented_and_none_is_a_server_error(
    app, broker, stripe_sandbox, endpoint
):
    rows = existing_rows()
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = schema.include(operation_id_regex=rf"^{re.escape(endpoint)}(\.|$)")
    found = [result.ok() for result in operations.get_all_operations()]
    assert found, f"{endpoint} is not in the document"
    for operation in found:
        exercise(operation, GenerationMode.POSITIVE)
        exercise(operation, GenerationMode.NEGATIVE)
        names = {parameter.name for parameter in operation.path_parameters}
        if names:
            known = {name: value for name, value in rows.items() if name in names}
            exercise(operation, GenerationMode.POSITIVE, known)
