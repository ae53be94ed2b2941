"""A run you can pause, steer and feed by hand: :class:`Simulation`.

:func:`bpsim.simulate` runs a whole scenario at once. A :class:`Simulation` is the same run taken a
piece at a time: ``advance`` it, look at what happened (``events``, ``result``), change the rates,
the consumers, the capacity or the strategy (``set``), send a burst by hand (``inject``), and go on.
It is what an animated view of single messages stands on (:mod:`bpsim.viz.messages`).

What it guarantees (each is a test, ``tests/test_simulation.py``):

* Advancing in any pieces gives, bit for bit, the run ``simulate`` gives for the same duration,
  seed and settings: the random draws of a run never depend on its length
  (:func:`bpsim.engine.streams`).
* ``set(producer_rate=..., consumers=..., consumer_rate=...)`` at time ``t`` gives the run that a
  schedule with a step at ``t`` gives (a consumer rate is a step of ``speed_schedule``).
* The accounting identity holds at every pause, messages injected by hand included (they count as
  offered, in the tick after the call).
* Built-in strategies run on the compiled kernel.

>>> from bpsim import Simulation
>>> sim = Simulation(strategy="drop_newest", capacity=50, rng=1)
>>> sim.advance(2.0)
>>> sim.set(producer_rate=50.0)
>>> sim.inject(500)
>>> sim.advance(1.0)
>>> t = sim.events(since=0).totals
>>> t["offered"] == sum(v for k, v in t.items() if k != "offered")
True

A Simulation holds at most :data:`HORIZON_TICKS` ticks (1,000 s at the course's 1 ms tick): a
view that reaches the end starts a new one.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from . import validate
from .validate import InputError
from .control import Meter
from .engine import (MAX_POOL, MAX_RECORDS, StepSeries, _apply, _inputs, _poisson_counts,
                     _steps, build_scenario, split_keywords, streams)
from .reference import ReferenceEngine
from .result import IDENTITY_TERMS, Result
from .state import (COL, COLUMNS, DERIVE_SAMPLE, DERIVED, LOG_COLS, LOG_COUNTER, LOG_TICK,
                    PER_TICK_MAX, UNBOUNDED_CAPACITY, derive_stretches)
from .strategies import REJECT, Strategy, make_strategy, params_of

#: Ticks a Simulation can run: as many as a run keeps tick by tick (bpsim.state.PER_TICK_MAX).
HORIZON_TICKS = PER_TICK_MAX
#: Ticks run per call of the engine at most (between two looks at its rings and service times).
CHUNK_TICKS = 4096
#: Batches each of the compiled engine's rings holds at first (1 MB each); a ring about to fill
#: is doubled (the engine re-laid into a larger one), so a run never meets a full ring.
FIRST_BATCHES = 1 << 16
#: Scenario fields ``set`` changes from the next tick on; the others are fixed for a
#: Simulation's life (``dt_s``, ``arrivals``, ``service``, schedules, ``duration_s``).
SETTABLE = ("producer_rate", "consumer_rate", "consumers", "capacity", "client_timeout_s",
            "drop_expired", "order", "memory_limit_bytes", "message_bytes", "restart_s")
#: What :meth:`Simulation.events` counts per tick (see :class:`Events`).
EVENT_KINDS = ("offered", "injected", "admitted", "delivered", "timed_out", "expired", "dropped",
               "shed", "rejected", "retried", "sampled_out", "lost")


@dataclass(frozen=True)
class Events:
    """What happened to messages during ``[t0_s, t1_s)``.

    Attributes
    ----------
    t0_s, t1_s : float
        The window (s).
    tick_s : numpy.ndarray
        Start of each tick of the window (s).
    counts : dict of numpy.ndarray
        Messages per tick (int64, one entry per tick) for each of :data:`EVENT_KINDS`:
        ``offered`` (generated, those injected by hand included), ``injected``, ``admitted`` into
        the buffer, ``delivered`` (served while the client waited), ``timed_out`` (served after it
        left), ``expired`` (discarded unserved), ``dropped``, ``shed`` (refused for good),
        ``rejected`` (every refusal, those that will retry included), ``retried`` (attempts
        beyond a message's first), ``sampled_out``, ``lost`` (in a crash).
    served : dict of numpy.ndarray
        Messages whose service ended in the window, in that order: ``gen_s``, ``start_s``,
        ``done_s`` (s) and ``in_time`` (bool).
    state : dict
        The state at ``t1_s``: ``depth``, ``capacity`` (-1: unbounded), ``in_service``, ``held``
        (the producer's blocked backlog), ``retry_pending``, ``down`` (crashed, restarting),
        ``memory_bytes``, ``memory_limit_bytes``, ``active_consumers``, ``buffer`` (``gen_s`` and
        ``count`` of the batches waiting, head first) and ``workers`` (``busy``, ``gen_s``,
        ``start_s``, ``progress`` from 0 to 1 of each worker's message).
    totals : dict of int
        The accounting identity at ``t1_s``: ``offered`` and its terms
        (:data:`bpsim.result.IDENTITY_TERMS`), which add up to it.
    """

    t0_s: float
    t1_s: float
    tick_s: np.ndarray
    counts: dict
    served: dict
    state: dict
    totals: dict


class _Feed:
    """The engine's per-tick inputs for the ticks it is about to run (``Inputs.stream``)."""

    def __init__(self, sim):
        self.sim = sim
        self.a0, self.arrivals = 0, np.zeros(0, dtype=np.int64)
        self.speed = self.consumers = None

    def window(self, i: int):
        if not self.a0 <= i < self.a0 + self.arrivals.size:
            raise RuntimeError(f"tick {i} is outside the ticks drawn ({self.a0} .. "
                               f"{self.a0 + self.arrivals.size - 1})")
        return self.a0, self.arrivals, self.speed, self.consumers

    def offered_at(self, ticks) -> np.ndarray:
        return self.sim._cum[np.asarray(ticks)]


class Simulation:
    """A run of a scenario with a strategy that goes on a piece at a time.

    Parameters
    ----------
    scenario : Scenario, dict or None
        As for :func:`bpsim.simulate` (its ``duration_s`` plays no part: the run lasts as long as
        it is advanced, up to :data:`HORIZON_TICKS` ticks).
    strategy : str or Strategy
        A name from ``bpsim.STRATEGIES`` or a strategy object.
    rng : int, numpy.random.Generator or None
        Seed or generator for every random draw (SPEC 7); the same seed gives the same traffic.
    **overrides
        Scenario fields and the strategy's own parameters, as for :func:`bpsim.simulate`.
    """

    def __init__(self, scenario=None, *, strategy="drop_newest", rng=None, **overrides):
        scenario_kw, strategy_kw = split_keywords(overrides, where="Simulation")
        scenario_kw.pop("duration_s", None)
        sc = build_scenario(scenario, **scenario_kw)
        self._strategy = make_strategy(strategy, **strategy_kw)
        self._arrival_rng, self._service_rng = streams(validate.rng(rng))
        dt = sc.dt_s
        self._horizon = HORIZON_TICKS
        self._sc = replace(sc, duration_s=self._horizon * dt)
        self._base_rate = sc.consumer_rate
        self._steps = {name: _steps(self._sc, name) for name in ("rate", "speed", "consumers")}
        # one series each for the engines and the meter, kept up to date by _draw
        self._speed = StepSeries(self._horizon, list(self._steps["speed"]), np.float64)
        self._consumers = StepSeries(self._horizon, list(self._steps["consumers"]), np.int64)
        self._shown = {}  # values set() changed, for .scenario
        self._now = 0
        self._cum = np.zeros(self._horizon, dtype=np.int64)  # messages offered by each tick's end
        self._injected = {}  # tick -> messages injected by hand
        self._pending = 0    # injected, for the next tick
        self._carry = (0.0, 0.0)  # evenly spaced arrivals: running sum and its floor
        self._pool = np.zeros(0)
        self._derive = []    # (first tick, derive mode, 1-in-N, sample from) of each stretch
        self._batches = FIRST_BATCHES  # the rings' size (batches), grown as needed
        self._workers = max(1, sc.max_consumers)
        self._feed = _Feed(self)
        self._since = 0
        self._engine = self._build(self._strategy, None)
        self._start_control(tick=0)

    # -- what it is now --------------------------------------------------------------------------
    @property
    def now(self) -> float:
        """Time simulated so far (s), a whole number of ticks."""
        return _seconds(self._now, self._sc.dt_s)

    @property
    def dt_s(self) -> float:
        """The tick (s)."""
        return self._sc.dt_s

    @property
    def horizon_s(self) -> float:
        """The longest this Simulation can run (s)."""
        return self._horizon * self._sc.dt_s

    @property
    def strategy(self) -> Strategy:
        return self._strategy

    @property
    def scenario(self):
        """The scenario as it stands now (after ``set``), with ``duration_s`` the time so far
        (or one tick before any)."""
        return replace(self._sc, duration_s=_seconds(max(self._now, 1), self._sc.dt_s),
                       **self._shown)

    def __repr__(self):
        return (f"<Simulation {self._strategy.name} at {self.now:g} s: offered "
                f"{self._total('offered')}>")

    # -- running ---------------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Run on for ``seconds`` (rounded to whole ticks; 0 does nothing)."""
        seconds = validate.number("seconds", seconds, low=0, what="a time in s")
        ticks = int(round(seconds / self._sc.dt_s))
        if self._now + ticks > self._horizon:
            validate.bad("seconds", seconds,
                         f"at most {self.horizon_s - self.now:g} s more: a Simulation holds "
                         f"{self._horizon:,} ticks ({self.horizon_s:g} s); start a new one, or "
                         "use bpsim.simulate for a longer run")
        stop = self._now + ticks
        while self._now < stop:
            lo = self._now
            hi = min(stop, lo + CHUNK_TICKS)
            step = self._control_step
            if step:
                if lo % step == 0 and lo > 0:
                    _apply(self._engine, self._strategy.control(self._meter.observe(lo, step)))
                hi = min(hi, (lo // step + 1) * step)
            self._draw(lo, hi)
            self._make_room(hi - lo)
            self._engine.run(lo, hi)
            self._now = hi

    def inject(self, n: int) -> None:
        """Hand the producer ``n`` more messages, generated in the next tick (a burst by hand)."""
        n = validate.whole("n", n, low=0, high=validate.MAX_MESSAGES, what="a number of messages")
        self._pending += n

    def set(self, **changes) -> None:
        """Change the run from the next tick on: any of :data:`SETTABLE`, ``strategy=`` (a name
        or object) and the strategy's own parameters (by keyword). Messages already in the
        system stay where they are; a new strategy meets them as they are."""
        changes = dict(changes)
        new_strategy = changes.pop("strategy", None)
        scenario_kw, strategy_kw = split_keywords(changes, where="Simulation.set")
        for key in scenario_kw:
            if key not in SETTABLE:
                raise InputError(f"{key}={scenario_kw[key]!r} is not valid with Simulation.set: "
                                 f"it is fixed for a Simulation's life; use one of "
                                 f"{', '.join(SETTABLE)}, or start a new Simulation.")
        # check every value before anything changes (a bad one changes nothing)
        checked = replace(self._sc, **scenario_kw)
        strategy = self._strategy
        if new_strategy is not None or strategy_kw:
            if new_strategy is None:
                own = {p.attr: p.keyword for p in params_of(strategy)}
                merged = {own[a]: v for a, v in strategy.params().items()}
                strategy = make_strategy(type(strategy), **{**merged, **strategy_kw})
            else:
                strategy = make_strategy(new_strategy, **strategy_kw)
            if (strategy.rule() is None) != isinstance(self._engine, ReferenceEngine):
                validate.bad("strategy", strategy.name,
                             "a strategy that runs on the same engine as the current one (a "
                             "strategy without a compiled rule cannot replace one with it, or "
                             "the other way round); start a new Simulation for it")
            if strategy is not self._strategy:
                self._refuse_orphaned_retries(strategy)
        i = self._now
        if "producer_rate" in scenario_kw:
            self._step_at("rate", i, checked.producer_rate)
        if "consumer_rate" in scenario_kw:
            self._step_at("speed", i, checked.consumer_rate / self._base_rate)
        if "consumers" in scenario_kw:
            self._step_at("consumers", i, float(checked.consumers))
            self._workers = max(self._workers, checked.consumers)
        rebuild = (strategy is not self._strategy or self._workers > self._engine_workers
                   or any(k not in ("producer_rate", "consumer_rate", "capacity", "consumers")
                          for k in scenario_kw))
        # the engines keep the base rates and consumers (the steps carry the changes)
        self._sc = replace(checked, producer_rate=self._sc.producer_rate,
                           consumer_rate=self._sc.consumer_rate, consumers=self._sc.consumers)
        self._shown.update({k: getattr(checked, k) for k in
                            ("producer_rate", "consumer_rate", "consumers") if k in scenario_kw})
        if rebuild:
            old, self._old_strategy = self._engine, self._strategy
            self._engine = self._build(strategy, old)
            self._strategy = strategy
            if strategy.bounded and (not _bounded_now(old) or "capacity" in scenario_kw
                                     or getattr(strategy, "control", None) is None):
                self._engine.set_capacity(self._sc.capacity)
            if not strategy.bounded:
                self._engine.set_capacity(UNBOUNDED_CAPACITY)
            if strategy is not self._old_strategy:
                self._start_control(tick=i)  # a new strategy's run starts now
            elif self._control_step:
                self._meter.engine = self._engine  # the same controller, the same meter
        elif "capacity" in scenario_kw and strategy.bounded:
            self._engine.set_capacity(self._sc.capacity)

    # -- looking at it ---------------------------------------------------------------------------
    def result(self) -> Result:
        """A :class:`bpsim.Result` of everything so far (the class ``simulate`` returns)."""
        if self._now == 0:
            validate.bad("now", 0.0, "a Simulation advanced at least one tick before result()")
        n = self._now
        sc = replace(self._sc, duration_s=_seconds(n, self._sc.dt_s), **self._shown)
        x = self._engine_inputs
        consumers = StepSeries(n, [(k, v) for k, v in self._steps["consumers"] if k < n],
                               np.int64)
        speed = StepSeries(n, [(k, v) for k, v in self._steps["speed"] if k < n], np.float64)
        inputs = replace(x, n_ticks=n, arrivals=np.diff(self._cum[:n], prepend=0),
                         stream=None, offered=int(self._cum[n - 1]), speed=speed,
                         consumers=consumers, derive_steps=tuple(self._derive))
        return Result(sc, self._strategy, inputs, _Snapshot(self._engine, n))

    def events(self, since: float | None = None) -> Events:
        """What happened since ``since`` seconds (default: since the last call) up to now."""
        dt, n = self._sc.dt_s, self._now
        if since is None:
            lo = self._since
        else:
            since = validate.number("since", since, low=0, high=self.now,
                                    what="a time in s, no later than now")
            lo = int(math.floor(since / dt + 1e-9))
        self._since = n
        cols = self._table(lo - 1, n)  # the state at the end of ticks lo-1 .. n-1
        counts = {k: np.diff(cols[k]) for k in ("offered", "admitted", "delivered", "timed_out",
                                                  "expired", "dropped", "shed", "rejected",
                                                  "sampled_out", "lost")}
        counts["retried"] = np.diff(cols["attempts"]) - counts["offered"]
        counts["injected"] = np.array([self._injected.get(i, 0) for i in range(lo, n)],
                                      dtype=np.int64)
        counts = {k: counts[k] for k in EVENT_KINDS}
        e = self._engine
        first, last = (int(cols["delivered"][j] + cols["timed_out"][j]) for j in (0, -1))
        gen, start, done = (np.asarray(a, dtype=float) for a in e.records(first, last))
        gen_s = gen * dt
        timeout = self._sc.client_timeout_s
        in_time = (np.ones(gen_s.size, dtype=bool) if timeout is None
                   else done - gen_s <= timeout)
        served = {"gen_s": gen_s, "start_s": start, "done_s": done, "in_time": in_time}
        s = e.scalars()
        wgen, wcount = e.waiting()
        busy, wg, wstart, left = self._workers_now()
        elapsed = np.maximum(self.now - wstart, 0.0) * self._speed_now()
        total = elapsed + left
        progress = np.where(busy & (total > 0), elapsed / np.where(total > 0, total, 1), 0.0)
        state = {
            "depth": int(s["depth"]), "capacity": int(s["capacity"]),
            "in_service": int(s["in_service"]), "held": int(s["held"]),
            "retry_pending": int(s["retry_pending"]), "down": bool(s["down"]),
            "memory_bytes": int((s["depth"] + s["in_service"]) * self._sc.message_bytes),
            "memory_limit_bytes": int(self._sc.memory_limit_bytes),
            "active_consumers": int(self._value("consumers", max(n - 1, 0))),
            "buffer": {"gen_s": wgen * dt, "count": wcount},
            "workers": {"busy": busy, "gen_s": wg * dt, "start_s": wstart,
                        "progress": progress},
        }
        totals = {"offered": int(s["offered"]), "delivered": int(s["delivered"]),
                  "timed_out": int(s["timed_out"]), "expired": int(s["expired"]),
                  "dropped": int(s["dropped"]), "shed": int(s["shed"]),
                  "sampled_out": int(s["sampled_out"]), "lost_in_crash": int(s["lost"]),
                  "queue_end": int(s["depth"]), "in_service_end": int(s["in_service"]),
                  "producer_backlog_end": int(s["held"] + s["retry_pending"])}
        assert tuple(totals)[1:] == IDENTITY_TERMS
        return Events(t0_s=lo * dt, t1_s=n * dt, tick_s=np.arange(lo, n) * dt, counts=counts,
                      served=served, state=state, totals=totals)

    # -- inside ----------------------------------------------------------------------------------
    def _total(self, name):
        return int(self._engine.scalars()[name])

    def _value(self, name, i):
        v = self._steps[name][0][1]
        for k, value in self._steps[name]:
            if k <= i:
                v = value
        return v

    def _speed_now(self):
        return float(self._value("speed", max(self._now - 1, 0)))

    def _step_at(self, name, i, value):
        steps = [(k, v) for k, v in self._steps[name] if k < i]
        self._steps[name] = steps + [(i, float(value))]

    def _workers_now(self):
        e = self._engine
        if isinstance(e, ReferenceEngine):
            return (np.array(e.busy, dtype=bool), np.array(e.wgen, dtype=np.int64),
                    np.array(e.wstart, dtype=float), np.array(e.rem, dtype=float))
        return e.workers()

    def _build(self, strategy, old):
        """An engine for ``strategy`` over the horizon; carrying on from ``old`` if given."""
        retries = strategy.retries
        pending_levels = 0
        if old is not None and not isinstance(old, ReferenceEngine):
            rq = {k: n for k, (n, _) in old.ring_use().items() if k.startswith("retry") and n}
            pending_levels = max((int(k[5:]) for k in rq), default=0)
        rule = strategy.rule()
        if pending_levels and retries == 0 and rule is not None and rule.overflow != REJECT:
            # a strategy that never rejects still meets the retries clients already scheduled
            strategy_for_inputs = _WithRetries(strategy, pending_levels)
        else:
            strategy_for_inputs = strategy
        sc = self._sc
        x = _inputs(sc, strategy_for_inputs, arrivals=None, speed=self._speed,
                    consumers=self._consumers, pool=self._pool, record_size=MAX_RECORDS, offered=-1,
                    offered_max=self._batches, stream=self._feed)
        x = replace(x, n_workers=self._workers)
        self._engine_inputs, self._engine_workers = x, self._workers
        predicts = (x.derive, x.sample_every, x.sample_from)  # how the log predicts, from now
        changed = bool(self._derive) and tuple(self._derive[-1][1:]) != predicts
        self._derive = [d for d in self._derive if d[0] < self._now]
        self._derive.append((self._now, *predicts))
        if rule is None:
            if old is None:
                return ReferenceEngine(x, strategy)
            # the reference engine's state grows as it goes
            old.strategy, old.inputs = strategy, x
            while len(old.retry) < max(1, x.retries):
                old.retry.append(deque())
            more = self._workers - len(old.busy)
            old.busy += [False] * more
            old.rem += [0.0] * more
            old.wgen += [0] * more
            old.wstart += [0.0] * more
            e = old
        else:
            from .kernel import FastEngine
            e = FastEngine(x, strategy_for_inputs, rule)
            if old is None:
                return e
            e.take_state(old)
        if changed:  # the last row was read with the old rule: the next are read with this one
            e.rule_changed(self._now - 1, x.sample_every if x.derive == DERIVE_SAMPLE else 0)
        return e

    def _refuse_orphaned_retries(self, strategy):
        """A strategy that rejects but never retries cannot take over retries already due."""
        rule, pending = strategy.rule(), self._engine.scalars()["retry_pending"]
        if pending and strategy.retries == 0 and rule is not None and rule.overflow == REJECT:
            raise InputError(f"strategy={strategy.name!r} is not valid now: {pending} messages "
                             "wait to be retried and it rejects without retries; wait until "
                             "they are back, or choose one with retries=1 or more")

    def _start_control(self, tick):
        control = getattr(self._strategy, "control", None)
        self._control_step = 0
        if control is None:
            return
        step = max(1, int(round(self._strategy.control_interval_s / self._sc.dt_s)))
        self._control_step = step
        # as simulate: start() gives the first capacity, before the strategy's first tick
        self._engine.set_capacity(self._strategy.start(
            Meter(self._engine_inputs, self._engine, self._strategy).observe(tick, step)))
        self._meter = Meter(self._engine_inputs, self._engine, self._strategy)
        if tick > 0:
            self._meter.observe(tick, step)  # the meter counts from now on

    def _draw(self, lo, hi):
        """Arrivals of ticks lo .. hi-1 (and service times enough for them) for the engine."""
        sc, dt = self._sc, self._sc.dt_s
        rate = self._steps["rate"]
        if sc.arrivals == "poisson":
            counts = _poisson_counts(self._arrival_rng, self._horizon, dt, rate, lo, hi)
        else:  # the running sum carried over, as bpsim.engine.ArrivalStream
            total, floored = self._carry
            per = StepSeries(self._horizon, rate, np.float64).window(lo, hi) * dt
            cum = np.cumsum(np.concatenate(([total], per)))[1:]
            total = float(cum[-1])
            cum = np.floor(cum + 1e-9 * np.maximum(1.0, cum))
            counts = np.diff(cum, prepend=floored).astype(np.int64)
            self._carry = (total, float(cum[-1]))
        if self._pending:
            counts[0] += self._pending
            self._injected[lo] = self._injected.get(lo, 0) + self._pending
            self._pending = 0
        before = self._cum[lo - 1] if lo else 0
        self._cum[lo:hi] = np.cumsum(counts) + before
        f = self._feed
        f.a0, f.arrivals = lo, counts
        # the steps as they stand, for the engines and the Meter
        self._speed.reset(self._steps["speed"])
        self._consumers.reset(self._steps["consumers"])
        f.speed, f.consumers = self._speed.window(lo, hi), self._consumers.window(lo, hi)
        x = self._engine_inputs
        # service times: at most one per message that could start in these ticks
        if sc.service == "exponential":
            s = self._engine.scalars()
            need = (s["pool_index"] + s["depth"] + s["held"] + s["retry_pending"]
                    + int(counts.sum()) + self._workers + 1)
            if need > self._pool.size and self._pool.size < MAX_POOL:
                size = min(MAX_POOL, max(need, 2 * self._pool.size, 1024))
                more = self._service_rng.standard_exponential(size - self._pool.size)
                self._pool = np.concatenate((self._pool, more))
                if isinstance(self._engine, ReferenceEngine):
                    self._engine.inputs = self._engine_inputs = replace(x, pool=self._pool)
                else:
                    self._engine.use_pool(self._pool)
                    self._engine_inputs = replace(x, pool=self._pool)

    def _make_room(self, ticks):
        """Grow the compiled engine's rings before ``ticks`` ticks could fill one."""
        e = self._engine
        if isinstance(e, ReferenceEngine):
            return
        use, s = e.ring_use(), e.scalars()
        levels = sum(1 for k in use if k.startswith("retry"))
        # batches each ring may hold by the end of these ticks (each batch is a message or more):
        # the buffer at most what can be in it (what is there, held, due, arriving), within
        # the capacity and the memory; the producer's backlog gains at most 1 + retries batches
        # a tick, a retry FIFO one (kernel.py)
        room = self._sc.max_messages_in_memory
        if s["capacity"] != UNBOUNDED_CAPACITY:
            room = min(room, max(s["capacity"], s["depth"]))
        need = max([min(room, use["buffer"][0] + s["held"] + s["retry_pending"]
                        + int(self._feed.arrivals.sum())),
                    use["held"][0] + ticks * (1 + levels)]
                   + [n + ticks for k, (n, _) in use.items() if k.startswith("retry")]) + 2
        # each ring is min(its own bound, self._batches) + 2 long (kernel.py says why the
        # bounds hold); so a ring is short only if self._batches is
        if self._batches >= need:
            return
        while self._batches < need:
            self._batches *= 2
        self._engine = self._build(self._strategy, e)
        if self._control_step:
            self._meter.engine = self._engine

    def _table(self, lo, hi):
        """The state columns at the end of ticks ``lo .. hi-1`` (tick -1: the start)."""
        e = self._engine
        rows = int(e.scalars()["n_rows"])
        log = e.log[:rows]
        ticks = np.arange(lo, hi)
        r = np.searchsorted(log[:, LOG_TICK], ticks, side="right") - 1
        out = {name: log[r, LOG_COLS + COL[name]] for name in COLUMNS}
        offered = np.where(ticks >= 0, self._cum[np.maximum(ticks, 0)], 0)
        arrived = offered - out["offered"]
        row = {name: out[name] for name in DERIVED + ("capacity",)}
        row["counter"] = log[r, LOG_COUNTER]
        out.update(derive_stretches(row, arrived, np.maximum(ticks, 0), self._derive))
        return out


def _seconds(ticks: int, dt: float) -> float:
    """``ticks * dt`` to 12 significant digits: the duration a user would type (0.043, not
    0.043000000000000003), so that simulate(duration_s=sim.now) is the same run."""
    return float(f"{ticks * dt:.12g}")


def _bounded_now(engine) -> bool:
    return engine.scalars()["capacity"] != UNBOUNDED_CAPACITY


class _WithRetries:
    """A strategy seen as retrying ``levels`` times, so that retries scheduled before a switch
    still come back; only its ``retries`` and ``backoff_ticks`` differ."""

    def __init__(self, strategy, levels):
        self._s, self.retries = strategy, levels

    def __getattr__(self, name):
        return getattr(self._s, name)

    def backoff_ticks(self, retry, dt_s):
        return 1


class _Snapshot:
    """An engine's state copied at a pause, read as an engine by :class:`bpsim.Result`."""

    def __init__(self, e, n_ticks):
        self._s = e.scalars()
        rows = self._s["n_rows"]
        self.log = e.log[:rows].copy()
        self.env = e.env[:rows].copy() if e.env.shape[0] > 1 else e.env.copy()
        self.wait_hist, self.lat_hist = e.wait_hist.copy(), e.lat_hist.copy()
        self._busy, self._wasted = e.busy_seconds(), e.wasted_seconds()
        self._waiting = e.waiting()
        self._records = tuple(np.array(a) for a in e.records(0, self._s["n_records"]))
        self._crashes = list(e.crash_tick_list())

    def scalars(self):
        return dict(self._s)

    def busy_seconds(self):
        return self._busy

    def wasted_seconds(self):
        return self._wasted

    def waiting(self):
        return self._waiting

    def records(self, lo, hi):
        return tuple(a[lo:hi] for a in self._records)

    def crash_tick_list(self):
        return self._crashes
