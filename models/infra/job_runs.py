"""One row per run of a scheduled job, and the bookkeeping the scheduler and admin read."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, UniqueConstraint, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, utcnow


class JobRun(Base):
    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(128))
    scheduled_for: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    items_processed: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None]

    __table_args__ = (
        UniqueConstraint("job", "scheduled_for"),
        Index("ix_job_runs_job_started_at", "job", "started_at"),
    )


# A run still "running" after its time limit plus this margin belongs to a dead worker.
STALE_RUN_MARGIN = dt.timedelta(minutes=1)


def start_run(
    session: Session,
    *,
    job: str,
    scheduled_for: dt.datetime | None,
    time_limit: dt.timedelta,
    now: dt.datetime | None = None,
) -> int | None:
    """Record that ``job`` starts for its tick ``scheduled_for``; None when it must not run.

    A tick runs once: a second delivery of a tick that succeeded, or that another worker
    is running, gets None. A failed run (a retry) or one left ``running`` by a worker that
    died (older than its time limit) is taken over. Manual runs (``scheduled_for`` None)
    always get a row of their own.
    """
    now = now or utcnow()
    inserted: int | None = session.scalar(
        insert(JobRun)
        .values(job=job, scheduled_for=scheduled_for, started_at=now, outcome="running")
        .on_conflict_do_nothing(constraint="uq_job_runs_job_scheduled_for")
        .returning(JobRun.id)
    )
    if inserted is not None:
        return inserted
    run = session.scalar(
        select(JobRun)
        .where(JobRun.job == job, JobRun.scheduled_for == scheduled_for)
        .with_for_update()
    )
    if run is None:
        # The insert conflicted on this very (job, scheduled_for), and job runs are never deleted.
        raise AssertionError(f"job run {job} for {scheduled_for} conflicted but is missing")
    stale = run.outcome == "running" and run.started_at < now - time_limit - STALE_RUN_MARGIN
    if run.outcome != "failure" and not stale:
        return None
    run.started_at, run.finished_at, run.outcome, run.error = now, None, "running", None
    return run.id


def finish_run(
    session: Session,
    *,
    run_id: int,
    outcome: str,
    items_processed: int = 0,
    error: str | None = None,
) -> None:
    session.execute(
        update(JobRun)
        .where(JobRun.id == run_id)
        .values(finished_at=utcnow(), outcome=outcome, items_processed=items_processed, error=error)
    )


def last_runs(session: Session, *, jobs: list[str]) -> dict[str, JobRun]:
    """The most recently started run of each job that has one."""
    rows = session.scalars(
        select(JobRun)
        .where(JobRun.job.in_(jobs))
        .ext(distinct_on(JobRun.job))
        .order_by(JobRun.job, JobRun.started_at.desc(), JobRun.id.desc())
    )
    return {run.job: run for run in rows}


def ran_since(session: Session, *, job: str, since: dt.datetime) -> bool:
    """Whether ``job`` succeeded, or is running, for a tick at or after ``since``."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    JobRun.job == job,
                    JobRun.outcome.in_(("success", "running")),
                    or_(JobRun.scheduled_for >= since, JobRun.started_at >= since),
                )
            )
        )
    )


def recent_runs(session: Session, *, jobs: list[str], per_job: int = 5) -> dict[str, list[JobRun]]:
    """The ``per_job`` most recently started runs of each job, newest first."""
    rank = (
        func.row_number()
        .over(partition_by=JobRun.job, order_by=(JobRun.started_at.desc(), JobRun.id.desc()))
        .label("rank")
    )
    ranked = select(JobRun.id, rank).where(JobRun.job.in_(jobs)).subquery()
    rows = session.scalars(
        select(JobRun)
        .join(ranked, ranked.c.id == JobRun.id)
        .where(ranked.c.rank <= per_job)
        .order_by(JobRun.job, JobRun.started_at.desc(), JobRun.id.desc())
    )
    runs: dict[str, list[JobRun]] = {job: [] for job in jobs}
    for run in rows:
        runs[run.job].append(run)
    return runs
