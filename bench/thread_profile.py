"""cProfile on every thread of this process, on each thread's own CPU clock.

cProfile follows only the thread that enabled it, and the harness (load generator,
Stripe sandbox, SMTP server) is many threads: ``install()`` gives each thread started
afterwards a profiler timed by ``time.thread_time`` (CPU, not wall: a thread waiting on
a socket costs nothing), and ``dump(path)`` merges them into one pstats file
(``python -m pstats path``, then ``sort tottime``).
"""

from __future__ import annotations

import cProfile
import pstats
import threading
import time

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()


def install() -> None:
    """Profile the threads started from now on (and the calling one)."""
    original_run = threading.Thread.run

    def profiled_run(thread: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        with _lock:
            _profiles.append(profile)
        profile.runcall(original_run, thread)

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    main = cProfile.Profile(time.thread_time)
    _profiles.append(main)
    main.enable()


def dump(path: str) -> None:
    """Write the merged profile of every thread so far to ``path``."""
    with _lock:
        profiles = list(_profiles)
    for profile in profiles:
        profile.disable()
    stats = pstats.Stats(profiles[0])
    for profile in profiles[1:]:
        stats.add(profile)
    stats.dump_stats(path)
