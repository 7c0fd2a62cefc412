"""The queues and dead-letters pages: depths, waiting messages, requeue and delete."""

from __future__ import annotations

import dramatiq
import pytest
from sqlalchemy import select

from models.audit import AuditEntry
from models.db import Session
from models.infra.dead_letters import DeadLetter
from tests.web.admin_helpers import dead_letter, logged_in

TRACEBACK = "Traceback (most recent call last):\n  File \"jobs/emails.py\"\nKeyError: 'smtp'"


@pytest.fixture
def letters(broker):
    return [
        dead_letter(broker, queue="emails", actor="send_email", args=(1,), traceback=TRACEBACK),
        dead_letter(broker, queue="emails", actor="send_email", args=(2,), traceback=TRACEBACK),
        dead_letter(broker, queue="orders", actor="expire_order", args=("o",), traceback=TRACEBACK),
    ]


def waiting(broker, queue: str) -> list[str]:
    key = f"dramatiq:{queue}"
    ids = broker.client.lrange(key, 0, -1)
    bodies = broker.client.hmget(key + ".msgs", ids) if ids else []
    return [dramatiq.Message.decode(body).message_id for body in bodies]


def audited(action: str) -> list[tuple[str, str | None]]:
    with Session() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return [(entry.outcome, entry.target) for entry in entries]


def test_a_viewer_sees_dead_letters_with_their_traceback_and_no_buttons(client, letters):
    logged_in(client, "viewer")

    page = client.get("/admin/dead-letters?queue=emails").get_data(as_text=True)

    assert 'id="dead-count">2 waiting' in page and "send_email" in page
    assert "KeyError: &#39;smtp&#39;" in page and "Traceback (most recent call last)" in page
    assert "Requeue" not in page and "Delete" not in page


def test_a_viewer_may_not_requeue(client, broker, letters):
    token = logged_in(client, "viewer")

    response = client.post(f"/admin/dead-letters/{letters[0]}/requeue", data={"csrf_token": token})

    assert response.status_code == 403 and waiting(broker, "emails") == []
    assert audited("requeue_dead_letter") == [("denied", f"dead_letter:{letters[0]}")]


def test_an_operator_requeues_one_and_it_is_audited(client, broker, letters):
    token = logged_in(client, "operator")

    response = client.post(
        f"/admin/dead-letters/{letters[0]}/requeue",
        data={"csrf_token": token},
        follow_redirects=True,
    )

    assert f"Requeued {letters[0]} on emails" in response.get_data(as_text=True)
    assert waiting(broker, "emails") == [letters[0]]
    assert audited("requeue_dead_letter") == [("ok", f"dead_letter:{letters[0]}")]


def test_requeue_without_the_csrf_token_is_refused(client, broker, letters):
    logged_in(client, "operator")

    response = client.post(f"/admin/dead-letters/{letters[0]}/requeue")

    assert response.status_code == 400 and response.json["error"] == "csrf_failed"
    assert waiting(broker, "emails") == []


def test_requeue_all_matching_after_a_confirmation(client, broker, letters):
    token = logged_in(client, "operator")

    confirm = client.get("/admin/dead-letters/confirm?do=requeue&queue=emails")
    done = client.post(
        "/admin/dead-letters/requeue",
        data={"queue": "emails", "csrf_token": token},
        follow_redirects=True,
    )

    assert "Requeue 2 dead letter(s)" in confirm.get_data(as_text=True)
    assert "Requeued 2 dead letter(s)" in done.get_data(as_text=True)
    assert sorted(waiting(broker, "emails")) == sorted(letters[:2])
    assert waiting(broker, "orders") == []
    assert audited("requeue_dead_letters") == [("ok", None)]


def test_delete_after_a_confirmation(client, letters):
    token = logged_in(client, "operator")

    confirm = client.get(f"/admin/dead-letters/confirm?do=delete&message_id={letters[2]}")
    client.post(f"/admin/dead-letters/{letters[2]}/delete", data={"csrf_token": token})

    assert f'action="/admin/dead-letters/{letters[2]}/delete"' in confirm.get_data(as_text=True)
    with Session() as session:
        assert session.get(DeadLetter, letters[2]).purged_at is not None
    assert audited("delete_dead_letter") == [("ok", f"dead_letter:{letters[2]}")]


def test_queues_page_shows_depths_workers_and_waiting_messages(client, broker, letters):
    broker.enqueue(
        dramatiq.Message(
            queue_name="emails", actor_name="send_email", args=(7,), kwargs={}, options={}
        )
    )
    logged_in(client, "viewer")

    queues_page = client.get("/admin/queues").get_data(as_text=True)
    messages = client.get("/admin/queues/emails").get_data(as_text=True)

    assert '<a href="/admin/dead-letters?queue=emails">2</a>' in queues_page
    assert 'id="workers"' in queues_page
    assert "send_email" in messages and "<code>[7]</code>" in messages
    assert client.get("/admin/queues/nope").status_code == 404
    assert client.get("/admin/queues/emails?offset=-1").status_code == 422
