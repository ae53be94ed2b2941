"""The ceiling of notebook 05: a bound no policy beats, that is tight where it should be."""
from dataclasses import replace

import numpy as np
import pytest

from bpsim.course.adaptive_challenge import (BASE, Challenge, builtin_policies, ceiling, held_out,
                                             mean_rate, run_policy, run_suite, score_run, suite)
from bpsim.engine import prepare
from bpsim.policies import FixedCapacity, budget_slots
from bpsim.strategies import make_strategy


def backwards(obs):
    """Deliberately bad: a huge buffer when the consumer is slow, one slot when it is fast."""
    return budget_slots(obs) if obs.service_rate_per_s < 50 else 1


def drain_fast(obs):
    """Greedy for the bound: exactly what the measured speed drains in the target, no memory cap."""
    return max(1, int(obs.service_rate_per_s * 0.45))


POLICIES = builtin_policies() + [FixedCapacity(c) for c in (5, 20, 99)] + [backwards, drain_fast]


@pytest.fixture(scope="module", params=["suite", "held_out"])
def board(request):
    return run_suite(POLICIES, suite() if request.param == "suite" else held_out())


def test_no_policy_delivers_more_in_time_than_the_ceiling(board):
    for s in board.scores:
        c = board.ceilings[s.scenario]
        assert round(s.on_time * s.offered) <= c.on_time_max, (s.policy, s.scenario)
        assert s.score <= c.score + 1e-9
        assert s.offered == c.offered       # the same arrivals for every policy, and the bound


def test_the_ceiling_is_below_everything_only_where_trouble_forces_loss(board):
    for name, c in board.ceilings.items():
        assert 0 < c.on_time_max <= c.offered, name
    if "slowdown" in board.ceilings:
        # a quarter-speed consumer for 10 s: roughly 10 x (81 - 25) messages cannot make it
        lost = board.ceilings["slowdown"].offered - board.ceilings["slowdown"].on_time_max
        assert 350 < lost < 10 * (81 - 25) + 100


def test_the_surge_forces_the_loss_derived_by_hand():
    # A message produced in [10 s, 13 s) (the surge, 150 msg/s for 2 s, then 70 msg/s and the
    # spike at 12.5 s) that is in time starts service after 10 s and ends by 13.5 s: at most as
    # many as the luckiest run of consecutive service times fits into the 3.5 s of full-speed
    # work, 350 mean service times. About 425 arrive there, so a loss is forced on most draws
    # (of 300 seeds, all but 5 forced one; 48 messages on average), none only on a lucky one.
    ch = suite()[1]
    x = prepare(ch.scenario, make_strategy("drop_newest"), ch.seed)
    ticks = round(1 / x.dt)
    arrived = int(x.arrivals[10 * ticks:13 * ticks].sum())
    drawn = np.concatenate(([0.0], np.cumsum(x.pool)))
    fit = int(np.max(np.searchsorted(drawn, drawn + 350.0, side="right") - 1
                     - np.arange(drawn.size)))
    c = ceiling(ch)
    assert c.offered - c.on_time_max >= arrived - fit


def _plain(**kw):
    sc = replace(BASE, arrivals="constant", service="deterministic", duration_s=20, **kw)
    return Challenge("plain", "test", sc, seed=1)


def test_without_trouble_the_ceiling_is_everything_and_a_fixed_buffer_reaches_it():
    ch = _plain()
    c = ceiling(ch)
    assert c.on_time_max == c.offered == 1400
    s = score_run(run_policy(FixedCapacity(50), ch), ch)
    # tight to one message: the last one arrives 1 ms before the end and is still in service
    assert c.on_time_max - 1 <= round(s.on_time * s.offered) <= c.on_time_max


def test_a_stopped_consumer_forces_the_loss_derived_by_hand():
    # 70 msg/s, evenly spaced; the consumer stops from 5 s to 15 s. A message produced in
    # [5 s, 14.5 s) would have to be finished before 15 s: none can be, 9.5 s x 70 = 665.
    ch = _plain(speed_schedule=((5, 0.0), (15, 1.0)))
    c = ceiling(ch)
    assert c.on_time_max <= c.offered - 665
    # ... and not much more is forced: after 15 s the consumer has 30 msg/s to spare
    assert c.on_time_max >= c.offered - 665 - 40
    for p in (FixedCapacity(5), FixedCapacity(50), drain_fast):
        s = score_run(run_policy(p, ch), ch)
        assert round(s.on_time * s.offered) <= c.on_time_max


def test_a_deeper_slowdown_lowers_the_ceiling():
    scores = [ceiling(suite(slowdown=v)[0]).score for v in (0.0, 0.25, 0.5, 1.0)]
    assert scores == sorted(scores) and scores[0] < scores[-1]


def test_the_stated_bursts_are_the_scheduled_ones():
    # 70 msg/s plus 55 extra messages every 5 s: 81 msg/s on average
    assert mean_rate(suite()[0]) == pytest.approx(81, abs=0.01)


def test_several_consumers_are_refused_with_the_reason():
    ch = Challenge("two", "test", replace(BASE, consumers=2))
    with pytest.raises(ValueError, match="single consumer"):
        ceiling(ch)


def test_held_out_scenarios_differ_from_the_suite():
    assert {c.seed for c in held_out()}.isdisjoint({c.seed for c in suite()})
    assert {c.name for c in held_out()}.isdisjoint({c.name for c in suite()})
