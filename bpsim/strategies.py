"""Strategies: what the server does with a message when its consumer cannot keep up.

Every tick the producer hands the server a batch of messages (all generated in the same tick).
A strategy decides, for each batch, what enters the buffer and what happens to the rest. It
may only use the handful of verbs the engine offers, so that every message it touches ends up
in exactly one place of the books:

``q.room()``
    free slots in the buffer right now (``capacity - depth``; endless for ``unbounded``).
``q.enqueue(gen, n)``
    hand ``n`` messages to the server's buffer. If the server would then hold more messages than
    its memory allows, it crashes: everything it held, and these ``n``, are lost.
``q.drop(n)``
    discard ``n`` arriving messages silently (counted as ``dropped``).
``q.evict_oldest(n)``
    discard the ``n`` oldest queued messages (counted as ``dropped``).
``q.hold(gen, n)``
    keep ``n`` messages waiting in the producer (``block``): they are offered again next tick,
    before anything newer.
``q.reject(gen, n, attempt)``
    answer ``n`` messages with an error (``shed``); the client may retry them later.
``q.sample(n)``
    of ``n`` messages under sampling, how many pass the 1-in-N counter (the others are counted as
    ``sampled_out`` by the engine).

Each strategy below is one small class: its ``admit`` method is the readable definition, run by
the pure-Python reference engine (:mod:`bpsim.reference`). The fast engine (:mod:`bpsim.kernel`)
runs the same rule compiled; it understands every strategy that can be written with four knobs,
given by :meth:`Strategy.rule`: where sampling starts, the 1-in-N, whether the oldest are evicted
to make room, and what happens to overflow (drop, hold, reject). A new strategy that fits those
knobs is one new class here and runs at full speed; one that does not (``rule()`` returns
``None``) still runs, on the reference engine, and is exactly as correct, only slower.

Names from the field: ``drop_newest`` is RxJava's ``DROP`` and Akka's ``dropNew``;
``drop_oldest`` is ``DROP_OLDEST`` / ``dropHead``; ``block`` is Akka's ``backpressure`` and what TCP
flow control does; ``shed`` is an HTTP 429 or 503; ``sample`` keeps 1 in N by count (Rx's
``sample(period)`` is by time: not the same thing).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# Overflow actions, shared with the compiled kernel.
DROP, HOLD, REJECT = 0, 1, 2


@dataclass(frozen=True)
class Rule:
    """The four knobs of the compiled admission rule (see the module docstring).

    ``sample_from`` is the fill fraction of the buffer at which 1-in-N sampling starts
    (1.0 with ``sample_every == 1``: no sampling).
    """

    bounded: bool = True
    sample_from: float = 1.0
    sample_every: int = 1
    evict_oldest: bool = False
    overflow: int = DROP


class Strategy:
    """Base class. Subclasses set ``name`` and define :meth:`admit`."""

    name = "strategy"
    #: ``False`` only for a strategy whose buffer has no capacity limit.
    bounded = True
    #: How many times a rejected message is offered again (``q.reject``); 0: never.
    retries = 0

    def admit(self, q, gen: int, n: int, attempt: int) -> None:  # pragma: no cover - abstract
        """Decide the fate of ``n`` messages generated in tick ``gen``.

        ``attempt`` is 0 for a first try and ``k`` for a message's ``k``-th retry (``shed``).
        """
        raise NotImplementedError

    def backoff_ticks(self, retry: int, dt_s: float) -> int:
        """Ticks between a rejection and retry number ``retry`` (1-based), at least one."""
        return 1

    def rule(self) -> Rule | None:
        """The same decision as knobs for the compiled kernel, or ``None`` if it has none."""
        return None

    def params(self) -> dict:
        """The strategy's own parameters, for summaries."""
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


class Unbounded(Strategy):
    """No limit at all: every message is queued, until memory runs out and the server dies.

    This is the course's opening scenario: with 1,000 msg/s in and 100 msg/s out the queue grows by
    900 messages every second, and nothing pushes back until the crash loses everything at once.
    """

    name = "unbounded"
    bounded = False

    def admit(self, q, gen, n, attempt):
        q.enqueue(gen, n)

    def rule(self):
        return Rule(bounded=False)


