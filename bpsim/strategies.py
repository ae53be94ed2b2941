"""Strategies: what the server does with a message when its consumer cannot keep up.

Every tick the producer hands the server a batch of messages (all generated in the same tick).
A strategy decides, for each batch, what enters the buffer and what happens to the rest. It may
only use the verbs of the :class:`Queue` the engine hands it (listed there, the whole contract),
so that every message it touches ends up in exactly one place of the books.

A strategy is one class, and everything else is read from what the class declares, never from its
name:

* ``name``: the strategy's name (``simulate(strategy="block")``, ``--strategy block``).
* :meth:`Strategy.admit`: the readable definition of its decision, run by the pure-Python
  reference engine (:mod:`bpsim.reference`).
* :meth:`Strategy.rule`: the same decision as the four knobs of :class:`Rule` (where sampling
  starts, the 1-in-N, whether the oldest are evicted to make room, what happens to overflow:
  drop, hold, reject), which the compiled engine (:mod:`bpsim.kernel`) runs at full speed. A
  strategy whose ``rule()`` returns ``None`` still runs, on the reference engine, exactly as
  correct and only slower.
* its parameters: dataclass fields made with :func:`param`, each with the keyword ``simulate``
  takes, a unit and a check. The keyword table, the command-line flags and the error messages are
  all derived from these declarations.
* ``bounded`` (``False``: no capacity limit) and ``retries`` (how often a rejected message comes
  back), read by the engine.

:func:`register` adds a class to :data:`STRATEGIES`, after which it runs by name, from the command
line too:

>>> from dataclasses import dataclass
>>> @register
... @dataclass(frozen=True, repr=False)
... class Tiny(Strategy):
...     # Drop newest, in a buffer of at most ``slots`` messages.
...     slots: int = param(3, keyword="tiny_slots", unit="messages",
...                        check=lambda name, v: whole(name, v, low=0, what="a number of slots"))
...     name = "tiny"
...     def admit(self, q, gen, n, attempt):
...         k = min(n, q.room(), max(0, self.slots - q.depth))
...         q.enqueue(gen, k)
...         q.drop(n - k)
>>> make_strategy("tiny", tiny_slots=2)
Tiny(slots=2)
>>> del STRATEGIES["tiny"]

Names from the field: ``drop_newest`` is RxJava's ``DROP`` and Akka's ``dropNew``;
``drop_oldest`` is ``DROP_OLDEST`` / ``dropHead``; ``block`` is Akka's ``backpressure`` and what TCP
flow control does; ``shed`` is an HTTP 429 or 503; ``sample`` keeps 1 in N by count (Rx's
``sample(period)`` is by time: not the same thing).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Callable, NamedTuple, Protocol

from .control import memory_slots
from .validate import (MAX_BYTES, MAX_DURATION_S, MAX_RETRIES, InputError, bad, choice, number,
                       optional, whole)

# Overflow actions, shared with the compiled kernel.
DROP, HOLD, REJECT = 0, 1, 2


class Queue(Protocol):
    """What the engine hands a strategy's ``admit``: the whole contract, in the engine's words.

    Both engines implement it (:class:`bpsim.reference.ReferenceEngine` in Python; the kernel
    runs the same verbs compiled). A strategy that uses only these cannot lose a message.

    Attributes
    ----------
    depth : int
        Messages waiting in the buffer now (not counting those in service).
    capacity : int
        Buffer slots in force now (``-1``: unbounded).
    """

    depth: int
    capacity: int

    def room(self) -> int:
        """Free slots right now: ``capacity - depth`` (endless when unbounded, 0 while down)."""

    def enqueue(self, gen: int, n: int) -> None:
        """Hand ``n`` messages of tick ``gen`` to the buffer. If the server would then hold more
        than its memory allows, it crashes: everything it held, and these ``n``, are lost."""

    def drop(self, n: int) -> None:
        """Discard ``n`` arriving messages silently (counted as ``dropped``)."""

    def evict_oldest(self, n: int) -> None:
        """Discard the ``n`` oldest queued messages (counted as ``dropped``); ``n <= depth``."""

    def hold(self, gen: int, n: int) -> None:
        """Keep ``n`` messages waiting in the producer (``block``): offered again next tick,
        before anything newer."""

    def reject(self, gen: int, n: int, attempt: int) -> None:
        """Answer ``n`` messages with an error (``shed``). With retries left the client offers
        them again later (attempt ``attempt + 1``); otherwise they count as ``shed``."""

    def sample(self, n: int, every: int) -> int:
        """Of ``n`` messages under 1-in-``every`` sampling, how many pass the counter; the others
        are counted as ``sampled_out``."""


class Param(NamedTuple):
    """One declared parameter of a strategy (read from its dataclass field by :func:`params_of`).

    Attributes
    ----------
    attr : str
        The field's name on the strategy (``Sample.every``).
    keyword : str
        The keyword ``simulate`` takes for it (``sample_every``); the command-line flag is the
        keyword with dashes (``--sample-every``).
    default : object
        The field's default.
    unit : str
        Its unit, for help texts (``"messages"``, ``"s"``, ``""``).
    help : str
        One line: what it does.
    check : callable
        ``check(keyword, value) -> value``: the value checked (and converted), or a ValueError
        from :mod:`bpsim.validate`.
    examples : tuple
        Other values worth testing: the tests run every registered strategy, at its defaults and
        at each of these, on both engines and compare them.
    """

    attr: str
    keyword: str
    default: object
    unit: str
    help: str
    check: Callable
    examples: tuple = ()

    @property
    def flag(self) -> str:
        """The command-line flag: ``--`` and the keyword with dashes."""
        return "--" + self.keyword.replace("_", "-")


def param(default, *, keyword: str, check: Callable, unit: str = "", help: str = "",
          examples: tuple = ()):
    """Declare a strategy parameter: a dataclass field with what bpsim needs to know about it.

    Parameters
    ----------
    default : object
        The default value.
    keyword : str
        The keyword ``simulate`` (and the dashboards) use for it; unique across strategies
        unless two strategies mean the same thing by it.
    check : callable
        ``check(keyword, value) -> value`` (use :mod:`bpsim.validate`).
    unit, help : str
        For help texts and the command line.
    examples : tuple
        Other values worth testing (see :class:`Param`).
    """
    return field(default=default, metadata={"keyword": keyword, "check": check, "unit": unit,
                                            "help": help, "examples": tuple(examples)})


def params_of(cls) -> tuple[Param, ...]:
    """The declared parameters of a strategy class (or instance), in field order."""
    return _class_params(cls if isinstance(cls, type) else type(cls))


@functools.cache
def _class_params(cls) -> tuple[Param, ...]:
    # once per class: its fields are fixed when it is made, and every strategy made reads them
    # twice (make_strategy, then __post_init__'s checks), 2 us each
    if not is_dataclass(cls):
        return ()
    out = []
    for f in fields(cls):
        if "keyword" in f.metadata:
            m = f.metadata
            out.append(Param(f.name, m["keyword"], f.default, m["unit"], m["help"], m["check"],
                             m.get("examples", ())))
    return tuple(out)


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
    """Base class of every strategy: the contract a new one fulfils.

    A subclass sets ``name``, defines :meth:`admit` (using only the verbs of :class:`Queue`), and
    may define :meth:`rule` (to run compiled), declare parameters with :func:`param` (as a frozen
    dataclass), and set ``bounded`` or ``retries``. Parameters are checked when the object is
    made, each by its own ``check``, so a bad value names the keyword a user typed.
    """

    name = "strategy"
    #: ``False`` only for a strategy whose buffer has no capacity limit.
    bounded = True
    #: How many times a rejected message is offered again (``q.reject``); 0: never.
    retries = 0

    def __post_init__(self):
        for p in params_of(self):
            object.__setattr__(self, p.attr, p.check(p.keyword, getattr(self, p.attr)))

    def admit(self, q: Queue, gen: int, n: int, attempt: int) -> None:  # pragma: no cover
        """Decide the fate of ``n`` messages generated in tick ``gen``.

        ``attempt`` is 0 for a first try and ``k`` for a message's ``k``-th retry (``shed``).
        """
        raise NotImplementedError(f"{type(self).__name__} has no admit(self, q, gen, n, attempt)"
                                  " method: a Strategy subclass must define one.")

    def backoff_ticks(self, retry: int, dt_s: float) -> int:
        """Ticks between a rejection and retry number ``retry`` (1-based), at least one."""
        return 1

    def rule(self) -> Rule | None:
        """The same decision as knobs for the compiled kernel, or ``None`` if it has none."""
        return None

    def params(self) -> dict:
        """The strategy's own parameters by field name, for summaries and reprs."""
        return {p.attr: getattr(self, p.attr) for p in params_of(self)}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


