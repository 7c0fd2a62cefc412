"""The warehouse row: identity, location, rank, and the countries it ships to."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, String, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at


class Warehouse(Base):
    """A stock location. ``ships_to`` empty means it ships to every country."""

    __tablename__ = "warehouses"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str | None] = mapped_column(String(16))
    # Resolved from a US postal code when not given; None: the country's centroid stands in.
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    # Higher ranks first when distance does not decide.
    priority: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    ships_to: Mapped[list[str]] = mapped_column(
        ARRAY(String(2)), default=list, server_default=text("'{}'")
    )
    low_stock_threshold: Mapped[int] = mapped_column(default=5, server_default=text("5"))
    created_at: Mapped[dt.datetime] = created_at()
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __table_args__ = (
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        CheckConstraint("low_stock_threshold >= 0", name="low_stock_threshold_not_negative"),
    )
