"""How long the API-server model takes: one incident run, the fixes, and CPU vs wall time.

    PYTHONPATH=. python benchmarks/bench_apiserver.py

Notebook 04 makes about fifteen runs; each should stay well under a second so that the notebook
runs in a few seconds and a slider redraw feels immediate. Prints figures, asserts nothing.
"""
import time

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


if __name__ == "__main__":
    a = incident.Assumptions()
    ticks = int(a.duration_s / a.dt_s)
    print(f"incident: {ticks:,} ticks of {a.dt_s:g} s, 3 classes")
    clock("incident, shared FIFO (the collapse)", lambda: incident.run_incident(a))
    clock("incident, fairness on", lambda: incident.run_incident(a, fairness=True))
    clock("the five fixes, alone and with delete", lambda: incident.run_fixes(a), repeat=1)
    clock("retry storm, 600 s, immediate retries",
          lambda: simulate_apiserver(incident.retry_storm_model(0.0), rng=1))