# -- checks of the built-in strategies' parameters ---------------------------------------------
def _seconds(what, low_open=False):
    return lambda name, v: number(name, v, low=0, high=MAX_DURATION_S, low_open=low_open,
                                  what=what)


def _fraction(name, v):
    return number(name, v, low=0, high=1, what="a fraction of the capacity")


def _overflow(name, v):
    return choice(name, v, ("drop", "block"))


def _budget(name, v):
    return optional(number, name, v, low=0, high=MAX_BYTES, low_open=True,
                    what="a number of bytes", none_means="the scenario's memory_limit_bytes")


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
        N in "1 in N" (1 or more). Keyword ``sample_every``.
    start_fraction : float
        Buffer fill, between 0 and 1, from which sampling applies (0: always sample). Keyword
        ``sample_start_fraction``.
    """

    every: int = param(10, keyword="sample_every", unit="N", help="keep 1 message in N",
                       check=lambda name, v: whole(name, v, low=1, high=10 ** 9,
                                                   what="a whole number N (keep 1 in N)"),
                       examples=(1, 3, 12))
    start_fraction: float = param(0.5, keyword="sample_start_fraction", unit="fraction",
                                  help="buffer fill from which sampling applies",
                                  check=_fraction, examples=(0.0, 0.3, 1.0))
    name = "sample"

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
        How many times a client retries a rejected message (0: never). Keyword ``retries``.
    backoff_s : float
        Wait before the first retry (s); it doubles on each further retry. 0 retries on the next
        tick (no backoff at all). Keyword ``retry_backoff_s``.
    """

    retries: int = param(0, keyword="retries", unit="count",
                         help="retries per rejected message",
                         check=lambda name, v: whole(name, v, low=0, high=MAX_RETRIES,
                                                     what="a whole number of retries"),
                         examples=(2, 4))
    backoff_s: float = param(0.1, keyword="retry_backoff_s", unit="s",
                             help="wait before the first retry, doubling after",
                             check=_seconds("a time in seconds"), examples=(0.0, 0.001, 0.05))
    name = "shed"

    def backoff_ticks(self, retry: int, dt_s: float) -> int:
        """Ticks between a rejection and retry number ``retry`` (1-based), at least one."""
        return max(1, int(round(self.backoff_s * 2 ** (retry - 1) / dt_s)))

    def admit(self, q, gen, n, attempt):
        k = min(n, q.room())
        q.enqueue(gen, k)
        q.reject(gen, n - k, attempt)

    def rule(self):
        return Rule(overflow=REJECT)


