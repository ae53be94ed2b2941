"""Compiling ahead: the series' compiled code made before a learner's first run.

bpsim's two compiled engines, the queue's (:mod:`bpsim.kernel`) and the API server's
(:mod:`bpsim.apiserver.ticks`), are compiled by numba the first time they are used: about 25 s of
CPU each on a 2-core machine, after which numba's cache holds the machine code and a new process
loads it in about half a second (the cache's place: :mod:`bpsim.kernel`). Without a warm-up the
first learner to run notebook 01 waits for one compile, and the first to run notebook 04 for the
other. :func:`warm_up` compiles both now, with tiny runs that take every compiled path the series
takes (each strategy; even and Poisson arrivals; clients that give up; a policy that drops from
the head; a run long enough to be streamed; notebook 04's two models).
``python -m bpsim.course.warmup`` does the same from a shell and says how long it took;
``tasks.py lab`` and ``tasks.py present`` start it in the background while the page opens. With
the cache already filled it takes a second or two.
"""
from __future__ import annotations

import time


def warm_up(*, apiserver: bool = True) -> dict[str, float]:
    """Compile (or load from numba's cache) every compiled path the series uses.

    Parameters
    ----------
    apiserver : bool
        Also the API server's engine (notebook 04's model), about as long again when cold.

    Returns
    -------
    dict
        Wall time per engine (s): ``{"queue": ..., "API server": ...}``.
    """
    seconds = {}
    start = time.perf_counter()
    _queue()
    seconds["queue"] = time.perf_counter() - start
    if apiserver:
        start = time.perf_counter()
        _apiserver()
        seconds["API server"] = time.perf_counter() - start
    return seconds


def _queue() -> None:
    from ..engine import EAGER_TICKS, simulate
    from ..policies import CoDel, PolicyStrategy
    from ..strategies import STRATEGIES

    # every strategy with each kind of arrivals and of service: the kernel, the Poisson draw
    # (whose compiled method depends on the mean per tick: 0.1 and 1 messages), the summary
    for arrivals, service, rate in (("constant", "deterministic", 1000.0),
                                    ("poisson", "exponential", 1000.0),
                                    ("poisson", "exponential", 100.0)):
        for name in STRATEGIES:
            simulate(strategy=name, producer_rate=rate, consumer_rate=100.0, capacity=50,
                     duration_s=1.0, arrivals=arrivals, service=service, rng=0).summary()
    # clients that give up (the expired messages' discard), served newest first
    simulate(strategy="drop_newest", duration_s=1.0, client_timeout_s=0.05, drop_expired=True,
             order="lifo", rng=0).summary()
    # a policy whose decisions drop from the buffer's head (CoDel), on a step schedule
    simulate(strategy=PolicyStrategy(CoDel()), duration_s=2.0, arrivals="poisson",
             service="exponential", rate_schedule=((1.0, 500.0),), rng=0).summary()
    # a run too long to draw at once: its arrivals come in windows, its series in bins
    simulate(strategy="drop_newest", producer_rate=10.0, consumer_rate=100.0,
             duration_s=(EAGER_TICKS + 1) * 0.001, arrivals="poisson", service="exponential",
             rng=0).summary()


def _apiserver() -> None:
    from ..apiserver import simulate_apiserver
    from . import openai_outage

    simulate_apiserver(openai_outage.retry_storm_model(0.0, duration_s=5.0), rng=0)
    simulate_apiserver(openai_outage.incident_model(), rng=0)


def main() -> int:
    """``python -m bpsim.course.warmup``: compile, and say how long each engine took."""
    seconds = warm_up()
    parts = ", ".join(f"the {name}'s {s:.0f} s" for name, s in seconds.items())
    print(f"bpsim's compiled engines are ready ({parts}); numba's cache keeps them, so later "
          "sessions load them in about half a second each.", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
