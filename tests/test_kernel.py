"""The compiled kernel must give exactly what the reference engine gives.

The kernel runs every built-in strategy through one generic admission rule (the four knobs of
``Strategy.rule()``), so two strategies with the same rule must also agree on the reference engine.
"""
import numpy as np
import pytest

import bpsim
from bpsim import DropNewest, Sample


@pytest.mark.parametrize("seed", range(3))
def test_same_rule_same_books_when_a_crash_interrupts_an_admission(seed):
    # Sample(every=1, start_fraction=1.0) samples nothing: its rule is drop_newest's. Capacity
    # equal to the memory slots makes the server crash part-way through a batch; what was not yet
    # handed over must be dropped by both, not lost by one and dropped by the other.
    kw = dict(capacity=200, memory_limit_bytes=200_000, producer_rate=5000, arrivals="poisson",
              duration_s=2, restart_s=0.1, rng=seed, engine="reference")
    assert Sample(every=1, start_fraction=1.0).rule() == DropNewest().rule()
    a = bpsim.simulate(strategy=Sample(every=1, start_fraction=1.0), **kw).summary()
    b = bpsim.simulate(strategy=DropNewest(), **kw).summary()
    assert a["crashes"] > 0
    a.pop("strategy"), b.pop("strategy")
    assert a == b
