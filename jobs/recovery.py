"""Abandoned-cart recovery: the 15-minute claim of due steps and the send of each step.

``recover_abandoned_carts`` claims due steps in bounded batches (one short transaction
each, carts locked ``SKIP LOCKED``) and enqueues each send through the outbox in the
claiming transaction. ``send_recovery_step`` re-checks the step under lock
(models/recovery/sending.py), sends it once and records it. See docs/recovery.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import dramatiq
from periodiq import cron
from prometheus_client import Counter, Gauge

from jobs import recovery_messages as messages
from models import emails
from models.base import utcnow
from models.db import Session
from models.recovery import analytics, schedule, sending
from models.recovery.schedule import Policy, Step
from models.recovery.tables import StepName
from services import mailer, outbox
from services.settings import get_settings

logger = logging.getLogger(__name__)

SCAN_PER_BATCH = 5_000  # carts looked at per transaction (claimed or passed over)
RECOVERY_BUDGET_S = 240  # of its 300 s limit; what is left goes to a follow-up run
FIGURES_PERIOD = dt.timedelta(days=30)
SEND_TIME_LIMIT_MS = 60_000  # bounds the SMTP conversation of a send
# A claimed attempt older than this (the limit and a margin) was left by a dead sender.
SEND_LEASE = dt.timedelta(milliseconds=SEND_TIME_LIMIT_MS + 30_000)

REMINDERS_SENT = Counter(
    "cart_recovery_reminders_sent_total", "Recovery reminders sent, by step.", ["step"]
)
CARTS_ABANDONED = Counter(
    "cart_recovery_carts_abandoned_total", "Carts marked abandoned by the recovery job."
)
# Attribution needs the orders paid since, so these are recomputed by each run (30 days).
CARTS_RECOVERED = Gauge(
    "cart_recovery_carts_recovered",
    "Paid orders from reminded carts over 30 days, by the last reminder before them.",
    ["step"],
    multiprocess_mode="mostrecent",
)
REVENUE_RECOVERED = Gauge(
    "cart_recovery_revenue_recovered_cents",
    "Revenue of the recovered orders over 30 days.",
    ["currency"],
    multiprocess_mode="mostrecent",
)
DISCOUNT_GIVEN = Gauge(
    "cart_recovery_discount_given_cents",
    "Recovery-code discounts on the recovered orders over 30 days.",
    ["currency"],
    multiprocess_mode="mostrecent",
)
RECOVERY_RATE = Gauge(
    "cart_recovery_rate_ratio",
    "Recovered carts per reminded cart over 30 days.",
    multiprocess_mode="mostrecent",
)


def current_policy() -> Policy:
    """The recovery steps as the settings time them."""
    s = get_settings()
    return Policy(
        steps=(
            Step(
                StepName.EMAIL_1,
                dt.timedelta(hours=s.recovery_email_1_hours),
                s.recovery_email_1_percent,
            ),
            Step(StepName.PUSH, dt.timedelta(hours=s.recovery_push_hours)),
            Step(
                StepName.EMAIL_2,
                dt.timedelta(hours=s.recovery_email_2_hours),
                s.recovery_email_2_percent,
            ),
            Step(StepName.ABANDON, dt.timedelta(days=s.recovery_abandon_days)),
        ),
        requires_consent=s.recovery_requires_consent,
        code_lifetime=dt.timedelta(days=s.recovery_code_days),
    )


def recovery_batches(
    *,
    now: dt.datetime,
    policy: Policy | None = None,
    batch_size: int | None = None,
    scan: int = SCAN_PER_BATCH,
    budget_s: float = RECOVERY_BUDGET_S,
) -> Iterator[schedule.Claimed]:
    """Claim every step due at ``now``, one committed transaction per batch (yielded).

    Each batch claims at most ``batch_size`` carts among the next ``scan`` inactive ones;
    the batches walk the carts by last activity, so none is looked at twice in one run.
    Out of budget with work left, a follow-up run is enqueued.
    """
    policy = policy or current_policy()
    batch_size = batch_size or get_settings().recovery_batch_size
    deadline = time.monotonic() + budget_s
    after = None
    while True:
        with Session.begin() as session:
            claimed = schedule.claim_due(
                session, now=now, policy=policy, limit=batch_size, scan=scan, after=after
            )
            for cart_id, step in claimed.to_send:
                outbox.enqueue(session, send_recovery_step, cart_id, step)
        CARTS_ABANDONED.inc(len(claimed.abandoned))
        yield claimed
        if not claimed.more:
            return
        after = claimed.cursor
        if time.monotonic() > deadline:
            with Session.begin() as session:
                outbox.enqueue(session, recover_abandoned_carts)
            logger.warning("Cart recovery out of time; a follow-up run continues")
            return


@dramatiq.actor(
    actor_name="recover_abandoned_carts",
    queue_name="maintenance",
    periodic=cron("*/15 * * * *"),
    max_retries=0,  # the next run, 15 minutes later, is the retry
    time_limit=300_000,
)
def recover_abandoned_carts() -> int:
    """Claim the recovery steps due now; returns the steps claimed."""
    now = utcnow()
    done = sum(len(b.to_send) + len(b.abandoned) + b.skipped for b in recovery_batches(now=now))
    logger.info("Cart recovery: %d step(s) claimed", done)
    publish_figures(now=now)
    return done


def publish_figures(*, now: dt.datetime) -> dict[str, Any]:
    """Set the recovery gauges from the last 30 days' rows; returns the figures."""
    with Session() as session:
        figures = analytics.recovery(session, start=now - FIGURES_PERIOD, end=now)
    for step, carts in figures["carts_recovered_by_step"].items():
        CARTS_RECOVERED.labels(step).set(carts)
    for currency, cents in figures["revenue_recovered_cents"].items():
        REVENUE_RECOVERED.labels(currency).set(cents)
    for currency, cents in figures["discount_given_cents"].items():
        DISCOUNT_GIVEN.labels(currency).set(cents)
    RECOVERY_RATE.set(figures["recovery_rate"] or 0)
    return figures


