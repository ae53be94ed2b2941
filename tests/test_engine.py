"""Properties every run must have, whatever the strategy and the parameters.

Randomized with hypothesis: the accounting identity (tick by tick), the bounds, and determinism.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpsim import STRATEGIES, simulate
from bpsim.strategies import params_of
from helpers import assert_books_balance, assert_bounds

scenarios = st.fixed_dictionaries({
    "producer_rate": st.sampled_from([0.0, 50.0, 300.0, 1000.0, 5000.0]),
    "consumer_rate": st.sampled_from([20.0, 100.0, 700.0, 3000.0]),
    "capacity": st.integers(0, 60),
    "duration_s": st.sampled_from([0.5, 1.0, 2.0]),
    "dt_s": st.sampled_from([0.001, 0.004]),
    "arrivals": st.sampled_from(["constant", "poisson"]),
    "service": st.sampled_from(["deterministic", "exponential"]),
    "consumers": st.integers(1, 3),
    "message_bytes": st.sampled_from([100, 1000]),
    "memory_limit_bytes": st.sampled_from([2_000, 20_000, 1_000_000]),
    "restart_s": st.sampled_from([0.0, 0.05, 0.3]),
    "rate_schedule": st.sampled_from([(), ((0.2, 3000.0), (0.4, 100.0))]),
    "speed_schedule": st.sampled_from([(), ((0.1, 0.0), (0.3, 0.25), (0.6, 1.0))]),
    "consumers_schedule": st.sampled_from([(), ((0.25, 0), (0.5, 2))]),
})
strategy_params = st.fixed_dictionaries({
    "sample_every": st.integers(1, 7),
    "sample_start_fraction": st.sampled_from([0.0, 0.5, 1.0]),
    "retries": st.integers(0, 3),
    "retry_backoff_s": st.sampled_from([0.0, 0.01, 0.1]),
    "latency_target_s": st.sampled_from([0.02, 0.2]),
    "control_interval_s": st.sampled_from([0.01, 0.1]),
    "overflow": st.sampled_from(["drop", "block"]),
})


@pytest.mark.parametrize("strategy", list(STRATEGIES))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sc=scenarios, params=strategy_params, seed=st.integers(0, 2**32 - 1))
def test_books_balance_and_bounds_hold(strategy, sc, params, seed):
    own = {p.keyword for p in params_of(STRATEGIES[strategy])}
    r = simulate(strategy=strategy, rng=seed, **sc, **{k: v for k, v in params.items() if k in own})
    assert_books_balance(r)
    assert_bounds(r)


def test_same_seed_same_run_bit_for_bit():
    kw = dict(strategy="shed", retries=2, arrivals="poisson", service="exponential",
              duration_s=3, capacity=20, producer_rate=300)
    a, b = simulate(rng=7, **kw), simulate(rng=7, **kw)
    assert a.summary() == b.summary()
    for name in ("queue_depth", "latency_s", "delivered", "rejected"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = simulate(rng=8, **kw)
    assert not np.array_equal(a.latency_s, c.latency_s)


def test_rng_accepts_a_generator():
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    kw = dict(arrivals="poisson", duration_s=2)
    assert simulate(rng=g1, **kw).summary() == simulate(rng=g2, **kw).summary()


def test_summary_has_the_documented_keys_and_nulls():
    from bpsim import SUMMARY_KEYS
    s = simulate(strategy="drop_newest", producer_rate=0, duration_s=1).summary()
    assert set(SUMMARY_KEYS) <= set(s)
    assert s["latency_p50_s"] is None and s["crash_time_s"] is None and s["crashed"] is False


def test_summary_percentiles_are_numpys():
    # summary() and the meter compute percentiles themselves (numpy's linear method, one partition)
    from bpsim.state import percentiles
    rng = np.random.default_rng(0)
    for n in list(range(1, 30)) + [101, 5942]:
        for a in (rng.exponential(size=n), rng.integers(0, 4, n) * 0.001):
            for q in ([50, 95, 99], [0, 100, 0.1, 33.3, 99.9]):
                want = [float(v) for v in np.percentile(a, q)]
                assert np.array(percentiles(a, q)).tobytes() == np.array(want).tobytes()


def test_the_poisson_draws_count_their_messages():
    """engine._poisson_draw's sum, from the uniforms it used (one more per tick than its count),
    is the counts' sum, through every way it draws: the chains, the plain loop (means below 0.3),
    numpy's (10 or more), none (0), and another bit generator."""
    from bpsim.engine import _poisson_draw
    steps = [(0, 1000.0), (20_000, 100.0), (30_000, 0.0), (31_000, 15_000.0), (32_000, 700.0)]
    for rng in (np.random.default_rng(3), np.random.Generator(np.random.MT19937(3))):
        counts, total = _poisson_draw(rng, 60_000, 0.001, steps)
        assert total == int(counts.sum())
        counts, total = _poisson_draw(rng, 60_000, 0.001, steps, 25_000, 40_000)
        assert total == int(counts.sum())
