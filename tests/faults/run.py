"""Run the fault scenarios and publish their table: ``python -m tests.faults.run``.

Options: ``--mode short|full`` (default: ``FAULTS_MODE``, else short), ``--only NAME``
(repeatable), ``--report PATH`` (write the markdown table, e.g. docs/reliability.md).
Prints one JSON object per scenario as it finishes; exits 1 if any invariant failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

from tests.faults.scenarios import MODES, SCENARIOS, Mode, current_mode, run_scenario

COLUMNS = (
    ("scenario", "scenario"),
    ("held", "invariants"),
    ("offered_checkouts_per_s", "offered checkouts/s"),
    ("achieved_checkouts_per_s", "achieved checkouts/s"),
    ("requests", "requests"),
    ("paid", "payments ok/declined"),
    ("refunds_requested", "refunds"),
    ("lost", "lost"),
    ("doubled", "doubled"),
    ("oversold", "oversold"),
    ("5xx", "5xx"),
    ("fault_s", "fault s"),
    ("recovery_s", "recovery s"),
)


def _cell(result: dict, key: str) -> str:
    if key == "held":
        return "skipped" if "skipped" in result else ("held" if result["held"] else "**broken**")
    if key == "paid":
        payments = result.get("payments")
        return f"{payments['succeeded']}/{payments['declined']}" if payments else ""
    value = result.get(key)
    return "" if value is None else str(value)


def table(results: list[dict]) -> str:
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |"]
    lines.append("|" + "---|" * len(COLUMNS))
    lines += ["| " + " | ".join(_cell(r, key) for key, _ in COLUMNS) + " |" for r in results]
    return "\n".join(lines)


def _faults(results: list[dict]) -> list[str]:
    return [
        f"- `{r['scenario']}`: {' '.join((SCENARIOS[r['scenario']].__doc__ or '').split())}"
        for r in results
    ]


def report(results: list[dict], mode: Mode, command: str, seconds: float) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    notes = [f"- `{r['scenario']}` skipped: {r['skipped']}" for r in results if "skipped" in r]
    notes += [
        f"- `{r['scenario']}` broke: `{json.dumps(r['broken'])[:600]}`; undeclared errors: "
        f"{r['undeclared_errors'][:5]}"
        for r in results
        if "skipped" not in r and not r["held"]
    ]
    return "\n".join(
        [
            "# Reliability under faults",
            "",
            "What `tests/faults/` proves: the fleet (web, two workers, two schedulers) runs "
            "under a mixed load while one dependency at a time breaks, and afterwards every "
            "succeeded PaymentIntent has exactly one paid order, each paid order exactly one "
            "confirmation email, each refund exactly one Stripe refund with the order's "
            "refunded amount matching Stripe's, stock is conserved per sku, nothing is left "
            "in the outbox, the inbox or a dead-letter queue, and clients saw no 5xx outside "
            "the declared outage. "
            "The scenarios, the invariants and how to read a failure are in "
            "`tests/faults/README.md`.",
            "",
            f"Produced by `{command}` on {dt.date.today().isoformat()} at commit {commit}, "
            f"{seconds / 60:.1f} minutes on this 2-core machine. Mode `{mode.name}`: "
            f"{mode.buyers} buyers, {mode.checkout_rate} checkouts/s offered, faults held "
            f"about {mode.hold_s:g} s after a {mode.warmup_s:g} s warm-up, {mode.tail_s:g} s "
            "of load after the fault; `recovery s` runs from the fault's end (so it includes "
            "that tail) until every invariant held. `refunds`: refunds staff asked for through "
            "the admin API during the run, in part and in full.",
            "",
            table(results),
            "",
            "The faults:",
            "",
            *_faults(results),
            "",
            *(["Notes:", "", *notes, ""] if notes else []),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=sorted(MODES), default=current_mode().name)
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    started = time.monotonic()
    results = []
    for name in args.only or list(SCENARIOS):
        result = run_scenario(name, MODES[args.mode])
        print(json.dumps(result), flush=True)
        results.append(result)
    if args.report:
        given = " ".join(sys.argv[1:] if argv is None else argv)
        full = args.mode == "full" and not args.only
        command = "make faults" if full else f".venv/bin/python -m tests.faults.run {given}"
        elapsed = time.monotonic() - started
        args.report.write_text(report(results, MODES[args.mode], command, elapsed) + "\n")
    return 0 if all(r.get("held", True) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
