"""Notebook 03, the course's micro-challenge: count the drops in 30 s, then turn backpressure on.

The course's module gives the producer (``--rate 0.01``: a message every 10 ms, 100 msg/s), the
length (30 seconds) and, in its diagram, a consumer of 10 msg/s (0.1 s per message); it gives no
buffer size. The buffer of 50 slots is the series' own choice, and the same set is used wherever
the micro-challenge appears (notebook 03, the live programs' defaults in notebook 06 and the
README): nine messages in ten cannot be served, and the buffer fills in about half a second.

>>> MICRO["producer_rate"] / MICRO["consumer_rate"]
10.0
"""
from __future__ import annotations

from ..engine import simulate

#: The micro-challenge's set-up: rates in msg/s, capacity in messages, duration in seconds.
MICRO = dict(producer_rate=100.0, consumer_rate=10.0, capacity=50, duration_s=30.0)
#: The seed of every micro-challenge run in the series.
SEED = 1


def micro_run(strategy: str = "drop_newest", **changes):
    """The micro-challenge with one strategy (``changes`` override :data:`MICRO`)."""
    return simulate(strategy=strategy, rng=SEED, **{**MICRO, **changes})
