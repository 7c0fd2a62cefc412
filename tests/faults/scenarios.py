"""The faults, each its own scenario run under the load, and the runner that judges them.

A scenario is a function ``fault(run)`` that breaks something, holds it for the mode's
``hold`` seconds, repairs it and returns the outage windows it declares: which 5xx
statuses (0 = no answer in time) clients may see, and when. ``run_scenario`` boots a
fresh cluster, starts the load, applies the fault after the warm-up, lets the load run
on, then polls the invariants until they hold (or the recovery deadline passes) and
returns the scenario's JSON.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import time
from collections.abc import Callable

import redis

from devtools.embedded import free_port
from tests.faults import invariants
from tests.faults.cluster import Services
from tests.faults.fleet import ROOT, SCHEDULERS, WORKERS, Fleet
from tests.faults.load import Load
from worker.leader import LEADER_KEY

BACKFILL_ACTOR = "backfill_stripe_events"
GRACE_S = 5  # answers still draining from the outage when it ended
MAX_LOAD_S = 900  # the load's bound, should a fault never return


@dataclasses.dataclass(frozen=True)
class Mode:
    name: str
    buyers: int
    checkout_rate: float
    warmup_s: float
    hold_s: float  # how long a fault lasts, unless the scenario scales it
    tail_s: float  # load after the fault ended
    # Deadline for the invariants to hold again: past the fleet's own slowest repair, the
    # stuck-webhook sweep (events received over 2 minutes ago, every minute).
    recovery_s: float


MODES = {
    "short": Mode("short", buyers=8, checkout_rate=2.5, warmup_s=6, hold_s=10, tail_s=6,
                  recovery_s=240),
    "full": Mode("full", buyers=32, checkout_rate=6.0, warmup_s=15, hold_s=30, tail_s=20,
                 recovery_s=360),
}  # fmt: skip


def current_mode() -> Mode:
    return MODES[os.environ.get("FAULTS_MODE", "short")]


@dataclasses.dataclass
class Run:
    services: Services
    fleet: Fleet
    mode: Mode
    windows: list[tuple[float, float, set[int]]] = dataclasses.field(default_factory=list)

    def hold(self, scale: float = 1.0) -> float:
        return self.mode.hold_s * scale

    def outage(self, codes: set[int], repair: Callable[[], None], seconds: float) -> None:
        """Wait ``seconds`` with the fault on, ``repair()``, and declare the window."""
        start = time.monotonic()
        time.sleep(seconds)
        repair()
        self.windows.append((start, time.monotonic() + GRACE_S, codes))


# --- the faults --------------------------------------------------------------------


def _slow_smtp(run: Run, latency_s: float) -> None:
    """Every worker's SMTP packets delayed by ``latency_s`` (0: back to normal)."""
    for worker in WORKERS:
        run.services.proxies(worker)["smtp"].set("pass", latency_s=latency_s)


def worker_sigkill(run: Run) -> None:
    """SIGKILL a worker every few seconds, restarted each time.

    SMTP answers slowly meanwhile (0.3 s per packet), so email jobs are in flight when a
    worker dies, beside the webhook jobs the load keeps arriving.
    """
    kills = 4
    _slow_smtp(run, 0.3)
    for n in range(kills):
        time.sleep(run.hold() / kills)
        run.fleet.kill(WORKERS[n % 2])
    _slow_smtp(run, 0)


def redis_restart(run: Run, *, empty: bool = False) -> None:
    """Redis stopped and started again with its append-only file."""
    start = time.monotonic()
    run.services.redis.restart(empty=empty)
    time.sleep(run.hold(0.5))
    run.windows.append((start, time.monotonic() + GRACE_S, {503}))


def redis_restart_empty(run: Run) -> None:
    """Redis killed and restarted with its data lost: jobs waiting in it are gone."""
    redis_restart(run, empty=True)


def postgres_restart(run: Run) -> None:
    """A fast shutdown (open sessions killed) and a start, mid-load."""
    start = time.monotonic()
    run.services.postgres.restart()
    time.sleep(run.hold(0.5))
    run.windows.append((start, time.monotonic() + GRACE_S, {503}))


def postgres_unreachable(run: Run) -> None:
    """Every packet to PostgreSQL black-holed (no RST: the clients must time out)."""
    run.services.set_mode("postgres", "blackhole")
    run.outage({503, 0}, lambda: run.services.set_mode("postgres", "pass"), run.hold())


def smtp_down(run: Run) -> None:
    """Every SMTP connection reset (2 minutes in the full mode), then back."""
    run.services.set_mode("smtp", "reset")
    run.outage(
        set(),
        lambda: run.services.set_mode("smtp", "pass"),
        run.hold(4 if run.mode.name == "full" else 1),
    )


def smtp_flapping(run: Run) -> None:
    """Every other SMTP connection reset."""
    run.services.set_mode("smtp", "flap")
    run.outage(set(), lambda: run.services.set_mode("smtp", "pass"), run.hold())


def stripe_failing(run: Run) -> None:
    """Stripe's API answers 500 for a while, then times out (black hole) for a while."""
    calls = int(run.mode.checkout_rate * run.hold()) * 2
    run.services.sandbox.control.fail_next_requests(calls)
    run.outage({502}, lambda: run.services.sandbox.control.fail_next_requests(0), run.hold())
    run.services.set_mode("stripe", "blackhole")
    run.outage({502, 0}, lambda: run.services.set_mode("stripe", "pass"), run.hold())


