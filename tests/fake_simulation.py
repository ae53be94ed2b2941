"""TEST-ONLY stand-in for ``bpsim.Simulation`` until the real one lands (then this file goes).

A tiny pure-Python model with the same interface (``advance``, ``set``, ``inject``, ``events``,
``now``, ``dt_s``, ``scenario``, ``strategy``) and the same ``Events`` layout, so the message view
can be built and tested before the engine's step-by-step simulation exists. Its numbers are not
the engine's; only the shape of what it returns and the accounting identity matter.
"""
from __future__ import annotations

import dataclasses
import math
from collections import deque

import numpy as np

import bpsim
from bpsim.strategies import make_strategy

NAMES = ("offered", "injected", "admitted", "delivered", "timed_out", "expired", "dropped",
         "shed", "rejected", "retried", "sampled_out", "lost")
TOTALS = ("delivered", "timed_out", "expired", "dropped", "shed", "sampled_out",
          "lost_in_crash", "queue_end", "in_service_end", "producer_backlog_end")
SCENARIO_FIELDS = {f.name for f in dataclasses.fields(bpsim.Scenario)}


@dataclasses.dataclass(frozen=True)
class Events:
    t0_s: float
    t1_s: float
    tick_s: np.ndarray
    counts: dict
    served: dict
    state: dict
    totals: dict


