"""Every admin action is written to the audit log; ``GET /admin/api/audit`` reads it.

One after-request hook records every authenticated state-changing ``/admin`` request:
the action is the view's name (``ship_order``, ``refund_order``, ``requeue_dead_letter``),
the target its first path parameter (``order:<id>``, ``user:<id>``), the outcome from
the status. It runs in a transaction of its own after the action's, so a refused or
failed action is recorded too; login and logout record themselves (``web.admin.login``).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any

from flask import Response, g, request
from pydantic import ConfigDict, Field, StringConstraints, field_validator

from models import audit
from models.db import Session
from web.admin import bp
from web.admin.auth import SAFE_METHODS, current_actor
from web.serializers import iso
from web.validation import Schema, parse_query

logger = logging.getLogger(__name__)

Text = Annotated[str, StringConstraints(max_length=300)]
# Path parameters named ``<kind>_id`` target ``<kind>:<value>``; others their own name.
_TARGET_KINDS = {"message_id": "dead_letter", "event_id": "webhook_event", "code": "discount_code"}


class AuditQuery(Schema):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True)

    actor: Text | None = None
    action: Text | None = None
    target: Text | None = None
    from_: dt.datetime | None = Field(None, alias="from")
    to: dt.datetime | None = None
    limit: int = Field(100, ge=1, le=1000)

    @field_validator("from_", "to")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def target_of(view_args: dict[str, Any] | None) -> str | None:
    for name, value in (view_args or {}).items():
        kind = _TARGET_KINDS.get(name, name.removesuffix("_id"))
        return f"{kind}:{value}"
    return None


def outcome_of(status: int) -> str:
    if status == 403:
        return "denied"
    return "ok" if status < 400 else "failed"


def entry_json(entry: audit.AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "outcome": entry.outcome,
        "status_code": entry.status_code,
        "request_id": entry.request_id,
        "details": entry.details,
        "at": iso(entry.at),
    }


def write(
    action: str, *, actor: str, user_id: int | None, target: str | None, status: int, **details: Any
) -> None:
    with Session.begin() as session:
        audit.record(
            session,
            actor=actor,
            actor_user_id=user_id,
            action=action,
            target=target,
            outcome=outcome_of(status),
            request_id=g.get("request_id"),
            status_code=status,
            **details,
        )


@bp.after_app_request
def record_action(response: Response) -> Response:
    if "request_id" in g:
        response.headers.setdefault("X-Request-Id", g.request_id)
    if "actor" not in g or request.method in SAFE_METHODS or request.blueprint != "admin":
        return response
    if request.endpoint in ("admin.login", "admin.logout"):
        return response
    actor = current_actor()
    try:
        write(
            (request.endpoint or "unknown").removeprefix("admin.").removeprefix("page_"),
            actor=actor.label,
            user_id=actor.user_id,
            target=g.get("audit_target") or target_of(request.view_args),
            status=g.get("audit_status", response.status_code),
            method=request.method,
            path=request.path,
            # What a path does not say: a stock adjustment's reason, a transfer's units.
            **g.get("audit_details", {}),
        )
    except Exception:  # the action itself is done: answer it, and say loudly what was lost
        logger.exception("Audit entry not written for %s %s", request.method, request.path)
    return response


def search(query: AuditQuery) -> list[audit.AuditEntry]:
    statement = audit.search(
        actor=query.actor,
        action=query.action,
        target=query.target,
        since=query.from_,
        until=query.to,
    ).limit(query.limit)
    with Session() as session:
        return list(session.scalars(statement))


@bp.get("/api/audit")
def list_audit():
    return {"items": [entry_json(entry) for entry in search(parse_query(AuditQuery))]}
