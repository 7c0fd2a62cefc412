"""Admin: the cart funnel and the recovery figures as JSON (API.md "Admin")."""

from __future__ import annotations

import datetime as dt

from pydantic import ConfigDict, Field, field_validator, model_validator

from models.base import utcnow
from models.db import Session
from models.recovery import analytics
from web.admin import bp
from web.serializers import iso
from web.validation import Schema, parse_query

__all__ = ["bp"]

DEFAULT_PERIOD = dt.timedelta(days=30)


class Period(Schema):
    """``from`` (default: 30 days before ``to``) and ``to`` (default: now), UTC."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True)

    from_: dt.datetime | None = Field(None, alias="from")
    to: dt.datetime | None = None

    @field_validator("from_", "to")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        self.to = self.to or utcnow()
        if self.from_ is None:
            try:
                self.from_ = self.to - DEFAULT_PERIOD
            except OverflowError:
                raise ValueError("to is too early to start a default period before it") from None
        if self.from_ >= self.to:
            raise ValueError("from must be before to")
        return self


def _period() -> tuple[dt.datetime, dt.datetime, dict[str, str | None]]:
    period = parse_query(Period)
    # Period's validator fills both ends in.
    if period.from_ is None or period.to is None:
        raise AssertionError("a validated period has both ends")
    return period.from_, period.to, {"from": iso(period.from_), "to": iso(period.to)}


@bp.get("/api/analytics/funnel")
def funnel():
    start, end, shown = _period()
    with Session() as session:
        return {**shown, **analytics.funnel(session, start=start, end=end)}


@bp.get("/api/analytics/recovery")
def recovery():
    start, end, shown = _period()
    with Session() as session:
        return {**shown, **analytics.recovery(session, start=start, end=end)}
