"""The simulator agrees with queueing theory.

With Poisson arrivals, exponential service and a tick small against both (lambda*dt and mu*dt at
most 0.04), ``drop_newest`` with a buffer of B slots and one consumer is an M/M/1/K queue with
K = B + 1. Its blocking probability and mean number in system have closed forms (written out here,
independently of the package, as the oracle). Tolerances, stated: blocking within 0.02 + 10 % of
the exact value, mean number in system within 8 % (about three standard errors of a 1,000 s run,
measured over seeds), after a 10 % warm-up. Little's law (L = lambda_eff * W) is an identity of
the sample path and must hold to 3 % whatever the load.
"""
import numpy as np
import pytest

from bpsim import simulate

MU = 20.0      # msg/s: mu * dt = 0.02
DT = 0.001
T = 1000.0     # s


def mm1k(rho, K):
    """Blocking probability and mean number in system of M/M/1/K."""
    if abs(rho - 1.0) < 1e-12:
        return 1.0 / (K + 1), K / 2.0
    p_block = (1 - rho) * rho**K / (1 - rho ** (K + 1))
    L = rho / (1 - rho) - (K + 1) * rho ** (K + 1) / (1 - rho ** (K + 1))
    return p_block, L


def run(rho, capacity, seed):
    return simulate(strategy="drop_newest", producer_rate=rho * MU, consumer_rate=MU,
                    capacity=capacity, arrivals="poisson", service="exponential", dt_s=DT,
                    duration_s=T, rng=seed)


@pytest.mark.parametrize("rho", [0.5, 0.8, 1.0, 1.5, 2.0])
@pytest.mark.parametrize("capacity", [1, 4, 9])
def test_drop_newest_is_mm1k(rho, capacity):
    r = run(rho, capacity, seed=int(rho * 100) + capacity)
    warm = int(0.1 * r.scenario.n_ticks)
    p_block = r.dropped[warm:].sum() / r.offered[warm:].sum()
    L = np.mean(r.queue_depth[warm:] + r.in_service[warm:])
    exact_p, exact_L = mm1k(rho, capacity + 1)
    assert abs(p_block - exact_p) <= 0.02 + 0.1 * exact_p, (p_block, exact_p)
    assert abs(L - exact_L) <= 0.08 * exact_L, (L, exact_L)

    # Little's law on the same sample path
    after = r.delivery_time_s > warm * DT
    W = r.latency_s[after].mean()
    lam_eff = after.sum() / (T - warm * DT)
    assert abs(L - lam_eff * W) <= 0.03 * L, (L, lam_eff * W)


def test_the_oracle_itself():
    # rho -> 1 is continuous, and K -> infinity gives M/M/1
    p1, L1 = mm1k(1.0, 5)
    p, L = mm1k(1.0 + 1e-4, 5)  # (closer than that, the formula cancels catastrophically)
    assert abs(p - p1) < 1e-3 and abs(L - L1) < 1e-3
    assert abs(mm1k(0.5, 200)[1] - 0.5 / (1 - 0.5)) < 1e-9


def test_a_coarse_tick_is_visibly_wrong():
    """The agreement above needs a small tick: at mu*dt = 0.5 the discrete queue is no M/M/1/K."""
    r = simulate(strategy="drop_newest", producer_rate=MU, consumer_rate=MU, capacity=1,
                 arrivals="poisson", service="exponential", dt_s=0.025, duration_s=T, rng=1)
    p_block = r.dropped.sum() / r.offered.sum()
    assert abs(p_block - mm1k(1.0, 2)[0]) > 0.03


# -- several consumers: M/M/c/K -------------------------------------------------------------------
# With c consumers drop_newest is M/M/c/K with K = capacity + c. The oracle is bpsim.theory's
# closed form (itself checked against the chain solved numerically in test_theory_mmck.py). The
# case is the M/M/3/10 at rho = 0.7, mu = 20 msg/s, at a 10 ms tick (mu*dt = 0.2, lambda*dt
# up to 0.42), plus M/M/2/10. Noise, measured over seeds: one 10,000 s run (about 400,000 messages)
# has a mean queue wait within about 1.0 % (one standard deviation) of the average, so the mean of
# 16 runs is within about 0.25 %; the tick's own bias measured 0.2 % or less. The 1 % tolerance is
# about three standard errors beyond that bias. (Before workers took waiting messages in time
# order, M/M/3/10 came out 3.2 % long here, M/M/2/10 1.0 %.) The time-average number inside,
# from the records, has about the same noise; the blocking probability (about 1 %) is known to
# about 0.8 % of itself, hence its 5 %.
MMCK_SEEDS = range(16)
MMCK_T = 10_000.0  # s per run: 1,000,000 ticks, the most a run may have


@pytest.mark.parametrize("c, capacity", [(3, 7), (2, 8)])
def test_drop_newest_is_mmck(c, capacity):
    from bpsim import theory
    mu, rho, dt = 20.0, 0.7, 0.01
    lam = rho * c * mu
    waits, inside, blocked = [], [], []
    for seed in MMCK_SEEDS:
        r = simulate(strategy="drop_newest", producer_rate=lam, consumer_rate=mu, consumers=c,
                     capacity=capacity, arrivals="poisson", service="exponential", dt_s=dt,
                     duration_s=MMCK_T, rng=1000 * c + seed)
        warm = int(0.02 * r.scenario.n_ticks)  # 200 s, hundreds of relaxation times
        after = r._gen >= warm
        waits.append(r.queue_wait_s[after].mean())
        # time-average number inside: the time inside of the messages that arrived, per second
        inside.append(r.latency_s[after].sum() / (MMCK_T - warm * dt))
        blocked.append(r.dropped[warm:].sum() / r.offered[warm:].sum())
    exact_w = theory.mmck_mean_wait(lam, mu, c, capacity)
    assert abs(np.mean(waits) / exact_w - 1) <= 0.01, (np.mean(waits), exact_w)
    exact_l = theory.mmck_mean_in_system(lam, mu, c, capacity)
    assert abs(np.mean(inside) / exact_l - 1) <= 0.01, (np.mean(inside), exact_l)
    # blocking: about 1 % of arrivals, known to about 0.8 % of itself (one standard error)
    exact_p = theory.mmck_blocking_probability(lam, mu, c, capacity)
    assert abs(np.mean(blocked) / exact_p - 1) <= 0.05, (np.mean(blocked), exact_p)
