"""How long the API-server model takes: the explorer's live preview, one incident run, the fixes.

    PYTHONPATH=. python benchmarks/bench_apiserver.py

Notebook 04's explorer redraws while a slider moves; at 10 redraws a second its default run
(``incident.explore_run()`` at the preview tick :data:`bpsim.incident.PREVIEW_DT_S`) must take
well under 100 ms. The first section times that run (in-process, the lru_cache bypassed) at the
preview tick and at finer ones: median and best of several runs. The rest are the notebook's
other runs, which should each stay well under a second. Prints figures, asserts nothing.
"""
import statistics
import sys
import time
from dataclasses import replace

from bpsim.course import openai_outage as incident
from bpsim.apiserver import simulate_apiserver


def clock(label, fn, repeat=3):
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    print(f"{label:>40}: {best_wall:6.2f} s wall, {best_cpu:6.2f} s cpu (best of {repeat})")


def explorer_run_ms(dt_s, repeat=15):
    """Median and best wall time (ms) of the explorer's default run at tick ``dt_s``."""
    a = replace(incident.Assumptions(), dt_s=dt_s)
    run = incident.explore_run.__wrapped__          # the run itself, not the remembered one
    run(a=a)                                        # warm-up: imports, compiling, caches
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        run(a=a)
        times.append(1e3 * (time.perf_counter() - t))
    return statistics.median(times), min(times)


if __name__ == "__main__":
    print("explorer default run (incident.explore_run() defaults, 2 h of model time):")
    for dt in sorted({incident.PREVIEW_DT_S, 2.0, 1.0}, reverse=True):
        med, best = explorer_run_ms(dt)
        ticks = int(round(incident.Assumptions().duration_s / dt))
        print(f"  tick {dt:g} s ({ticks:,} ticks): median {med:7.1f} ms, best {best:7.1f} ms"
              f" (of 15)")
    if "--explorer" in sys.argv:
        sys.exit()
    a = incident.Assumptions()
    ticks = int(a.duration_s / a.dt_s)
    print(f"incident: {ticks:,} ticks of {a.dt_s:g} s, 3 classes")
    clock("incident, shared FIFO (the collapse)", lambda: incident.run_incident(a))
    clock("incident, fairness on", lambda: incident.run_incident(a, fairness=True))
    clock("the five fixes, alone and with delete", lambda: incident.run_fixes(a), repeat=1)
    clock("retry storm, 600 s, immediate retries",
          lambda: simulate_apiserver(incident.retry_storm_model(0.0), rng=1))
