"""Policies: the interface a learner implements, the built-ins, and running them as strategies."""
import math
from dataclasses import fields

import numpy as np
import pytest

from bpsim import Observation, simulate
from bpsim.policies import (AIMD, CoDel, Decision, FixedCapacity, Policy, PolicyStrategy,
                            LittlesLaw, budget_slots, check_decision)
from helpers import assert_books_balance
SLOW = dict(producer_rate=70, arrivals="poisson", service="exponential", duration_s=6,
            speed_schedule=((2, 0.25), (4, 1.0)), message_bytes=100_000,
            memory_limit_bytes=10_000_000)


def balanced(result):
    assert_books_balance(result)  # at the end and after every tick
    return True


def obs(**kw):
    base = dict(time_s=1.0, interval_s=0.1, capacity=50, queue_depth=0, in_service=1,
                memory_bytes=100_000, memory_limit_bytes=10_000_000, message_bytes=100_000,
                consumers=1, arrived=7, delivered=7, dropped=0, throughput_per_s=70.0,
                service_rate_per_s=100.0, latency_p50_s=0.02, latency_p95_s=0.05,
                sojourn_min_s=0.0, sojourn_p95_s=0.03)
    base.update(kw)
    return Observation(**base)


# -- the interface ------------------------------------------------------------------------------
def test_a_function_is_a_policy_and_its_decisions_are_traced():
    def half_second(o):
        return max(1, int(o.service_rate_per_s * 0.5))

    strat = PolicyStrategy(half_second)
    r = simulate(strategy=strat, duration_s=2, rng=1)
    assert strat.name == "half_second"
    tr = strat.traced()
    assert len(tr["time_s"]) == 19  # one call per 0.1 s interval, none after the last
    assert set(tr["decided"]) <= {49, 50} and r.capacity[-1] == tr["decided"][-1]  # ~100 msg/s
    assert balanced(r)


def test_a_policy_sees_only_an_observation_of_plain_numbers():
    seen = []

    def spy(o):
        seen.append(o)
        return 10

    simulate(strategy=PolicyStrategy(spy), duration_s=1, rng=1)
    assert seen and all(type(o) is Observation for o in seen)
    for f in fields(Observation):
        assert all(isinstance(getattr(o, f.name), (int, float)) for o in seen), f.name
    with pytest.raises(AttributeError):
        seen[0].capacity = 5  # frozen: a policy cannot write through it either


def test_reference_adaptive_is_the_adaptive_strategy():
    # One definition: the policy calls Adaptive.control, so the runs are identical.
    kw = dict(SLOW, rng=3)
    a = simulate(strategy="adaptive", latency_target_s=0.5, **kw)
    p = simulate(strategy=PolicyStrategy(LittlesLaw(latency_target_s=0.5)), **kw)
    np.testing.assert_array_equal(a.capacity, p.capacity)
    assert {k: v for k, v in a.summary().items() if k != "strategy"} == \
        {k: v for k, v in p.summary().items() if k != "strategy"}


def test_fixed_capacity_is_drop_newest():
    kw = dict(SLOW, capacity=30, rng=4)
    a = simulate(strategy="drop_newest", **kw).summary()
    b = simulate(strategy=PolicyStrategy(FixedCapacity(30)), **kw).summary()
    a.pop("strategy"), b.pop("strategy")
    assert a == b


def test_every_run_starts_from_a_fresh_copy_of_the_policy():
    codel = CoDel()
    strat = PolicyStrategy(codel)
    r1 = simulate(strategy=strat, rng=5, **{k: v for k, v in SLOW.items()})
    r2 = simulate(strategy=strat, rng=5, **{k: v for k, v in SLOW.items()})
    assert r1.summary() == r2.summary()
    assert codel.count == 0 and not codel.dropping  # the template is never touched


def test_block_overflow_holds_instead_of_dropping():
    r = simulate(strategy=PolicyStrategy(FixedCapacity(20), overflow="block"), duration_s=2,
                 rng=1)
    s = r.summary()
    assert s["dropped"] == 0 and s["producer_backlog_end"] > 0 and balanced(r)


