"""How long a sweep of 400 runs of the headline scenario takes: one process, then every core.

    .venv/bin/python benchmarks/bench_sweep.py

The goal: 400 runs (20 producer rates x 20 capacities, 60 s of 1,000-msg/s-class traffic each,
Poisson arrivals, exponential service, 1 ms ticks) in under 2 s on 2 cores. Prints figures (median
of 3 after a warm-up), asserts nothing.
"""
import os
import statistics
import time

import bpsim

GRID = {"producer_rate": list(range(100, 2100, 100)), "capacity": [25 * k for k in range(1, 21)]}
KW = dict(strategy="drop_newest", duration_s=60, arrivals="poisson", service="exponential", rng=1)


def clock(executor, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        bpsim.sweep(GRID, executor=executor, **KW)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":
    bpsim.simulate(duration_s=1)  # the kernel loaded once, as in a notebook
    print(f"400 runs of the headline scenario, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}")
    serial = clock("serial")
    pool = clock(None)
    print(f"  one process (executor='serial'): {serial:.2f} s ({serial / 400 * 1e3:.1f} ms a run)")
    print(f"  every core (the default pool):   {pool:.2f} s  ({serial / pool:.1f}x)")
