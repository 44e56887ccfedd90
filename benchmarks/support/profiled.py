"""Run a module under cProfile and write the profile when the process is asked to stop:
``python -m benchmarks.support.profiled <out.prof> <module> [args…]``. Profiling starts at
the first SIGUSR1 (so the start-up, imports included, is neither profiled nor slowed).

``python -m cProfile`` writes nothing for uvicorn, which re-raises the SIGTERM it handled
once it has shut down; here that re-raised signal ends the run through ``SystemExit``. Times
are CPU time of the process (a wall clock would charge to a socket write the time the process
waited, preempted, for a core on a busy machine).
"""

from __future__ import annotations

import cProfile
import runpy
import signal
import sys
import time


def main() -> None:
    out, module, *args = sys.argv[1:]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.argv = [module, *args]
    profile = cProfile.Profile(time.process_time)
    # (a signal handler runs in the main thread: the one running the event loop)
    signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        profile.disable()
        profile.dump_stats(out)


if __name__ == "__main__":
    main()