# -- head drops -----------------------------------------------------------------------------------
def test_head_drops_keep_the_books_balanced():
    def drop_three(o):
        return Decision(capacity=40, drop_head=3)

    strat = PolicyStrategy(drop_three)
    r = simulate(strategy=strat, **dict(SLOW, rng=6))
    assert balanced(r)
    # the trace records what really left the head: never more than was queued
    assert strat.traced()["drop_head"].sum() > 0
    assert r.summary()["dropped"] >= strat.traced()["drop_head"].sum()


def test_codel_drops_from_the_head_during_a_slowdown_and_balances():
    strat = PolicyStrategy(CoDel())
    r = simulate(strategy=strat, **dict(SLOW, rng=7))
    tr = strat.traced()
    assert balanced(r)
    during = (tr["time_s"] > 2) & (tr["time_s"] <= 4)
    before = tr["drop_head"][tr["time_s"] <= 2].sum()  # full speed: mostly a good queue
    assert tr["drop_head"][during].sum() > 5 * max(1, before)


# -- built-in policies, unit by unit --------------------------------------------------------------
def test_codel_follows_the_interval_over_sqrt_count_schedule():
    c = CoDel(target_s=0.05, interval_s=0.1)
    t, drops = 0.0, []
    for _ in range(40):  # sojourn always above target, a long queue: CoDel keeps dropping
        t = round(t + 0.1, 10)
        d = c.decide(obs(time_s=t, sojourn_min_s=0.2, queue_depth=80))
        drops.append(d.drop_head if isinstance(d, Decision) else 0)
    # drop times t0 + sum_{j<k} interval/sqrt(j): the number due by time T is known in closed form
    first = next(i for i, d in enumerate(drops) if d)
    t0 = 0.1 * (first + 1)
    sched, k = [t0], 1
    while sched[-1] <= t + 1e-9:
        sched.append(sched[-1] + 0.1 / math.sqrt(k))
        k += 1
    due = sum(1 for s in sched if s <= t + 1e-9)
    assert sum(drops) == due
    assert drops[first] == 1 and drops[-1] > drops[first + 1]  # it speeds up


def test_codel_leaves_a_short_wait_alone_and_stops_when_it_clears():
    c = CoDel()
    for i in range(10):
        assert c.decide(obs(time_s=0.1 * (i + 1), sojourn_min_s=0.01, queue_depth=30)) == 99
    for i in range(10, 20):
        c.decide(obs(time_s=0.1 * (i + 1), sojourn_min_s=0.3, queue_depth=30))
    assert c.dropping
    assert c.decide(obs(time_s=2.1, sojourn_min_s=0.0, queue_depth=0)) == 99
    assert not c.dropping


def test_aimd_backs_off_multiplicatively_and_grows_additively():
    a = AIMD(latency_target_s=0.5, increase=1, decrease=0.5, start=40)
    assert a.decide(obs(latency_p95_s=0.9)) == 20            # late: halve
    assert a.decide(obs(latency_p95_s=0.1, queue_depth=15, capacity=20)) == 21   # busy: +1
    assert a.decide(obs(latency_p95_s=0.1, queue_depth=0, capacity=21)) == 21    # idle: hold
    assert a.decide(obs(latency_p95_s=float("nan"), queue_depth=0, capacity=21)) == 21


@pytest.mark.parametrize("policy", [LittlesLaw(), CoDel(), AIMD(start=90)])
def test_built_ins_respect_a_shrunken_budget_at_once(policy):
    # 2 MB of 100 kB messages: 20 messages, one of them in service -> 19 slots
    o = obs(memory_limit_bytes=2_000_000, queue_depth=60, capacity=80)
    d = policy.decide(o)
    cap = d.capacity if isinstance(d, Decision) else d
    head = d.drop_head if isinstance(d, Decision) else 0
    assert budget_slots(o) == 19
    assert cap <= 19 and 60 - head <= 19


def test_fixed_capacity_ignores_the_budget():
    assert FixedCapacity(80).decide(obs(memory_limit_bytes=2_000_000)) == 80