class Block(Strategy):
    """Backpressure proper: while the buffer is full, the producer waits.

    Nothing is lost, and the server's memory stays bounded. The price moves upstream: messages pile
    up in the producer (the ``producer_backlog``), and each one waits longer before it is even handed
    over (``producer_wait``). Under overload the throughput is exactly the consumer's.
    """

    name = "block"

    def admit(self, q, gen, n, attempt):
        k = min(n, q.room())
        q.enqueue(gen, k)
        q.hold(gen, n - k)

    def rule(self):
        return Rule(overflow=HOLD)


class DropNewest(Strategy):
    """When the buffer is full, the arriving message is thrown away (RxJava ``DROP``).

    Memory and latency stay bounded; the producer never waits. The cost: silent loss. Under steady
    overload the fraction dropped tends to ``1 - mu/lambda``.
    """

    name = "drop_newest"

    def admit(self, q, gen, n, attempt):
        k = min(n, q.room())
        q.enqueue(gen, k)
        q.drop(n - k)

    def rule(self):
        return Rule(overflow=DROP)


class DropOldest(Strategy):
    """When the buffer is full, the oldest queued message makes room for the new one.

    Message by message: an arrival that finds the buffer full pushes out the head of the queue.
    The freshest data survives (good for prices, positions, sensor readings), at the cost of
    losing messages that already waited the longest.
    """

    name = "drop_oldest"

    def admit(self, q, gen, n, attempt):
        fits = min(n, q.room())
        q.enqueue(gen, fits)
        rest = n - fits
        if rest:
            # Each of the rest pushes out the current head (which may be one of this batch).
            q.evict_oldest(min(q.depth, rest))
            k = min(rest, q.room())
            q.enqueue(gen, k)
            q.drop(rest - k)

    def rule(self):
        return Rule(evict_oldest=True, overflow=DROP)


@dataclass(frozen=True, repr=False)
class Sample(Strategy):
    """Under pressure, keep only 1 message in ``every``.

    Below ``start_fraction`` of the capacity everything is admitted. Once the buffer is that full,
    arriving messages go through a counter and only every ``every``-th passes; the others are
    counted as ``sampled_out`` (thinned on purpose, unlike a silent drop). A message that passes
    but still finds the buffer full is dropped, so the bound always holds. With 1,000 msg/s in,
    100 msg/s out and ``every=10``, the sampled stream is exactly what the consumer can take.

    Parameters
    ----------
    every : int
        N in "1 in N" (1 or more).
    start_fraction : float
        Buffer fill, between 0 and 1, from which sampling applies (0: always sample).
    """

    every: int = 10
    start_fraction: float = 0.5
    name = "sample"

    def __post_init__(self):
        if isinstance(self.every, bool) or not float(self.every).is_integer() or self.every < 1:
            raise ValueError(f"sample_every={self.every!r} is not valid: use a whole number, 1 or "
                             "more (keep 1 message in every N).")
        object.__setattr__(self, "every", int(self.every))
        if not (isinstance(self.start_fraction, (int, float)) and 0 <= self.start_fraction <= 1):
            raise ValueError(f"sample_start_fraction={self.start_fraction!r} is not valid: use a "
                             "fraction of the capacity between 0 and 1.")

    def threshold(self, capacity: int) -> int:
        """Queue depth (messages) from which sampling applies."""
        return math.ceil(self.start_fraction * capacity)

    def admit(self, q, gen, n, attempt):
        free = min(n, max(0, self.threshold(q.capacity) - q.depth), q.room())
        q.enqueue(gen, free)
        rest = n - free
        passed = q.sample(rest, self.every)
        k = min(passed, q.room())
        q.enqueue(gen, k)
        q.drop(passed - k)

    def rule(self):
        return Rule(sample_from=self.start_fraction, sample_every=self.every, overflow=DROP)

    def params(self):
        return {"every": self.every, "start_fraction": self.start_fraction}


