"""Dead letters requeued or purged: the flow behind the admin API, the pages and the CLI."""

from __future__ import annotations

import dramatiq
import pytest

from flows import dead_letters as letters_flow
from models.base import utcnow
from models.db import Session
from models.errors import NotFound
from models.infra import dead_letters as archive
from worker.dead_letters import archive_row

QUEUE = "flow_dlq_test"


def archived(message_id: str) -> None:
    message = dramatiq.Message(
        queue_name=QUEUE, actor_name="flow_dlq_actor", args=(1,), kwargs={}, options={}
    )
    message = message.copy(message_id=message_id)
    with Session.begin() as session:
        archive.record(session, [archive_row(QUEUE, message, utcnow())])


def waiting_ids() -> list[str]:
    with Session() as session:
        return [letter.message_id for letter in archive.waiting(session, queue=QUEUE)]


def test_select_names_the_ids_that_are_not_waiting(broker):
    archived("m-1")
    archived("m-2")

    selection = letters_flow.select(["m-2", "m-9"], queue=QUEUE)

    assert [letter.message_id for letter in selection.letters] == ["m-2"]
    assert selection.missing == ["m-9"]


def test_requeue_one_puts_the_letter_back_once(broker):
    archived("m-1")

    letter = letters_flow.requeue_one("m-1")

    assert letter.queue == QUEUE
    assert waiting_ids() == []
    assert broker.do_qsize(QUEUE) == 1
    with pytest.raises(NotFound, match="m-1"):
        letters_flow.requeue_one("m-1")
    assert broker.do_qsize(QUEUE) == 1


def test_purge_one_deletes_the_letter_and_refuses_a_second_time(broker):
    archived("m-1")

    assert letters_flow.purge_one("m-1").message_id == "m-1"

    assert waiting_ids() == []
    with pytest.raises(NotFound):
        letters_flow.purge_one("m-1")
