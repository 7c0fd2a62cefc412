"""Logging set-up shared by every process."""

from __future__ import annotations

import logging

from services.observability import configure_logging
from services.settings import get_settings


def test_the_return_value_warning_of_recorded_periodic_runs_is_dropped(caplog):
    configure_logging(get_settings())
    logger = logging.getLogger("dramatiq.worker.WorkerThread")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        logger.warning("Actor '%s' returned a value that is not None, and ...", "prune_outbox")
        logger.warning("Failed to process message %s", "m-1")

    assert [record.getMessage() for record in caplog.records] == ["Failed to process message m-1"]
