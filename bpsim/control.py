"""What a controller can measure, and how the engine lets it steer.

An adaptive strategy (or a learner's policy) is called once per control interval with an
:class:`Observation`: only what a real server could measure about the interval that just ended,
never the future and never the simulator's internals. It answers with a new capacity.

Between two calls the compiled kernel runs at full speed, so a controller written in plain Python
costs almost nothing: a 60 s run with a 100 ms interval calls it 600 times.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Observation:
    """Measurements of one control interval.

    Attributes
    ----------
    time_s : float
        End of the interval (s).
    interval_s : float
        Its length (s).
    capacity : int
        Buffer capacity in force during the interval (messages).
    queue_depth, in_service : int
        Messages queued and being processed at the end of the interval.
    memory_bytes : int
        Memory those messages use (bytes).
    memory_limit_bytes, message_bytes : int
        The server's memory limit and the cost of one message (bytes).
    consumers : int
        Active workers.
    arrived, delivered, dropped : int
        Messages offered, delivered (while their client still waited) and dropped (or evicted)
        during the interval.
    throughput_per_s : float
        Messages served per second during the interval, in time or after their client had left.
    service_rate_per_s : float
        What the workers served per second of busy time, times the active workers: how fast the
        consumers could go right now. Carries the previous estimate over an idle interval.
    latency_p50_s, latency_p95_s : float
        Percentiles of the end-to-end latency of the messages delivered in the interval (NaN if none).
    sojourn_min_s, sojourn_p95_s : float
        Time the delivered messages spent waiting before service began (NaN if none); CoDel's
        "sojourn time" is the minimum.
    """

    time_s: float
    interval_s: float
    capacity: int
    queue_depth: int
    in_service: int
    memory_bytes: int
    memory_limit_bytes: int
    message_bytes: int
    consumers: int
    arrived: int
    delivered: int
    dropped: int
    throughput_per_s: float
    service_rate_per_s: float
    latency_p50_s: float
    latency_p95_s: float
    sojourn_min_s: float
    sojourn_p95_s: float


def _observation(**values) -> Observation:
    """An :class:`Observation` of ``values`` (every field), made without the frozen dataclass's
    ``__init__``, which sets each field through ``object.__setattr__``: a quarter of the time,
    and a policy run makes one every control step. It is as frozen as any other."""
    obs = object.__new__(Observation)
    obs.__dict__.update(values)
    return obs


def memory_slots(budget_bytes: float, message_bytes: int, consumers: int) -> int:
    """The most messages the buffer may hold within a memory budget (messages).

    The budget pays for every message inside the server, queued or being processed, so one slot
    per worker is kept aside for the message it serves. This is the one formula for it: the
    adaptive strategy, the policies and the challenge's figures all call it.

    >>> memory_slots(10_000_000, 100_000, consumers=1)
    99
    """
    return max(0, int(budget_bytes // message_bytes) - int(consumers))


class Meter:
    """Turns the engine's running totals into one :class:`Observation` per interval."""

    def __init__(self, inputs, engine, strategy=None):
        self.inputs = inputs
        self.engine = engine
        # the memory limit each observation shows (see ControlledCapacity.memory_limit_at)
        self._limit_at = getattr(strategy, "memory_limit_at", None)
        self.prev = {"offered": 0, "delivered": 0, "timed_out": 0, "dropped": 0, "n_records": 0}
        self.prev_busy = 0.0
        self.rate = inputs.consumer_rate * max(1, int(inputs.consumers[0]))

    def observe(self, tick: int, interval_ticks: int) -> Observation:
        x, e = self.inputs, self.engine
        s = e.scalars()
        total_busy = e.busy_seconds()
        busy = total_busy - self.prev_busy
        done = s["delivered"] - self.prev["delivered"]
        # the consumers' speed counts every message they served, in time or too late (work done
        # for a client that had left still took the worker's time)
        served = done + s["timed_out"] - self.prev["timed_out"]
        active = int(x.consumers[min(tick, x.n_ticks - 1)])
        if busy > 0:
            # per busy worker-second, times the active workers
            self.rate = served / busy * max(1, active)
        p50, p95, smin, s95 = e.record_stats(self.prev["n_records"], s["n_records"], float(x.dt))
        interval_s = interval_ticks * x.dt
        time_s = tick * x.dt
        limit = None if self._limit_at is None else self._limit_at(time_s)
        obs = _observation(
            time_s=time_s, interval_s=interval_s, capacity=int(s["capacity"]),
            queue_depth=int(s["depth"]), in_service=int(s["in_service"]),
            memory_bytes=int((s["depth"] + s["in_service"]) * x.message_bytes),
            memory_limit_bytes=x.memory_limit_bytes if limit is None else int(limit),
            message_bytes=x.message_bytes,
            consumers=active, arrived=int(s["offered"] - self.prev["offered"]),
            delivered=int(done), dropped=int(s["dropped"] - self.prev["dropped"]),
            throughput_per_s=served / interval_s, service_rate_per_s=float(self.rate),
            latency_p50_s=p50, latency_p95_s=p95, sojourn_min_s=smin, sojourn_p95_s=s95)
        for k in self.prev:
            self.prev[k] = s[k]
        self.prev_busy = total_busy
        return obs