class FakeSimulation:
    def __init__(self, scenario=None, *, strategy="drop_newest", rng=None, horizon_ticks=10**7,
                 **overrides):
        self._sc_kw = {k: v for k, v in overrides.items() if k in SCENARIO_FIELDS}
        self._st_kw = {k: v for k, v in overrides.items() if k not in SCENARIO_FIELDS}
        base = scenario if scenario is not None else bpsim.Scenario()
        self.scenario = dataclasses.replace(base, **self._sc_kw)
        self.strategy = make_strategy(strategy, **self._st_kw)
        self.dt_s = self.scenario.dt_s
        self.horizon_ticks = horizon_ticks
        self._tick = 0
        self._acc = 0.0
        self._pending_inject = 0
        self._buffer = deque()             # [gen_s, count]
        self._workers = []                 # per worker: None or [gen_s, start_s, left_s]
        self._held = 0
        self._down_until = -1.0
        self._mem_peak = 0
        self._tot = dict.fromkeys(("offered",) + TOTALS, 0)
        self._log = []                     # per tick: counts dict
        self._served = []                  # (gen, start, done)
        self._since = 0.0
        self._fit_workers()

    @property
    def now(self):
        return round(self._tick * self.dt_s, 12)

    def _fit_workers(self):
        n = self.scenario.consumers
        while len(self._workers) < n:
            self._workers.append(None)
        while len(self._workers) > n:
            w = self._workers.pop()
            if w is not None:          # its message goes back to the head of the buffer
                self._buffer.appendleft([w[0], 1])

    def set(self, **changes):
        strategy = changes.pop("strategy", None)
        sc = {k: v for k, v in changes.items() if k in SCENARIO_FIELDS}
        st = {k: v for k, v in changes.items() if k not in SCENARIO_FIELDS}
        self.scenario = dataclasses.replace(self.scenario, **sc)
        if strategy is not None or st:
            self._st_kw = st if strategy is not None else {**self._st_kw, **st}
            self.strategy = make_strategy(strategy or self.strategy.name, **self._st_kw)
        self._fit_workers()

    def inject(self, n):
        n = int(n)
        if n < 0:
            raise ValueError(f"n={n!r} is not valid: use a whole number of messages, 0 or more.")
        self._pending_inject += n

    def advance(self, seconds):
        n = int(round(seconds / self.dt_s))
        if self._tick + n > self.horizon_ticks:
            raise ValueError(f"seconds={seconds!r} is not valid: use at most "
                             f"{(self.horizon_ticks - self._tick) * self.dt_s:g} s more (this "
                             f"simulation's horizon is {self.horizon_ticks:,} ticks).")
        for _ in range(n):
            self._step()

    def _depth(self):
        return sum(c for _, c in self._buffer)

    def _step(self):
        sc, dt, t = self.scenario, self.dt_s, self._tick * self.dt_s
        c = dict.fromkeys(NAMES, 0)
        self._acc += sc.producer_rate * dt
        gen = int(math.floor(self._acc + 1e-9))
        self._acc -= gen
        inj, self._pending_inject = self._pending_inject, 0
        c["offered"] = gen + inj
        c["injected"] = inj
        self._tot["offered"] += gen + inj
        down = t < self._down_until
        new = gen + inj + self._held
        self._held = 0
        cap = self.strategy.bounded and sc.capacity
        name = self.strategy.name
        if down:
            c["lost"] += new
            self._tot["lost_in_crash"] += new
            new = 0
        if new and name == "sample":
            keep = new // max(1, getattr(self.strategy, "sample_every", 2))
            c["sampled_out"] += new - keep
            self._tot["sampled_out"] += new - keep
            new = keep
        room = new if not self.strategy.bounded else max(0, cap - self._depth())
        take = min(new, room)
        rest = new - take
        if rest:
            if name == "block":
                self._held = rest
            elif name == "shed":
                c["shed"] += rest
                c["rejected"] += rest
                self._tot["shed"] += rest
            elif name == "drop_oldest":
                evict = min(rest, self._depth())
                while evict:
                    b = self._buffer[0]
                    k = min(evict, b[1])
                    b[1] -= k
                    evict -= k
                    c["dropped"] += k
                    self._tot["dropped"] += k
                    if b[1] == 0:
                        self._buffer.popleft()
                take = min(new, cap)
                c["dropped"] += new - take
                self._tot["dropped"] += new - take
            else:
                c["dropped"] += rest
                self._tot["dropped"] += rest
        if take:
            self._buffer.append([t, take])
            c["admitted"] += take
        # the crash
        if not self.strategy.bounded and self._depth() * sc.message_bytes > sc.memory_limit_bytes:
            lost = self._depth() + sum(w is not None for w in self._workers)
            c["lost"] += lost
            self._tot["lost_in_crash"] += lost
            self._buffer.clear()
            self._workers = [None] * len(self._workers)
            self._down_until = t + sc.restart_s
        # service
        if not down:
            for i, w in enumerate(self._workers):
                if w is None and self._buffer:
                    b = self._buffer[0]
                    b[1] -= 1
                    if b[1] == 0:
                        self._buffer.popleft()
                    w = self._workers[i] = [b[0], t, 1.0 / sc.consumer_rate]
                if w is not None:
                    w[2] -= dt
                    if w[2] <= 1e-12:
                        c["delivered"] += 1
                        self._tot["delivered"] += 1
                        self._served.append((w[0], w[1], t + dt))
                        self._workers[i] = None
        self._log.append(c)
        self._tick += 1

    def events(self, since=None):
        t0 = self._since if since is None else float(since)
        t1 = self.now
        i0 = int(round(t0 / self.dt_s))
        rows = self._log[i0:]
        counts = {k: np.array([r[k] for r in rows], dtype=np.int64) for k in NAMES}
        sv = [s for s in self._served if t0 <= s[2] - 1e-12 < t1] if rows else []
        served = {"gen_s": np.array([s[0] for s in sv], float),
                  "start_s": np.array([s[1] for s in sv], float),
                  "done_s": np.array([s[2] for s in sv], float),
                  "in_time": np.ones(len(sv), bool)}
        self._served = [s for s in self._served if s[2] >= t1 - 1e-12]
        sc = self.scenario
        busy = np.array([w is not None for w in self._workers])
        depth = self._depth()
        in_service = int(busy.sum())
        state = {
            "depth": depth, "capacity": sc.capacity if self.strategy.bounded else -1,
            "in_service": in_service, "held": self._held, "retry_pending": 0,
            "down": t1 < self._down_until, "memory_bytes": (depth + in_service) * sc.message_bytes,
            "memory_limit_bytes": sc.memory_limit_bytes,
            "buffer": {"gen_s": np.array([b[0] for b in self._buffer], float),
                       "count": np.array([b[1] for b in self._buffer], np.int64)},
            "workers": {"busy": busy,
                        "gen_s": np.array([w[0] if w else np.nan for w in self._workers]),
                        "start_s": np.array([w[1] if w else np.nan for w in self._workers]),
                        "progress": np.array([1 - w[2] * sc.consumer_rate if w else 0.0
                                              for w in self._workers])},
            "active_consumers": sc.consumers,
        }
        totals = dict(self._tot, queue_end=depth, in_service_end=in_service,
                      producer_backlog_end=self._held)
        self._since = t1
        return Events(t0, t1, np.arange(i0, i0 + len(rows)) * self.dt_s, counts, served, state,
                      totals)

    def result(self):
        raise NotImplementedError("the fake has no Result")
