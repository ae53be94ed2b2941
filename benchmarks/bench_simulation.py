"""One frame of an animation: bpsim.Simulation stepping 1/30 s of the headline, events included.

Run it as ``python benchmarks/bench_simulation.py`` (``--quick`` for fewer frames). A view that
shows single messages moving steps its simulation 30 times a second; each step is one
``sim.advance(1/30)`` and one ``sim.events()`` (what happened in that 1/30 s: counts per tick,
messages served, the buffer and the workers). The goal (issue "Watch the messages") is well under
5 ms a step. The peer is what a view would do without a Simulation: run ``simulate`` again from
the start up to the frame's time, here at 10 s and 60 s into the run. Figures are the median and
worst CPU time per frame over the frames of the first minute, in this one process, after a
warm-up; the strategies are the headline's (bench_core.py): 1,000 msg/s into one consumer at
100 msg/s, a buffer of 500, 1 ms ticks, Poisson arrivals and exponential service.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bpsim  # noqa: E402
from bench_core import HEADLINE, PARAMS, best_of  # noqa: E402

FRAME_S = 1 / 30


def frames(strategy, n_frames):
    kw = {k: v for k, v in HEADLINE.items() if k != "duration_s"}
    sim = bpsim.Simulation(strategy=strategy, rng=1, **kw, **PARAMS.get(strategy, {}))
    times = []
    for _ in range(n_frames):
        t = time.process_time()
        sim.advance(FRAME_S)
        sim.events()
        times.append(time.process_time() - t)
    return times, sim


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer frames and repeats")
    args = ap.parse_args(argv)
    n = 300 if args.quick else 1800  # 10 s or a minute of frames
    repeats = 3 if args.quick else 5
    frames("drop_newest", 5)  # compile and warm up
    print(f"One animation frame = advance(1/30 s) + events(), {n} frames (ms of CPU)")
    head = (f"{'strategy':12} {'median':>7} {'worst':>7} {'frames/s':>9} "
            f"{'simulate to 10 s':>17} {'to 60 s':>8}")
    print(head)
    for name in ("unbounded", "drop_newest", "block", "drop_oldest", "shed", "sample",
                 "adaptive"):
        times, sim = frames(name, n)
        med, worst = statistics.median(times), max(times)
        peers = []
        for until in (10.0, 60.0):
            kw = dict(HEADLINE, duration_s=until)
            t, _ = best_of(lambda: bpsim.simulate(strategy=name, rng=1, **kw,
                                                  **PARAMS.get(name, {})).summary(), repeats)
            peers.append(t)
        print(f"{name:12} {med * 1e3:7.2f} {worst * 1e3:7.2f} {1 / med:9.0f} "
              f"{peers[0] * 1e3:17.2f} {peers[1] * 1e3:8.2f}")
    print("(frames/s: what the median step allows; simulate columns: one rerun from the start)")


if __name__ == "__main__":
    main()