@dataclass(frozen=True, repr=False)
class Shed(Strategy):
    """Load shedding: a full buffer answers at once with an error (an HTTP 429 or 503).

    Unlike a silent drop the client knows, and can retry. Retries are where shedding turns
    dangerous: every rejected message may come back ``retries`` more times, the ``k``-th retry
    ``backoff_s * 2**(k-1)`` seconds after the previous rejection, so the server sees more
    ``attempts`` than there are distinct messages. A message counts as ``shed`` only when its last
    allowed attempt is rejected; while it waits to retry it sits in the producer's backlog.

    Parameters
    ----------
    retries : int
        How many times a client retries a rejected message (0: never).
    backoff_s : float
        Wait before the first retry (s); it doubles on each further retry. 0 retries on the next
        tick (no backoff at all).
    """

    retries: int = 0
    backoff_s: float = 0.1
    name = "shed"

    def __post_init__(self):
        if isinstance(self.retries, bool) or not float(self.retries).is_integer() \
                or not 0 <= self.retries <= 10:
            raise ValueError(f"retries={self.retries!r} is not valid: use a whole number of "
                             "retries from 0 to 10.")
        object.__setattr__(self, "retries", int(self.retries))
        if not (isinstance(self.backoff_s, (int, float)) and math.isfinite(self.backoff_s)
                and self.backoff_s >= 0):
            raise ValueError(f"retry_backoff_s={self.backoff_s!r} is not valid: use a time in "
                             "seconds, 0 or more.")

    def backoff_ticks(self, retry: int, dt_s: float) -> int:
        """Ticks between a rejection and retry number ``retry`` (1-based), at least one."""
        return max(1, int(round(self.backoff_s * 2 ** (retry - 1) / dt_s)))

    def admit(self, q, gen, n, attempt):
        k = min(n, q.room())
        q.enqueue(gen, k)
        q.reject(gen, n - k, attempt)

    def rule(self):
        return Rule(overflow=REJECT)

    def params(self):
        return {"retries": self.retries, "backoff_s": self.backoff_s}


class ControlledCapacity(Strategy):
    """Base for strategies whose capacity a controller moves while the run goes on.

    Between two control steps the buffer is a plain bounded one: what does not fit is dropped
    (``overflow = "drop"``, drop newest) or held by the producer (``"block"``). Subclasses add
    ``start(obs)`` and ``control(obs)`` (see :mod:`bpsim.engine`).
    """

    overflow = "drop"

    def admit(self, q, gen, n, attempt):
        k = min(n, q.room())
        q.enqueue(gen, k)
        if self.overflow == "block":
            q.hold(gen, n - k)
        else:
            q.drop(n - k)

    def rule(self):
        return Rule(overflow=HOLD if self.overflow == "block" else DROP)


