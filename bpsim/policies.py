"""Policies: size the buffer while the run is going, from what a server can measure.

A *policy* is the controller of the adaptive-backpressure challenge. Every control interval the
engine pauses and hands it one :class:`bpsim.control.Observation` (throughput, measured consumer
speed, queue depth, latency and sojourn-time percentiles of the interval, memory in use, the
memory budget and the capacity in force). The policy answers with either

* a whole number: the buffer's new capacity (messages), or
* a :class:`Decision`: a capacity (or ``None`` to keep it) and ``drop_head``, a number of messages
  to drop from the head of the buffer right now (the oldest; they count as ``dropped``).

Between two calls the engine runs its ticks at full speed, so a policy in plain Python costs little.
A policy sees the Observation and nothing else: not the future, not the engine. Two ways to write
one:

>>> def half_a_second(obs):
...     return max(1, int(obs.service_rate_per_s * 0.5))
>>> class Halve(Policy):
...     name = "halve"
...     def decide(self, obs):
...         return max(1, obs.capacity // 2)

A function suits a policy without memory; a :class:`Policy` subclass keeps state between calls
(CoDel below remembers when it started dropping). Every run starts from a fresh copy of the policy
object, so what one run taught it never leaks into the next.

To run one, wrap it in a :class:`PolicyStrategy` (or use :func:`bpsim.challenge.run_policy`):

>>> from bpsim import simulate
>>> r = simulate(strategy=PolicyStrategy(half_a_second), duration_s=2, rng=1)
>>> int(r.capacity[-1])
50

The built-in policies, and where each comes from (see ``queueing-and-overload-control.md`` in the
course's reference material):

* :class:`FixedCapacity`: a buffer sized once, the way most systems ship.
* :class:`LittlesLaw`: the course's challenge solved with Little's law (the same rule as
  :class:`bpsim.strategies.Adaptive`, called, not copied).
* :class:`CoDel`: Nichols and Jacobson's Controlled Delay (ACM Queue 2012, RFC 8289), which watches
  how long messages waited instead of how many are queued.
* :class:`AIMD`: additive increase, multiplicative decrease, as in Netflix's concurrency-limits
  library (and TCP before it).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace

import numpy as np

from . import validate
from .validate import InputError
from .control import Observation, memory_slots
from .schedule import Schedule
from .strategies import Adaptive, ControlledCapacity

__all__ = ["Decision", "Policy", "PolicyError", "PolicyStrategy", "FixedCapacity", "LittlesLaw", "CoDel",
           "AIMD", "budget_slots", "policy_name"]


@dataclass(frozen=True)
class Decision:
    """What a policy may answer besides a bare capacity.

    Parameters
    ----------
    capacity : int or None
        Buffer capacity for the next interval (messages, 0 or more); ``None`` keeps the current one.
    drop_head : int
        Messages to drop from the head of the buffer now (0 or more); more than are queued drops
        them all.
    """

    capacity: int | None = None
    drop_head: int = 0


class Policy:
    """Base class for a policy that keeps state between calls.

    Subclasses set ``name`` and define :meth:`decide`. Parameters go in ``__init__`` (or make the
    subclass a dataclass); state lives in attributes and starts over in every run, because each run
    works on a fresh copy.
    """

    name = "policy"

    def decide(self, obs: Observation):  # pragma: no cover - abstract
        """The new capacity (an int) or a :class:`Decision`, from one interval's measurements."""
        raise NotImplementedError(f"{type(self).__name__} has no decide(self, obs) method: a "
                                  "Policy subclass must define one that returns the capacity.")

    def label(self) -> str:
        """Short name for tables and legends."""
        return self.name


def _not_a_class(policy) -> None:
    """A class where an instance belongs (``Smoothed`` for ``Smoothed()``) is an easy slip."""
    if isinstance(policy, type):
        raise InputError(f"policy={policy.__name__} is a class, not a policy: pass an instance "
                         f"of it, {policy.__name__}() (with its parameters, if it has any).")


def policy_name(policy) -> str:
    """A readable name for any policy: its ``label()``, ``name``, or function name."""
    _not_a_class(policy)
    if hasattr(policy, "label"):
        return policy.label()
    return getattr(policy, "name", None) or getattr(policy, "__name__", type(policy).__name__)


def budget_slots(obs: Observation) -> int:
    """The most messages the buffer may hold within the memory budget in force.

    The budget (``obs.memory_limit_bytes``) also pays for the messages being processed, one per
    worker, so those slots are kept aside.
    """
    return memory_slots(obs.memory_limit_bytes, obs.message_bytes, obs.consumers)