def _claim_email(
    session, plan: sending.Plan, links: messages.Links, *, now: dt.datetime
) -> tuple[int, EmailMessage] | None:
    """Claim the step's email (its ``emails`` row) for an attempt at ``now``: the row id
    and the message to hand to the server, or None when it was sent already."""
    email = emails.claim(
        session,
        kind=messages.email_kind(plan.step.name.value),
        cart_id=plan.cart.id,
        recipient=plan.recipient,
        message_id=messages.message_id(plan),
    )
    if email is None or emails.in_flight(email, now=now, lease=SEND_LEASE):
        raise sending.CartBusy(f"email for cart {plan.cart.id} is being sent")
    if email.status == "sent":
        return None
    subject, message = messages.compose_email(plan, links=links, message_id=email.message_id)
    email.subject, email.recipient = subject[:255], plan.recipient
    emails.start_sending(session, email=email, now=now)
    return email.id, message


def deliver(cart_id: str, step: str, *, now: dt.datetime, policy: Policy | None = None) -> bool:
    """Send a claimed step if it is still due and allowed at ``now``; returns whether it was.

    An email step is claimed and committed, handed to the server with no transaction
    open, and its outcome recorded afresh (models/emails.py). Transient failures raise
    (the job retries); a permanent mail refusal marks the step ``dead`` and raises
    ``PermanentMailError``.
    """
    policy = policy or current_policy()
    claimed = None
    with Session.begin() as session:
        plan = sending.prepare(session, cart_id=cart_id, step_name=step, now=now, policy=policy)
        if plan is None:
            return False
        links = messages.links(plan, expires_at=sending.link_expiry(plan, now=now, policy=policy))
        if plan.step.is_email:
            claimed = _claim_email(session, plan, links, now=now)
        else:
            # The default channel only records; a real one must be as quick, under the lock.
            messages.push_channel().send(messages.push_notification(plan, links=links))
        if claimed is None:
            sending.mark_sent(session, plan=plan, now=now)
    if claimed is not None:
        email_id, message = claimed
        try:
            mailer.transport().send(message)
        except mailer.MailError as error:
            permanent = isinstance(error, mailer.PermanentMailError)
            with Session.begin() as session:
                emails.record_failed(
                    session, email_id=email_id, claimed_at=now, error=str(error), dead=permanent
                )
                if permanent:
                    sending.mark_dead(
                        session, cart_id=cart_id, step_name=step, reason="mail_refused"
                    )
            raise
        with Session.begin() as session:
            emails.record_sent(session, email_id=email_id)
            sending.record_sent(session, cart_id=cart_id, step_name=step, now=now)
    REMINDERS_SENT.labels(step).inc()
    logger.info("Recovery step %s sent for cart %s", step, cart_id)
    return True


@dramatiq.actor(
    actor_name="mark_recovery_step_dead",
    queue_name="recovery",
    max_retries=20,
    min_backoff=1_000,
    max_backoff=300_000,
    time_limit=30_000,
)
def mark_recovery_step_dead(message_data: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """Retries of a ``send_recovery_step`` ran out: the step ends ``dead``, never sent."""
    args = list(message_data.get("args") or ())
    if len(args) != 2:
        logger.warning("Exhausted recovery job names no step: %r", message_data)
        return
    with Session.begin() as session:
        sending.mark_dead(session, cart_id=args[0], step_name=args[1], reason="retries_exhausted")


@dramatiq.actor(
    actor_name="send_recovery_step",
    queue_name="recovery",
    max_retries=8,
    min_backoff=5_000,
    max_backoff=900_000,
    time_limit=SEND_TIME_LIMIT_MS,
    throws=(mailer.PermanentMailError,),
    on_retry_exhausted="mark_recovery_step_dead",
)
def send_recovery_step(cart_id: str, step: str) -> None:
    """Send one claimed recovery step (email or push) at most once."""
    deliver(cart_id, step, now=utcnow())