class ControlledCapacity(Strategy):
    """Base for strategies whose capacity a controller moves while the run goes on.

    Between two control steps the buffer is a plain bounded one: what does not fit is dropped
    (``overflow = "drop"``, drop newest) or held by the producer (``"block"``). Subclasses set
    ``control_interval_s`` (s) and define ``start(obs)`` (the first capacity) and
    ``control(obs)`` (the next one, or a decision; see :mod:`bpsim.engine`).
    """

    overflow = "drop"
    control_interval_s = 0.1

    def admit(self, q, gen, n, attempt):
        k = min(n, q.room())
        q.enqueue(gen, k)
        if self.overflow == "block":
            q.hold(gen, n - k)
        else:
            q.drop(n - k)

    def rule(self):
        return Rule(overflow=HOLD if self.overflow == "block" else DROP)

    def start(self, obs) -> int:  # pragma: no cover - abstract
        """The capacity a run starts with (messages)."""
        raise NotImplementedError

    def control(self, obs):  # pragma: no cover - abstract
        """The capacity for the next interval, or a decision (see :mod:`bpsim.engine`)."""
        raise NotImplementedError

    def memory_limit_at(self, time_s: float):
        """The memory limit (bytes) the controller is shown at ``time_s`` as
        ``obs.memory_limit_bytes``, or ``None`` for the scenario's ``memory_limit_bytes``.

        The meter (:class:`bpsim.control.Meter`) asks this as it makes each observation, so a
        strategy with a budget of its own (a shrinking one, say) needs no second observation.
        """
        return None


@dataclass(frozen=True, repr=False)
class Adaptive(ControlledCapacity):
    """A buffer whose capacity follows what the consumer can do right now.

    Every ``control_interval_s`` the controller measures the consumers' throughput while busy
    (messages per second of busy time, times the active workers) and sets the capacity by
    Little's law: a queue of ``throughput x latency_target_s`` messages drains in
    ``latency_target_s``. It never allows more than the memory budget holds
    (:func:`bpsim.control.memory_slots`: the budget in messages, less one slot per worker). When
    the target falls it shrinks at once; when it rises it grows by at most ``growth`` (a fraction,
    at least one slot) per interval. Queued messages are never thrown out by a shrink: arrivals are
    refused until the queue is below the new capacity. Overflow goes to ``overflow``: ``"drop"``
    (drop newest) or ``"block"``.

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

    latency_target_s: float = param(0.5, keyword="latency_target_s", unit="s",
                                    help="queueing delay to aim for",
                                    check=_seconds("a time in seconds", low_open=True))
    memory_budget_bytes: int | None = param(None, keyword="memory_budget_bytes", unit="bytes",
                                            help="memory the queue may use (default: the limit)",
                                            check=_budget)
    control_interval_s: float = param(0.1, keyword="control_interval_s", unit="s",
                                      help="how often the capacity is adjusted",
                                      check=_seconds("a time in seconds", low_open=True))
    growth: float = param(0.1, keyword="growth", unit="fraction",
                          help="largest relative growth per interval",
                          check=lambda name, v: number(name, v, low=0, high=10, low_open=True,
                                                       what="a fraction (0.1 grows by 10 %)"))
    overflow: str = param("drop", keyword="overflow", help="what a full buffer does: drop or block",
                          check=_overflow, examples=("block",))
    name = "adaptive"

    def start(self, obs) -> int:
        """The capacity a run starts with: the scenario's, within the memory budget."""
        return min(obs.capacity, memory_slots(self._budget(obs), obs.message_bytes,
                                              obs.consumers))

    def _budget(self, obs):
        return self.memory_budget_bytes or obs.memory_limit_bytes

    def control(self, obs) -> int:
        """New capacity from one interval's measurements (see :class:`bpsim.control.Observation`)."""
        target = int(obs.service_rate_per_s * self.latency_target_s + 1e-6)  # float fuzz
        target = max(1, min(target, memory_slots(self._budget(obs), obs.message_bytes,
                                                 obs.consumers)))
        if target <= obs.capacity:
            return target  # shrink at once
        step = max(1, int(obs.capacity * self.growth))
        return min(target, obs.capacity + step)  # grow gradually


