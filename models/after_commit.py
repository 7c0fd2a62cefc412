"""Actions run once the caller's outermost transaction commits, never on rollback.

Metrics and alerts go here so a rolled-back or retried attempt is not counted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from models.db import AppSession

logger = logging.getLogger(__name__)

_AFTER_COMMIT_KEY = "cartfleet.after_commit"


def after_commit(session: Session, callback: Callable[[], object]) -> None:
    """Run ``callback`` once the caller's (outermost) transaction commits; never on rollback.

    Metrics and alerts go here so a rolled-back or retried attempt is not counted twice.
    """
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append(callback)


@event.listens_for(AppSession, "after_commit")
def _run_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # releasing a savepoint is not the commit
        return
    for callback in session.info.pop(_AFTER_COMMIT_KEY, []):
        try:
            callback()
        except Exception:
            logger.exception("After-commit action failed")


@event.listens_for(AppSession, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_AFTER_COMMIT_KEY, None)
