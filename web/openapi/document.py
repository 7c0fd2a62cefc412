"""The OpenAPI 3.1 document of the storefront and admin JSON APIs, built from the app.

Every rule of the URL map under ``/api/`` or ``/admin/api/`` with an entry in
``OPERATIONS`` becomes an operation: its path and path parameters from the rule, its
request body and query parameters from the view's pydantic schemas, its answers from
``web.openapi.shapes``. OpenAPI 3.1 schemas are JSON Schema 2020-12, which is what
pydantic writes, so the schemas go in as pydantic makes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from werkzeug.routing import Rule

from web.openapi import shapes
from web.openapi.operations import ANY_OBJECT, CSV, OPERATIONS, Operation

API_PREFIXES = ("/api/", "/admin/api/")
ADMIN_PREFIX = "/admin/api/"
REF_TEMPLATE = "#/components/schemas/{model}"
JSON = "application/json"
# The contract's own version: raised when a change could break a client.
CONTRACT_VERSION = "1.0.0"
IGNORED_METHODS = {"HEAD", "OPTIONS"}

STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    400: "Malformed JSON (`invalid_json`)",
    401: "No valid session or bearer token (`unauthorized`)",
    403: "The role may not do this (`forbidden`)",
    404: "No such resource (`not_found`)",
    409: "Conflicts with the resource's state (the error code says which)",
    413: "Body over the size limit (`payload_too_large`)",
    415: "Body not application/json (`unsupported_media_type`)",
    422: "Invalid body or query (`validation_error` with `errors`, or a domain code)",
    502: "The payment provider failed (`payment_provider_error`)",
    503: "A dependency is unavailable (`unavailable`, `stock_unavailable`)",
}


def api_rules(app: Flask) -> Iterator[tuple[Rule, str]]:
    """Every (rule, method) of the JSON APIs, documented or not."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API_PREFIXES):
            for method in sorted((rule.methods or set()) - IGNORED_METHODS):
                yield rule, method


def common_errors(rule: Rule, operation: Operation) -> set[int]:
    """The statuses any route of this kind can answer, whatever it does."""
    statuses = {503, *operation.errors}
    if operation.body is not None:
        statuses |= {400, 413, 415, 422}
    if operation.form is not None:
        statuses |= {400, 413, 422}
    if operation.query is not None:
        statuses.add(422)
    if rule.arguments:
        statuses.add(404)
    if rule.rule.startswith(ADMIN_PREFIX):
        statuses |= {401, 403}
    return statuses


# ``<name>``, ``<int:name>``, ``<string(length=2):name>``: werkzeug's rule syntax.
_VARIABLE = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


def openapi_path(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    """``/api/carts/<cart_id>`` → ``/api/carts/{cart_id}`` and its path parameters."""
    parameters = []
    for match in _VARIABLE.finditer(rule.rule):
        schema = (
            {"type": "integer", "minimum": 0}
            if match["converter"] == "int"
            # werkzeug's default converter: one or more characters, no slash.
            else {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
        )
        parameters.append({"name": match["name"], "in": "path", "required": True, "schema": schema})
    return _VARIABLE.sub(r"{\g<name>}", rule.rule), parameters


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a value, never null."""
    options = schema.get("anyOf")
    if not options:
        return schema
    kept = [option for option in options if option.get("type") != "null"]
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**rest, **kept[0]} if len(kept) == 1 else {**rest, "anyOf": kept}


def _query_parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _without_null(
                {k: v for k, v in field.items() if k != "title" and (k, v) != ("default", None)}
            ),
        }
        for name, field in schema.get("properties", {}).items()
    ]


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": STATUS_TEXT[status],
        "content": {JSON: {"schema": {"$ref": REF_TEMPLATE.format(model="Error")}}},
    }


def _ok_response(status: int, shape: type[BaseModel] | str, refs: dict) -> dict[str, Any]:
    if shape == CSV:
        content = {CSV: {"schema": {"type": "string"}}}
    elif shape == ANY_OBJECT:
        content = {JSON: {"schema": {"type": "object"}}}
    else:
        content = {JSON: {"schema": refs[shape, "serialization"]}}
    return {"description": STATUS_TEXT[status], "content": content}


def _schemas() -> tuple[dict, dict[str, Any]]:
    """Refs to every model the operations use, and the component schemas they point to."""
    models: set[tuple[type[BaseModel], JsonSchemaMode]] = {(shapes.Error, "serialization")}
    for operation in OPERATIONS.values():
        models |= {(model, "validation") for model in (operation.body, operation.query) if model}
        models |= {
            (shape, "serialization") for shape in operation.ok.values() if isinstance(shape, type)
        }
    ordered = sorted(models, key=lambda pair: (pair[0].__module__, pair[0].__name__, pair[1]))
    refs, definitions = models_json_schema(ordered, ref_template=REF_TEMPLATE)
    return refs, definitions.get("$defs", {})


def _component(ref: dict[str, str], components: dict[str, Any]) -> dict[str, Any]:
    return components[ref["$ref"].rsplit("/", 1)[-1]]


def _operation(
    rule: Rule, method: str, operation: Operation, refs: dict, components: dict[str, Any]
) -> dict[str, Any]:
    _, parameters = openapi_path(rule)
    admin = rule.rule.startswith(ADMIN_PREFIX)
    if operation.query is not None:
        query = _component(refs[operation.query, "validation"], components)
        parameters += _query_parameters(query)
    if operation.if_match:
        parameters.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "description": 'The cart version the write expects, `"3"`; a stale one: 409.',
                "schema": {"type": "string"},
            }
        )
    responses = {
        str(status): _ok_response(status, shape, refs) for status, shape in operation.ok.items()
    }
    responses |= {str(status): _error_response(status) for status in common_errors(rule, operation)}
    several = len((rule.methods or set()) - IGNORED_METHODS) > 1
    document: dict[str, Any] = {
        # The Flask endpoint: what OPERATIONS is keyed by, and what the contract tests select.
        "operationId": rule.endpoint + (f".{method.lower()}" if several else ""),
        "summary": operation.summary,
        "tags": ["admin" if admin else "storefront"],
        "parameters": parameters,
        "responses": dict(sorted(responses.items())),
    }
    if operation.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": refs[operation.body, "validation"]}},
        }
    if operation.form is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": operation.form}},
        }
    if admin:
        document["security"] = [{"bearer": []}]
    return document


def build(app: Flask) -> dict[str, Any]:
    """The document for ``app``; routes without an entry in ``OPERATIONS`` are left out
    (the drift test names them)."""
    refs, components = _schemas()
    paths: dict[str, dict[str, Any]] = {}
    for rule, method in sorted(api_rules(app), key=lambda pair: (pair[0].rule, pair[1])):
        operation = OPERATIONS.get(rule.endpoint)
        if operation is not None:
            path, _ = openapi_path(rule)
            paths.setdefault(path, {})[method.lower()] = _operation(
                rule, method, operation, refs, components
            )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cartfleet storefront and admin API",
            "version": CONTRACT_VERSION,
            "description": "Money is integer minor units plus an ISO currency; times are ISO"
            ' 8601 UTC; every error is `{"error", "message", ...}` (docs: API.md).',
        },
        "tags": [
            {"name": "storefront", "description": "Products, carts, checkout, orders"},
            {
                "name": "admin",
                "description": "Staff API: a bearer token (ADMIN_TOKEN or a"
                " staff user's API token)",
            },
        ],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