# -- errors that teach ----------------------------------------------------------------------------
@pytest.mark.parametrize("bad, words", [
    (None, "return statement"), (-1, "whole number"), (2.5, "int()"), ("50", "whole number"),
    (float("nan"), "whole number"), (True, "whole number"),
    (Decision(capacity=1.5), "Decision.capacity"), (Decision(drop_head=-2), "Decision.drop_head"),
])
def test_invalid_returns_are_named_with_what_would_work(bad, words):
    with pytest.raises(ValueError) as e:
        check_decision(bad, "my_policy", 1.25)
    msg = str(e.value)
    assert "my_policy" in msg and repr(bad) in msg and words in msg and "t = 1.2 s" in msg


def test_valid_returns_are_normalised():
    assert check_decision(np.int64(7)) == 7 and type(check_decision(7.0)) is int
    assert check_decision(Decision(drop_head=np.int32(2))) == Decision(None, 2)


def test_a_bad_return_inside_a_run_stops_it_with_the_policy_name():
    def sloppy(o):
        return o.service_rate_per_s * 0.5  # a float: 50.0 is fine, 49.7 is not

    def forgetful(o):
        int(o.service_rate_per_s)

    with pytest.raises(ValueError, match="forgetful.*return statement"):
        simulate(strategy=PolicyStrategy(forgetful), duration_s=1, rng=1)
    with pytest.raises(ValueError, match="sloppy.*int()"):
        simulate(strategy=PolicyStrategy(sloppy), arrivals="poisson", service="exponential",
                 duration_s=2, rng=1)


@pytest.mark.parametrize("kw, name", [
    (dict(policy=42), "policy"), (dict(policy=FixedCapacity(), overflow="evict"), "overflow"),
    (dict(policy=FixedCapacity(), control_interval_s=0), "control_interval_s"),
    (dict(policy=FixedCapacity(), memory_budget_bytes=-5), "memory_budget_bytes"),
    (dict(policy=FixedCapacity(), memory_budget_bytes=((5, 1e6), (1, 2e6))), "memory_budget_bytes"),
])
def test_policy_strategy_checks_its_parameters(kw, name):
    with pytest.raises(ValueError, match=f"{name}="):
        PolicyStrategy(**kw)


@pytest.mark.parametrize("make, name", [
    (lambda: FixedCapacity(-1), "capacity"), (lambda: CoDel(target_s=0), "target_s"),
    (lambda: CoDel(interval_s=float("inf")), "interval_s"),
    (lambda: AIMD(decrease=1.5), "decrease"),
    (lambda: LittlesLaw(latency_target_s=-1), "latency_target_s"),
])
def test_built_in_parameters_are_checked(make, name):
    with pytest.raises(ValueError, match=f"{name}="):
        make()


def test_the_budget_schedule_is_what_the_policy_sees():
    seen = []

    def watch(o):
        seen.append((o.time_s, o.memory_limit_bytes))
        return 10

    simulate(strategy=PolicyStrategy(watch, memory_budget_bytes=((0, 5e6), (1, 2e6))), duration_s=2,
             rng=1)
    assert all(b == (5_000_000 if t < 1 else 2_000_000) for t, b in seen)


class Halve(Policy):
    name = "halve"

    def decide(self, o):
        return max(1, o.capacity // 2)


def test_a_policy_subclass_runs():
    r = simulate(strategy=PolicyStrategy(Halve()), duration_s=1, rng=1)
    assert r.strategy.name == "halve" and r.capacity[-1] == 1


def test_the_meter_counts_work_done_for_clients_that_left():
    # FIFO behind a long queue serves mostly messages whose client has gone: the consumer is still
    # working at its full speed, and the speed a policy sees must say so.
    seen = []

    def watch(obs):
        seen.append(obs.service_rate_per_s)
        return obs.capacity

    simulate(strategy=PolicyStrategy(watch), producer_rate=300, consumer_rate=100, capacity=500,
             duration_s=20, client_timeout_s=1.0, arrivals="poisson", service="exponential",
             rng=3)
    late = seen[len(seen) // 2:]          # once the queue is long, nearly all are late
    assert np.mean(late) == pytest.approx(100, rel=0.1)
