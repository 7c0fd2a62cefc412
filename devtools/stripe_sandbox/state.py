"""The sandbox's objects, events, idempotency records and deliveries, and their file.

Everything lives in one dict guarded by one lock; with a ``state_dir`` it is written
to ``state.json`` atomically (temp file + rename) after every change, so a restarted
sandbox still knows its payment intents, events and pending deliveries.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import string
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_ALPHABET = string.ascii_letters + string.digits
_SECTIONS = ("objects", "events", "idempotency", "endpoints", "deliveries", "card_numbers")


def new_id(prefix: str) -> str:
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


class State:
    """The persisted part of the sandbox plus its runtime switches.

    ``changed`` is notified whenever something the delivery thread waits for happens.
    """

    def __init__(self, state_dir: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.path = Path(state_dir) / "state.json" if state_dir is not None else None
        self.data: dict[str, Any] = self._load()
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        self.fail_status = 500
        # Where the sandbox is reached (set by the server): links in objects point there.
        self.base_url = ""

    def _empty(self) -> dict[str, Any]:
        return {**{name: {} for name in _SECTIONS}, "clock_offset": 0.0}

    def _load(self) -> dict[str, Any]:
        if self.path is None or not self.path.exists():
            return self._empty()
        data = json.loads(self.path.read_text())
        return {**self._empty(), **data}

    def save(self) -> None:
        """Write the state file, if there is one (callers hold the lock)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(self.data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def reset(self) -> None:
        with self.lock:
            self.data = self._empty()
            self.requests.clear()
            self.fail_next = 0
            self.save()
            self.changed.notify_all()

    # Time: the clock offset lets tests jump past Stripe's retry window.
    def now(self) -> float:
        return time.time() + self.data["clock_offset"]

    def timestamp(self) -> int:
        return int(self.now())

    def advance_clock(self, seconds: float) -> float:
        with self.lock:
            self.data["clock_offset"] += seconds
            self.save()
            self.changed.notify_all()
            return self.data["clock_offset"]

    # Objects (payment intents, charges, refunds, payment methods), by id.
    @property
    def objects(self) -> dict[str, dict[str, Any]]:
        return self.data["objects"]

    def get(self, kind: str, object_id: str) -> dict[str, Any] | None:
        found = self.objects.get(object_id)
        return found if found is not None and found["object"] == kind else None

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects[obj["id"]] = obj
        return obj

    def newest_first(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in reversed(self.objects.values()) if obj["object"] == kind]
