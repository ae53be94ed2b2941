"""simulate(): one call from a scenario and a strategy to a result you can trust.

What happens in a call, in order:

1. The scenario is built and checked (keyword arguments override its fields).
2. All randomness is drawn up front from one generator, ``rng = np.random.default_rng(rng)``:
   first the arrivals of every tick (Poisson counts, if ``arrivals="poisson"``: for each stretch
   of ticks at one rate, a Poisson total spread uniformly over its ticks, or at more than
   :data:`SPREAD_MAX_MEAN` messages per tick one Poisson draw per tick), then a pool of unit
   exponential service times (if ``service="exponential"``). The engines themselves are pure:
   the same inputs give the same run, bit for bit.
3. An engine runs the ticks. The compiled kernel (:mod:`bpsim.kernel`) is used whenever the
   strategy can be expressed by its rule, the pure-Python reference (:mod:`bpsim.reference`)
   otherwise, or when asked for with ``engine="reference"``. The order of events inside a tick is
   documented in :mod:`bpsim.reference`.
4. A strategy with a ``control`` method (``adaptive``, a policy) is called every control interval
   with an :class:`bpsim.control.Observation`. It returns the capacity for the next interval, or a
   decision (an object with ``capacity`` and ``drop_head``) that may also drop messages from the
   head of the buffer (sojourn-based policies such as CoDel); head drops count as ``dropped``.

>>> from bpsim import simulate
>>> r = simulate(strategy="block", capacity=100, duration_s=10, rng=1)
>>> s = r.summary()
>>> s["dropped"], s["delivered"], s["producer_backlog_end"] > 8000
(0, 1000, True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from .control import Meter
from .reference import ReferenceEngine
from .state import DERIVE_NONE, DERIVE_DROP, DERIVE_SAMPLE, UNBOUNDED_CAPACITY, bin_ticks
from .result import Result
from .scenario import ORDERS, SCENARIO_FIELDS, Scenario
from . import validate
from .strategies import DROP, Strategy, keywords, make_strategy

#: Per-message records kept per run (messages served: generation tick, start, end). Up to this
#: many the latencies are exact; in a run that serves more the records are a ring that keeps the
#: latest ``MAX_RECORDS`` and the summary's percentiles come from the latency histogram
#: (:mod:`bpsim.state`, within 0.1 %). 24 bytes each: 48 MB at most, touched only as used.
MAX_RECORDS = 2_000_000
#: Service times drawn per run at most (8 bytes each); a run that starts more messages reuses
#: them in the same order (``pool[k % size]``).
MAX_POOL = 1 << 22
#: Adaptive LIFO serves LIFO while more messages wait than the workers serve in this long (s).
ADAPTIVE_LIFO_S = 0.1


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


#: Uniforms drawn at a time for Poisson arrivals (8 MB): bounds the memory of a long run's draws.
_CHUNK = 1 << 20
_SCRATCH = {}


def _scratch(dtype, size: int) -> np.ndarray:
    """A reused work array of ``size`` elements (drawing into fresh memory costs page faults)."""
    a = _SCRATCH.get(dtype)
    if a is None or a.size < size:
        a = _SCRATCH[dtype] = np.empty(max(size, 1 << 16), dtype=dtype)
    return a[:size]


def _poisson_counts(rng, n: int, dt: float, rate_steps: list) -> np.ndarray:
    """Poisson arrivals per tick (int64), exactly ``rng.poisson(rate_per_tick * dt)``, faster.

    numpy draws a Poisson count with a mean below 10 by multiplying uniforms until the product
    falls to ``exp(-mean)``, one uniform per message plus one per tick, each uniform one output of
    the bit generator. For numpy's default bit generator (PCG64) the same uniforms are drawn here
    in bulk (``rng.random``) and multiplied in compiled code (:func:`bpsim.kernel.poisson_mult`),
    then the generator is put exactly where ``rng.poisson`` would have left it (``advance``). The
    counts, and every later draw, are the same bit for bit; only the time differs (about 1/6).
    Stretches with a mean of 10 or more, and other bit generators, use ``rng.poisson`` itself.
    """
    bitgen = rng.bit_generator
    means = []
    for j, (k, rate) in enumerate(rate_steps):
        stop = rate_steps[j + 1][0] if j + 1 < len(rate_steps) else n
        means.append((k, stop, rate * dt))
    if type(bitgen) is not np.random.PCG64:
        return rng.poisson(_per_tick(n, [(k, m) for k, _, m in means])).astype(np.int64)
    from .kernel import poisson_mult  # compiled; numba is a dependency
    counts = np.zeros(n, dtype=np.int64)
    for k, stop, mean in means:
        if stop <= k or mean == 0:
            continue
        if not mean < 10:
            counts[k:stop] = rng.poisson(mean, stop - k)
            continue
        enlam = math.exp(-mean)  # the C library's exp, as numpy's random_poisson_mult
        saved = bitgen.state
        i, used = k, 0
        while i < stop:
            expect = (stop - i) * (mean + 1.0)
            size = min(int(expect + 10 * math.sqrt(expect)) + 64, _CHUNK)
            u = rng.random(size, out=_scratch(np.float64, size))
            i, took = poisson_mult(counts, i, stop, enlam, u, _scratch(np.int64, size))
            used += took
            if i < stop:  # ran out mid-tick: draw on from the first uniform of tick i
                bitgen.state = saved
                bitgen.advance(used)
        bitgen.state = saved
        bitgen.advance(used)
        state = bitgen.state
        state["has_uint32"], state["uinteger"] = saved["has_uint32"], saved["uinteger"]
        bitgen.state = state
    return counts


def prepare(scenario: Scenario, strategy: Strategy, rng) -> Inputs:
    """Draw every random number and lay the scenario out tick by tick."""
    sc = scenario
    rng = np.random.default_rng(rng)
    n, dt = sc.n_ticks, sc.dt_s
    rate_steps = _steps(sc, "rate")
    if sc.arrivals == "poisson":
        arrivals = _poisson_counts(rng, n, dt, rate_steps)
    else:
        # Evenly spaced: the count generated by the end of each tick, floored. The running sum
        # carries rounding error (a hundred thousand 0.1s fall short of 10,000), so the floor
        # forgives a relative 1e-9, far above that error and far below one message.
        cum = np.cumsum(_per_tick(n, rate_steps) * dt)
        cum = np.floor(cum + 1e-9 * np.maximum(1.0, cum))
        arrivals = np.diff(cum, prepend=0.0).astype(np.int64)
    speed_steps, consumer_steps = _steps(sc, "speed"), _steps(sc, "consumers")
    # a value that never changes is a read-only view of one number: no memory per tick
    speed = (_per_tick(n, speed_steps) if len(speed_steps) > 1
             else np.broadcast_to(np.float64(speed_steps[0][1]), (n,)))
    consumers = (_per_tick(n, consumer_steps, np.int64) if len(consumer_steps) > 1
                 else np.broadcast_to(np.int64(consumer_steps[0][1]), (n,)))
    workers = sc.max_consumers
    offered = int(arrivals.sum())
    # Most messages the workers could ever finish: their total work divided by the work per msg.
    if len(speed_steps) == 1 and len(consumer_steps) == 1:  # no schedule: no per-tick sums
        busy = min(consumer_steps[0][1], workers)
        work = busy * speed_steps[0][1] * n * dt * sc.consumer_rate
        det_bound = busy * (math.floor(dt * speed_steps[0][1] * sc.consumer_rate) + 1) * n
    else:
        active = np.minimum(consumers, workers)
        work = float(np.dot(active, speed)) * dt * sc.consumer_rate
        det_bound = float(np.dot(active, np.floor(dt * speed * sc.consumer_rate) + 1))
    if sc.service == "exponential":
        bound = work + 10.0 * math.sqrt(work) + 20 + workers
        pool_size = min(int(min(offered, bound)) + workers + 1, MAX_POOL)
        pool = rng.standard_exponential(pool_size)
    else:
        bound = det_bound + workers
        pool = np.zeros(0)
    record_size = min(int(min(offered, bound)) + 1, MAX_RECORDS)
    retries = strategy.retries  # declared by the strategy (Strategy.retries), never by its name
    rule = strategy.rule()
    derive, every = DERIVE_NONE, 1
    if rule is not None and rule.overflow == DROP and not rule.evict_oldest:
        sampling = rule.sample_every > 1 or rule.sample_from < 1.0
        derive, every = (DERIVE_SAMPLE, rule.sample_every) if sampling else (DERIVE_DROP, 1)
    backoff = np.array([strategy.backoff_ticks(k + 1, dt) for k in range(retries)] or [1],
                       dtype=np.int64)
    return Inputs(
        n_ticks=n, dt=dt, arrivals=arrivals, speed=speed, consumers=consumers,
        n_workers=workers, consumer_rate=sc.consumer_rate, mean_work=1.0 / sc.consumer_rate,
        pool=pool, capacity=sc.capacity if strategy.bounded else UNBOUNDED_CAPACITY,
        max_in_memory=sc.max_messages_in_memory, message_bytes=sc.message_bytes,
        memory_limit_bytes=sc.memory_limit_bytes,
        restart_ticks=int(round(sc.restart_s / dt)), retries=int(retries),
        backoff_ticks=backoff, record_size=record_size, offered=offered, bin_ticks=bin_ticks(n),
        timeout=math.inf if sc.client_timeout_s is None else float(sc.client_timeout_s),
        drop_expired=bool(sc.drop_expired), order=ORDERS.index(sc.order),
        lifo_depth=max(1, math.ceil(ADAPTIVE_LIFO_S * sc.consumer_rate * sc.consumers)),
        derive=derive, sample_every=int(every))


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
    validate.keywords(base, SCENARIO_FIELDS + tuple(keywords()), where="simulate")
    return Scenario(**base)


def split_keywords(kwargs: dict) -> tuple[dict, dict]:
    """``(scenario_fields, strategy_keywords)`` from one dict of keyword arguments.

    Anything that is neither is refused, naming what would work.
    """
    validate.keywords(kwargs, SCENARIO_FIELDS + tuple(keywords()), where="simulate")
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
    sc = build_scenario(scenario, **scenario_kw)
    strat = make_strategy(strategy, **strategy_kw)
    validate.choice("engine", engine, ("auto", "fast", "reference"))
    generator = validate.rng(rng)
    inputs = prepare(sc, strat, generator)
    eng = _make_engine(inputs, strat, engine)
    control = getattr(strat, "control", None)
    if control is None:
        eng.run(0, inputs.n_ticks)
    else:
        step = max(1, int(round(strat.control_interval_s / inputs.dt)))
        # start() is called once per run, before the first tick, and gives the first capacity
        eng.set_capacity(strat.start(Meter(inputs, eng).observe(0, step)))
        meter = Meter(inputs, eng)
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
        raise ValueError(f"engine='fast' is not valid for {strat!r}: it has no compiled rule; "
                         "use engine='auto' or 'reference'.")
    from .kernel import FastEngine  # numba is a dependency: a failing import must be seen
    return FastEngine(inputs, strat, rule)