def backfill_missing() -> str | None:
    """Why the backfill scenario cannot run here, or None: is the actor declared in jobs/?"""
    declared = any(
        f'"{BACKFILL_ACTOR}"' in path.read_text() for path in (ROOT / "jobs").glob("*.py")
    )
    return None if declared else f"no {BACKFILL_ACTOR} actor on this branch: nothing would backfill"


def webhooks_lost(run: Run) -> None:
    """Deliveries dropped, the sandbox clock past Stripe's 3-day retry window, then back."""
    control = run.services.sandbox.control
    control.set_switches(drop=True)
    time.sleep(run.hold())
    control.advance_clock(3 * 86_400 + 3600)
    control.set_switches(drop=False)


def _leader(run: Run) -> str:
    """The scheduler holding the lease (its pid is in the holder's identity)."""
    client = redis.Redis(port=run.services.redis.port, socket_timeout=5)
    holder = (client.get(LEADER_KEY) or b"").decode()
    client.close()
    pids = {str(run.fleet.processes[name].pid): name for name in SCHEDULERS}
    return next((pids[p] for p in holder.split(":") if p in pids), SCHEDULERS[0])


def scheduler_frozen(run: Run) -> None:
    """The leading scheduler SIGSTOPped past its 30 s lease (the other takes over), resumed."""
    leader = _leader(run)
    run.fleet.freeze(leader)
    time.sleep(max(40.0, run.hold()))
    run.fleet.thaw(leader)


def worker_partitioned(run: Run) -> None:
    """One worker's every connection (PostgreSQL, Redis, SMTP, Stripe) black-holed."""
    groups = (WORKERS[0],)
    for dependency in ("postgres", "redis", "smtp", "stripe"):
        run.services.set_mode(dependency, "blackhole", groups=groups)

    def reconnect() -> None:
        for dependency in ("postgres", "redis", "smtp", "stripe"):
            run.services.set_mode(dependency, "pass", groups=groups)

    run.outage(set(), reconnect, run.hold(2 if run.mode.name == "full" else 1))


SCENARIOS: dict[str, Callable[[Run], None]] = {
    "worker_sigkill": worker_sigkill,
    "redis_restart": redis_restart,
    "redis_restart_empty": redis_restart_empty,
    "postgres_restart": postgres_restart,
    "postgres_unreachable": postgres_unreachable,
    "smtp_down": smtp_down,
    "smtp_flapping": smtp_flapping,
    "stripe_failing": stripe_failing,
    "webhooks_lost": webhooks_lost,
    "scheduler_frozen": scheduler_frozen,
    "worker_partitioned": worker_partitioned,
}

PRECONDITIONS: dict[str, Callable[[], str | None]] = {"webhooks_lost": backfill_missing}


# --- the runner ----------------------------------------------------------------------


def run_scenario(name: str, mode: Mode | None = None) -> dict:
    """Boot a fleet, load it, apply ``name``'s fault, and judge the invariants."""
    mode = mode or current_mode()
    reason = PRECONDITIONS.get(name, lambda: None)()
    if reason:
        return {"scenario": name, "mode": mode.name, "skipped": reason}
    previous = signal.signal(signal.SIGTERM, _exit)
    services = Services(free_port()).start()
    fleet = Fleet(services)
    try:
        fleet.start()
        run = Run(services, fleet, mode)
        load = Load(
            fleet.url, services.sandbox.url, buyers=mode.buyers,
            checkout_rate=mode.checkout_rate, seconds=MAX_LOAD_S,
        ).start()  # fmt: skip
        time.sleep(mode.warmup_s)
        started = time.monotonic()
        SCENARIOS[name](run)
        ended = time.monotonic()
        time.sleep(mode.tail_s)
        load.stop()
        verdict = invariants.wait_until_held(services, since=ended, timeout=mode.recovery_s)
        errors = load.server_errors(run.windows)
        return {
            "scenario": name,
            "mode": mode.name,
            "fault_s": round(ended - started, 1),
            **load.summary(),
            **invariants.counts(verdict),
            "5xx": sum(r.status >= 500 for r in load.records),
            "undeclared_errors": [f"{r.endpoint} {r.status} at +{r.at - load.started:.1f}s"
                                  for r in errors][:20],
            "held": verdict["held"] and not errors,
            "recovery_s": verdict["recovery_s"],
            "broken": {k: v[:20] for k, v in verdict["broken"].items()},
            "logs": None if verdict["held"] and not errors else _keep_logs(services, name),
        }  # fmt: skip
    finally:
        fleet.stop()
        services.stop()
        signal.signal(signal.SIGTERM, previous)


def _exit(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so the fleet and the temporary directory are removed."""
    raise SystemExit(128 + signum)


def _keep_logs(services: Services, name: str) -> str:
    """Copy a failed run's process logs out of the temporary directory."""
    kept = ROOT / "var" / "faults" / name
    shutil.copytree(services.root / "logs", kept, dirs_exist_ok=True)
    return str(kept)