def _keep_in_budget(obs: Observation, capacity: int):
    """``capacity`` clamped to the budget, plus a head drop if the queue is already over it.

    A shrink never throws queued messages out by itself, so when the budget falls below what is
    queued (memory pressure) the excess has to leave from the head, the oldest first.
    """
    room = budget_slots(obs)
    capacity = min(int(capacity), room)
    over = obs.queue_depth - room
    return Decision(capacity=capacity, drop_head=over) if over > 0 else capacity


# -- built-in policies ---------------------------------------------------------------------------
@dataclass(repr=False)
class FixedCapacity(Policy):
    """A buffer sized once and never changed: the baseline every other policy must beat.

    With ``overflow="drop"`` this is exactly the ``drop_newest`` strategy. Being fixed, it does
    not follow the memory budget either: when the budget shrinks, a large buffer overruns it.

    Parameters
    ----------
    capacity : int
        Buffer slots (messages).
    """

    capacity: int = 50
    name = "fixed"

    def __post_init__(self):
        self.capacity = validate.whole("capacity", self.capacity, low=0,
                                       high=validate.MAX_CAPACITY, what="a whole number of slots")

    def decide(self, obs):
        return self.capacity

    def label(self):
        return f"fixed {self.capacity}"

    def __repr__(self):
        return f"FixedCapacity(capacity={self.capacity})"


@dataclass(repr=False)
class LittlesLaw(Policy):
    """The course's challenge, solved: capacity = measured speed x latency target.

    The capacity comes from :meth:`bpsim.strategies.Adaptive.control`, the one definition of the
    rule: Little's law (a queue of ``speed x latency_target_s`` messages drains in
    ``latency_target_s``), clamped to the memory budget, shrunk at once when the consumer slows and
    grown by at most ``growth`` per interval when it speeds up. One addition for a budget that
    shrinks: if the queue already holds more than the new budget, the excess is dropped from the
    head (``Adaptive`` alone never throws queued messages out).

    Right: it tracks the consumer's speed within one interval, and it never holds more than the
    latency target's worth of work. Wrong: it trusts the speed it measured in the last interval
    (noisy with few messages), and it sizes the queue for the *average* message, so a few slow
    messages still overshoot the target.

    Parameters
    ----------
    latency_target_s : float
        Queueing delay to aim for (s).
    growth : float
        Largest relative growth per interval (0.1 is 10 %).
    """

    latency_target_s: float = 0.5
    growth: float = 0.1
    name = "adaptive"

    def __post_init__(self):
        # Adaptive validates the parameters and holds the rule.
        self.adaptive = Adaptive(latency_target_s=self.latency_target_s, growth=self.growth)

    def decide(self, obs):
        return _keep_in_budget(obs, self.adaptive.control(obs))

    def __repr__(self):
        return f"LittlesLaw(latency_target_s={self.latency_target_s}, growth={self.growth})"


