"""The scenario: who produces, who consumes, and how much room there is.

A :class:`Scenario` is a frozen description of one experiment. It holds numbers, never state:
the same scenario and the same seed always give the same run.

The course's scenario is the default: a producer at 1,000 messages per second feeding a consumer
that manages 100. Each message costs ``message_bytes`` of memory while it is inside the server
(queued or being processed), and the server dies when it would need more than
``memory_limit_bytes``. With the defaults that is 100,000 messages, reached after about 111 s when
the queue grows by 900 messages every second.

>>> from dataclasses import replace
>>> from bpsim import Scenario
>>> s = Scenario()
>>> s.producer_rate, s.consumer_rate, s.max_messages_in_memory
(1000.0, 100.0, 100000)

A scenario is never changed in place; ``dataclasses.replace`` makes a changed copy, checked again:

>>> replace(s, capacity=50).capacity
50

Schedules
---------
``rate_schedule``, ``speed_schedule`` and ``consumers_schedule`` are piecewise-constant steps:
a tuple of ``(start_time_s, value)`` pairs. Before the first step the base value holds
(``producer_rate``, speed 1.0, ``consumers``). For example ``rate_schedule=((10, 5000), (12, 1000))``
is a two-second burst at 5,000 msg/s, and ``speed_schedule=((20, 0.25), (30, 1.0))`` is a consumer
that slows to a quarter of its speed for ten seconds (a GC pause, a slow disk).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from . import validate
from .schedule import Schedule

ARRIVALS = ("constant", "poisson")
SERVICES = ("deterministic", "exponential")
#: Which waiting message a free worker takes: the oldest (``fifo``), the newest (``lifo``), or
#: the oldest while the queue is short and the newest once a standing queue has formed
#: (``adaptive_lifo``; see :data:`bpsim.engine.ADAPTIVE_LIFO_S`).
ORDERS = ("fifo", "lifo", "adaptive_lifo")

#: The longest run accepted, in ticks: about a minute of computing (a quiet queue steps some 10**8
#: ticks a second, the busy course scenario 3 * 10**7). Memory does not grow with the length: the
#: series keep at most 100,000 points beyond a million ticks (:mod:`bpsim.state`), and a long
#: run's arrivals are drawn a window at a time (:data:`bpsim.engine.EAGER_TICKS`).
MAX_TICKS = 2_000_000_000


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
    client_timeout_s: float | None = None
    drop_expired: bool = False
    order: str = "fifo"

    def __post_init__(self):
        v = validate
        set_ = object.__setattr__
        set_(self, "producer_rate", v.number("producer_rate", self.producer_rate, low=0,
                                             high=v.MAX_RATE, what="a rate in msg/s"))
        set_(self, "consumer_rate", v.number("consumer_rate", self.consumer_rate, low=0,
                                             low_open=True, high=v.MAX_RATE,
                                             what="a rate in msg/s"))
        set_(self, "capacity", v.whole("capacity", self.capacity, low=0, high=v.MAX_CAPACITY,
                                       what="a whole number of slots"))
        set_(self, "duration_s", v.number("duration_s", self.duration_s, low=0, low_open=True,
                                          high=v.MAX_DURATION_S, what="a time in seconds"))
        set_(self, "dt_s", v.number("dt_s", self.dt_s, low=v.MIN_DT_S, high=v.MAX_DURATION_S,
                                    what="a tick in seconds, such as 0.001"))
        if self.dt_s > self.duration_s:
            v.bad("dt_s", self.dt_s, f"a tick no longer than the run (duration_s="
                                     f"{self.duration_s:g})")
        ticks = self.duration_s / self.dt_s
        if abs(ticks - round(ticks)) > 1e-6 * max(1.0, ticks):
            v.bad("duration_s", self.duration_s,
                  f"a whole number of ticks of dt_s={self.dt_s:g} s (this is {ticks:.4g} ticks; "
                  f"for example duration_s={round(ticks) * self.dt_s:g} or a dt_s that divides "
                  "it)")
        v.choice("arrivals", self.arrivals, ARRIVALS)
        v.choice("service", self.service, SERVICES)
        set_(self, "consumers", v.whole("consumers", self.consumers, low=1,
                                        high=v.MAX_CONSUMERS, what="a whole number of workers"))
        set_(self, "message_bytes", v.whole("message_bytes", self.message_bytes, low=1,
                                            high=v.MAX_BYTES, what="a whole number of bytes"))
        set_(self, "memory_limit_bytes", v.whole(
            "memory_limit_bytes", self.memory_limit_bytes, low=self.message_bytes,
            high=v.MAX_BYTES, what=f"a whole number of bytes with room for at least one message "
                                   f"(message_bytes={self.message_bytes:,})"))
        set_(self, "restart_s", v.number("restart_s", self.restart_s, low=0,
                                         high=v.MAX_DURATION_S, what="a time in seconds"))
        rate = lambda x: v.number("rate", x, low=0, high=v.MAX_RATE, what="")  # noqa: E731
        speed = lambda x: v.number("speed", x, low=0, high=1e6, what="")  # noqa: E731
        workers = lambda x: v.whole("workers", x, low=0, high=v.MAX_CONSUMERS,  # noqa: E731
                                    what="")
        set_(self, "rate_schedule", v.steps("rate_schedule", self.rate_schedule, rate,
                                            what=f"rates in msg/s from 0 to {v.MAX_RATE:,.0f}"))
        set_(self, "speed_schedule", v.steps("speed_schedule", self.speed_schedule, speed,
                                             what="speed factors from 0 to 1,000,000"))
        set_(self, "consumers_schedule", v.steps(
            "consumers_schedule", self.consumers_schedule, workers,
            what=f"whole numbers of workers from 0 to {v.MAX_CONSUMERS:,}"))
        set_(self, "client_timeout_s", v.optional(
            v.number, "client_timeout_s", self.client_timeout_s, low=0, low_open=True,
            high=v.MAX_DURATION_S, what="a time in seconds", none_means="clients that never "
                                                                     "give up"))
        set_(self, "drop_expired", v.flag("drop_expired", self.drop_expired))
        if self.drop_expired and self.client_timeout_s is None:
            v.bad("drop_expired", self.drop_expired,
                  "False, or give a client_timeout_s too (without one no client ever leaves, so "
                  "nothing can expire)")
        v.choice("order", self.order, ORDERS)
        n = self.n_ticks
        if n > MAX_TICKS:
            v.bad("duration_s", self.duration_s,
                  f"at most {MAX_TICKS:,} ticks per run (this one needs {n:,}): shorten the run or "
                  f"use a larger dt_s (say {self.duration_s / MAX_TICKS:.2g} s or more)")
        top = max([self.producer_rate] + [r for _, r in self.rate_schedule])
        if top * self.duration_s > v.MAX_MESSAGES:
            v.bad("producer_rate", self.producer_rate,
                  f"a rate that offers at most 2**53 messages in duration_s="
                  f"{self.duration_s:g} s (up to {v.MAX_MESSAGES / self.duration_s:.3g} msg/s)")

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

    def schedule(self, name: str) -> Schedule:
        """One of the scenario's schedules, with its base value.

        ``name`` is ``"rate"`` (msg/s), ``"speed"`` (factor) or ``"consumers"`` (workers).
        """
        base, steps = {
            "rate": (self.producer_rate, self.rate_schedule),
            "speed": (1.0, self.speed_schedule),
            "consumers": (float(self.consumers), self.consumers_schedule),
        }[name]
        return Schedule(float(base), steps)

    def per_tick(self, name: str) -> np.ndarray:
        """The value of a schedule at the start of every tick, as an array (see :meth:`schedule`)."""
        return self.schedule(name).per_tick(self.n_ticks, self.dt_s)


SCENARIO_FIELDS = tuple(f.name for f in fields(Scenario))
