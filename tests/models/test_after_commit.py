"""After-commit actions run when the outermost transaction commits, never on rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models.after_commit import after_commit
from models.db import Session
from models.orders import Order


def test_after_commit_actions_run_on_commit_only():
    ran = []
    with Session.begin() as session:
        after_commit(session, lambda: ran.append("committed"))
        with session.begin_nested():
            pass  # releasing a savepoint is not the commit
        assert ran == []
    with pytest.raises(RuntimeError), Session.begin() as session:
        after_commit(session, lambda: ran.append("rolled back"))
        raise RuntimeError
    assert ran == ["committed"]
    with Session() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0