@dataclass(frozen=True, repr=False)
class Adaptive(ControlledCapacity):
    """A buffer whose capacity follows what the consumer can do right now.

    Every ``control_interval_s`` the controller measures the consumers' throughput while busy
    (messages per second of busy time, times the active workers) and sets the capacity by
    Little's law: a queue of ``throughput x latency_target_s`` messages drains in
    ``latency_target_s``. It never allows more than the memory budget holds
    (``memory_budget_bytes / message_bytes``, less one slot per worker). When the target falls it
    shrinks at once; when it rises it grows by at most ``growth`` (a fraction, at least one slot)
    per interval. Queued messages are never thrown out by a shrink: arrivals are refused until the
    queue is below the new capacity. Overflow goes to ``overflow``: ``"drop"`` (drop newest) or
    ``"block"``.

    Parameters
    ----------
    latency_target_s : float
        The queueing delay to aim for (s).
    memory_budget_bytes : int or None
        Memory the queue may use (bytes); ``None`` uses the scenario's ``memory_limit_bytes``.
    control_interval_s : float
        How often the capacity is adjusted (s).
    growth : float
        Largest relative growth per interval (0.1 is 10 %).
    overflow : {"drop", "block"}
    """

    latency_target_s: float = 0.5
    memory_budget_bytes: int | None = None
    control_interval_s: float = 0.1
    growth: float = 0.1
    overflow: str = "drop"
    name = "adaptive"

    def __post_init__(self):
        if not (isinstance(self.latency_target_s, (int, float))
                and math.isfinite(self.latency_target_s) and self.latency_target_s > 0):
            raise ValueError(f"latency_target_s={self.latency_target_s!r} is not valid: use a "
                             "time in seconds above 0, such as 0.5.")
        if self.memory_budget_bytes is not None and not (
                isinstance(self.memory_budget_bytes, (int, float))
                and math.isfinite(self.memory_budget_bytes) and self.memory_budget_bytes > 0):
            raise ValueError(f"memory_budget_bytes={self.memory_budget_bytes!r} is not valid: use "
                             "a number of bytes above 0, or None for the memory limit.")
        if not (isinstance(self.control_interval_s, (int, float))
                and math.isfinite(self.control_interval_s) and self.control_interval_s > 0):
            raise ValueError(f"control_interval_s={self.control_interval_s!r} is not valid: use a "
                             "time in seconds above 0, such as 0.1.")
        if not (isinstance(self.growth, (int, float)) and 0 < self.growth <= 10):
            raise ValueError(f"growth={self.growth!r} is not valid: use a fraction above 0 "
                             "(0.1 grows by 10 % per interval).")
        if self.overflow not in ("drop", "block"):
            raise ValueError(f"overflow={self.overflow!r} is not valid: use 'drop' or 'block'.")

    def memory_slots(self, obs) -> int:
        """The largest queue the memory budget allows (messages)."""
        budget = self.memory_budget_bytes or obs.memory_limit_bytes
        return max(0, int(budget // obs.message_bytes) - obs.consumers)

    def start(self, obs) -> int:
        """The capacity a run starts with: the scenario's, within the memory budget."""
        return min(obs.capacity, self.memory_slots(obs))

    def control(self, obs) -> int:
        """New capacity from one interval's measurements (see :class:`bpsim.control.Observation`)."""
        target = int(obs.service_rate_per_s * self.latency_target_s + 1e-6)  # float fuzz
        target = max(1, min(target, self.memory_slots(obs)))
        if target <= obs.capacity:
            return target  # shrink at once
        step = max(1, int(obs.capacity * self.growth))
        return min(target, obs.capacity + step)  # grow gradually

    def params(self):
        return {"latency_target_s": self.latency_target_s,
                "memory_budget_bytes": self.memory_budget_bytes,
                "control_interval_s": self.control_interval_s,
                "growth": self.growth, "overflow": self.overflow}


#: Every built-in strategy by name: a class or a ready instance.
STRATEGIES = {
    "unbounded": Unbounded,
    "block": Block,
    "drop_newest": DropNewest,
    "drop_oldest": DropOldest,
    "sample": Sample,
    "shed": Shed,
    "adaptive": Adaptive,
}

# Keyword names (as simulate() and the CLI take them) for each strategy's own parameters.
STRATEGY_KWARGS = {
    "sample": {"sample_every": "every", "sample_start_fraction": "start_fraction"},
    "shed": {"retries": "retries", "retry_backoff_s": "backoff_s"},
    "adaptive": {"latency_target_s": "latency_target_s",
                 "memory_budget_bytes": "memory_budget_bytes",
                 "control_interval_s": "control_interval_s",
                 "growth": "growth", "overflow": "overflow"},
}
ALL_STRATEGY_KWARGS = {k for d in STRATEGY_KWARGS.values() for k in d}


def make_strategy(strategy="drop_newest", **kwargs) -> Strategy:
    """A strategy object from a name (plus its keyword parameters) or an existing object.

    Keyword parameters that belong to another strategy are accepted and ignored, so one set of
    sliders can drive every strategy.

    >>> make_strategy("sample", sample_every=5)
    Sample(every=5, start_fraction=0.5)
    """
    unknown = set(kwargs) - ALL_STRATEGY_KWARGS
    if unknown:
        name = sorted(unknown)[0]
        raise ValueError(f"{name}={kwargs[name]!r} is not a parameter bpsim knows: use one of "
                         f"{', '.join(sorted(ALL_STRATEGY_KWARGS))}.")
    if isinstance(strategy, Strategy):
        return strategy
    if isinstance(strategy, type) and issubclass(strategy, Strategy):
        cls, name = strategy, strategy.name
    elif isinstance(strategy, str) and strategy in STRATEGIES:
        cls, name = STRATEGIES[strategy], strategy
    else:
        raise ValueError(f"strategy={strategy!r} is not valid: use one of "
                         f"{', '.join(STRATEGIES)}.")
    mapping = STRATEGY_KWARGS.get(name, {})
    own = {mapping[k]: v for k, v in kwargs.items() if k in mapping and v is not None}
    return cls(**own)
