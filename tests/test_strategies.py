"""What each strategy promises, checked against the deterministic-overload closed forms.

lambda is the producer rate and mu the consumer rate (msg/s); see
../shared/reference/queueing-and-overload-control.md for the formulas.
"""
import math

import numpy as np
import pytest

from bpsim import Strategy, simulate
from helpers import assert_books_balance

LAM, MU = 1000.0, 100.0


def test_unbounded_grows_by_lambda_minus_mu_and_crashes_when_memory_says():
    r = simulate(strategy="unbounded", duration_s=130, rng=1)
    s = r.summary()
    in_system = r.queue_depth + r.in_service
    for t in (1, 10, 100):
        i = int(round(t / r.scenario.dt_s)) - 1
        assert abs(in_system[i] - (LAM - MU) * t) <= 2, (t, in_system[i])
    sc = r.scenario
    predicted = sc.memory_limit_bytes / ((LAM - MU) * sc.message_bytes)
    assert s["crashed"] and abs(s["crash_time_s"] - predicted) < 0.01
    # everything it held is lost, and it stays down for restart_s
    i = int(round(s["crash_time_s"] / sc.dt_s))
    assert r.lost[i] >= sc.max_messages_in_memory
    down_ticks = int(r.down.sum())
    assert down_ticks == int(round(sc.restart_s / sc.dt_s))


def test_unbounded_with_poisson_crashes_near_the_prediction():
    s = simulate(strategy="unbounded", arrivals="poisson", service="exponential",
                 duration_s=130, rng=2).summary()
    assert abs(s["crash_time_s"] - 1e8 / (900 * 1000)) < 3  # a few seconds of noise


def test_block_never_drops_and_delivers_at_the_consumer_rate():
    r = simulate(strategy="block", capacity=50, duration_s=30, rng=1)
    s = r.summary()
    assert s["dropped"] == s["shed"] == s["lost_in_crash"] == 0
    assert abs(s["throughput_per_s"] - MU) <= 1 / 30 + 1e-9
    # the backlog waits in the producer and grows by lambda - mu
    assert abs(s["producer_backlog_end"] - (LAM - MU) * 30) <= 60
    assert s["producer_wait_p99_s"] > 20  # who pays: the producer's messages wait


@pytest.mark.parametrize("lam, mu", [(1000.0, 100.0), (300.0, 200.0), (150.0, 100.0)])
def test_drop_newest_long_run_drop_fraction(lam, mu):
    s = simulate(strategy="drop_newest", producer_rate=lam, consumer_rate=mu, capacity=20,
                 arrivals="poisson", service="exponential", duration_s=200, rng=3).summary()
    assert abs(s["dropped"] / s["offered"] - (1 - mu / lam)) < 0.02


def test_drop_oldest_delivers_fresher_messages_than_drop_newest():
    kw = dict(capacity=500, duration_s=30, rng=1)
    new, old = simulate(strategy="drop_newest", **kw), simulate(strategy="drop_oldest", **kw)
    assert new.summary()["delivered"] == old.summary()["delivered"]
    assert np.median(old.latency_s) < np.median(new.latency_s) / 5
    # drop_newest's delivered messages waited about a full buffer: capacity / mu
    assert abs(np.median(new.latency_s[new.delivery_time_s > 10]) - 501 / MU) < 0.05


@pytest.mark.parametrize("every", [2, 10, 40])
def test_sampling_passes_lambda_over_n(every):
    # sampling from an empty buffer on: exactly one in N of the arrivals is admitted
    s = simulate(strategy="sample", sample_every=every, sample_start_fraction=0.0,
                 capacity=10_000, duration_s=20, rng=1).summary()
    assert abs(s["admitted"] - LAM * 20 / every) <= 1
    assert s["sampled_out"] + s["admitted"] + s["dropped"] == s["offered"]


def test_sampling_at_the_right_n_matches_the_consumer():
    # 1,000 msg/s thinned 1 in 10 is the consumer's 100 msg/s: nothing needs dropping
    s = simulate(strategy="sample", sample_every=10, capacity=500, duration_s=60).summary()
    assert s["dropped"] == 0
    assert abs(s["throughput_per_s"] - MU) < 1


def test_shed_without_retries_rejects_what_drop_newest_drops():
    kw = dict(capacity=30, arrivals="poisson", duration_s=10, rng=4)
    dn, sh = simulate(strategy="drop_newest", **kw).summary(), simulate(strategy="shed", **kw).summary()
    assert sh["shed"] == sh["rejected"] == dn["dropped"] and sh["dropped"] == 0
    assert sh["attempts"] == sh["offered"]


