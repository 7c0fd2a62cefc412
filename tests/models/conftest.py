"""Fixtures shared by the domain tests."""

from __future__ import annotations

import pytest

from models.db import Session
from tests.support import factories


@pytest.fixture
def skus():
    """Two products with 50 units each in the ``main`` warehouse."""
    with Session.begin() as session:
        factories.product(session, "SKU-1", stock={"main": 50})
        factories.product(session, "SKU-2", stock={"main": 50})
    return ["SKU-1", "SKU-2"]
