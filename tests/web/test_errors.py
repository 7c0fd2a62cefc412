"""The JSON error contract of API.md for requests no route can serve."""

from __future__ import annotations


def test_unknown_route_is_json_404(client):
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json["error"] == "not_found"
    assert response.json["message"]


def test_wrong_method_is_json_405_with_allow(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.json["error"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_body_over_one_mebibyte_is_413(app, client):
    @app.post("/_test/echo")
    def echo():
        from web.validation import json_body

        return {"body": json_body()}

    response = client.post(
        "/_test/echo", data=b"x" * (1024 * 1024 + 1), content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json["error"] == "payload_too_large"


def test_malformed_json_is_400_invalid_json(app, client):
    @app.post("/_test/echo")
    def echo():
        from web.validation import json_body

        return {"body": json_body()}

    response = client.post("/_test/echo", data=b'{"sku": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"] == "invalid_json"


def test_schema_violation_is_422_with_field_errors(app, client):
    from pydantic import Field

    from web.validation import Schema, parse_body

    class Item(Schema):
        sku: str
        quantity: int = Field(ge=1, le=99)

    @app.post("/_test/items")
    def items():
        body = parse_body(Item)
        return {"sku": body.sku}

    response = client.post("/_test/items", json={"sku": "A", "quantity": 500, "extra": 1})
    assert response.status_code == 422
    assert response.json["error"] == "validation_error"
    fields = {error["field"] for error in response.json["errors"]}
    assert fields == {"quantity", "extra"}
