"""How long the challenge takes: the whole suite, and what a Python policy costs per run.

    PYTHONPATH=. python benchmarks/challenge_suite.py

Prints wall-clock times (they depend on the machine and on whether the compiled kernel is in use);
nothing here is asserted.
"""
import time

from bpsim import simulate
from bpsim.course.adaptive_challenge import builtin_policies, run_suite, suite
from bpsim.policies import FixedCapacity, PolicyStrategy


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ch = suite()[0]
    simulate(ch.scenario, strategy="drop_newest", rng=1)  # warm up (JIT compile, imports)
    plain = best_of(lambda: simulate(ch.scenario, strategy="drop_newest", capacity=50, rng=1))
    policy = best_of(lambda: simulate(ch.scenario, strategy=PolicyStrategy(FixedCapacity(50)),
                                      capacity=50, rng=1))
    calls = int(ch.scenario.duration_s / 0.1)
    print(f"one {ch.scenario.duration_s:.0f} s run, drop_newest: {plain:.3f} s")
    print(f"same run under a Python policy ({calls} calls): {policy:.3f} s "
          f"(+{(policy - plain) / calls * 1e6:.0f} us per call)")
    pols = builtin_policies()
    t = best_of(lambda: run_suite(pols), repeat=1)
    print(f"suite: {len(pols)} policies x {len(suite())} scenarios in {t:.2f} s")


if __name__ == "__main__":
    main()
