"""The leader-leased scheduler: each tick enqueued once fleet-wide, takeover, catch-up.

Time is driven by clocks the tests control, so minutes pass in milliseconds.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import dramatiq
import pendulum
import pytest
from click.testing import CliRunner
from periodiq import cron

from cli import main
from models.db import Session
from models.infra.job_runs import JobRun
from tests.support.services import ROOT
from worker.leader import LeaderLease, current_leader
from worker.scheduler import TICK_KEY, LeaderScheduler, previous_run

START = pendulum.datetime(2026, 11, 21, 10, 0, 30, tz="UTC")


class ManualClock:
    """A clock that moves only when the test says so."""

    def __init__(self, now: pendulum.DateTime = START) -> None:
        self.current = now

    def now(self) -> pendulum.DateTime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current = self.current.add(**delta)

    def seconds_until(self, moment: pendulum.DateTime) -> float:
        return 0.01


class FastClock:
    """Real time sped up ``speed`` times: at 60, one real second is one minute."""

    def __init__(self, *, speed: float, start: pendulum.DateTime = START) -> None:
        self.speed, self.start, self.began = speed, start, time.monotonic()

    def now(self) -> pendulum.DateTime:
        return self.start.add(seconds=(time.monotonic() - self.began) * self.speed)

    def seconds_until(self, moment: pendulum.DateTime) -> float:
        return (moment - self.now()).total_seconds() / self.speed


@pytest.fixture
def queue_name():
    return f"test_sched_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def periodic(broker, queue_name):
    """Declare a periodic actor on a queue of its own that no worker consumes."""

    def declare(spec: str) -> dramatiq.Actor:
        @dramatiq.actor(
            actor_name=f"tick_{uuid.uuid4().hex[:8]}",
            queue_name=queue_name,
            periodic=cron(spec),
            max_retries=0,
        )
        def tick() -> None:
            pass

        return tick

    return declare


def enqueued(broker, queue_name) -> collections.Counter:
    """(actor, scheduled minute) -> how many messages wait in the queue."""
    raw = broker.client.hvals(f"dramatiq:{queue_name}.msgs")
    messages = [dramatiq.Message.decode(data) for data in raw]
    return collections.Counter(
        (message.actor_name, pendulum.parse(message.options["scheduled_at"]))
        for message in messages
    )


def scheduler(broker, actors, clock, *, ttl_ms=2_000, name, lookback=None) -> LeaderScheduler:
    lease = LeaderLease(broker.client, ttl_ms=ttl_ms, identity=name)
    return LeaderScheduler(actors, lease=lease, clock=clock, lookback=lookback)


def test_two_schedulers_enqueue_every_tick_exactly_once(broker, periodic, queue_name):
    every_minute, every_two = periodic("* * * * *"), periodic("*/2 * * * *")
    clock = ManualClock()
    first = scheduler(broker, [every_minute, every_two], clock, name="a")
    second = scheduler(broker, [every_minute, every_two], clock, name="b")

    for minute in range(10):
        for running in (first, second) if minute % 2 else (second, first):
            running.tick()
        clock.advance(minutes=1)

    counts = enqueued(broker, queue_name)
    assert set(counts.values()) == {1}
    minutes = sorted(at for name, at in counts if name == every_minute.actor_name)
    assert minutes == [START.start_of("minute").add(minutes=n) for n in range(10)]
    even = sorted(at for name, at in counts if name == every_two.actor_name)
    assert even == [at for at in minutes if at.minute % 2 == 0]
    assert current_leader(broker.client)["id"] == "b"  # the first to tick took the lease
    assert not first.is_leader


def test_a_tick_is_enqueued_once_even_if_both_believe_they_lead(broker, periodic, queue_name):
    actor = periodic("* * * * *")
    clock = ManualClock()
    first = scheduler(broker, [actor], clock, name="a")
    second = scheduler(broker, [actor], clock, name="b")
    first.is_leader = second.is_leader = True  # a lease that expired mid-send

    minute = START.start_of("minute")
    assert first.send_actors([actor], minute) == [actor.actor_name]
    assert second.send_actors([actor], minute) == []

    assert enqueued(broker, queue_name) == {(actor.actor_name, minute): 1}


@pytest.mark.slow  # a process of its own: make test-slow
def test_follower_takes_over_when_the_leader_dies(broker, periodic, queue_name):
    actor = periodic("* * * * *")
    clock = FastClock(speed=60)
    lookback = pendulum.duration(minutes=5)
    leader = scheduler(broker, [actor], clock, ttl_ms=1_000, name="leader", lookback=lookback)
    follower = scheduler(broker, [actor], clock, ttl_ms=1_000, name="follower", lookback=lookback)
    leader.tick()
    threads = [threading.Thread(target=s.loop, daemon=True) for s in (leader, follower)]
    for thread in threads:
        thread.start()

    time.sleep(4)  # four scheduled minutes under the leader
    leader.stop(release=False)  # dies: the lease is left to expire
    threads[0].join()
    crashed_at = clock.now()
    time.sleep(5)  # the lease expires, the follower takes over
    follower.stop()
    threads[1].join()

    counts = enqueued(broker, queue_name)
    assert set(counts.values()) == {1}
    minutes = sorted(at for _, at in counts)
    expected_minutes = int((minutes[-1] - minutes[0]).total_minutes()) + 1
    assert len(minutes) == expected_minutes  # no gap at the takeover
    assert minutes[-1] > crashed_at.add(minutes=2)  # the follower went on scheduling
    senders = {
        at: broker.client.get(TICK_KEY.format(job=actor.actor_name, minute=at.isoformat()))
        for at in minutes
    }
    assert senders[minutes[0]] == b"leader"
    assert senders[minutes[-1]] == b"follower"
    assert all(senders[at] == b"leader" for at in minutes if at < crashed_at.subtract(minutes=1))
    assert current_leader(broker.client) is None  # the follower released it on stop


def test_follower_does_not_enqueue_while_the_leader_lives(broker, periodic, queue_name):
    actor = periodic("* * * * *")
    clock = ManualClock()
    leader = scheduler(broker, [actor], clock, name="leader")
    follower = scheduler(broker, [actor], clock, name="follower")
    leader.tick()

    for _ in range(3):
        clock.advance(minutes=1)
        assert follower.tick() == []
        leader.tick()

    assert all(
        broker.client.get(TICK_KEY.format(job=actor.actor_name, minute=at.isoformat())) == b"leader"
        for _, at in enqueued(broker, queue_name)
    )


def record_success(job: str, at: pendulum.DateTime) -> None:
    with Session.begin() as session:
        session.add(
            JobRun(job=job, scheduled_for=at, started_at=at, finished_at=at, outcome="success")
        )


def test_missed_daily_job_runs_once_when_the_scheduler_starts(broker, periodic, queue_name):
    daily = periodic("0 2 * * *")
    record_success(daily.actor_name, START.subtract(days=1).replace(hour=2, minute=0, second=0))
    clock = ManualClock(START)  # 10:00, the 02:00 run never happened today

    first = scheduler(broker, [daily], clock, name="a")
    second = scheduler(broker, [daily], clock, name="b")
    first.tick()
    second.tick()
    first.stop()
    first.loop()  # returns at once and releases the lease
    second.tick()  # takes over: its catch-up finds the run already sent

    assert enqueued(broker, queue_name) == {(daily.actor_name, START.start_of("minute")): 1}


def test_no_catch_up_when_the_daily_job_already_ran(broker, periodic, queue_name):
    daily = periodic("0 2 * * *")
    record_success(daily.actor_name, START.replace(hour=2, minute=0, second=0))

    scheduler(broker, [daily], ManualClock(START), name="a").tick()

    assert enqueued(broker, queue_name) == {}


def test_a_tick_whose_send_fails_is_sent_at_the_next_wake_up(
    broker, periodic, queue_name, monkeypatch
):
    actor = periodic("* * * * *")
    clock = ManualClock()
    running = scheduler(broker, [actor], clock, name="a")
    running.tick()
    clock.advance(minutes=1)

    def refuse(*args, **kwargs):
        raise ConnectionError("Redis refused the message")

    with monkeypatch.context() as patched:
        patched.setattr(broker, "enqueue", refuse)
        with pytest.raises(ConnectionError):
            running.tick()
    running.tick()

    minute = clock.now().start_of("minute")
    assert enqueued(broker, queue_name)[(actor.actor_name, minute)] == 1


def test_previous_run_of_a_cron():
    now = pendulum.datetime(2026, 11, 21, 4, 30, 20, tz="UTC")
    assert previous_run(cron("0 2 * * *"), now) == pendulum.datetime(2026, 11, 21, 2, tz="UTC")
    assert previous_run(cron("30 3 * * *"), now.replace(hour=3, minute=10)) == pendulum.datetime(
        2026, 11, 20, 3, 30, tz="UTC"
    )
    assert previous_run(cron("*/15 * * * *"), now) == now.replace(second=0)
    assert previous_run(cron("* * * * *"), now) == now.replace(second=0)
    # Due every 10 minutes, but only in the 2 o'clock hour: none in the last 8 periods.
    assert previous_run(cron("*/10 2 * * *"), now) == pendulum.datetime(
        2026, 11, 21, 2, 50, tz="UTC"
    )
    assert previous_run(cron("0 2 * * *"), now.replace(month=1, day=1, hour=1)) == (
        pendulum.datetime(2025, 12, 31, 2, tz="UTC")
    )


# --- the real processes and the CLI ----------------------------------------------------------


def spawn_scheduler(*, lease_seconds: int = 3) -> subprocess.Popen:
    command = [str(Path(sys.executable).parent / "cartfleet"), "scheduler"]
    return subprocess.Popen(
        [*command, "--lease-seconds", str(lease_seconds)],
        cwd=ROOT,
        env=dict(os.environ),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(predicate, *, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)
    return result


def leader_pid(broker) -> int | None:
    leader = current_leader(broker.client)
    return int(leader["id"].split(":")[1]) if leader else None


@pytest.mark.slow  # a process of its own: make test-slow
def test_two_scheduler_processes_one_leader_and_takeover_after_kill(broker):
    processes = [spawn_scheduler(), spawn_scheduler()]
    try:
        first_leader = wait_for(lambda: leader_pid(broker))
        # The leader sends the current minute's ticks and the catch-up runs at start.
        wait_for(lambda: enqueued(broker, "maintenance"))
        time.sleep(2)
        before = enqueued(broker, "maintenance")

        leader = next(p for p in processes if p.pid == first_leader)
        os.killpg(leader.pid, signal.SIGKILL)
        leader.wait(timeout=10)
        follower = next(p for p in processes if p is not leader)
        wait_for(lambda: leader_pid(broker) == follower.pid)
        time.sleep(2)

        after = enqueued(broker, "maintenance")
        assert set(before.values()) == {1}
        assert set(after.values()) == {1}
        assert set(before) <= set(after)
        assert {"relay_outbox", "release_expired_reservations", "purge_expired_sessions"} <= {
            name for name, _ in before
        }
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
    assert current_leader(broker.client) is None  # SIGTERM released the lease


def test_jobs_list_shows_each_job_and_the_leader(broker):
    LeaderLease(broker.client, identity="host-a:7:xyz").acquire_or_renew()
    record_success("relay_outbox", pendulum.now("UTC").start_of("minute"))

    result = CliRunner().invoke(main, ["jobs", "list"])

    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert "*/5" in lines["cleanup_checked_out_carts"]
    assert "success" in lines["relay_outbox"]
    assert "leader: host-a:7:xyz" in result.output


def test_jobs_list_json_is_an_array_of_the_jobs_and_jobs_leader_gives_the_lease(broker):
    LeaderLease(broker.client, identity="host-a:7:xyz").acquire_or_renew()

    listed = CliRunner().invoke(main, ["jobs", "list", "--json"])
    leader = CliRunner().invoke(main, ["jobs", "leader", "--json"])

    assert listed.exit_code == 0 and leader.exit_code == 0, listed.output + leader.output
    jobs = json.loads(listed.output)
    assert isinstance(jobs, list)
    assert "cleanup_checked_out_carts" in {job["job"] for job in jobs}
    assert json.loads(leader.output)["id"] == "host-a:7:xyz"


def test_jobs_leader_says_none_without_a_scheduler(broker):
    result = CliRunner().invoke(main, ["jobs", "leader", "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) is None


def test_jobs_run_enqueues_the_job_now(broker):
    result = CliRunner().invoke(main, ["jobs", "run", "purge_expired_sessions"])

    assert result.exit_code == 0, result.output
    [(name, options)] = [
        (m.actor_name, m.options)
        for m in map(dramatiq.Message.decode, broker.client.hvals("dramatiq:maintenance.msgs"))
    ]
    assert name == "purge_expired_sessions"
    assert "scheduled_at" not in options  # a manual run


def test_jobs_run_refuses_an_unknown_job(broker):
    result = CliRunner().invoke(main, ["jobs", "run", "no_such_job"])

    assert result.exit_code == 2
    assert "unknown periodic job" in result.output
