"""A cost that follows events, not ticks: a quiet queue, bpsim against Ciw and a plain event loop.

Run it as ``python benchmarks/bench_events.py`` (``--quick`` for fewer repeats). The scenario is
M/M/1/K at low load: 1,000 simulated seconds, 20 msg/s Poisson into one consumer at 100 msg/s
(exponential), a buffer of 500 slots, ``drop_newest``. bpsim ticks every 1 ms, so 98 % of its
million ticks have no arrival and most have no service ending either; the kernel goes over such
ticks on a fast path that writes nothing: its series log gets a row only when something happens
(the per-tick series are rebuilt from it when asked for). The peers:

* Ciw (a discrete-event queueing library), the same queue, its records collected;
* an event-driven model in plain Python written here: a heap of (time, event), arrivals and
  service times drawn up front with numpy, the same counts and latencies.

Each figure is the least CPU time of a few calls in this one process, after a warm-up; bpsim's
is a whole ``simulate(...).summary()``. The "delivered" columns show that the models agree.
"""
from __future__ import annotations

import argparse
import heapq
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bpsim  # noqa: E402
from bench_core import best_of  # noqa: E402  (one timing helper for every benchmark)

try:
    import ciw
except ImportError:  # pragma: no cover
    sys.exit("This benchmark needs Ciw: pip install 'bpsim[bench]' (or pip install ciw).")

LAM, MU, CAPACITY, T, DT = 20.0, 100.0, 500, 1000.0, 0.001


def bpsim_run(seed=1, duration_s=T, engine="auto", result=False):
    r = bpsim.simulate(strategy="drop_newest", producer_rate=LAM, consumer_rate=MU,
                       capacity=CAPACITY, duration_s=duration_s, dt_s=DT, arrivals="poisson",
                       service="exponential", rng=seed, engine=engine)
    return r if result else r.summary()


def ciw_run(seed=1, duration_s=T):
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=LAM)],
        service_distributions=[ciw.dists.Exponential(rate=MU)],
        number_of_servers=[1], queue_capacities=[CAPACITY])
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    sim.simulate_until_max_time(duration_s)
    records = sim.get_all_records()
    latencies = [r.exit_date - r.arrival_date for r in records if r.record_type == "service"]
    return {"delivered": len(latencies), "latency_p50_s": float(np.median(latencies))}


def python_run(seed=1, duration_s=T):
    """M/M/1/K as a plain event loop: a heap of (time, kind), FIFO buffer, drop when full."""
    rng = np.random.default_rng(seed)
    n_max = int(LAM * duration_s + 10 * math.sqrt(LAM * duration_s) + 100)
    gaps = iter(rng.exponential(1.0 / LAM, n_max).tolist())
    works = iter(rng.exponential(1.0 / MU, n_max).tolist())
    events = [(next(gaps), 0)]  # 0: arrival, 1: departure
    buffer = []
    head = 0
    busy_gen = None
    offered = dropped = 0
    latencies = []
    while events:
        now, kind = heapq.heappop(events)
        if now > duration_s:
            break
        if kind == 0:
            offered += 1
            heapq.heappush(events, (now + next(gaps), 0))
            if busy_gen is None:
                busy_gen = now
                heapq.heappush(events, (now + next(works), 1))
            elif len(buffer) - head < CAPACITY:
                buffer.append(now)
            else:
                dropped += 1
        else:
            latencies.append(now - busy_gen)
            if head < len(buffer):
                busy_gen = buffer[head]
                head += 1
                heapq.heappush(events, (now + next(works), 1))
            else:
                busy_gen = None
    return {"delivered": len(latencies), "dropped": dropped, "offered": offered,
            "latency_p50_s": float(np.median(latencies))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    args = ap.parse_args(argv)
    repeats = 2 if args.quick else 5
    print("bpsim", bpsim.__version__, "| Ciw", ciw.__version__, "| numpy", np.__version__,
          "| Python", sys.version.split()[0])
    print(f"M/M/1/{CAPACITY + 1}: {LAM:.0f} msg/s into {MU:.0f} msg/s, {T:.0f} s, bpsim tick "
          f"{DT * 1e3:.0f} ms ({int(T / DT):,} ticks)")
    bpsim_run(duration_s=1.0)  # loads the kernel: not timed
    tb, sb = best_of(bpsim_run, repeats)
    tc, sc = best_of(ciw_run, max(1, repeats // 2))
    tp, sp = best_of(python_run, repeats)
    print(f"   {'model':<28} {'CPU ms':>9} {'x bpsim':>8} {'delivered':>10} {'latency p50 ms':>15}")
    for name, t, s in (("bpsim simulate()+summary()", tb, sb), ("Ciw", tc, sc),
                       ("plain-Python event loop", tp, sp)):
        print(f"   {name:<28} {t * 1e3:9.1f} {t / tb:7.1f}x {s['delivered']:>10} "
              f"{s['latency_p50_s'] * 1e3:15.2f}")
    print(f"   goals: Ciw / bpsim >= 20x (now {tc / tb:.1f}x), event loop / bpsim > 1x "
          f"(now {tp / tb:.1f}x)")
    r = bpsim_run(result=True)
    rows = len(r._log)
    print(f"   bpsim's series log: {rows:,} rows ({r._log.nbytes / 1e6:.1f} MB) for "
          f"{r.scenario.n_ticks:,} ticks, still {r.time_s.size:,} points per tick when read "
          f"(the per-tick table it replaces: {r.scenario.n_ticks * 15 * 8 / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
