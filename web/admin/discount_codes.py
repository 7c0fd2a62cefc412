"""Admin: discount codes (create, generated or named; list with their use; disable)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from flask import flash, redirect, render_template, url_for
from pydantic import Field, StrictInt, StringConstraints, field_validator

from models.carts import discounts
from models.carts.tables import DiscountCode
from models.db import Session
from web.admin import bp
from web.admin.forms import form_action, parse_form
from web.serializers import iso
from web.validation import Schema, parse_body

__all__ = ["bp"]


class NewCode(Schema):
    code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{3,64}$")] | None = None
    percent: StrictInt = Field(ge=1, le=100)
    expires_at: dt.datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def code_json(row: DiscountCode) -> dict[str, Any]:
    return {
        "code": row.code,
        "percent": row.percent,
        "status": discounts.code_status(row),
        "uses": 0 if row.used_at is None else 1,
        "usage_limit": 1,
        "cart_id": row.cart_id,
        "expires_at": iso(row.expires_at),
        "used_at": iso(row.used_at),
        "created_at": iso(row.created_at),
    }


def create(body: NewCode) -> dict[str, Any]:
    with Session.begin() as session:
        row = discounts.create_code(
            session, code=body.code, percent=body.percent, expires_at=body.expires_at
        )
        return code_json(row)


def disable(code: str) -> dict[str, Any]:
    with Session.begin() as session:
        return code_json(discounts.disable_code(session, code))


@bp.get("/api/discount-codes")
def list_discount_codes():
    with Session() as session:
        return {"items": [code_json(row) for row in discounts.list_codes(session)]}


@bp.post("/api/discount-codes")
def create_discount_code():
    return create(parse_body(NewCode)), 201


@bp.post("/api/discount-codes/<code>/disable")
def disable_discount_code(code: str):
    return disable(code)


@bp.get("/discount-codes")
def page_discount_codes():
    with Session() as session:
        codes = [code_json(row) for row in discounts.list_codes(session)]
    return render_template("admin/discount_codes.html", codes=codes)


@bp.post("/discount-codes")
def page_create_discount_code():
    with form_action():
        flash(f"Created {create(parse_form(NewCode, numbers=('percent',)))['code']}.", "ok")
    return redirect(url_for("admin.page_discount_codes"), 303)


@bp.post("/discount-codes/<code>/disable")
def page_disable_discount_code(code: str):
    with form_action():
        flash(f"Disabled {disable(code)['code']}.", "ok")
    return redirect(url_for("admin.page_discount_codes"), 303)