@dataclass(repr=False)
class CoDel(Policy):
    """Controlled Delay: drop from the head when messages have waited too long for too long.

    CoDel (Nichols & Jacobson, "Controlling Queue Delay", ACM Queue 2012; RFC 8289) ignores the
    queue's length and watches its *sojourn time*, how long a message waited before service. If
    even the luckiest message of the last ``interval_s`` (the minimum sojourn) waited more than
    ``target_s``, the queue is a standing "bad queue" and CoDel starts dropping at the head: one
    message, then the next one ``interval_s / sqrt(count)`` later, faster and faster, until the
    minimum sojourn falls back below the target. A burst that drains within an interval ("good
    queue") is left alone. The buffer itself is as large as the memory budget allows.

    Scaled to this system: routers use a 5 ms target and a 100 ms interval for packets that take
    microseconds; here one message takes 10 ms at full speed and the latency target is about half a
    second, so the defaults are ``target_s = 0.05`` (a tenth of the latency target) and
    ``interval_s = 0.1`` (one control interval, ten messages' work). Drops are decided once per
    control interval: all the drops CoDel's schedule makes due by then happen together.

    Right: it needs no estimate of the consumer's speed, and it leaves alone a burst that drains
    within an interval. Wrong here: a burst of 10 ms messages takes longer than that to drain, so
    CoDel drops into bursts too; and it expects senders to slow down when they lose a packet (TCP
    does). This producer never does, so against a large overload CoDel's drop rate takes a while
    to ramp up, and meanwhile the queue grows deep into the memory budget.

    Parameters
    ----------
    target_s : float
        Acceptable standing sojourn time (s).
    interval_s : float
        How long the sojourn must stay above target before dropping starts (s); also the scale of
        the drop schedule.
    """

    target_s: float = 0.05
    interval_s: float = 0.1
    name = "codel"
    # state (fresh in every run)
    dropping: bool = field(default=False, init=False)
    count: int = field(default=0, init=False)
    last_count: int = field(default=0, init=False)
    first_above_s: float | None = field(default=None, init=False)
    drop_next_s: float = field(default=0.0, init=False)

    def __post_init__(self):
        self.target_s = _seconds("target_s", self.target_s, "0.05")
        self.interval_s = _seconds("interval_s", self.interval_s, "0.1")

    def _next(self, t):
        return t + self.interval_s / math.sqrt(self.count)

    def _ok_to_drop(self, obs) -> bool:
        sojourn = obs.sojourn_min_s
        if math.isnan(sojourn):  # nothing started service: stuck if anything waits
            above = obs.queue_depth > 0
        else:
            above = sojourn >= self.target_s and obs.queue_depth > obs.consumers
        if not above:
            self.first_above_s = None
            return False
        if self.first_above_s is None:
            self.first_above_s = obs.time_s - obs.interval_s + self.interval_s
        return obs.time_s >= self.first_above_s

    def decide(self, obs):
        now = obs.time_s
        ok = self._ok_to_drop(obs)
        drops = 0
        if self.dropping:
            if not ok:
                self.dropping = False
            while self.dropping and now >= self.drop_next_s:
                drops += 1
                self.count += 1
                self.drop_next_s = self._next(self.drop_next_s)
        elif ok:
            drops = 1
            self.dropping = True
            delta = self.count - self.last_count
            # Came back soon after the last dropping spell: resume near the rate it ended with.
            recent = now - self.drop_next_s < 16 * self.interval_s
            self.count = delta if delta > 1 and recent else 1
            self.last_count = self.count
            self.drop_next_s = self._next(now)
        room = budget_slots(obs)
        drops = max(drops, obs.queue_depth - room)  # memory pressure comes first
        return Decision(capacity=room, drop_head=drops) if drops > 0 else room

    def __repr__(self):
        return f"CoDel(target_s={self.target_s}, interval_s={self.interval_s})"


@dataclass(repr=False)
class AIMD(Policy):
    """Additive increase, multiplicative decrease: probe upward slowly, back off fast.

    Netflix's concurrency-limits library (after TCP's congestion control) grows a limit by one
    while the system is busy and its requests succeed, and multiplies it by 0.9 each time one
    times out. Here the limit is the buffer's capacity, decided once per control interval: when
    the slowest messages of the interval (the 95th percentile latency) missed
    ``latency_target_s`` the capacity is multiplied by ``decrease``; otherwise, if the buffer was
    at least half full or refused messages, it grows by ``increase``. One decision stands for all
    of an interval's late messages, so the default backs off harder than 0.9: 0.7 is about three
    late messages' worth. The memory budget caps it.

    Right: it needs no model at all, only "late or not". Wrong: it learns from messages that are
    already late, so after a sudden slowdown it keeps backing off for a while (a queue built at
    the old speed takes time to show up as latency), and it grows back one slot at a time.

    Parameters
    ----------
    latency_target_s : float
        The latency that counts as a timeout (s).
    increase : int
        Slots added per busy interval.
    decrease : float
        Factor applied after a late interval (between 0 and 1).
    start : int
        Capacity before the first decision (messages).
    """

    latency_target_s: float = 0.5
    increase: int = 1
    decrease: float = 0.7
    start: int = 20
    name = "aimd"
    limit: float = field(default=0.0, init=False)

    def __post_init__(self):
        self.latency_target_s = _seconds("latency_target_s", self.latency_target_s, "0.5")
        self.increase = validate.whole("increase", self.increase, low=1,
                                       high=validate.MAX_CAPACITY, what="a whole number of slots")
        self.decrease = validate.number("decrease", self.decrease, low=0, low_open=True, high=1,
                                        what="a factor, such as 0.9")
        if self.decrease == 1:
            validate.bad("decrease", self.decrease, "a factor below 1, such as 0.9 (1 never "
                                                    "decreases)")
        self.start = validate.whole("start", self.start, low=1, high=validate.MAX_CAPACITY,
                                    what="a whole number of slots")
        self.limit = float(self.start)

    def decide(self, obs):
        late = obs.latency_p95_s > self.latency_target_s  # NaN (nothing delivered) is not late
        busy = obs.queue_depth * 2 >= obs.capacity or obs.dropped > 0
        if late:
            self.limit = max(1.0, self.limit * self.decrease)
        elif busy:
            self.limit += self.increase
        self.limit = min(self.limit, max(1, budget_slots(obs)))
        return _keep_in_budget(obs, int(self.limit))

    def __repr__(self):
        return (f"AIMD(latency_target_s={self.latency_target_s}, increase={self.increase}, "
                f"decrease={self.decrease}, start={self.start})")