#: Every registered strategy by name (see :func:`register`).
STRATEGIES: dict[str, type] = {}


def register(cls):
    """Add a strategy class to :data:`STRATEGIES` under its ``name``; returns the class.

    Usable as a decorator. A name already taken by another class is refused.
    """
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        bad("strategy", cls, "a subclass of bpsim.Strategy")
    name = cls.name
    if not isinstance(name, str) or not name.isidentifier() or name == Strategy.name:
        bad(f"{cls.__name__}.name", name, "a name of letters, digits and _ of its own, "
                                           "such as 'drop_newest'")
    if STRATEGIES.get(name, cls) is not cls:
        bad(f"{cls.__name__}.name", name, f"a name not taken already (by "
                                           f"{STRATEGIES[name].__name__})")
    for p in params_of(cls):
        for other in STRATEGIES.values():
            q = next((q for q in params_of(other) if q.keyword == p.keyword), None)
            if q is not None and other is not cls and q.default != p.default:
                bad(f"{cls.__name__}.{p.attr}", p.keyword,
                    f"a keyword of its own: {other.name} uses {p.keyword!r} with another default")
    STRATEGIES[name] = cls
    return cls


for _cls in (Unbounded, Block, DropNewest, DropOldest, Sample, Shed, Adaptive):
    register(_cls)


def keywords() -> dict[str, list[str]]:
    """Every strategy keyword bpsim knows, with the names of the strategies that take it."""
    out: dict[str, list[str]] = {}
    for name, cls in STRATEGIES.items():
        for p in params_of(cls):
            out.setdefault(p.keyword, []).append(name)
    return out


def make_strategy(strategy="drop_newest", **kwargs) -> Strategy:
    """A strategy object from a name (plus its own keyword parameters) or an existing object.

    A keyword the strategy does not take is an error that says which strategies take it: a
    parameter that silently does nothing would mislead.

    >>> make_strategy("sample", sample_every=5)
    Sample(every=5, start_fraction=0.5)
    >>> make_strategy("block", retries=3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bpsim.validate.InputError: retries=3 is not valid with strategy='block': use it with shed, ...
    """
    if isinstance(strategy, Strategy):
        if kwargs:
            name = sorted(kwargs)[0]
            raise InputError(f"{name}={kwargs[name]!r} is not valid with a strategy object: set "
                             f"it on the object itself, or pass the strategy by name.")
        return strategy
    if isinstance(strategy, type) and issubclass(strategy, Strategy):
        cls = strategy
    elif isinstance(strategy, str) and strategy in STRATEGIES:
        cls = STRATEGIES[strategy]
    else:
        bad("strategy", strategy, "one of " + ", ".join(STRATEGIES)
            + ", or a bpsim.Strategy object")
    own = {p.keyword: p.attr for p in params_of(cls)}
    for key in sorted(kwargs):
        if key in own:
            continue
        known = keywords()  # (every strategy's keywords: only to say what went wrong)
        if key in known:
            users = ", ".join(known[key])
            raise InputError(f"{key}={kwargs[key]!r} is not valid with strategy={cls.name!r}: "
                             f"use it with {users}, which take{'s' if len(known[key]) == 1 else ''}"
                             f" it, or leave it out.")
        raise InputError(f"{key}={kwargs[key]!r} is not a parameter bpsim knows: use a scenario "
                         f"field or one of {', '.join(sorted(known))}.")
    return cls(**{own[k]: v for k, v in kwargs.items()})
