"""The M/M/c/K closed forms, checked against independent computations (not against themselves):
the birth-death chain solved numerically, the M/M/1/K functions for one consumer, Erlang's loss
formula for a buffer of zero slots, and Little's law."""
import math

import numpy as np
import pytest

from bpsim import theory


def chain_stationary(lam, mu, c, capacity):
    """Stationary distribution of the M/M/c/K birth-death chain, solved numerically (pi Q = 0)."""
    k = capacity + c
    q = np.zeros((k + 1, k + 1))
    for n in range(k + 1):
        if n < k:
            q[n, n + 1] = lam
        if n > 0:
            q[n, n - 1] = mu * min(n, c)
        q[n, n] = -q[n].sum()
    a = np.vstack([q.T, np.ones(k + 1)])
    b = np.zeros(k + 2)
    b[-1] = 1.0
    return np.linalg.lstsq(a, b, rcond=None)[0]


CASES = [(42, 20, 3, 7), (28, 20, 2, 8), (90, 100, 1, 9), (300, 100, 2, 0), (10, 100, 5, 3),
         (1000, 100, 4, 30), (59.9, 20, 3, 20)]


@pytest.mark.parametrize("lam, mu, c, capacity", CASES)
def test_mmck_matches_the_chain_solved_numerically(lam, mu, c, capacity):
    pi = chain_stationary(lam, mu, c, capacity)
    n = np.arange(pi.size)
    assert np.allclose(theory.mmck_stationary(lam, mu, c, capacity), pi, atol=1e-9)
    assert theory.mmck_blocking_probability(lam, mu, c, capacity) == pytest.approx(pi[-1],
                                                                                   abs=1e-9)
    assert theory.mmck_mean_in_system(lam, mu, c, capacity) == pytest.approx(n @ pi, rel=1e-7)
    lq = np.maximum(n - c, 0) @ pi
    assert theory.mmck_mean_queue_length(lam, mu, c, capacity) == pytest.approx(lq, rel=1e-7,
                                                                                abs=1e-12)


@pytest.mark.parametrize("lam, mu, capacity", [(90, 100, 9), (50, 100, 0), (100, 100, 5),
                                               (150, 100, 4), (1000, 100, 30)])
def test_one_consumer_is_mm1k(lam, mu, capacity):
    assert np.allclose(theory.mmck_stationary(lam, mu, 1, capacity),
                       theory.mm1k_stationary(lam, mu, capacity), atol=1e-12)
    assert theory.mmck_blocking_probability(lam, mu, 1, capacity) == pytest.approx(
        theory.mm1k_blocking_probability(lam, mu, capacity), rel=1e-9)
    assert theory.mmck_mean_in_system(lam, mu, 1, capacity) == pytest.approx(
        theory.mm1k_mean_in_system(lam, mu, capacity), rel=1e-9)


@pytest.mark.parametrize("a, c", [(0.5, 1), (2.1, 3), (7.0, 5), (30.0, 40)])
def test_no_buffer_is_erlangs_loss_formula(a, c):
    b = 1.0  # Erlang B by its recursion B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1))
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    assert theory.mmck_blocking_probability(a * 10, 10, c, 0) == pytest.approx(b, rel=1e-9)
    assert theory.mmck_mean_wait(a * 10, 10, c, 0) == 0.0


@pytest.mark.parametrize("lam, mu, c, capacity", CASES)
def test_littles_law_and_the_time_in_system(lam, mu, c, capacity):
    lam_eff = lam * (1 - theory.mmck_blocking_probability(lam, mu, c, capacity))
    w = theory.mmck_mean_time_in_system(lam, mu, c, capacity)
    assert w == pytest.approx(theory.mmck_mean_wait(lam, mu, c, capacity) + 1 / mu)
    assert lam_eff * w == pytest.approx(theory.mmck_mean_in_system(lam, mu, c, capacity),
                                        rel=1e-9)


def test_a_large_unsaturated_buffer_is_erlangs_delay_formula():
    # M/M/c with a = 2.1, c = 3: Erlang C, and W_q = C / (c mu - lambda)
    a, c, mu = 2.1, 3, 20.0
    terms = sum(a**k / math.factorial(k) for k in range(c))
    top = a**c / math.factorial(c) * c / (c - a)
    erlang_c = top / (terms + top)
    assert theory.mmck_mean_wait(a * mu, mu, c, 2000) == pytest.approx(
        erlang_c / (c * mu - a * mu), rel=1e-9)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="servers"):
        theory.mmck_stationary(10, 10, 0, 3)
    with pytest.raises(ValueError, match="capacity"):
        theory.mmck_mean_wait(10, 10, 2, -1)
    with pytest.raises(ValueError, match="service_rate"):
        theory.mmck_mean_wait(10, 0, 2, 1)
    assert theory.mmck_mean_wait(0, 10, 2, 3) == 0.0
    assert theory.mmck_stationary(0, 10, 2, 3).tolist() == [1, 0, 0, 0, 0, 0]
