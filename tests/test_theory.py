"""The closed forms, checked against independent computations (not against themselves)."""
import math

import numpy as np
import pytest

import bpsim
from bpsim import theory


def generator_stationary(lam, mu, capacity):
    """Stationary distribution of the M/M/1/K birth-death chain, solved numerically (pi Q = 0)."""
    k = capacity + 1
    q = np.zeros((k + 1, k + 1))
    for n in range(k + 1):
        if n < k:
            q[n, n + 1] = lam
        if n > 0:
            q[n, n - 1] = mu
        q[n, n] = -q[n].sum()
    a = np.vstack([q.T, np.ones(k + 1)])
    b = np.zeros(k + 2)
    b[-1] = 1.0
    return np.linalg.lstsq(a, b, rcond=None)[0]


@pytest.mark.parametrize("lam, mu, capacity", [
    (90, 100, 9), (50, 100, 0), (100, 100, 5), (150, 100, 4), (99.9, 100, 20), (1000, 100, 30)])
def test_mm1k_matches_the_chain_solved_numerically(lam, mu, capacity):
    pi = generator_stationary(lam, mu, capacity)
    assert np.allclose(theory.mm1k_stationary(lam, mu, capacity), pi, atol=1e-9)
    assert theory.mm1k_blocking_probability(lam, mu, capacity) == pytest.approx(pi[-1], abs=1e-9)
    mean = float(np.dot(np.arange(pi.size), pi))
    assert theory.mm1k_mean_in_system(lam, mu, capacity) == pytest.approx(mean, rel=1e-7)


@pytest.mark.parametrize("capacity", [0, 1, 7, 50])
def test_mm1k_is_continuous_at_rho_one(capacity):
    k = capacity + 1
    at_one = theory.mm1k_blocking_probability(100, 100, capacity)
    assert at_one == pytest.approx(1 / (k + 1))
    assert theory.mm1k_mean_in_system(100, 100, capacity) == pytest.approx(k / 2)
    for eps in (1e-3, -1e-3):
        lam = 100 * (1 + eps)
        assert theory.mm1k_blocking_probability(lam, 100, capacity) == pytest.approx(at_one, rel=0.05)
        assert theory.mm1k_mean_in_system(lam, 100, capacity) == pytest.approx(k / 2, rel=0.05)


def test_mm1k_tends_to_mm1_for_a_large_buffer_below_capacity():
    rho = 0.8
    assert theory.mm1k_mean_in_system(80, 100, 2000) == pytest.approx(rho / (1 - rho))
    assert theory.mm1k_blocking_probability(80, 100, 2000) < 1e-100


def test_mm1k_blocking_tends_to_the_overload_drop_fraction():
    # A full buffer under overload refuses what the consumer cannot take: 1 - mu/lambda.
    assert theory.mm1k_blocking_probability(1000, 100, 500) == pytest.approx(
        theory.drop_fraction(1000, 100))


def test_mm1k_stays_finite_for_huge_buffers():
    for lam in (50, 150):
        p = theory.mm1k_blocking_probability(lam, 100, 100_000)
        assert math.isfinite(p) and 0 <= p <= 1
        assert 0 <= theory.mm1k_mean_in_system(lam, 100, 100_000) <= 100_001


def test_blocking_grows_with_load_and_shrinks_with_room():
    loads = [theory.mm1k_blocking_probability(lam, 100, 10) for lam in (10, 50, 90, 100, 200)]
    assert loads == sorted(loads)
    rooms = [theory.mm1k_blocking_probability(90, 100, c) for c in (0, 1, 5, 20, 100)]
    assert rooms == sorted(rooms, reverse=True)


def test_deterministic_overload_closed_forms():
    # Build the unbounded queue second by second and find when it no longer fits.
    lam, mu, memory, size = 1000, 100, 100_000_000, 1000
    depth, t = 0, 0
    while (depth + lam - mu) * size <= memory:
        depth += lam - mu
        t += 1
    assert t <= theory.time_to_exhaust_memory_s(lam, mu, memory, size) < t + 1
    assert theory.queue_growth_per_s(lam, mu) == 900
    assert theory.time_to_exhaust_memory_s(100, 100, memory, size) == math.inf
    assert theory.drop_fraction(lam, mu) == pytest.approx(900 / 1000)
    assert theory.drop_fraction(0, mu) == 0


def test_time_to_crash_matches_the_simulator():
    r = bpsim.simulate(strategy="unbounded", duration_s=15, memory_limit_bytes=9_000_000, rng=1)
    predicted = theory.time_to_exhaust_memory_s(1000, 100, 9_000_000, 1000)
    assert r.summary()["crash_time_s"] == pytest.approx(predicted, abs=0.01)


def test_littles_law_holds_on_a_steady_drop_newest_run():
    r = bpsim.simulate(strategy="drop_newest", capacity=200, duration_s=20, dt_s=0.01, rng=1)
    check = theory.littles_law_check(r, warmup_s=5)
    assert check["ratio"] == pytest.approx(1, abs=0.02)
    assert check["L_predicted"] == pytest.approx(
        theory.littles_law(check["throughput_per_s"], check["mean_time_in_system_s"]))


@pytest.mark.parametrize("call", [
    lambda: theory.queue_growth_per_s(-1, 100),
    lambda: theory.drop_fraction(100, 0),
    lambda: theory.time_to_exhaust_memory_s(1000, 100, 0, 1000),
    lambda: theory.mm1k_blocking_probability(10, 100, -1),
    lambda: theory.mm1k_mean_in_system(10, 100, 2.5),
])
def test_bad_values_are_refused_with_the_parameter_named(call):
    with pytest.raises(ValueError, match="="):
        call()
