"""Clients that give up (``client_timeout_s``, ``drop_expired``) and the order of service.

Oracles: conservation (every message in exactly one account), the reference engine (the kernel
must equal it bit for bit), and queueing facts that hold on every sample path:

* service order does not change *how many* are in the system. The workers are work-conserving and
  take their service times from one pool in the order services start, so FIFO, LIFO and adaptive
  LIFO have the same busy periods: the same depth, in-service and completion counts at every tick,
  hence (Little) the same mean number in system and the same mean sojourn time, up to the messages
  still inside at the end. Only *which* message waits changes, so LIFO's sojourn variance is larger.
* under steady overload with FIFO and a buffer holding more than ``timeout x consumer rate``
  messages, every message served has waited longer than its client: goodput falls to about zero
  while the throughput stays the consumer's rate. LIFO serves the newest first and keeps most of it.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpsim
from bpsim import simulate
from helpers import IDENTITY_TERMS, assert_books_balance, assert_bounds

MU = 100.0


def overload(order, drop_expired=False, seed=1, **kw):
    args = dict(strategy="drop_newest", producer_rate=200.0, consumer_rate=MU, capacity=500,
                duration_s=60.0, arrivals="poisson", service="exponential",
                client_timeout_s=1.0, drop_expired=drop_expired, order=order, rng=seed)
    args.update(kw)
    return simulate(**args)


# -- defaults and checks ---------------------------------------------------------------------------
def test_defaults_change_nothing():
    kw = dict(duration_s=5, arrivals="poisson", service="exponential", rng=4)
    a = simulate(**kw)
    b = simulate(client_timeout_s=None, drop_expired=False, order="fifo", **kw)
    assert np.array_equal(a._log, b._log) and a.summary() == b.summary()
    s = a.summary()
    assert s["timed_out"] == s["expired"] == s["queue_end_abandoned"] == 0
    assert s["goodput_per_s"] == s["throughput_per_s"]
    assert s["in_time_latency_p99_s"] == s["latency_p99_s"]
    assert s["wasted_work_share"] == 0.0


@pytest.mark.parametrize("kw, match", [
    (dict(client_timeout_s=0), "client_timeout_s=0 is not valid: use a time in seconds"),
    (dict(client_timeout_s=-1.0), "client_timeout_s=-1.0 is not valid"),
    (dict(drop_expired=True), "drop_expired=True is not valid: use False, or give a "
                              "client_timeout_s"),
    (dict(drop_expired=1, client_timeout_s=1.0), "drop_expired=1 is not valid: use True or False"),
    (dict(order="random"), "order='random' is not valid: use one of fifo, lifo, adaptive_lifo"),
])
def test_bad_values_are_refused_in_one_voice(kw, match):
    with pytest.raises(ValueError, match=match):
        simulate(duration_s=1, **kw)


# -- the order of service --------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["drop_newest", "drop_oldest", "block", "unbounded"])
def test_order_does_not_change_how_many_are_inside(strategy):
    kw = dict(strategy=strategy, producer_rate=170.0, consumer_rate=MU, capacity=40, consumers=2,
              duration_s=30.0, arrivals="poisson", service="exponential", rng=11)
    runs = {o: simulate(order=o, **kw) for o in bpsim.scenario.ORDERS}
    base = runs["fifo"]
    for order, r in runs.items():
        for name in ("queue_depth", "in_service", "producer_backlog", "delivered", "dropped"):
            assert np.array_equal(getattr(r, name), getattr(base, name)), (order, name)
    assert not np.array_equal(runs["lifo"].latency_s, base.latency_s)  # the order did change


def test_fifo_and_lifo_same_mean_sojourn_lifo_larger_variance():
    # M/M/1 at rho = 0.8 with room enough never to drop: E[T] = 1/(mu - lambda) for both orders.
    kw = dict(strategy="drop_newest", producer_rate=80.0, consumer_rate=MU, capacity=10_000,
              duration_s=2000.0, arrivals="poisson", service="exponential", rng=5)
    fifo, lifo = simulate(order="fifo", **kw), simulate(order="lifo", **kw)
    lf, ll = fifo.latency_s, lifo.latency_s
    # the same number in system at every tick, hence the same mean number in system
    assert np.array_equal(fifo.queue_depth + fifo.in_service, lifo.queue_depth + lifo.in_service)
    # the same total sojourn but for the messages still inside at the end (a few at rho = 0.8)
    inside = int(fifo.queue_depth[-1] + fifo.in_service[-1])
    assert lf.size == ll.size
    assert abs(lf.sum() - ll.sum()) <= (inside + 1) * kw["duration_s"] * 0.02
    assert abs(lf.mean() - ll.mean()) <= 0.01 * lf.mean()
    assert abs(lf.mean() - 1 / (MU - 80.0)) <= 0.1 / (MU - 80.0)  # the closed form, to 10 %
    assert ll.var() > 2 * lf.var()


def test_adaptive_lifo_is_fifo_while_the_queue_is_short():
    # lifo_depth = ceil(0.1 s * 100 msg/s * 1 worker) = 10: a light load never queues that deep
    kw = dict(producer_rate=30.0, consumer_rate=MU, duration_s=30.0, arrivals="poisson",
              service="exponential", rng=2)
    fifo, ada = simulate(order="fifo", **kw), simulate(order="adaptive_lifo", **kw)
    assert fifo.summary()["max_queue_depth"] <= 10
    assert np.array_equal(fifo.latency_s, ada.latency_s)
    # ... and LIFO once a standing queue has formed
    hot = dict(kw, producer_rate=150.0)
    assert not np.array_equal(simulate(order="fifo", **hot).latency_s,
                              simulate(order="adaptive_lifo", **hot).latency_s)


# -- clients that give up --------------------------------------------------------------------------
def test_fifo_overload_goodput_collapses_while_throughput_stays():
    r = overload("fifo")
    s = r.summary()
    assert r.scenario.capacity > r.scenario.client_timeout_s * MU  # the buffer outlasts clients
    assert abs(s["throughput_per_s"] - MU) <= 0.05 * MU
    assert s["goodput_per_s"] <= 0.05 * MU
    assert s["timed_out"] > 0.9 * (s["timed_out"] + s["delivered"])
    assert s["wasted_work_share"] > 0.9
    assert s["in_time_latency_p99_s"] <= 1.0 < s["latency_p50_s"]
    # at the end the buffer is full; only what entered in the last timeout (one slot freed per
    # service, ~ mu * timeout of them) still has a client waiting
    assert abs(s["queue_end_abandoned"] - (s["queue_end"] - MU * 1.0)) <= 0.3 * MU


@pytest.mark.parametrize("order", ["lifo", "adaptive_lifo"])
def test_lifo_keeps_most_of_the_goodput(order):
    s = overload(order).summary()
    assert abs(s["throughput_per_s"] - MU) <= 0.05 * MU
    assert s["goodput_per_s"] >= 0.8 * s["throughput_per_s"]
    assert s["wasted_work_share"] <= 0.2


def test_drop_expired_frees_the_consumer_for_fresh_work():
    # A burst (300 msg/s for 5 s) leaves a backlog of ~1,000 messages; then 50 msg/s, well within
    # the consumer's 100. Serving the stale backlog takes ~20 s, all of it wasted; discarding it
    # at dequeue, the consumer is back on fresh messages within a couple of seconds.
    kw = dict(strategy="drop_newest", producer_rate=300.0, consumer_rate=MU, capacity=5000,
              duration_s=30.0, rate_schedule=((5.0, 50.0),), arrivals="poisson",
              service="exponential", client_timeout_s=1.0, rng=3)
    keep, drop = simulate(**kw), simulate(drop_expired=True, **kw)
    a, b = keep.summary(), drop.summary()
    assert a["expired"] == 0 < b["expired"]
    assert b["goodput_per_s"] > 1.5 * a["goodput_per_s"]
    assert b["wasted_work_share"] < 0.5 * a["wasted_work_share"]
    # after the burst, time until the consumer delivers in time again
    late = [r.delivery_time_s[(r.delivery_time_s > 5.0) & (r.latency_s <= 1.0)].min()
            for r in (keep, drop)]
    assert late[1] < 8.0 < late[0]


# -- the books, bounds and determinism over randomized runs ----------------------------------------
@st.composite
def timeout_scenarios(draw):
    dt = draw(st.sampled_from([0.001, 0.004]))
    timeout = draw(st.sampled_from([None, 0.001, 0.02, 0.2, 1.0]))
    return dict(
        producer_rate=draw(st.sampled_from([0, 50, 300, 3000])),
        consumer_rate=draw(st.sampled_from([40, 100, 1000])),
        capacity=draw(st.sampled_from([0, 3, 50, 500])),
        consumers=draw(st.integers(1, 3)), duration_s=draw(st.sampled_from([0.4, 2.0])),
        dt_s=dt, arrivals=draw(st.sampled_from(["constant", "poisson"])),
        service=draw(st.sampled_from(["deterministic", "exponential"])),
        message_bytes=100, memory_limit_bytes=100 * draw(st.sampled_from([5, 300, 10**6])),
        restart_s=draw(st.sampled_from([0.0, 0.05])), client_timeout_s=timeout,
        drop_expired=timeout is not None and draw(st.booleans()),
        order=draw(st.sampled_from(["fifo", "lifo", "adaptive_lifo"])),
        speed_schedule=draw(st.sampled_from([(), ((0.2, 0.0), (0.3, 1.0))])))


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(sc=timeout_scenarios(), strategy=st.sampled_from(list(bpsim.STRATEGIES)),
       seed=st.integers(0, 2**32 - 1))
def test_books_bounds_and_determinism_with_timeouts(sc, strategy, seed):
    r = simulate(strategy=strategy, rng=seed, **sc)
    assert_books_balance(r)
    assert_bounds(r)
    s = r.summary()
    assert s["offered"] == sum(s[k] for k in IDENTITY_TERMS)
    timeout = sc["client_timeout_s"]
    if timeout is None:
        assert s["timed_out"] == s["expired"] == 0
    else:
        lat = r.latency_s
        assert (lat > timeout).sum() == s["timed_out"]  # the records say the same
        assert 0.0 <= s["wasted_work_share"] <= 1.0
        if not sc["drop_expired"]:
            assert s["expired"] == 0
    assert s["goodput_per_s"] <= s["throughput_per_s"]
    again = simulate(strategy=strategy, rng=seed, **sc)
    assert np.array_equal(again._log, r._log) and again.summary() == s


def test_late_fraction_is_the_mm1_sojourn_tail():
    # The server does not know the deadline: it serves everything, so the queue is plain M/M/1
    # and the share served late is P(sojourn > T) = exp(-(mu - lambda) T) (bpsim.theory).
    from bpsim.theory import mm1_late_fraction
    lam, mu, timeout = 16.0, 20.0, 0.4  # lambda*dt, mu*dt small against the 1 ms tick
    r = simulate(strategy="drop_newest", producer_rate=lam, consumer_rate=mu, capacity=10_000,
                 duration_s=2000.0, arrivals="poisson", service="exponential",
                 client_timeout_s=timeout, rng=12)
    s = r.summary()
    late = s["timed_out"] / (s["timed_out"] + s["delivered"])
    exact = mm1_late_fraction(lam, mu, timeout)
    assert abs(late - exact) <= 0.1 * exact, (late, exact)
    # the wasted work is the late messages' own service time (the records say which), a larger
    # share of the busy time than their share of the messages: a long service makes one late
    service = r.delivery_time_s - r.queue_wait_s - r._gen * r.scenario.dt_s
    wasted = service[r.latency_s > timeout].sum() / r._busy_s
    assert abs(s["wasted_work_share"] - wasted) <= 1e-9 * wasted
    assert late < s["wasted_work_share"] < 1
    with pytest.raises(ValueError, match="arrival_rate=20 is not valid: use a rate below"):
        mm1_late_fraction(20, 20, 1.0)


# -- the command line ------------------------------------------------------------------------------
def test_command_line_flags_match_the_python_api():
    import json
    import subprocess
    import sys
    args = ["run", "--strategy", "drop_newest", "--producer-rate", "200", "--duration", "10",
            "--arrivals", "poisson", "--client-timeout", "0.5", "--drop-expired",
            "--order", "adaptive_lifo", "--seed", "4", "--json"]
    p = subprocess.run([sys.executable, "-m", "bpsim", *args], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    want = simulate(strategy="drop_newest", producer_rate=200, duration_s=10, arrivals="poisson",
                    client_timeout_s=0.5, drop_expired=True, order="adaptive_lifo",
                    rng=4).summary()
    assert json.loads(p.stdout) == json.loads(json.dumps(want))
    assert want["expired"] > 0
    bad = subprocess.run([sys.executable, "-m", "bpsim", "run", "--drop-expired"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip().endswith("--drop-expired: drop_expired=True is not valid: use "
                                       "False, or give a client_timeout_s too (without one no "
                                       "client ever leaves, so nothing can expire).")
