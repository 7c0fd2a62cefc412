"""The JSON error contract of API.md: every error is ``{"error", "message", ...}``."""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Flask, jsonify
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, InternalServerError

from models.errors import CartfleetError

logger = logging.getLogger(__name__)

# Werkzeug's status codes mapped to the codes clients see.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "expired",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


class APIError(CartfleetError):
    """An error of the web layer itself: ``APIError(409, "invalid_transition", "...")``.

    Domain errors (``models.errors``) carry their own code and status; both are answered
    by the same handler.
    """

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.status = status
        self.code = code


def error_body(error: CartfleetError) -> dict[str, Any]:
    return {"error": error.code, "message": error.message, **error.extra}


def unavailable(message: str = "A dependency is unavailable; try again shortly.") -> APIError:
    return APIError(503, "unavailable", message)


def _is_outage(error: DBAPIError) -> bool:
    return isinstance(error, OperationalError) or error.connection_invalidated


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CartfleetError)
    def _project_error(error: CartfleetError):
        return jsonify(error_body(error)), error.status

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        status = error.code or 500
        code = HTTP_CODES.get(status, "error")
        response = jsonify({"error": code, "message": error.description})
        response.status_code = status
        if status == 405 and error.response is None:
            allowed = getattr(error, "valid_methods", None)
            if allowed:
                response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.errorhandler(DBAPIError)
    def _database_error(error: DBAPIError):
        if _is_outage(error):
            logger.warning("Database unavailable: %s", error.orig)
            return jsonify(error_body(unavailable("The database is unavailable."))), 503
        raise error

    @app.errorhandler(PoolTimeoutError)
    def _pool_timeout(error: PoolTimeoutError):
        logger.warning("Database pool exhausted: %s", error)
        return jsonify(error_body(unavailable("The database is busy."))), 503

    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def _redis_error(error: redis.RedisError):
        logger.warning("Redis unavailable: %s", error)
        return jsonify(error_body(unavailable("The job queue is unavailable."))), 503

    # Registered for 500 rather than Exception so Flask still signals the original
    # exception (got_request_exception) to Sentry and the log before this runs.
    @app.errorhandler(InternalServerError)
    def _unexpected(error: InternalServerError):
        body = {"error": "internal_error", "message": "An unexpected error occurred."}
        return jsonify(body), 500
