"""The result of a run: time series, per-message latencies, and a summary you can check.

Every message the producer generated ends up in exactly one place, and ``summary()`` adds them up:

``offered == delivered + timed_out + expired + dropped + shed + sampled_out + lost_in_crash
            + queue_end + in_service_end + producer_backlog_end``

``delivered`` are the messages served while their client still waited; ``timed_out`` those served
after their client had given up (``client_timeout_s``): the work was done and wasted; ``expired``
those the server discarded unserved because their client had left (``drop_expired``). A message
still waiting at the end of the run counts where it waits (``queue_end``, ``in_service_end``,
``producer_backlog_end``) whether or not its client has left by then: the server has not met it
yet, so nothing has happened to it; ``queue_end_abandoned`` says how many of the queued ones no
client waits for any more.

Series
------
One point per tick for a run of at most :data:`bpsim.state.PER_TICK_MAX` ticks; a longer run has
one point per *bin* of :attr:`Result.bin_ticks` ticks (at most :data:`bpsim.state.BINNED_POINTS`
points). A level (``queue_depth``, ``memory_bytes``, ``capacity`` ...) is its value at the end of
the point's tick or bin, at ``time_s``; :meth:`Result.envelope` gives, for the levels it names, the
least and greatest end-of-tick value within each bin, so no peak vanishes between points. A count
(``offered``, ``delivered`` ...) is the number of messages in the tick or bin: exact in both cases.
Series are computed lazily from the engine's log, so a run that nobody plots costs nothing more.
Counts are messages, times seconds, memory bytes.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from . import validate
from .state import (COL, COLUMNS, DERIVED, LEVELS, LOG_BIN, LOG_COLS, LOG_COUNTER,
                    UNBOUNDED_CAPACITY, WAIT_EXACT, derive_stretches, hist_percentiles, lat_value,
                    percentiles, wait_bin, wait_value)


#: The summary's terms of the accounting identity: every message offered is in exactly one of
#: them, ``offered == sum(summary[k] for k in IDENTITY_TERMS)``, at the end and after every tick.
IDENTITY_TERMS = ("delivered", "timed_out", "expired", "dropped", "shed", "sampled_out",
                  "lost_in_crash", "queue_end", "in_service_end", "producer_backlog_end")
SUMMARY_KEYS = (
    "offered", "admitted", "delivered", "dropped", "shed", "sampled_out", "lost_in_crash",
    "queue_end", "in_service_end", "producer_backlog_end", "attempts", "max_queue_depth",
    "peak_memory_bytes", "crashed", "crash_time_s", "throughput_per_s", "latency_p50_s",
    "latency_p95_s", "latency_p99_s", "producer_wait_p99_s", "timed_out", "expired",
    "goodput_per_s", "in_time_latency_p50_s", "in_time_latency_p95_s", "in_time_latency_p99_s",
    "wasted_work_share", "queue_end_abandoned")


class Result:
    """What :func:`bpsim.simulate` returns.

    Attributes
    ----------
    scenario : Scenario
    strategy : Strategy
    """

    def __init__(self, scenario, strategy, inputs, engine):
        self.scenario = scenario
        self.strategy = strategy
        self._inputs = inputs
        self._scalars = s = engine.scalars()
        self._log = engine.log[:s["n_rows"]]
        self._env = engine.env[:s["n_rows"]] if inputs.bin_ticks > 1 else None
        self._wait_hist = engine.wait_hist
        self._lat_hist = engine.lat_hist
        self._busy_s = engine.busy_seconds()
        self._wasted_s = engine.wasted_seconds()
        # what waits at the end, for queue_end_abandoned (only with a client timeout)
        self._waiting = engine.waiting() if scenario.client_timeout_s is not None else None
        n = s["n_records"]
        # the engine's own arrays (views, unless the ring wrapped): simulate() drops the engine
        self._gen, self._start, self._done = (np.asarray(a) for a in engine.records(0, n))
        self.crash_times_s = np.asarray(engine.crash_tick_list(), dtype=float) * scenario.dt_s

    def __repr__(self):
        s = self.summary()
        return (f"<Result {self.strategy.name}: offered {s['offered']}, delivered "
                f"{s['delivered']}, dropped {s['dropped']}, shed {s['shed']}, lost in crash "
                f"{s['lost_in_crash']}>")

    @property
    def bin_ticks(self) -> int:
        """Ticks per point of the series: 1 (per tick) unless the run is longer than
        :data:`bpsim.state.PER_TICK_MAX` ticks."""
        return self._inputs.bin_ticks

    @property
    def _n_points(self) -> int:
        return -(-self._inputs.n_ticks // self._inputs.bin_ticks)

    @cached_property
    def _rows(self) -> np.ndarray:
        """For each point, the log row that holds its state (bpsim.state: the last row at or
        before its bin)."""
        nb = self._n_points
        starts = np.maximum(self._log[:, LOG_BIN], 0)
        counts = np.diff(starts, append=nb)
        return np.repeat(np.arange(len(self._log)), counts)

    @cached_property
    def _derived(self) -> dict:
        """The columns the log predicts rather than stores (bpsim.state.derive), per point."""
        x, rows = self._inputs, self._rows
        k, n = x.bin_ticks, x.n_ticks
        ends = np.minimum((np.arange(rows.size) + 1) * k, n) - 1  # each point's last tick
        row = {name: self._log[rows, LOG_COLS + COL[name]] for name in DERIVED + ("capacity",)}
        arrived = x.offered_at(ends) - row["offered"]  # since the row's tick
        row["counter"] = self._log[rows, LOG_COUNTER]
        # the rule may have changed in the run (a Simulation's set(strategy=...))
        stretches = x.derive_steps or ((0, x.derive, x.sample_every, x.sample_from),)
        return derive_stretches(row, arrived, ends, stretches)

    @cached_property
    def table(self) -> np.ndarray:
        """The state at each point, one column per name in :data:`bpsim.state.COLUMNS` (int64)."""
        return np.column_stack([self._col(name) for name in COLUMNS])

    def _col(self, name):
        if name in DERIVED:
            return self._derived[name]
        return self._log[self._rows, LOG_COLS + COL[name]]

    def _per_tick(self, name):
        return np.diff(self._col(name), prepend=0)

    def envelope(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(least, greatest)`` of a level over the ticks of each point (per tick: the series
        itself, twice). ``name``: ``"queue_depth"``, ``"memory_bytes"`` or ``"capacity"``,
        in the units of that series."""
        key = {"queue_depth": "depth", "memory_bytes": "in_memory", "capacity": "capacity"}
        if name not in key:
            from . import validate
            validate.choice("name", name, tuple(key))
        series = getattr(self, name)
        if self._env is None:
            return series, series
        j = LEVELS.index(key[name])
        rows = self._rows
        own = self._log[rows, LOG_BIN] == np.arange(rows.size)
        if name == "memory_bytes":
            level = series
            scale = self.scenario.message_bytes
        else:
            level, scale = self._col(key[name]), 1
        lo = np.where(own, self._env[rows, j] * scale, level)
        hi = np.where(own, self._env[rows, 3 + j] * scale, level)
        if name == "capacity":
            lo, hi = lo.astype(float), hi.astype(float)
            lo[lo == UNBOUNDED_CAPACITY] = np.nan
            hi[hi == UNBOUNDED_CAPACITY] = np.nan
        return lo, hi

    # -- time series (one value per tick or bin, at its end) ------------------------------------
    @cached_property
    def time_s(self) -> np.ndarray:
        """End of each tick, or of each bin (s)."""
        k, n = self._inputs.bin_ticks, self._inputs.n_ticks
        if k == 1:
            return (np.arange(n) + 1) * self.scenario.dt_s
        return np.minimum((np.arange(self._n_points) + 1) * k, n) * self.scenario.dt_s

    @property
    def queue_depth(self) -> np.ndarray:
        """Messages waiting in the buffer."""
        return self._col("depth")

    @property
    def in_service(self) -> np.ndarray:
        """Messages being processed."""
        return self._col("in_service")

    @cached_property
    def memory_bytes(self) -> np.ndarray:
        """Memory the server uses for messages (bytes)."""
        return (self._col("depth") + self._col("in_service")) * self.scenario.message_bytes

    @cached_property
    def producer_backlog(self) -> np.ndarray:
        """Messages waiting in the producer: held (block) or waiting to retry (shed)."""
        return self._col("held") + self._col("retry_pending")

    @cached_property
    def capacity(self) -> np.ndarray:
        """Buffer capacity in force (messages; NaN for an unbounded buffer)."""
        c = self._col("capacity").astype(float)
        c[c == UNBOUNDED_CAPACITY] = np.nan
        return c

    @property
    def down(self) -> np.ndarray:
        """True where the server was down after a crash."""
        return self._col("down").astype(bool)

    @cached_property
    def offered(self):
        """Messages generated per tick."""
        return self._per_tick("offered")

    @cached_property
    def admitted(self):
        """Messages that entered the buffer per tick."""
        return self._per_tick("admitted")

    @cached_property
    def delivered(self):
        """Messages fully processed per tick."""
        return self._per_tick("delivered")

    @cached_property
    def dropped(self):
        """Messages dropped per tick (arrivals refused, or the oldest evicted)."""
        return self._per_tick("dropped")

    @cached_property
    def shed(self):
        """Messages whose last allowed attempt was rejected, per tick."""
        return self._per_tick("shed")

    @cached_property
    def rejected(self):
        """Error responses per tick (every rejected attempt, retries included)."""
        return self._per_tick("rejected")

    @cached_property
    def sampled_out(self):
        """Messages thinned out by sampling per tick."""
        return self._per_tick("sampled_out")

    @cached_property
    def lost(self):
        """Messages lost in crashes (held when it died, or arriving while down) per tick."""
        return self._per_tick("lost")

    @cached_property
    def attempts(self):
        """Hand-over attempts per tick (first tries and retries)."""
        return self._per_tick("attempts")

    @cached_property
    def timed_out(self):
        """Messages served after their client had left, per tick (wasted work)."""
        return self._per_tick("timed_out")

    @cached_property
    def expired(self):
        """Messages discarded at dequeue because their client had left, per tick."""
        return self._per_tick("expired")

    # -- per message ------------------------------------------------------------------------------
    # Every message served (delivered or timed out) has a record, up to engine.MAX_RECORDS of
    # them; a run that serves more keeps the latest (``records_complete`` is then False).
    @property
    def records_complete(self) -> bool:
        """True if the per-message arrays below hold every message served."""
        return self._gen.size == self._scalars["n_records"]

    @cached_property
    def delivery_time_s(self) -> np.ndarray:
        """When each served message finished processing (s), in order of completion."""
        return self._done

    @cached_property
    def latency_s(self) -> np.ndarray:
        """Generation to end of processing, for each served message (s); those above the
        scenario's ``client_timeout_s`` are the ``timed_out`` ones."""
        return self._done - self._gen * self.scenario.dt_s

    @cached_property
    def queue_wait_s(self) -> np.ndarray:
        """Generation to start of processing, for each served message (s)."""
        return self._start - self._gen * self.scenario.dt_s

    def _wait_hist_used(self):
        return self._wait_hist[:min(self._wait_hist.size,
                                    _wait_index(self._scalars["max_wait"]) + 1)]

    def producer_wait_quantile(self, q: float) -> float | None:
        """Quantile ``q`` (from 0 to 1) of generation-to-admission time over admitted messages
        (s); ``None`` if no message was admitted."""
        q = validate.number("q", q, low=0, high=1, what="a quantile")
        h = self._wait_hist_used()
        if h.size == 1:  # no admitted message waited (every rule but block's and retries')
            return None if h[0] == 0 else 0.0
        cum = np.cumsum(h)
        total = cum[-1]
        if total == 0:
            return None
        k = int(np.searchsorted(cum, q * total, side="left"))
        ticks = k if k < WAIT_EXACT else float(wait_value(k))  # exact below WAIT_EXACT
        return float(ticks * self.scenario.dt_s)

    @cached_property
    def producer_wait_s(self) -> tuple[np.ndarray, np.ndarray]:
        """``(wait_s, count)``: how many admitted messages waited each whole number of ticks
        (above :data:`bpsim.state.WAIT_EXACT` ticks, in bins within 0.1 %)."""
        h = self._wait_hist_used()
        nz = np.nonzero(h)[0]
        return wait_value(nz) * self.scenario.dt_s, h[nz]

    def _latency_percentiles(self, q, in_time=False):
        s = self._scalars
        lat = self.latency_s
        timeout = self.scenario.client_timeout_s
        if self.records_complete:
            if in_time and timeout is not None:
                lat = lat[lat <= timeout]
            return percentiles(lat, q) if lat.size else [None] * len(q)
        # beyond the records: the histogram (in time: the smallest `delivered` of them)
        n = s["delivered"] if in_time else None
        return hist_percentiles(self._lat_hist, q, lat_value, n_lowest=n)

    # -- the summary ------------------------------------------------------------------------------
    def summary(self) -> dict:
        """A plain dict of counts (messages), times (s) and memory (bytes); None where undefined."""
        s, sc = self._scalars, self.scenario
        pct = self._latency_percentiles([50, 95, 99])
        if sc.client_timeout_s is None:
            good = pct
        else:
            good = self._latency_percentiles([50, 95, 99], in_time=True)
        first = s["first_crash_tick"]
        if sc.client_timeout_s is None or not self._waiting[1].size:
            abandoned = 0
        else:
            gens, counts = self._waiting
            end = sc.n_ticks * sc.dt_s
            abandoned = int(counts[end - gens * sc.dt_s > sc.client_timeout_s].sum())
        return {
            "strategy": self.strategy.name,
            "offered": int(s["offered"]),
            "admitted": int(s["admitted"]),
            "delivered": int(s["delivered"]),
            "dropped": int(s["dropped"]),
            "shed": int(s["shed"]),
            "sampled_out": int(s["sampled_out"]),
            "lost_in_crash": int(s["lost"]),
            "queue_end": int(s["depth"]),
            "in_service_end": int(s["in_service"]),
            "producer_backlog_end": int(s["held"] + s["retry_pending"]),
            "attempts": int(s["attempts"]),
            "rejected": int(s["rejected"]),
            "max_queue_depth": int(s["max_depth"]),
            "peak_memory_bytes": int(s["peak_in_memory"] * sc.message_bytes),
            "crashed": bool(s["crashes"] > 0),
            "crashes": int(s["crashes"]),
            "crash_time_s": float(first * sc.dt_s) if first >= 0 else None,
            "lost_while_down": int(s["lost_down"]),
            "duration_s": sc.duration_s,
            "throughput_per_s": float((s["delivered"] + s["timed_out"]) / sc.duration_s),
            "latency_p50_s": pct[0],
            "latency_p95_s": pct[1],
            "latency_p99_s": pct[2],
            "producer_wait_p99_s": self.producer_wait_quantile(0.99),
            "timed_out": int(s["timed_out"]),
            "expired": int(s["expired"]),
            "queue_end_abandoned": abandoned,
            "goodput_per_s": float(s["delivered"] / sc.duration_s),
            "in_time_latency_p50_s": good[0],
            "in_time_latency_p95_s": good[1],
            "in_time_latency_p99_s": good[2],
            "wasted_work_share": (float(self._wasted_s / self._busy_s) if self._busy_s > 0
                                  else 0.0),
        }


def _wait_index(w: int) -> int:
    return wait_bin(int(w))
