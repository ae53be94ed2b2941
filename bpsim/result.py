"""The result of a run: time series, per-message latencies, and a summary you can check.

Every message the producer generated ends up in exactly one place, and ``summary()`` adds them up:

``offered == delivered + dropped + shed + sampled_out + lost_in_crash
            + queue_end + in_service_end + producer_backlog_end``

Series are computed lazily from the engine's per-tick table, so a run that nobody plots costs
nothing more. Counts are messages, times seconds, memory bytes.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from .state import COL, UNBOUNDED_CAPACITY

SUMMARY_KEYS = (
    "offered", "admitted", "delivered", "dropped", "shed", "sampled_out", "lost_in_crash",
    "queue_end", "in_service_end", "producer_backlog_end", "attempts", "max_queue_depth",
    "peak_memory_bytes", "crashed", "crash_time_s", "throughput_per_s", "latency_p50_s",
    "latency_p95_s", "latency_p99_s", "producer_wait_p99_s")


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
        self._table = engine.table
        self._scalars = engine.scalars()
        self._wait_hist = engine.wait_hist
        n = self._scalars["n_records"]
        self._gen, self._start, self._done = (np.asarray(a).copy() for a in engine.records(0, n))
        self.crash_times_s = np.asarray(engine.crash_tick_list(), dtype=float) * scenario.dt_s

    def __repr__(self):
        s = self.summary()
        return (f"<Result {self.strategy.name}: offered {s['offered']}, delivered "
                f"{s['delivered']}, dropped {s['dropped']}, shed {s['shed']}, lost in crash "
                f"{s['lost_in_crash']}>")

    def _col(self, name):
        return self._table[:, COL[name]]

    def _per_tick(self, name):
        return np.diff(self._col(name), prepend=0)

    # -- time series (one value per tick, at the end of the tick) -------------------------------
    @cached_property
    def time_s(self) -> np.ndarray:
        """End of each tick (s)."""
        return (np.arange(self._inputs.n_ticks) + 1) * self.scenario.dt_s

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

    # -- per message ------------------------------------------------------------------------------
    @cached_property
    def delivery_time_s(self) -> np.ndarray:
        """When each delivered message finished processing (s), in order of completion."""
        return self._done

    @cached_property
    def latency_s(self) -> np.ndarray:
        """Generation to end of processing, for each delivered message (s)."""
        return self._done - self._gen * self.scenario.dt_s

    @cached_property
    def queue_wait_s(self) -> np.ndarray:
        """Generation to start of processing, for each delivered message (s)."""
        return self._start - self._gen * self.scenario.dt_s

    def producer_wait_quantile(self, q: float) -> float | None:
        """Quantile ``q`` of generation-to-admission time over admitted messages (s)."""
        h = self._wait_hist
        total = h.sum()
        if total == 0:
            return None
        k = int(np.searchsorted(np.cumsum(h), q * total, side="left"))
        return float(k * self.scenario.dt_s)

    @cached_property
    def producer_wait_s(self) -> tuple[np.ndarray, np.ndarray]:
        """``(wait_s, count)``: how many admitted messages waited each whole number of ticks."""
        nz = np.nonzero(self._wait_hist)[0]
        return nz * self.scenario.dt_s, self._wait_hist[nz]

    # -- the summary ------------------------------------------------------------------------------
    def summary(self) -> dict:
        """A plain dict of counts (messages), times (s) and memory (bytes); None where undefined."""
        s, sc = self._scalars, self.scenario
        lat = self.latency_s
        pct = [float(v) for v in np.percentile(lat, [50, 95, 99])] if lat.size else [None] * 3
        first = s["first_crash_tick"]
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
            "throughput_per_s": float(s["delivered"] / sc.duration_s),
            "latency_p50_s": pct[0],
            "latency_p95_s": pct[1],
            "latency_p99_s": pct[2],
            "producer_wait_p99_s": self.producer_wait_quantile(0.99),
        }
