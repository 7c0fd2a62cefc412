"""Request bodies are parsed into declared pydantic schemas, never by hand."""

from __future__ import annotations

import json
from typing import TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict, ValidationError

from web.errors import APIError

SchemaT = TypeVar("SchemaT", bound=BaseModel)


class Schema(BaseModel):
    """Base for request bodies: unknown fields are refused, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _field(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "body"


def validation_error(
    error: ValidationError, message: str = "The request body is invalid."
) -> APIError:
    errors = [{"field": _field(item["loc"]), "message": item["msg"]} for item in error.errors()]
    return APIError(422, "validation_error", message, errors=errors)


def json_body() -> object:
    """The request's JSON document; 400 ``invalid_json`` when it is not JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise APIError(
            400, "invalid_json", f"The request body is not valid JSON: {error}"
        ) from None


def parse_body(schema: type[SchemaT]) -> SchemaT:
    """Validate the JSON body against ``schema``; 422 ``validation_error`` with every field."""
    try:
        return schema.model_validate(json_body())
    except ValidationError as error:
        raise validation_error(error) from None


def parse_query(schema: type[SchemaT]) -> SchemaT:
    """Validate the query string against ``schema`` (empty values count as absent).

    422 ``validation_error`` naming each bad parameter.
    """
    try:
        return schema.model_validate({k: v for k, v in request.args.items() if v != ""})
    except ValidationError as error:
        raise validation_error(error, "The query string is invalid.") from None
