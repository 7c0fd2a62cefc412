"""Marking pushed outbox rows sent: batched, off the request and actor threads.

Marking a row costs the database about as much as writing it; batched, a burst of pushes
costs one UPDATE every ``MARK_EVERY_S``. A mark that never lands (the process died
first) only means the relay pushes that row once more after ``outbox.RELAY_AFTER``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Iterable

from sqlalchemy import Update

from models import db

logger = logging.getLogger(__name__)

MARK_EVERY_S = 0.05
RETRY_AFTER_S = 1.0
MAX_HELD = 100_000  # ids kept while the database is down; the relay covers the rest


class SentMarks:
    """Row ids waiting for ``statement`` (an UPDATE taking ``ids``), run by a daemon thread.

    The thread starts on first use in each process, so it also exists in forked workers.
    """

    def __init__(self, statement: Update) -> None:
        self._statement = statement
        self._reset()
        os.register_at_fork(after_in_child=self._reset)
        atexit.register(self.flush)

    def _reset(self) -> None:
        # In a forked child the parent's thread is gone and its lock may be held: the
        # parent marks what it pushed, the child starts empty.
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._ids: list[int] = []
        self._thread: threading.Thread | None = None

    def add(self, ids: Iterable[int]) -> None:
        with self._lock:
            self._ids.extend(ids)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="outbox-sent-marks", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def flush(self) -> bool:
        """Mark every id held now; False (ids kept for the next try) if the database failed."""
        with self._lock:
            ids, self._ids = self._ids, []
        if not ids:
            return True
        try:
            with db.autocommit_engine().connect() as connection:
                connection.execute(self._statement, {"ids": ids})
        except Exception:
            logger.warning("Could not mark %d pushed outbox row(s) sent", len(ids), exc_info=True)
            with self._lock:
                self._ids[:0] = ids[: max(MAX_HELD - len(self._ids), 0)]
            return False
        return True

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(MARK_EVERY_S)  # let a burst gather into one UPDATE
            self._wake.clear()
            if not self.flush():
                time.sleep(RETRY_AFTER_S)
                self._wake.set()