# -- running a policy ----------------------------------------------------------------------------
class PolicyStrategy(ControlledCapacity):
    """Any policy, run as a bpsim strategy: ``simulate(strategy=PolicyStrategy(policy), ...)``.

    Between control steps the buffer behaves like ``drop_newest`` (or ``block``); at each step the
    policy gets an :class:`Observation` and its answer is checked, recorded in :attr:`trace`, and
    handed to the engine.

    Parameters
    ----------
    policy : function or Policy
        ``policy(obs)`` or an object with ``decide(obs)``; returns an int or a :class:`Decision`.
    overflow : {"drop", "block"}
        What a full buffer does to arrivals: drop them, or make the producer wait.
    control_interval_s : float
        How often the policy is asked (s).
    memory_budget_bytes : int, tuple or None
        The memory the server may use for messages (bytes): a number, a schedule of
        ``(time_s, bytes)`` steps (memory pressure: the budget shrinks), or ``None`` for the
        scenario's ``memory_limit_bytes``. The policy sees the budget in force as
        ``obs.memory_limit_bytes``.
    """

    def __init__(self, policy, overflow="drop", control_interval_s=0.1, memory_budget_bytes=None):
        _not_a_class(policy)
        if hasattr(policy, "decide"):
            if not callable(policy.decide):
                raise InputError(f"policy={policy!r} is not valid: its decide must be a method.")
        elif not callable(policy):
            raise InputError(f"policy={policy!r} is not valid: use a function f(obs) that returns "
                             "a capacity, or an object with a decide(obs) method "
                             "(see bpsim.policies.Policy).")
        self.policy = policy
        self.overflow = validate.choice("overflow", overflow, ("drop", "block"))
        self.control_interval_s = validate.number(
            "control_interval_s", control_interval_s, low=0, low_open=True,
            high=validate.MAX_DURATION_S, what="a time in seconds, such as 0.1")
        self.memory_budget_bytes = _check_budget(memory_budget_bytes)
        self.name = policy_name(policy)
        self.trace = {}
        self._live = policy

    # what the engine uses (admit and rule come from ControlledCapacity)
    def start(self, obs) -> int:
        """Called once as a run starts: a fresh policy, an empty trace, the first capacity."""
        self._live = copy.deepcopy(self.policy)
        self.trace = {k: [] for k in ("time_s", "capacity", "service_rate_per_s", "budget_bytes",
                                      "decided", "drop_head")}
        return min(obs.capacity, budget_slots(self._seen(obs)))

    def control(self, obs):
        obs = self._seen(obs)
        ask = self._live.decide if hasattr(self._live, "decide") else self._live
        try:
            answer = ask(obs)
        except Exception as e:      # the learner's code failed: keep its traceback, say where
            e.add_note(f"(raised by policy {self.name!r} at t = {obs.time_s:.1f} s; the lines "
                       "above that mention your notebook cell show where)")
            raise
        decision = check_decision(answer, self.name, obs.time_s)
        cap = decision.capacity if isinstance(decision, Decision) else decision
        drop = decision.drop_head if isinstance(decision, Decision) else 0
        t = self.trace
        t["time_s"].append(obs.time_s)
        t["capacity"].append(obs.capacity)
        t["service_rate_per_s"].append(obs.service_rate_per_s)
        t["budget_bytes"].append(obs.memory_limit_bytes)
        t["decided"].append(obs.capacity if cap is None else cap)
        t["drop_head"].append(min(drop, obs.queue_depth))
        return decision

    # helpers
    def budget_at(self, time_s):
        """The memory budget in force at ``time_s`` (bytes; None: the scenario's limit)."""
        b = self.memory_budget_bytes
        return Schedule(None, b).at(time_s) if isinstance(b, tuple) else b

    def memory_limit_at(self, time_s):
        """The policy sees the budget in force as ``obs.memory_limit_bytes`` (bytes)."""
        budget = self.budget_at(time_s)
        return None if budget is None else int(budget)

    def _seen(self, obs):
        # the meter's observations carry the budget already; one made elsewhere gets it here
        budget = self.memory_limit_at(obs.time_s)
        if budget is None or obs.memory_limit_bytes == budget:
            return obs
        return replace(obs, memory_limit_bytes=budget)

    def traced(self) -> dict:
        """The trace as arrays: one entry per control step (times in s, capacities in messages)."""
        return {k: np.asarray(v) for k, v in self.trace.items()}

    def params(self):
        return {"policy": self.policy, "overflow": self.overflow,
                "control_interval_s": self.control_interval_s,
                "memory_budget_bytes": self.memory_budget_bytes}


