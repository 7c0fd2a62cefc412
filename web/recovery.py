"""Recovery routes (see API.md)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("recovery", __name__)
