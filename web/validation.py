"""Request bodies are parsed into declared pydantic schemas, never by hand.

``read_json`` is the one JSON reader for request bodies (the JSON routes through
``json_body`` and the Stripe webhook): it refuses what would fail later and deeper,
nesting past ``MAX_DEPTH`` (json and pydantic recurse) and strings PostgreSQL cannot
store (NUL, lone surrogates), before any of it reaches a schema or the database.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict, ValidationError

from web.errors import APIError

SchemaT = TypeVar("SchemaT", bound=BaseModel)

MAX_DEPTH = 64
JSON_MEDIA_TYPE = "application/json"

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [1 if b in b"[{" else -1 for b in range(256)]


class JSONBodyError(ValueError):
    """The body is not a JSON document this service reads; ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in ``raw``, counted without recursing.

    Exact for valid JSON, where backslashes occur only in strings: escapes go first, so
    every string is then a quote, no quote, a quote, and goes next.
    """
    brackets = _STRING.sub(b"", _ESCAPE.sub(b"", raw)).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _refuse_constant(name: str) -> float:
    raise JSONBodyError(f"{name} is not JSON.")


def _unstorable(text: str) -> str | None:
    if "\x00" in text:
        return "NUL characters are not allowed."
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "Unpaired surrogates are not allowed."
    return None


def storable(value: str) -> str:
    """A pydantic after-validator for text from forms, which skip the JSON reader's check."""
    problem = _unstorable(value)
    if problem:
        raise ValueError(problem)
    return value


def _check_strings(document: object) -> None:
    """Every key and string value must be storable text; iterative, like ``_depth``."""
    pending: list[tuple[tuple[str, ...], object]] = [((), document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            problem = _unstorable(value)
            if problem:
                raise JSONBodyError(problem, field=".".join(path) or "body")
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = _unstorable(key)
                if problem:
                    raise JSONBodyError(problem, field=".".join((*path, repr(key)[1:-1])))
                pending.append(((*path, key), item))
        elif isinstance(value, list):
            pending.extend(((*path, str(index)), item) for index, item in enumerate(value))


def read_json(raw: bytes, *, max_depth: int = MAX_DEPTH) -> object:
    """Parse ``raw`` as one JSON document; ``JSONBodyError`` (a ValueError) when refused.

    Refused: malformed JSON, ``NaN``/``Infinity``, numbers past Python's int-string
    limit, nesting deeper than ``max_depth``, and NUL or unpaired surrogates in any
    string or key (with ``field`` set to its dotted path).
    """
    if _depth(raw) > max_depth:
        raise JSONBodyError(f"The document is nested deeper than {max_depth} levels.")
    try:
        document = json.loads(raw, parse_constant=_refuse_constant)
    except JSONBodyError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise JSONBodyError(str(error)) from None
    _check_strings(document)
    return document


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


def _is_json_media_type() -> bool:
    options = request.mimetype_params
    charset = options.get("charset", "utf-8").lower()
    return request.mimetype == JSON_MEDIA_TYPE and charset == "utf-8" and len(options) <= 1


def json_body() -> object:
    """The request's JSON document; 415 for another media type, 400 ``invalid_json``."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    if not _is_json_media_type():
        raise APIError(
            415, "unsupported_media_type", f"The request body must be {JSON_MEDIA_TYPE}."
        )
    try:
        return read_json(raw)
    except JSONBodyError as error:
        if error.field is not None:
            raise APIError(
                422,
                "validation_error",
                "The request body is invalid.",
                errors=[{"field": error.field, "message": str(error)}],
            ) from None
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