class PolicyError(InputError):
    """A policy answered with something that is not a capacity (raised by :func:`check_decision`).

    The message names the policy, the value, the time and what would work; the traceback behind
    it is the engine's, not the learner's, so it is shown as its message alone (an
    :class:`bpsim.validate.InputError`, a ValueError).
    """


_WHAT_WORKS = ("return the new capacity as a whole number of messages, 0 or more (for example "
               "max(1, int(obs.service_rate_per_s * 0.5))), or Decision(capacity=..., "
               "drop_head=...).")


def check_decision(value, name="policy", time_s=0.0):
    """``value`` as a capacity (int) or a :class:`Decision`; otherwise a :class:`PolicyError`
    (a ValueError) that names the policy, the value and what would work."""
    if type(value) is int and 0 <= value <= validate.MAX_CAPACITY:
        return value            # the common answer, checked without making a message
    at = f"policy {name!r} returned {value!r} at t = {time_s:.1f} s"
    if value is None:
        raise PolicyError(f"{at}: did the function forget its return statement? A policy must "
                          f"{_WHAT_WORKS}")
    if isinstance(value, Decision):
        if value.capacity is not None:
            _whole_or_raise(value.capacity, at, "Decision.capacity (or None, to keep it)")
        _whole_or_raise(value.drop_head, at, "Decision.drop_head")
        cap = None if value.capacity is None else _at_most(int(value.capacity), at, "capacity")
        # more than are queued drops them all: no need to carry a larger number
        return Decision(capacity=cap, drop_head=min(int(value.drop_head), validate.MAX_CAPACITY))
    _whole_or_raise(value, at, "the capacity")
    return _at_most(int(value), at, "the capacity")


def _at_most(capacity: int, at: str, what: str) -> int:
    if capacity > validate.MAX_CAPACITY:
        raise PolicyError(f"{at}: {what} must be a whole number of messages up to "
                          f"{validate.MAX_CAPACITY:,} (a larger buffer cannot exist). A policy "
                          f"must {_WHAT_WORKS}")
    return capacity


def _whole_or_raise(v, at, what):
    """Raise a PolicyError ``at: what must be ...`` unless ``v`` is a whole number >= 0."""
    number = (int, np.integer, float, np.floating)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, number):
        raise PolicyError(f"{at}: {what} must be a whole number of messages. A policy must "
                          f"{_WHAT_WORKS}")
    if isinstance(v, (float, np.floating)) and not math.isfinite(v):
        raise PolicyError(f"{at}: {what} must be a whole number of messages, not {v!r}. nan "
                          "comes from the latency and sojourn fields when no message finished in "
                          "the interval: test math.isnan(obs.latency_p95_s) before using it.")
    if isinstance(v, (float, np.floating)) and not float(v).is_integer():
        raise PolicyError(f"{at}: {what} must be a whole number of messages: wrap the value in "
                          "int(), for example int(obs.service_rate_per_s * 0.5).")
    if v < 0:
        raise PolicyError(f"{at}: {what} must be a whole number of messages, 0 or more: wrap "
                          "the value in max(0, ...).")


def _seconds(name, value, example):
    return validate.number(name, value, low=0, low_open=True, high=validate.MAX_DURATION_S,
                           what=f"a time in seconds, such as {example}")


def _check_budget(budget):
    """A memory budget: ``None``, a number of bytes, or ``(time_s, bytes)`` steps."""
    def one(name, b):
        return int(validate.number(name, b, low=0, low_open=True, high=validate.MAX_BYTES,
                                   what="a number of bytes"))
    if budget is None or validate.is_real(budget):
        return validate.optional(one, "memory_budget_bytes", budget,
                                 none_means="the scenario's memory_limit_bytes")
    return validate.steps("memory_budget_bytes", budget, lambda b: one("bytes", b),
                          what=f"numbers of bytes above 0 and up to {validate.MAX_BYTES:,}")
