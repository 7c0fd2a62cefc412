"""`make test`'s suite, this tree against a baseline commit, alternated in one sitting.

Each round runs ``make test`` once in a ``git archive`` of ``--baseline`` (default
``main``) and once in this tree, both with this tree's virtualenv (``BIN=``), each with its
own Makefile's settings (processes, environment). Per run: wall time, CPU time (user +
sys) of the whole process tree (``RUSAGE_CHILDREN``: make, pytest, its workers and the
processes tests start), and CPU time of the PostgreSQL backends serving the run's
databases (read from ``/proc`` every 0.1 s while the run lasts; backends that live less
long are missed, so it is a lower bound). On a shared machine wall time moves with the
neighbours' load; CPU time much less. The baseline's tree is no git checkout, so its test
of the release taken from the commit fails there.

Prints one JSON document: the runs, the medians and this tree's ratios to the baseline.
Run: ``.venv/bin/python bench/test_suite.py [--baseline main] [--rounds 1]``
(needs PostgreSQL and Redis like the tests; ``TEST_REDIS_URL`` etc. are passed on).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
# Test databases are named cartfleet_test_<pid of the pytest process>_<random>.
BACKEND = re.compile(rb"^postgres: .*? cartfleet_test_(\d+)_")


def _stat(pid: str) -> tuple[int, int] | None:
    """(parent pid, CPU ticks) of a process, None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12])


class BackendCPU(threading.Thread):
    """Samples the CPU ticks of the PostgreSQL backends of ``root``'s descendants."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.ticks, self.done = root, {}, threading.Event()

    def run(self) -> None:
        tree = {self.root}
        while not self.done.wait(0.1):
            pids = [pid for pid in os.listdir("/proc") if pid.isdigit()]
            stats = {pid: _stat(pid) for pid in pids}
            for pid, stat in stats.items():
                if stat and stat[0] in tree:
                    tree.add(int(pid))
            for pid, stat in stats.items():
                if stat is None:
                    continue
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                match = BACKEND.match(command)
                if match and int(match.group(1)) in tree:
                    self.ticks[pid] = max(self.ticks.get(pid, 0), stat[1])

    def seconds(self) -> float:
        self.done.set()
        self.join()
        return sum(self.ticks.values()) / TICKS


def run_suite(tree: Path) -> dict:
    venv = ROOT / ".venv"
    command = ["make", "-s", "-C", str(tree), "test", f"BIN={venv}/bin"]
    command += [f"STAMP={venv}/.installed", "PYTEST_ARGS=-q -p no:cacheprovider"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    backends = BackendCPU(process.pid)
    backends.start()
    output = process.communicate()[0]
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    return {
        "wall_s": round(wall, 1),
        "pytest_cpu_s": round(
            after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 1
        ),
        "postgres_cpu_s": round(backends.seconds(), 1),
        "exit_code": process.returncode,
        "summary": summary,
    }


def medians(runs: list[dict]) -> dict:
    keys = ("wall_s", "pytest_cpu_s", "postgres_cpu_s")
    return {key: round(statistics.median(run[key] for run in runs), 1) for key in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=1)
    options = parser.parse_args()

    runs: dict[str, list[dict]] = {"baseline": [], "this_tree": []}
    with tempfile.TemporaryDirectory(prefix="cartfleet-bench-suite-") as scratch:
        archive = subprocess.run(
            ["git", "archive", options.baseline], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", scratch], input=archive, check=True)
        for _ in range(options.rounds):
            runs["baseline"].append(run_suite(Path(scratch)))
            runs["this_tree"].append(run_suite(ROOT))
    baseline, this_tree = medians(runs["baseline"]), medians(runs["this_tree"])
    print(
        json.dumps(
            {
                "baseline": options.baseline,
                "cores": os.cpu_count(),
                "runs": runs,
                "median": {"baseline": baseline, "this_tree": this_tree},
                "ratio_to_baseline": {
                    key: round(this_tree[key] / baseline[key], 2) if baseline[key] else None
                    for key in baseline
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
