"""Admin: reconciliation (see API.md)."""

from __future__ import annotations

from web.admin import bp

__all__ = ["bp"]
