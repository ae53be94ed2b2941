"""How long a dashboard takes to redraw: from a value change to the new figure, in-process.

    PYTHONPATH=. python benchmarks/bench_dashboards.py

Each change is applied through ``Dashboard.update`` (what a slider release does): a preview run of
the simulator, the figure redrawn and encoded as PNG. Median of several repeats, in milliseconds.
The browser adds its own share on top (sending the PNG, painting it); see
/work/shared/reference/browser-testing.md for that part.
"""
import os
import time

import numpy as np

from bpsim import widgets

REPEAT = 5
DEFAULTS = {"crash": dict(producer_rate=1000, consumer_rate=100, memory_limit_mb=100,
                          message_bytes=1000),
            "strategy": dict(strategy="drop_newest", producer_rate=1000, consumer_rate=100,
                             capacity=500, consumers=1, sample_every=10)}


def timed(dashboard, change, repeat=REPEAT):
    """Median wall-clock and CPU time (ms) of ``dashboard.update(**change)``.

    The CPU time of this process is what the redraw costs on an idle machine; wall-clock time
    also counts waiting for the cores when other programs use them.
    """
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        dashboard.update(**change)
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return 1000 * float(np.median(wall)), 1000 * float(np.median(cpu))


def bench(name, dashboard, changes):
    print(f"{name}:{'wall ms':>48}{'cpu ms':>9}")
    for change in changes:
        wall, cpu = timed(dashboard, change)
        print(f"  {str(change):<45} {wall:6.0f} {cpu:8.0f}")


if __name__ == "__main__":
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    start = time.perf_counter()
    crash = widgets.crash_dashboard()
    print(f"crash dashboard built in {1000 * (time.perf_counter() - start):.0f} ms")
    bench("crash dashboard", crash, [
        {"producer_rate": 1000}, {"producer_rate": 2000}, {"consumer_rate": 500},
        {"memory_limit_mb": 500}, {"message_bytes": 100}])
    strat = widgets.strategy_dashboard()
    bench("strategy dashboard", strat, [{"strategy": s} for s in
                                         ("unbounded", "block", "drop_newest", "drop_oldest",
                                          "sample", "shed", "adaptive")]
          + [{"strategy": "drop_newest", "consumers": 5}, {"capacity": 5000},
             {"producer_rate": 5000}, {"sample_every": 3, "strategy": "sample"}])
    for name, d in (("crash", crash), ("strategy", strat)):
        d.update(**{k: v for k, v in DEFAULTS[name].items()})
        wall, cpu = timed(d, {}, repeat=15)
        print(f"{name} dashboard at its defaults, median of 15: {wall:.0f} ms wall, {cpu:.0f} ms cpu")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
