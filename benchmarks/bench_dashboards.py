"""How long a dashboard takes to redraw: from a value change to the new figure, in-process.

    PYTHONPATH=. python benchmarks/bench_dashboards.py

Covers the dashboards of notebooks 01 (crash), 02 (strategies), 04 (the incident explorer), 05
(the challenge's explore widget) and 07 (clients that give up). Each change is applied through ``Dashboard.update`` (what
the dashboard's worker does for each value a drag reaches): the simulation at the 1 ms tick (04:
the story's 2 s), the browser chart's frame (screen-resolution series) and its state sent to the
page. Median of several repeats, in milliseconds, each with the dashboard's remembered frames
forgotten first (``Dashboard.forget``), so that every repeat makes its frame. The last table is a
drag's first steps after the dashboard worked the settings around it out ahead (as it does while
a page shows it): only sent. The browser adds its own share on top (sending, drawing with uPlot):
see ``benchmarks/slider_latency.py`` for updates per second while dragging.
"""
import os
import time

import numpy as np

from bpsim.course import adaptive_challenge as challenge_plots, clients_that_give_up as clients
from bpsim.course import openai_outage as incident, the_scenario, strategies as course_strategies
from bpsim.viz.dashboard import slider_values

REPEAT = 5
DEFAULTS = {"crash": dict(producer_rate=1000, consumer_rate=100, memory_limit_mb=100,
                          message_bytes=1000),
            "strategy": dict(strategy="drop_newest", producer_rate=1000, consumer_rate=100,
                             capacity=500, consumers=1, sample_every=10),
            "incident": dict(nodes=2500, per_node_rate=0.5, api_servers=3, fairness=False,
                             retry="immediate"),
            "challenge": dict(name="adaptive", latency_target_s=0.5, memory_budget_mb=10.0,
                              slowdown=0.25),
            "clients": dict(producer_rate=90, client_timeout_s=1.0, capacity=500, order="fifo")}


def uncached(dashboard, change):
    """Wall and CPU time (ms) of one change with every remembered run forgotten first."""
    incident.outage_run.cache_clear()
    challenge_plots._fixed_run.cache_clear()
    for cell in dashboard._render.__closure__ or ():
        if hasattr(cell.cell_contents, "cache_clear"):
            cell.cell_contents.cache_clear()
    return timed(dashboard, change, repeat=1)


def ahead(name, dashboard, steps=8):
    """Median wall and CPU time (ms) of the first ``steps`` steps right of the defaults on the
    dashboard's first slider, made now and made ahead (``Dashboard.work_ahead``)."""
    slider = next(n for n, c in dashboard.controls.items() if slider_values(c))
    grid = slider_values(dashboard.controls[slider])
    start = grid.index(min(grid, key=lambda v: abs(v - DEFAULTS[name][slider])))
    row = []
    for made_ahead in (False, True):
        dashboard.update(**DEFAULTS[name])
        dashboard.forget()
        if name == "incident":
            incident.outage_run.cache_clear()
        dashboard.update(**DEFAULTS[name])   # (made again: the defaults' frame)
        if made_ahead:
            dashboard.work_ahead(dashboard.ahead)
        wall, cpu = [], []
        for v in grid[start + 1:start + 1 + steps]:
            w, c = time.perf_counter(), time.process_time()
            dashboard.update(**{slider: v})
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
        row += [1000 * float(np.median(wall)), 1000 * float(np.median(cpu))]
    print(f"  {name:<10} {slider:<18} {row[0]:9.1f} {row[1]:6.1f} {row[2]:13.2f} {row[3]:6.2f}")


def timed(dashboard, change, repeat=REPEAT):
    """Median wall-clock and CPU time (ms) of ``dashboard.update(**change)``.

    The CPU time of this process is what the redraw costs on an idle machine; wall-clock time
    also counts waiting for the cores when other programs use them.
    """
    wall, cpu = [], []
    for _ in range(repeat):
        dashboard.forget()
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
    crash = the_scenario.crash_dashboard()
    print(f"crash dashboard built in {1000 * (time.perf_counter() - start):.0f} ms")
    bench("crash dashboard", crash, [
        {"producer_rate": 1000}, {"producer_rate": 2000}, {"consumer_rate": 500},
        {"memory_limit_mb": 500}, {"message_bytes": 100}])
    strat = course_strategies.strategy_dashboard()
    bench("strategy dashboard", strat, [{"strategy": s} for s in
                                         ("unbounded", "block", "drop_newest", "drop_oldest",
                                          "sample", "shed", "adaptive")]
          + [{"strategy": "drop_newest", "consumers": 5}, {"capacity": 5000},
             {"producer_rate": 5000}, {"sample_every": 3, "strategy": "sample"}])
    cli = clients.clients_dashboard()
    bench("clients dashboard", cli, [{"producer_rate": 95}, {"producer_rate": 150},
                                     {"client_timeout_s": 0.5}, {"capacity": 100},
                                     {"order": "lifo"}, {"order": "adaptive_lifo"}])
    start = time.perf_counter()
    inc = incident.outage_dashboard()
    print(f"incident explorer built in {1000 * (time.perf_counter() - start):.0f} ms")
    start = time.perf_counter()
    chal = challenge_plots.policy_dashboard()
    print(f"challenge explore widget built in {1000 * (time.perf_counter() - start):.0f} ms")
    # Runs are remembered, so a repeated change is cheap: the first column of each pair below is
    # a change to a setting not seen before (nothing remembered), the second one a repeat.
    for name, d, changes in (
            ("incident explorer", inc, [{"nodes": 2750}, {"nodes": 1500}, {"per_node_rate": 0.6},
                                        {"api_servers": 4}, {"fairness": True},
                                        {"retry": "backoff"}]),
            ("challenge explore widget", chal, [{"name": "codel"}, {"name": "fixed"},
                                                {"latency_target_s": 0.6},
                                                {"memory_budget_mb": 11.0},
                                                {"slowdown": 0.3}])):
        print(f"{name}:{'new wall':>41}{'cpu':>6}{'repeat wall':>13}{'cpu':>6}")
        for change in changes:
            d.update(**DEFAULTS["incident" if d is inc else "challenge"])
            new_wall, new_cpu = uncached(d, change)
            d.update(**DEFAULTS["incident" if d is inc else "challenge"])
            wall, cpu = timed(d, change)
            print(f"  {str(change):<45} {new_wall:6.0f} {new_cpu:5.0f} {wall:12.0f} {cpu:5.0f}")
    for name, d in (("crash", crash), ("strategy", strat), ("incident", inc), ("challenge", chal),
                    ("clients", cli)):
        d.update(**{k: v for k, v in DEFAULTS[name].items()})
        wall, cpu = timed(d, {}, repeat=15)
        print(f"{name} dashboard at its defaults, median of 15: {wall:.0f} ms wall, {cpu:.0f} ms cpu")
        if name in ("incident", "challenge"):   # the others remember nothing anyway
            walls = [uncached(d, {})[0] for _ in range(5)]
            print(f"{'':>{len(name)}} ... nothing remembered, median of 5: "
                  f"{np.median(walls):.0f} ms wall")
    print(f"A drag's first 8 steps right on the first slider (median ms):"
          f"\n  {'dashboard':<10} {'slider':<18} {'made wall':>9} {'cpu':>6} "
          f"{'ahead wall':>13} {'cpu':>6}")
    for name, d in (("crash", crash), ("strategy", strat), ("incident", inc), ("challenge", chal),
                    ("clients", cli)):
        ahead(name, d)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
