"""``GET /api/openapi.json``: the OpenAPI 3.1 document of the storefront and admin APIs."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from web.openapi.document import build

bp = Blueprint("openapi", __name__)


@bp.get("/api/openapi.json")
def document():
    # Built once per app: the routes and schemas it describes are fixed at start.
    built = current_app.extensions.get("openapi")
    if built is None:
        built = current_app.extensions["openapi"] = build(current_app)
    return jsonify(built)
