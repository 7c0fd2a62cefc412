"""The Stripe webhook inbox: one row per Stripe event id, the source of exactly-once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at, quoted

WEBHOOK_STATUSES = ("received", "processed", "ignored", "failed", "dead")


class WebhookEvent(Base):
    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(128))
    api_version: Mapped[str | None] = mapped_column(String(32))
    livemode: Mapped[bool] = mapped_column(default=False)
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="received")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None]
    received_at: Mapped[dt.datetime] = created_at()
    processed_at: Mapped[dt.datetime | None]

    __table_args__ = (
        CheckConstraint(f"status IN ({quoted(WEBHOOK_STATUSES)})", name="status_known"),
        Index("ix_webhook_events_status_received_at", "status", "received_at"),
    )
