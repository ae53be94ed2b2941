"""The control loop accepts a decision with head drops, and the books still balance."""
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from bpsim import simulate
from bpsim.strategies import Adaptive
from helpers import assert_books_balance


@dataclass(frozen=True, repr=False)
class HeadDropper(Adaptive):
    """Keeps the capacity, and drops ``n`` messages from the head at every control step."""

    n: int = 5
    keep: int = 200

    def control(self, obs):
        return SimpleNamespace(capacity=self.keep, drop_head=self.n)


@pytest.mark.parametrize("n", [0, 3, 1000])
def test_head_drops_are_counted_as_dropped(n):
    # A 0.3 s burst fills the buffer, then nothing arrives: every message dropped from the head
    # is one message fewer delivered, and the books balance.
    kw = dict(capacity=200, duration_s=3, rate_schedule=((0.3, 0),),  # control every 0.1 s
              rng=1)
    base = simulate(strategy=HeadDropper(n=0), **kw).summary()
    run = simulate(strategy=HeadDropper(n=n), **kw)
    assert_books_balance(run)  # at the end and after every tick
    r = run.summary()
    assert r["queue_end"] == base["queue_end"] == 0
    extra = r["dropped"] - base["dropped"]
    assert extra == base["delivered"] - r["delivered"]
    assert (extra > 0) == (n > 0)
    if n == 1000:  # each step empties the buffer: 3 intervals of 10 deliveries, +1 in service
        assert r["delivered"] <= 3 * 10 + 1


def test_a_plain_number_still_sets_the_capacity():
    r = simulate(strategy="adaptive", duration_s=3, rng=1)
    assert_books_balance(r)
    assert r.capacity[-1] == 100 * 0.5  # Little's law: 100 msg/s x 0.5 s


def test_decision_capacity_none_keeps_the_capacity():
    @dataclass(frozen=True, repr=False)
    class Keep(Adaptive):
        def control(self, obs):
            return SimpleNamespace(capacity=None, drop_head=0)

    r = simulate(strategy=Keep(), capacity=37, duration_s=2, rng=1)
    assert set(r.capacity.tolist()) == {37.0}


@dataclass(frozen=True, repr=False)
class Watcher(Adaptive):
    """Adaptive, showing its controller a memory limit of its own, and noting what it was shown."""

    seen: list = None

    def memory_limit_at(self, time_s):
        return 5_000_000 if time_s < 1 else 2_000_000

    def start(self, obs):
        self.seen.append((obs.time_s, obs.memory_limit_bytes))
        return super().start(obs)

    def control(self, obs):
        self.seen.append((obs.time_s, obs.memory_limit_bytes))
        return super().control(obs)


def _shown(seen):
    return [limit for _, limit in seen], [5_000_000 if t < 1 - 1e-9 else 2_000_000 for t, _ in seen]


def test_a_controller_is_shown_the_memory_limit_its_strategy_declares():
    # every observation, the first (start) included, carries memory_limit_at(time) rather than
    # the scenario's 100 MB; the same through bpsim.Simulation, step by step
    from bpsim import Simulation
    kw = dict(duration_s=2, memory_limit_bytes=100_000_000)
    one = Watcher(seen=[])
    simulate(strategy=one, rng=1, **kw)
    got, want = _shown(one.seen)
    assert len(got) == 20 and got == want
    two = Watcher(seen=[])
    sim = Simulation(strategy=two, rng=1, **kw)
    sim.advance(2)
    assert _shown(two.seen) == (got, want)
    assert [t for t, _ in two.seen] == [t for t, _ in one.seen]


def test_the_meters_observations_are_whole_and_frozen():
    # the meter makes its observations without the dataclass's __init__ (for speed): each must
    # still have every field, equal the same Observation made the ordinary way, and be frozen
    import dataclasses
    from bpsim.control import Observation
    one = Watcher(seen=[])
    seen = []
    # keep every observation the run's controller is given
    object.__setattr__(one, "control", lambda obs: seen.append(obs) or Watcher.control(one, obs))
    simulate(strategy=one, rng=1, duration_s=1)
    assert len(seen) == 9
    names = {f.name for f in dataclasses.fields(Observation)}
    for obs in seen:
        assert type(obs) is Observation and set(vars(obs)) == names
        assert obs == Observation(**vars(obs)) and hash(obs) == hash(Observation(**vars(obs)))
        with pytest.raises(dataclasses.FrozenInstanceError):
            obs.capacity = 1