def test_shed_retries_amplify_attempts_but_not_messages():
    s = simulate(strategy="shed", retries=3, retry_backoff_s=0.0, capacity=30,
                 duration_s=10).summary()
    assert s["attempts"] > 3 * s["offered"]   # each rejected message comes back three times
    assert s["rejected"] == s["attempts"] - s["admitted"] - s["lost_in_crash"]
    s0 = simulate(strategy="shed", retries=0, capacity=30, duration_s=10).summary()
    assert s["delivered"] == s0["delivered"]  # retries bought no extra throughput


def test_shed_backoff_doubles():
    from bpsim import Shed
    st = Shed(retries=3, backoff_s=0.05)
    assert [st.backoff_ticks(k, 0.001) for k in (1, 2, 3)] == [50, 100, 200]


def test_adaptive_shrinks_at_once_and_grows_slowly():
    target = 0.5
    r = simulate(strategy="adaptive", latency_target_s=target, capacity=50, duration_s=40,
                 speed_schedule=((10.0, 0.2), (25.0, 1.0)), rng=1)
    cap, t = r.capacity, r.time_s
    before = cap[(t > 8) & (t < 10)]
    assert np.all(before == MU * target)          # Little's law: throughput x target
    slow = cap[(t > 10.25) & (t < 25)]
    assert np.all(slow <= 0.2 * MU * target + 1)  # shrunk within two control intervals
    after = cap[(t > 25) & (t < 25.5)]
    assert after.max() < MU * target              # ... but grows back gradually
    assert cap[-1] == MU * target
    # and the latency target is met after the slowdown, where a fixed buffer of 50 misses it
    fixed = simulate(strategy="drop_newest", capacity=50, duration_s=40,
                     speed_schedule=((10.0, 0.2), (25.0, 1.0)), rng=1)
    def late(res):
        during = (res.delivery_time_s > 12) & (res.delivery_time_s < 25)
        return np.mean(res.queue_wait_s[during] > target)
    assert late(r) < 0.1 < late(fixed)


def test_adaptive_never_exceeds_its_memory_budget():
    r = simulate(strategy="adaptive", latency_target_s=100, memory_budget_bytes=50_000,
                 capacity=10, duration_s=20, rng=1)
    slots = 50_000 // r.scenario.message_bytes - r.scenario.consumers
    assert np.nanmax(r.capacity) <= slots
    assert r.summary()["max_queue_depth"] <= slots


def test_more_consumers_cure_overload_only_once_they_are_running():
    r = simulate(strategy="block", capacity=200, consumers=1, duration_s=20,
                 consumers_schedule=((5.0, 12),), rng=1)
    s = r.summary()
    assert s["producer_backlog_end"] < (LAM - MU) * 5   # 12 x 100 msg/s catches up
    assert r.producer_backlog[int(5 / 0.001) - 1] >= (LAM - MU) * 5 - 200 - 2


class RandomDrop(Strategy):
    """A strategy with no compiled rule: keeps every other batch. Runs on the reference engine."""
    name = "random_drop"

    def admit(self, q, gen, n, attempt):
        k = min(n, q.room()) if gen % 2 else 0
        q.enqueue(gen, k)
        q.drop(n - k)


def test_a_new_strategy_is_one_small_class():
    r = simulate(strategy=RandomDrop(), capacity=20, duration_s=2)
    assert_books_balance(r)
    assert 0 < r.summary()["dropped"] < r.summary()["offered"]


@pytest.mark.parametrize("rate, dt, duration", [(100.0, 0.001, 30.0), (300.0, 0.001, 10.0),
                                               (1000.0, 0.001, 111.0), (7.0, 0.01, 50.0)])
def test_constant_arrivals_offer_exactly_rate_times_duration(rate, dt, duration):
    # evenly spaced arrivals: 100 msg/s for 30 s is 3,000 messages, not 2,999 (float sums drift)
    s = simulate(producer_rate=rate, dt_s=dt, duration_s=duration, strategy="drop_newest",
                 capacity=0).summary()
    assert s["offered"] == round(rate * duration)


def test_a_subclass_declares_its_own_parameters():
    """params_of reads a class's fields once: a subclass's added parameter is its own, its
    parent's list stays as it was, and an instance's list is its class's."""
    from dataclasses import dataclass
    from bpsim import Sample
    from bpsim.strategies import param, params_of
    before = params_of(Sample)

    @dataclass(frozen=True, repr=False)
    class Bursty(Sample):
        burst: int = param(3, keyword="burst_every", unit="N", help="a burst in N",
                           check=lambda name, v: v)

    assert [p.keyword for p in params_of(Bursty)] == ["sample_every", "sample_start_fraction",
                                                      "burst_every"]
    assert params_of(Sample) == before
    assert params_of(Bursty(burst=5)) == params_of(Bursty)
    assert params_of(Sample(every=4)) == before
