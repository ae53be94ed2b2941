"""simulate(): one call from a scenario and a strategy to a result you can trust.

What happens in a call, in order:

1. The scenario is built and checked (keyword arguments override its fields).
2. All randomness comes from one generator, ``rng = np.random.default_rng(rng)``, split into two
   independent streams (:func:`streams`): one for the arrivals of every tick (Poisson counts if
   ``arrivals="poisson"``, ``rng.poisson(rate * dt)`` tick by tick), one for the unit exponential
   service times (if ``service="exponential"``), taken in the order messages start service. Both
   streams are drawn in order and never depend on the run's length, so the first ``k`` ticks of
   any run are the same whatever comes after them: a run stopped and carried on
   (:class:`bpsim.Simulation`) is, bit for bit, the run drawn at once. A run of at most
   :data:`EAGER_TICKS` ticks draws its arrivals up front; a longer one a window at a time as the
   engine reaches them (:class:`ArrivalStream`), so that its memory does not grow with its
   length. The engines themselves are pure: the same inputs give the same run, bit for bit.
3. An engine runs the ticks. The compiled kernel (:mod:`bpsim.kernel`) is used whenever the
   strategy can be expressed by its rule, the pure-Python reference (:mod:`bpsim.reference`)
   otherwise, or when asked for with ``engine="reference"``. The order of events inside a tick is
   documented in :mod:`bpsim.reference`.
4. A strategy with a ``control`` method (``adaptive``, a policy) is called every control interval
   with an :class:`bpsim.control.Observation`. It returns the capacity for the next interval, or a
   decision (an object with ``capacity`` and ``drop_head``) that may also drop messages from the
   head of the buffer (sojourn-based policies such as CoDel); head drops count as ``dropped``.
5. The :class:`bpsim.Result` keeps the engine's series log (one point per tick up to a million
   ticks, at most 100,000 bins beyond: :mod:`bpsim.state`), its per-message records (the latest
   :data:`MAX_RECORDS`) and its latency histogram.

Clients that give up (``client_timeout_s``, ``drop_expired``) and the order in which workers take
messages (``order``) are scenario fields; :mod:`bpsim.reference` says what they do inside a tick,
:mod:`bpsim.result` how they are counted.

>>> from bpsim import simulate
>>> r = simulate(strategy="block", capacity=100, duration_s=10, rng=1)
>>> s = r.summary()
>>> s["dropped"], s["delivered"], s["producer_backlog_end"] > 8000
(0, 1000, True)
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, fields

import numpy as np

from .control import Meter
from .reference import ReferenceEngine
from .state import (DERIVE_DROP, DERIVE_EVICT, DERIVE_HOLD, DERIVE_NONE, DERIVE_SAMPLE,
                    UNBOUNDED_CAPACITY, bin_ticks)
from .result import Result
from .scenario import ORDERS, SCENARIO_FIELDS, Scenario
from . import validate
from .validate import InputError
from .strategies import DROP, HOLD, Strategy, keywords, make_strategy

#: Per-message records kept per run (messages served: generation tick, start, end). Up to this
#: many the latencies are exact; in a run that serves more the records are a ring that keeps the
#: latest ``MAX_RECORDS`` and the summary's percentiles come from the latency histogram
#: (:mod:`bpsim.state`, within 0.1 %). 24 bytes each: 48 MB at most, touched only as used.
MAX_RECORDS = 2_000_000
#: Service times drawn per run at most (8 bytes each); a run that starts more messages reuses
#: them in the same order (``pool[k % size]``).
MAX_POOL = 1 << 22
#: ``order="adaptive_lifo"`` serves FIFO while at most ``ceil(ADAPTIVE_LIFO_S * consumer_rate *
#: consumers)`` messages wait (what the scenario's workers serve in 100 ms at full speed; at
#: least 1), LIFO while more do: a queue that takes longer than CoDel's 100 ms interval to drain
#: is a standing queue, and then the newest messages, whose clients are still there, go first.
#: The depth is read at each dequeue.
ADAPTIVE_LIFO_S = 0.1
#: Runs of at most this many ticks draw their arrivals all at once. Longer runs draw them as the
#: engine needs them, :data:`WINDOW` ticks at a time, so that their memory does not grow with
#: their length (see :class:`ArrivalStream`); the counts are the same either way.
EAGER_TICKS = 1_000_000
#: Ticks per window of a long run's arrivals.
WINDOW = 1 << 16


@dataclass(frozen=True)
class Inputs:
    """A scenario turned into what an engine needs: per-tick arrays and plain numbers."""

    n_ticks: int
    dt: float
    arrivals: np.ndarray        # int64 per tick
    speed: np.ndarray           # float64 per tick
    consumers: np.ndarray       # int64 per tick
    n_workers: int
    consumer_rate: float
    mean_work: float            # seconds of full-speed work per message (mean)
    pool: np.ndarray            # unit exponential draws (empty: deterministic service)
    capacity: int               # initial capacity, or UNBOUNDED_CAPACITY
    max_in_memory: int
    message_bytes: int
    memory_limit_bytes: int
    restart_ticks: int
    retries: int
    backoff_ticks: np.ndarray   # int64, ticks before retry k+1
    record_size: int            # per-message records kept (a ring beyond that)
    offered: int = -1           # arrivals.sum(), the messages the producer generates in the run
    bin_ticks: int = 1          # ticks per point of the series (state.bin_ticks)
    timeout: float = math.inf   # client_timeout_s (inf: clients never give up)
    drop_expired: bool = False  # the server discards, at dequeue, messages whose client left
    order: int = 0              # state.ORDERS: 0 fifo, 1 lifo, 2 adaptive_lifo
    lifo_depth: int = 0         # adaptive_lifo: LIFO while more than this many messages wait
    derive: int = 0             # how the series log predicts quiet ticks (state.derive)
    sample_every: int = 1       # ... with the rule's 1-in-N (DERIVE_SAMPLE)
    sample_from: float = 1.0    # ... and the fill fraction from which it samples
    stream: object = None       # a long run's ArrivalStream (then arrivals is None)
    offered_max: int = -1       # at most this many messages offered (offered, or a bound)
    derive_steps: tuple = ()    # ((first_tick, derive, sample_every, sample_from), ...) if
                                # they change in the run (a Simulation's new strategy), else ()

    def window(self, i: int):
        """``(a0, arrivals, speed, consumers)`` for the kernel: per-tick arrays that cover tick
        ``i``, starting at tick ``a0`` (the whole run, unless it streams its arrivals); speed and
        consumers have one element when they never change."""
        if self.stream is None:
            return 0, self.arrivals, self.speed, self.consumers
        return self.stream.window(i)

    def offered_at(self, ticks) -> np.ndarray:
        """Messages offered up to the end of each of ``ticks`` (int64 array)."""
        if self.stream is None:
            return np.cumsum(self.arrivals)[ticks]
        return self.stream.offered_at(ticks)


class StepSeries:
    """A piecewise-constant per-tick value that is never laid out tick by tick: ``s[i]``."""

    def __init__(self, n: int, steps: list, dtype):
        self.n, self.dtype = n, dtype
        self.reset(steps)

    def reset(self, steps: list) -> None:
        """New steps ``[(first_tick, value), ...]`` (a Simulation's ``set`` adds them)."""
        self.steps = list(steps)
        self._starts = [k for k, _ in self.steps]

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        import bisect
        return self.dtype(self.steps[bisect.bisect_right(self._starts, int(i)) - 1][1])

    def window(self, lo: int, hi: int) -> np.ndarray:
        out = np.empty(hi - lo, dtype=self.dtype)
        for j, (k, value) in enumerate(self.steps):
            stop = self.steps[j + 1][0] if j + 1 < len(self.steps) else self.n
            a, b = max(k, lo), min(stop, hi)
            if b > a:
                out[a - lo:b - lo] = value
        return out


class ArrivalStream:
    """A long run's arrivals, drawn a window of :data:`WINDOW` ticks at a time, when needed.

    The windows are drawn in order from the run's arrival stream (:func:`streams`); the
    generator's state at the start of each window is kept, so a window can be drawn again (a
    second engine on the same inputs, as the tests do) and comes out the same. Poisson counts are
    :func:`_poisson_counts` of the window (the same as drawing the run at once); evenly spaced
    ones carry their running sum from window to window. Memory: two windows of 8 bytes a tick,
    and 16 bytes per series point (the messages offered at its end, for the Result).
    """

    def __init__(self, rng, sc, rate_steps, speed_steps, consumer_steps, n_points, k):
        self.sc, self.n, self.dt = sc, sc.n_ticks, sc.dt_s
        self.rate_steps = rate_steps
        # one generator of the stream's kind, put at each window's start in turn (a new one per
        # window would be seeded from the system's entropy first, for nothing)
        self._gen = np.random.Generator(type(rng.bit_generator)(0))
        self._starts = {0: (rng.bit_generator.state, 0.0, 0.0, 0)}  # window -> carried state
        self._speed = _kernel_steps(self.n, speed_steps, np.float64)
        self._consumers = _kernel_steps(self.n, consumer_steps, np.int64)
        self._k, self._ends = k, np.minimum((np.arange(n_points) + 1) * k, self.n) - 1
        self._point_offered = np.full(n_points, -1, dtype=np.int64)
        self._cache = None

    def window(self, i: int):
        w = i // WINDOW
        if self._cache is None or self._cache[0] != w:
            for j in range(max(self._starts), w):  # windows before it, never drawn yet
                self._draw(j)
            self._cache = (w, self._draw(w))
        a0 = w * WINDOW
        arrivals = self._cache[1]
        speed, consumers = (x if isinstance(x, np.ndarray) else x.window(a0, a0 + arrivals.size)
                            for x in (self._speed, self._consumers))
        return a0, arrivals, speed, consumers

    def _draw(self, w: int) -> np.ndarray:
        state, total, floored, offered = self._starts[w]
        lo, hi = w * WINDOW, min((w + 1) * WINDOW, self.n)
        if self.sc.arrivals == "poisson":
            g = self._gen
            g.bit_generator.state = state
            counts = _poisson_counts(g, self.n, self.dt, self.rate_steps, lo, hi)
            state = g.bit_generator.state
        else:  # prepare's formula, its running sum carried over
            per = StepSeries(self.n, self.rate_steps, np.float64).window(lo, hi) * self.dt
            cum = np.cumsum(np.concatenate(([total], per)))[1:]
            total = float(cum[-1])
            cum = np.floor(cum + 1e-9 * np.maximum(1.0, cum))
            counts = np.diff(cum, prepend=floored).astype(np.int64)
            floored = float(cum[-1])
        run = np.cumsum(counts)
        a, b = np.searchsorted(self._ends, (lo, hi))  # the points that end in the window
        self._point_offered[a:b] = run[self._ends[a:b] - lo] + offered
        self._starts[w + 1] = (state, total, floored, int(run[-1]) + offered)
        return counts

    def offered_at(self, ticks) -> np.ndarray:
        """Messages offered by the end of each point's last tick (only points' ends are kept)."""
        ticks = np.asarray(ticks)
        points = (ticks + 1 + self._k - 1) // self._k - 1
        assert np.array_equal(self._ends[points], ticks), "ArrivalStream keeps points' ends only"
        if (self._point_offered[points] < 0).any():  # not run to the end: draw the rest
            for w in range(max(self._starts), -(-self.n // WINDOW)):
                self._draw(w)
        return self._point_offered[points]


def _kernel_steps(n, steps, dtype):
    """A constant as a one-element array; a schedule as a StepSeries (laid out per window)."""
    if len(steps) == 1:
        return np.array([steps[0][1]], dtype=dtype)
    return StepSeries(n, steps, dtype)


def _segments(n: int, *step_lists):
    """``(length, value, value, ...)`` of each stretch of ticks where no schedule changes."""
    cuts = sorted({k for steps in step_lists for k, _ in steps} | {n})
    for lo, hi in zip(cuts, cuts[1:]):
        values = []
        for steps in step_lists:
            v = steps[0][1]
            for k, value in steps:
                if k <= lo:
                    v = value
            values.append(v)
        yield (hi - lo, *values)


def _steps(sc: Scenario, name: str) -> list:
    """A schedule as ``[(first_tick, value), ...]``, the first at tick 0: what
    ``Scenario.per_tick(name)`` says, without an array of ticks (its tick boundaries, exactly)."""
    base, schedule = {
        "rate": (sc.producer_rate, sc.rate_schedule),
        "speed": (1.0, sc.speed_schedule),
        "consumers": (float(sc.consumers), sc.consumers_schedule),
    }[name]
    n, dt = sc.n_ticks, sc.dt_s
    out = [(0, float(base))]
    for start, value in schedule:
        # per_tick sets ticks i with i * dt >= start - 1e-12; find the first such i exactly
        limit = start - 1e-12
        k = min(n, max(0, math.ceil(limit / dt)))
        while k > 0 and (k - 1) * dt >= limit:
            k -= 1
        while k < n and k * dt < limit:
            k += 1
        while out and out[-1][0] >= k:  # a later step at or before this tick overrides it
            out.pop()
        out.append((k, float(value)))
    return [(k, v) for k, v in out if k < n] or [(0, out[-1][1])]


def _per_tick(n: int, steps: list, dtype=np.float64) -> np.ndarray:
    out = np.empty(n, dtype=dtype)
    for j, (k, value) in enumerate(steps):
        stop = steps[j + 1][0] if j + 1 < len(steps) else n
        out[k:stop] = value
    return out


#: Uniforms drawn at a time for Poisson arrivals (2 MB): bounds the memory of a long run's draws.
_CHUNK = 1 << 18
_SCRATCH = threading.local()  # one set of work arrays per thread


def _scratch(dtype, size: int) -> np.ndarray:
    """A reused work array of ``size`` elements (drawing into fresh memory costs page faults)."""
    arrays = _SCRATCH.__dict__.setdefault("arrays", {})
    a = arrays.get(dtype)
    if a is None or a.size < size:
        a = arrays[dtype] = np.empty(max(size, 1 << 16), dtype=dtype)
    return a[:size]


def _poisson_counts(rng, n: int, dt: float, rate_steps: list, lo: int = 0,
                    hi: int | None = None) -> np.ndarray:
    """Poisson arrivals per tick (int64), exactly ``rng.poisson(rate_per_tick * dt)``, faster:
    :func:`_poisson_draw`'s counts."""
    return _poisson_draw(rng, n, dt, rate_steps, lo, hi)[0]


def _poisson_draw(rng, n: int, dt: float, rate_steps: list, lo: int = 0,
                  hi: int | None = None) -> tuple[np.ndarray, int]:
    """Poisson arrivals per tick (int64), exactly ``rng.poisson(rate_per_tick * dt)``, faster;
    and their sum (messages).

    numpy draws a Poisson count with a mean below 10 by multiplying uniforms until the product
    falls to ``exp(-mean)``, one uniform per message plus one per tick, each uniform one output of
    the bit generator. For numpy's default bit generator (PCG64) the same uniforms are computed
    here in bulk (what ``rng.random`` would draw, from :func:`bpsim.kernel.pcg64_uniforms`, which
    steps 32 copies of the generator at once) and multiplied in compiled code
    (:func:`bpsim.kernel.poisson_mult`),
    then the generator is put exactly where ``rng.poisson`` would have left it (``advance``). The
    counts, and every later draw, are the same bit for bit; only the time differs (about 1/7: the
    headline's 60,000 ticks take 0.22 ms, ``rng.poisson`` 1.56 ms).
    Stretches with a mean of 10 or more, and other bit generators, use ``rng.poisson`` itself.
    Only ticks ``lo .. hi-1`` (all by default) are drawn, as an array of ``hi - lo``: drawing a run
    window by window gives the same counts as drawing it at once. The sum comes free where the
    uniforms are multiplied: each tick takes one uniform more than its count.
    """
    hi = n if hi is None else hi
    bitgen = rng.bit_generator
    means = []
    for j, (k, rate) in enumerate(rate_steps):
        stop = rate_steps[j + 1][0] if j + 1 < len(rate_steps) else n
        k, stop = max(k, lo) - lo, min(stop, hi) - lo
        if stop > k:
            means.append((k, stop, rate * dt))
    if type(bitgen) is not np.random.PCG64:
        counts = rng.poisson(_per_tick(hi - lo, [(k, m) for k, _, m in means])).astype(np.int64)
        return counts, int(counts.sum())
    from .kernel import pcg64_uniforms, poisson_mult  # compiled; numba is a dependency
    # not zeroed up front: the stretches (``means``) cover every tick, and each is written below
    counts = np.empty(hi - lo, dtype=np.int64)
    total = 0
    for k, stop, mean in means:
        if stop <= k or mean == 0:
            counts[k:stop] = 0
            continue
        if not mean < 10:
            counts[k:stop] = rng.poisson(mean, stop - k)
            total += int(counts[k:stop].sum())
            continue
        enlam = math.exp(-mean)  # the C library's exp, as numpy's random_poisson_mult
        saved = bitgen.state
        i, used, moved = k, 0, False
        while i < stop:
            expect = (stop - i) * (mean + 1.0)
            size = min(int(expect + 10 * math.sqrt(expect)) + 64, _CHUNK)
            u = pcg64_uniforms(bitgen, _scratch(np.float64, size))  # = rng.random(size)
            # (the counts below 4 the chase keeps per uniform fit a byte: an eighth of the
            # memory an int64 table takes, and of its traffic; the uniforms at which its ticks
            # start fit an int32: fewer than _CHUNK)
            i, took = poisson_mult(counts, i, stop, enlam, u, _scratch(np.int8, size),
                                   _scratch(np.int32, size))
            used += took
            if i < stop:  # ran out mid-tick: draw on from the first uniform of tick i
                bitgen.state = saved
                bitgen.advance(used)
                moved = True
        if moved:  # (else the generator is still at ``saved``: pcg64_uniforms leaves it there)
            bitgen.state = saved
        bitgen.advance(used)
        # advance clears the buffered 32-bit half; put back what rng.poisson would have left
        # (nothing to put back, mostly: then no round trip through the state's dict)
        if saved["has_uint32"] or saved["uinteger"]:
            state = bitgen.state
            state["has_uint32"], state["uinteger"] = saved["has_uint32"], saved["uinteger"]
            bitgen.state = state
        total += used - (stop - k)  # (the tick's last uniform ends it: it is no message)
    return counts, total


def prepare(scenario: Scenario, strategy: Strategy, rng) -> Inputs:
    """Draw every random number and lay the scenario out tick by tick."""
    sc = scenario
    rng, service_rng = streams(rng if isinstance(rng, np.random.SeedSequence)
                               else np.random.default_rng(rng))
    n, dt = sc.n_ticks, sc.dt_s
    rate_steps = _steps(sc, "rate")
    speed_steps, consumer_steps = _steps(sc, "speed"), _steps(sc, "consumers")
    if n > EAGER_TICKS:
        return _prepare_stream(sc, strategy, rng, service_rng, rate_steps, speed_steps,
                               consumer_steps)
    offered = None
    if sc.arrivals == "poisson":
        arrivals, offered = _poisson_draw(rng, n, dt, rate_steps)
    else:
        # Evenly spaced: the count generated by the end of each tick, floored. The running sum
        # carries rounding error (a hundred thousand 0.1s fall short of 10,000), so the floor
        # forgives a relative 1e-9, far above that error and far below one message.
        cum = np.cumsum(_per_tick(n, rate_steps) * dt)
        cum = np.floor(cum + 1e-9 * np.maximum(1.0, cum))
        arrivals = np.diff(cum, prepend=0.0).astype(np.int64)
    # a value that never changes is a read-only view of one number: no memory per tick
    speed = (_per_tick(n, speed_steps) if len(speed_steps) > 1
             else np.broadcast_to(np.float64(speed_steps[0][1]), (n,)))
    consumers = (_per_tick(n, consumer_steps, np.int64) if len(consumer_steps) > 1
                 else np.broadcast_to(np.int64(consumer_steps[0][1]), (n,)))
    offered = int(arrivals.sum()) if offered is None else offered
    work, det_bound = _work(sc, speed_steps, consumer_steps)
    pool, record_size = _service(sc, service_rng, offered, work, det_bound)
    return _inputs(sc, strategy, arrivals=arrivals, speed=speed, consumers=consumers,
                   pool=pool, record_size=record_size, offered=offered, offered_max=offered)


def streams(rng) -> tuple[np.random.Generator, np.random.Generator]:
    """The run's two independent random streams, ``(arrivals, service_times)``, from its one
    generator (``rng.spawn``, SPEC 7). Two streams, not one, so that neither depends on how much
    of the other was drawn: the arrivals of tick ``i`` and the service time of the ``k``-th message
    served are the same whatever the run's length. ``rng`` may also be the seed sequence of such a
    generator (``validate.seed``): the same two streams, without building the generator."""
    if isinstance(rng, np.random.SeedSequence):  # what default_rng(rng).spawn(2) would give
        return tuple(np.random.Generator(np.random.PCG64(s)) for s in rng.spawn(2))
    try:
        arrivals, service = rng.spawn(2)
    except (AttributeError, TypeError, ValueError):  # a bit generator without a seed sequence
        arrivals, service = (np.random.default_rng(int(s))
                             for s in rng.integers(0, 2**63, size=2))
    return arrivals, service


def _work(sc, speed_steps, consumer_steps) -> tuple[float, float]:
    """The most the workers could ever do: ``(work, det_bound)``, their total work in messages
    of mean size, and the most messages of deterministic service they could finish.

    Summed stretch by stretch of the schedules, not tick by tick: no array of ticks, and no
    ``np.dot``, whose threaded BLAS took 5-8 ms for 30,000 ticks on a busy 2-core machine."""
    n, dt, workers = sc.n_ticks, sc.dt_s, sc.max_consumers
    work = det_bound = 0.0
    for length, speed, consumers in _segments(n, speed_steps, consumer_steps):
        active = min(consumers, workers)
        work += active * speed * length * dt * sc.consumer_rate
        det_bound += active * (math.floor(dt * speed * sc.consumer_rate) + 1) * length
    return work, det_bound


def _service(sc, rng, offered, work, det_bound):
    """The pool of service times (drawn from ``rng``, the service stream) and the records to
    keep."""
    workers = sc.max_consumers
    if sc.service == "exponential":
        bound = work + 10.0 * math.sqrt(work) + 20 + workers
        pool_size = min(int(min(offered, bound)) + workers + 1, MAX_POOL)
        pool = rng.standard_exponential(pool_size)
    else:
        bound = det_bound + workers
        pool = np.zeros(0)
    return pool, min(int(min(offered, bound)) + 1, MAX_RECORDS)


def _prepare_stream(sc, strategy, rng, service_rng, rate_steps, speed_steps,
                    consumer_steps) -> Inputs:
    """A long run's inputs: the service times now, the arrivals (from ``rng``) as the engine
    goes."""
    from .state import bin_ticks, n_bins
    n, dt = sc.n_ticks, sc.dt_s
    work, det_bound = _work(sc, speed_steps, consumer_steps)
    mean = 0.0
    for length, rate, _, _ in _segments(n, rate_steps, speed_steps, consumer_steps):
        mean += rate * dt * length
    # at most this many arrive: exact for evenly spaced arrivals, 12 standard deviations above
    # the mean for Poisson ones (a ring sized from it that fills makes the run raise)
    offered_max = int(math.floor(mean + 1e-9 * max(1.0, mean))) + 1
    if sc.arrivals == "poisson":
        offered_max = int(mean + 12 * math.sqrt(mean)) + 100
    pool, record_size = _service(sc, service_rng, offered_max, work, det_bound)
    stream = ArrivalStream(rng, sc, rate_steps, speed_steps, consumer_steps, n_bins(n),
                           bin_ticks(n))
    speed = (np.broadcast_to(np.float64(speed_steps[0][1]), (n,)) if len(speed_steps) == 1
             else StepSeries(n, speed_steps, np.float64))
    consumers = (np.broadcast_to(np.int64(consumer_steps[0][1]), (n,))
                 if len(consumer_steps) == 1 else StepSeries(n, consumer_steps, np.int64))
    return _inputs(sc, strategy, arrivals=None, speed=speed, consumers=consumers, pool=pool,
                   record_size=record_size, offered=-1, offered_max=offered_max, stream=stream)


def _inputs(sc, strategy, **arrays) -> Inputs:
    n, dt = sc.n_ticks, sc.dt_s
    retries = strategy.retries  # declared by the strategy (Strategy.retries), never by its name
    rule = strategy.rule()
    derive, every, sample_from = DERIVE_NONE, 1, 1.0
    if rule is not None and rule.overflow == DROP and not rule.evict_oldest:
        sampling = rule.sample_every > 1 or rule.sample_from < 1.0
        if sampling:
            derive, every, sample_from = DERIVE_SAMPLE, rule.sample_every, rule.sample_from
        else:
            derive = DERIVE_DROP
    elif (rule is not None and rule.overflow == HOLD and not rule.evict_oldest
          and rule.sample_every == 1 and rule.sample_from >= 1.0 and retries == 0):
        derive = DERIVE_HOLD
    elif (rule is not None and rule.overflow == DROP and rule.evict_oldest
          and rule.sample_every == 1 and rule.sample_from >= 1.0):
        derive = DERIVE_EVICT
    backoff = np.array([strategy.backoff_ticks(k + 1, dt) for k in range(retries)] or [1],
                       dtype=np.int64)
    return Inputs(
        n_ticks=n, dt=dt, n_workers=sc.max_consumers, consumer_rate=sc.consumer_rate,
        mean_work=1.0 / sc.consumer_rate,
        capacity=sc.capacity if strategy.bounded else UNBOUNDED_CAPACITY,
        max_in_memory=sc.max_messages_in_memory, message_bytes=sc.message_bytes,
        memory_limit_bytes=sc.memory_limit_bytes,
        restart_ticks=int(round(sc.restart_s / dt)), retries=int(retries),
        backoff_ticks=backoff, bin_ticks=bin_ticks(n),
        timeout=math.inf if sc.client_timeout_s is None else float(sc.client_timeout_s),
        drop_expired=bool(sc.drop_expired), order=ORDERS.index(sc.order),
        lifo_depth=max(1, math.ceil(ADAPTIVE_LIFO_S * sc.consumer_rate * sc.consumers)),
        derive=derive, sample_every=int(every), sample_from=float(sample_from), **arrays)


def build_scenario(scenario=None, **overrides) -> Scenario:
    """A :class:`Scenario` from ``None``, a dict or a Scenario, with keyword overrides."""
    if scenario is None:
        base = {}
    elif isinstance(scenario, Scenario):
        base = {f.name: getattr(scenario, f.name) for f in fields(Scenario)}
    elif isinstance(scenario, dict):
        base = dict(scenario)
    else:
        validate.bad("scenario", scenario, "a bpsim.Scenario, a dict of its fields, or None for "
                                           "the course's scenario")
    base.update(overrides)
    validate.keywords(base, _known_keywords(), where="simulate")
    return Scenario(**base)


_KNOWN = [None, frozenset()]


def _known_keywords() -> frozenset:
    """Scenario fields and every strategy keyword; recomputed only when the registry changes."""
    from .strategies import STRATEGIES
    key = tuple(STRATEGIES.items())
    if _KNOWN[0] != key:
        _KNOWN[:] = [key, frozenset(SCENARIO_FIELDS + tuple(keywords()))]
    return _KNOWN[1]


def split_keywords(kwargs: dict, where: str = "simulate") -> tuple[dict, dict]:
    """``(scenario_fields, strategy_keywords)`` from one dict of keyword arguments.

    Anything that is neither is refused, naming what would work (and ``where`` it was given).
    """
    validate.keywords(kwargs, _known_keywords(), where=where)
    scenario = {k: v for k, v in kwargs.items() if k in SCENARIO_FIELDS}
    strategy = {k: v for k, v in kwargs.items() if k not in SCENARIO_FIELDS}
    return scenario, strategy


def simulate(scenario=None, strategy="drop_newest", rng=None, *, engine="auto",
             **kwargs) -> Result:
    """Run one scenario with one strategy.

    Parameters
    ----------
    scenario : Scenario, dict or None
        The experiment; ``None`` is the course's scenario (see :class:`bpsim.Scenario`).
    strategy : str or Strategy
        A name from ``bpsim.STRATEGIES`` or a strategy object.
    rng : int, numpy.random.Generator or None
        Seed or generator for every random draw (SPEC 7).
    engine : {"auto", "fast", "reference"}
        Which engine runs the ticks; ``auto`` takes the compiled kernel when it can.
    **kwargs
        Scenario fields (``producer_rate=2000``, ``capacity=50`` ...) and the chosen strategy's
        own parameters, by the keyword it declares (``bpsim.strategies.keywords()`` lists them
        all: ``sample_every``, ``retries``, ``latency_target_s`` ...). A parameter the chosen
        strategy does not take is an error, never silently ignored.

    Returns
    -------
    Result
        Time series, per-message latencies and ``summary()``.
    """
    scenario_kw, strategy_kw = split_keywords(kwargs)
    # (the keywords were checked just above: a scenario from them alone needs no second check)
    sc = Scenario(**scenario_kw) if scenario is None else build_scenario(scenario, **scenario_kw)
    strat = make_strategy(strategy, **strategy_kw)
    validate.choice("engine", engine, ("auto", "fast", "reference"))
    generator = validate.seed(rng)
    inputs = prepare(sc, strat, generator)
    eng = _make_engine(inputs, strat, engine)
    control = getattr(strat, "control", None)
    if control is None:
        eng.run(0, inputs.n_ticks)
    else:
        step = max(1, int(round(strat.control_interval_s / inputs.dt)))
        # start() is called once per run, before the first tick, and gives the first capacity
        eng.set_capacity(strat.start(Meter(inputs, eng, strat).observe(0, step)))
        meter = Meter(inputs, eng, strat)
        for start in range(0, inputs.n_ticks, step):
            stop = min(start + step, inputs.n_ticks)
            eng.run(start, stop)
            if stop < inputs.n_ticks:
                _apply(eng, control(meter.observe(stop, stop - start)))
    return Result(sc, strat, inputs, eng)


def _apply(eng, decision) -> None:
    """Carry out what a control method returned between two ticks.

    A plain number is the new capacity (messages). Anything with a ``drop_head`` attribute is a
    decision: first ``drop_head`` messages leave the head of the buffer (counted as dropped),
    then ``capacity`` takes effect unless it is ``None``.
    """
    drop = getattr(decision, "drop_head", None)
    if drop is None:
        eng.set_capacity(decision)
        return
    if drop:
        eng.drop_head(drop)
    if decision.capacity is not None:
        eng.set_capacity(decision.capacity)


def _make_engine(inputs, strat, engine):
    rule = strat.rule()
    if engine == "reference" or (engine == "auto" and rule is None):
        return ReferenceEngine(inputs, strat)
    if rule is None:
        raise InputError(f"engine='fast' is not valid for {strat!r}: it has no compiled rule; "
                         "use engine='auto' or 'reference'.")
    from .kernel import FastEngine  # numba is a dependency: a failing import must be seen
    return FastEngine(inputs, strat, rule)
