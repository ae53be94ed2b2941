"""The scenario: who produces, who consumes, and how much room there is.

A :class:`Scenario` is a frozen description of one experiment. It holds numbers, never state:
the same scenario and the same seed always give the same run.

The course's scenario is the default: a producer at 1,000 messages per second feeding a consumer
that manages 100. Each message costs ``message_bytes`` of memory while it is inside the server
(queued or being processed), and the server dies when it would need more than
``memory_limit_bytes``. With the defaults that is 100,000 messages, reached after about 111 s when
the queue grows by 900 messages every second.

>>> from bpsim import Scenario
>>> s = Scenario()
>>> s.producer_rate, s.consumer_rate, s.max_messages_in_memory
(1000.0, 100.0, 100000)

Schedules
---------
``rate_schedule``, ``speed_schedule`` and ``consumers_schedule`` are piecewise-constant steps:
a tuple of ``(start_time_s, value)`` pairs. Before the first step the base value holds
(``producer_rate``, speed 1.0, ``consumers``). For example ``rate_schedule=((10, 5000), (12, 1000))``
is a two-second burst at 5,000 msg/s, and ``speed_schedule=((20, 0.25), (30, 1.0))`` is a consumer
that slows to a quarter of its speed for ten seconds (a GC pause, a slow disk).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

ARRIVALS = ("constant", "poisson")
SERVICES = ("deterministic", "exponential")

#: The longest run accepted, in ticks. Each tick keeps a dozen 8-byte counters, so this bounds the
#: time series at about 100 MB; a longer run should use a larger ``dt_s``.
MAX_TICKS = 1_000_000


@dataclass(frozen=True)
class Scenario:
    """One producer, one bounded buffer, ``consumers`` parallel workers.

    Parameters
    ----------
    producer_rate : float
        Messages generated per second (msg/s). Default 1,000.
    consumer_rate : float
        Messages each worker processes per second at full speed (msg/s). Default 100.
    capacity : int
        Buffer slots (messages), not counting those being processed. Ignored by ``unbounded``.
    duration_s : float
        Simulated time (s).
    dt_s : float
        The tick (s). Default 1 ms. Everything that happens inside a tick is ordered as described
        in :mod:`bpsim.engine`.
    arrivals : {"constant", "poisson"}
        Evenly spaced arrivals, or a Poisson process.
    service : {"deterministic", "exponential"}
        Every message takes ``1/consumer_rate`` seconds, or an exponential time with that mean.
    consumers : int
        Parallel workers (default 1).
    message_bytes : int
        Memory one message costs inside the server (bytes).
    memory_limit_bytes : int
        The server dies when the messages it holds would need more than this (bytes).
    restart_s : float
        How long a crashed server stays down before it comes back empty (s).
    rate_schedule, speed_schedule, consumers_schedule : tuple of (time_s, value)
        Piecewise-constant changes to the producer rate (msg/s), the consumers' speed (a factor,
        1.0 is full speed) and the number of active workers.
    """

    producer_rate: float = 1000.0
    consumer_rate: float = 100.0
    capacity: int = 500
    duration_s: float = 120.0
    dt_s: float = 0.001
    arrivals: str = "constant"
    service: str = "deterministic"
    consumers: int = 1
    message_bytes: int = 1000
    memory_limit_bytes: int = 100_000_000
    restart_s: float = 5.0
    rate_schedule: tuple = ()
    speed_schedule: tuple = ()
    consumers_schedule: tuple = ()

    def __post_init__(self):
        _check_finite_number("producer_rate", self.producer_rate, "a rate in msg/s, 0 or more")
        if self.producer_rate < 0:
            _bad("producer_rate", self.producer_rate, "a rate in msg/s, 0 or more")
        _check_finite_number("consumer_rate", self.consumer_rate, "a rate in msg/s above 0")
        if self.consumer_rate <= 0:
            _bad("consumer_rate", self.consumer_rate, "a rate in msg/s above 0")
        _check_int("capacity", self.capacity, 0, "a whole number of slots, 0 or more")
        _check_finite_number("duration_s", self.duration_s, "a time in seconds above 0")
        if self.duration_s <= 0:
            _bad("duration_s", self.duration_s, "a time in seconds above 0")
        _check_finite_number("dt_s", self.dt_s, "a tick in seconds above 0, such as 0.001")
        if self.dt_s <= 0:
            _bad("dt_s", self.dt_s, "a tick in seconds above 0, such as 0.001")
        if self.dt_s > self.duration_s:
            _bad("dt_s", self.dt_s, f"a tick no longer than the run (duration_s={self.duration_s})")
        if self.arrivals not in ARRIVALS:
            _bad("arrivals", self.arrivals, f"one of {', '.join(ARRIVALS)}")
        if self.service not in SERVICES:
            _bad("service", self.service, f"one of {', '.join(SERVICES)}")
        _check_int("consumers", self.consumers, 1, "a whole number of workers, 1 or more")
        _check_int("message_bytes", self.message_bytes, 1, "a whole number of bytes, 1 or more")
        _check_int("memory_limit_bytes", self.memory_limit_bytes, 1,
                   "a whole number of bytes, 1 or more")
        if self.memory_limit_bytes < self.message_bytes:
            _bad("memory_limit_bytes", self.memory_limit_bytes,
                 f"room for at least one message (message_bytes={self.message_bytes})")
        _check_finite_number("restart_s", self.restart_s, "a time in seconds, 0 or more")
        if self.restart_s < 0:
            _bad("restart_s", self.restart_s, "a time in seconds, 0 or more")
        for name in ("capacity", "consumers", "message_bytes", "memory_limit_bytes"):
            object.__setattr__(self, name, int(getattr(self, name)))
        for name in ("producer_rate", "consumer_rate", "duration_s", "dt_s", "restart_s"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "rate_schedule", _check_schedule(
            "rate_schedule", self.rate_schedule, lambda v: v >= 0, "rates in msg/s, 0 or more"))
        object.__setattr__(self, "speed_schedule", _check_schedule(
            "speed_schedule", self.speed_schedule, lambda v: v >= 0, "speed factors, 0 or more"))
        object.__setattr__(self, "consumers_schedule", _check_schedule(
            "consumers_schedule", self.consumers_schedule,
            lambda v: v >= 0 and float(v).is_integer(), "whole numbers of workers, 0 or more"))
        n = self.n_ticks
        if n > MAX_TICKS:
            _bad("duration_s", self.duration_s,
                 f"at most {MAX_TICKS:,} ticks per run (this one needs {n:,}): shorten the run or "
                 f"use a larger dt_s (say {self.duration_s / MAX_TICKS:.2g} s or more)")

    # -- derived quantities -------------------------------------------------------------------
    @property
    def n_ticks(self) -> int:
        """Number of ticks in the run."""
        return int(round(self.duration_s / self.dt_s))

    @property
    def max_messages_in_memory(self) -> int:
        """How many messages fit in ``memory_limit_bytes`` (queued plus in service)."""
        return self.memory_limit_bytes // self.message_bytes

    @property
    def max_consumers(self) -> int:
        """The most workers ever active in the run."""
        values = [self.consumers] + [int(v) for _, v in self.consumers_schedule]
        return max(1, max(values))

    def with_(self, **changes) -> "Scenario":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def per_tick(self, name: str) -> np.ndarray:
        """The value of a schedule at the start of every tick, as an array.

        ``name`` is ``"rate"`` (msg/s), ``"speed"`` (factor) or ``"consumers"`` (workers).
        """
        base, schedule = {
            "rate": (self.producer_rate, self.rate_schedule),
            "speed": (1.0, self.speed_schedule),
            "consumers": (float(self.consumers), self.consumers_schedule),
        }[name]
        t = np.arange(self.n_ticks) * self.dt_s
        out = np.full(self.n_ticks, float(base))
        for start, value in schedule:
            out[t >= start - 1e-12] = value
        return out


SCENARIO_FIELDS = tuple(f.name for f in fields(Scenario))


def _bad(name, value, what):
    raise ValueError(f"{name}={value!r} is not valid: use {what}.")


def _check_finite_number(name, value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        _bad(name, value, what)
    if not math.isfinite(value):
        _bad(name, value, what)


def _check_int(name, value, minimum, what):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
            return _check_int(name, int(value), minimum, what)
        _bad(name, value, what)
    if value < minimum:
        _bad(name, value, what)


def _check_schedule(name, schedule, ok, what):
    try:
        steps = tuple((float(t), float(v)) for t, v in schedule)
    except (TypeError, ValueError):
        _bad(name, schedule, f"a tuple of (time_s, value) pairs with {what}")
    for t, v in steps:
        if not (math.isfinite(t) and math.isfinite(v)) or t < 0 or not ok(v):
            _bad(name, schedule, f"(time_s, value) pairs with times 0 or more and {what}")
    if list(steps) != sorted(steps, key=lambda s: s[0]):
        _bad(name, schedule, "steps in order of time")
    return steps
