"""The reference engine: the model in plain Python, one tick at a time.

This is the readable definition of what bpsim simulates; the compiled kernel
(:mod:`bpsim.kernel`) must give exactly the same numbers, and the tests check that it does.

Messages travel in *batches*: ``[gen, count]`` pairs of messages generated in the same tick, so
that a producer at 100,000 msg/s costs no more per tick than one at 1,000. Workers take messages
one at a time from the head of the buffer.

Order of events inside tick ``i`` (which covers ``[i*dt, (i+1)*dt)``):

1. **Restart.** A crashed server whose downtime is over comes back, empty.
2. **Arrivals.** The producer generates ``arrivals[i]`` messages, stamped with time ``i*dt``.
3. **Admission.** Batches are offered oldest first: the producer's held backlog (``block``; once
   a held batch is held again, the newer ones stay held unoffered), then retries that are due
   (``shed``), then the new messages. While the server is down the new
   messages and due retries are lost (counted in ``lost_in_crash``); the backlog waits. Otherwise
   the strategy decides each batch (see :mod:`bpsim.strategies`). A hand-over that would take the
   server past its memory limit crashes it: everything it held, and that batch, are lost, and the
   rest of the tick's hand-overs are lost too. A server that is down has no room, so whatever the
   strategy, the part of that batch it had not handed over yet goes to its overflow (dropped,
   held, rejected).
4. **Service.** Each worker has ``dt * speed`` seconds of work this tick. Completions and starts
   happen in time order across all workers: the worker that frees first (ties: the lowest
   worker number) finishes its message and at that same moment takes the next one from the head
   of the buffer, if any; then the next worker to free, and so on, until no worker frees again
   before the end of the tick. So no worker is idle while a message waits, and a message taken
   mid-tick starts at the moment its worker freed. Workers idle at the start of the tick take the
   waiting messages first (in worker order, at the tick's start). Workers beyond the active
   count finish what they hold but take nothing new; at speed 0 nothing moves. A served
   message's latency is its completion time minus ``i*dt`` of the tick it was generated in;
   messages are recorded in order of completion. A message served with a latency above the
   client's timeout (``client_timeout_s``) counts as ``timed_out`` (its client has left: the work
   was wasted), otherwise as ``delivered``. Which message a worker takes: the head of the buffer
   (``fifo``), its tail (``lifo``), or the head while at most ``lifo_depth`` messages wait and the
   tail when more do (``adaptive_lifo``). With ``drop_expired``, a worker about to take a message
   whose client has already left (waited longer than the timeout at that moment) discards it
   instead (``expired``), with the rest of its batch, and looks again, at the same moment.
5. **Record.** If the state at the end of the tick differs from what the log's last row
   predicts for it, it is written to the series log (:mod:`bpsim.state`): into that row if it is
   of the same bin, else as a new row.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from .state import (COL, COLUMNS, LAT_BINS, LOG_COLS, MAX_CRASH_TICKS, SCALARS,
                    UNBOUNDED_CAPACITY, derive, lat_bin, n_bins, wait_bin, wait_bins)
from .strategies import Strategy



class ReferenceEngine:
    """Runs a scenario tick by tick, in plain Python, with any :class:`Strategy`.

    Parameters
    ----------
    inputs : bpsim.engine.Inputs
        The scenario turned into per-tick arrays, with every random draw made up front.
    strategy : Strategy
        Any strategy object; only its ``admit`` method is used.
    """

    def __init__(self, inputs, strategy: Strategy):
        self.inputs = inputs
        self.strategy = strategy
        rows = n_bins(inputs.n_ticks) + 1
        self.log = np.zeros((rows, LOG_COLS + len(COLUMNS)), dtype=np.int64)
        self.env = np.zeros((rows if inputs.bin_ticks > 1 else 1, 6), dtype=np.int64)
        self.rec_gen = np.zeros(inputs.record_size, dtype=np.int64)
        self.rec_start = np.zeros(inputs.record_size)
        self.rec_done = np.zeros(inputs.record_size)
        self.wait_hist = np.zeros(wait_bins(inputs.n_ticks), dtype=np.int64)
        self.lat_hist = np.zeros(LAT_BINS, dtype=np.int64)
        self.crash_ticks = []
        self.busy_time = 0.0
        self.wasted_time = 0.0
        self.buffer = deque()          # [gen, count], head on the left
        self.backlog = deque()         # held by the producer (block)
        self.retry = [deque() for _ in range(max(1, inputs.retries))]  # [due, gen, count]
        self.s = dict.fromkeys(SCALARS, 0)
        self.s["capacity"] = inputs.capacity
        self.s["first_crash_tick"] = -1
        # row 0 of the log: the state before the first tick, as bin and tick -1
        self.log[0, :LOG_COLS] = [-1, -1, 0]
        self.log[0, LOG_COLS:] = [self.s[name] for name in COLUMNS]
        self.s["n_rows"] = 1
        self._last = dict(zip(COLUMNS, self.log[0, LOG_COLS:].tolist()), counter=0)
        c = inputs.n_workers
        self.busy = [False] * c
        self.rem = [0.0] * c
        self.wgen = [0] * c
        self.wstart = [0.0] * c
        self.tick = 0
        self._front = self._reheld = False
        self._a0, self._arrivals = 0, np.zeros(0, dtype=np.int64)  # the window of arrivals

    # -- the verbs a strategy may use ----------------------------------------------------------
    @property
    def depth(self) -> int:
        return self.s["depth"]

    @property
    def capacity(self) -> int:
        return self.s["capacity"]

    def room(self) -> int:
        if self.s["down"]:  # crashed in the middle of an admission: nothing more fits
            return 0
        if self.s["capacity"] == UNBOUNDED_CAPACITY:
            return 1 << 62
        return max(0, self.s["capacity"] - self.s["depth"])

    def enqueue(self, gen, n):
        s = self.s
        if n <= 0:
            return
        if s["down"]:
            s["lost"] += n
            return
        if s["depth"] + s["in_service"] + n > self.inputs.max_in_memory:
            self._crash()
            s["lost"] += n
            return
        self.buffer.append([gen, n])
        s["depth"] += n
        s["admitted"] += n
        self.wait_hist[wait_bin(self.tick - gen)] += n
        s["max_wait"] = max(s["max_wait"], self.tick - gen)
        s["max_depth"] = max(s["max_depth"], s["depth"])
        s["peak_in_memory"] = max(s["peak_in_memory"], s["depth"] + s["in_service"])

    def drop(self, n):
        if n > 0:
            self.s["dropped"] += n

    def evict_oldest(self, n):
        self._pop_head(n)
        self.s["dropped"] += n

    def hold(self, gen, n):
        if n > 0:
            if self._front:  # a held batch offered again goes back to the front
                self.backlog.appendleft([gen, n])
                self._reheld = True
            else:
                self.backlog.append([gen, n])
            self.s["held"] += n

    def reject(self, gen, n, attempt):
        if n <= 0:
            return
        s = self.s
        s["rejected"] += n
        if attempt < self.inputs.retries:
            due = self.tick + self.inputs.backoff_ticks[attempt]
            self.retry[attempt].append([due, gen, n])
            s["retry_pending"] += n
        else:
            s["shed"] += n

    def sample(self, n, every):
        s = self.s
        total = s["sample_counter"] + n
        passed = total // every
        s["sample_counter"] = total % every
        s["sampled_out"] += n - passed
        return passed

    # -- controls used between ticks (adaptive strategies, policies) ---------------------------
    def rule_changed(self, tick: int, every: int) -> None:
        """A new rule (a Simulation's new strategy) takes over after tick ``tick``: the 1-in-N
        counter is brought below its ``every`` (0: the rule does not sample; the counter is left
        as it is), and the state is written as the row of ``tick`` (unless it is -1, the start),
        so that what the log predicts from then on starts from a row the new rule can read."""
        if every > 0:
            self.s["sample_counter"] %= every
        if tick >= 0:
            self._record(tick, force=True)

    def set_capacity(self, capacity: int):
        self.s["capacity"] = int(capacity)

    def drop_head(self, n: int) -> int:
        """Drop up to ``n`` messages from the head of the buffer; returns how many."""
        n = min(int(n), self.s["depth"])
        if n > 0:
            self.evict_oldest(n)
        return n

    # -- the engine ----------------------------------------------------------------------------
    def run(self, start: int, stop: int) -> None:
        """Advance ticks ``start .. stop-1``."""
        for i in range(start, stop):
            self.tick = i
            self._step(i)

    def _pop_tail(self):
        """Take one message from the tail of the buffer (the newest); returns its tick."""
        self.s["depth"] -= 1
        tail = self.buffer[-1]
        tail[1] -= 1
        if tail[1] == 0:
            self.buffer.pop()
        return tail[0]

    def _lifo_now(self):
        """True if a worker takes the newest message now (order and depth)."""
        order = self.inputs.order
        return order == 1 or (order == 2 and self.s["depth"] > self.inputs.lifo_depth)

    def _pop_head(self, n):
        self.s["depth"] -= n
        while n > 0:
            head = self.buffer[0]
            take = min(n, head[1])
            head[1] -= take
            n -= take
            if head[1] == 0:
                self.buffer.popleft()

    def _crash(self):
        s = self.s
        s["lost"] += s["depth"] + s["in_service"]
        s["depth"] = 0
        s["in_service"] = 0
        self.buffer.clear()
        for w in range(self.inputs.n_workers):
            self.busy[w] = False
            self.rem[w] = 0.0
        s["down"] = 1
        s["up_tick"] = self.tick + self.inputs.restart_ticks
        s["crashes"] += 1
        if s["first_crash_tick"] < 0:
            s["first_crash_tick"] = self.tick
        if len(self.crash_ticks) < MAX_CRASH_TICKS:
            self.crash_ticks.append(self.tick)

    def _offer(self, gen, n, attempt):
        s = self.s
        if s["down"]:
            s["lost"] += n
            s["lost_down"] += n
        else:
            self.strategy.admit(self, gen, n, attempt)

    def _step(self, i):
        s, x = self.s, self.inputs
        # 1. restart
        if s["down"] and i >= s["up_tick"]:
            s["down"] = 0
        # 2. arrivals
        if not self._a0 <= i < self._a0 + self._arrivals.size:
            self._a0, self._arrivals, _, _ = x.window(i)
        new = int(self._arrivals[i - self._a0])
        s["offered"] += new
        s["attempts"] += new
        # 3. admission: held backlog, due retries, new messages
        if not s["down"]:
            # Oldest first; once a batch is held again the producer is blocked on it, and the
            # newer ones stay held without being offered (FIFO, and O(1) per tick).
            while self.backlog:
                gen, n = self.backlog.popleft()
                s["held"] -= n
                self._front, self._reheld = True, False
                self._offer(gen, n, 0)
                self._front = False
                if self._reheld:
                    break
        for k in range(x.retries):
            fifo = self.retry[k]
            while fifo and fifo[0][0] <= i:
                _, gen, n = fifo.popleft()
                s["retry_pending"] -= n
                s["attempts"] += n
                self._offer(gen, n, k + 1)
        if new:
            self._offer(i, new, 0)
        # 4. service
        if not s["down"]:
            self._serve(i)
        # 5. record
        self._record(i)

    def _record(self, i, force=False):
        s, log, x = self.s, self.log, self.inputs
        r = s["n_rows"] - 1
        row = [s[name] for name in COLUMNS]
        last = self._last  # log[r] as a dict of COLUMNS and "counter" (kept, not re-read)
        k = x.bin_ticks
        if not force:
            if s["offered"] == last["offered"] and row == [last[name] for name in COLUMNS]:
                return  # nothing changed
            predicted = dict(last)
            predicted.update(derive(last, s["offered"] - last["offered"], x.derive,
                                    x.sample_every, x.sample_from))
            if [predicted[name] for name in COLUMNS] == row and (
                    k == 1 or s["depth"] == last["depth"]):
                return  # what the last row predicts (bpsim.state): nothing to write
        b = i // k
        depth, mem, cap = s["depth"], s["depth"] + s["in_service"], s["capacity"]
        if log[r, 0] == b:  # the same bin: its last state, and its extremes
            if k > 1:
                e = self.env[r]
                e[0], e[1], e[2] = min(e[0], depth), min(e[1], mem), min(e[2], cap)
                e[3], e[4], e[5] = max(e[3], depth), max(e[4], mem), max(e[5], cap)
        else:
            r += 1
            if k > 1:
                e = self.env[r]
                e[:] = [depth, mem, cap, depth, mem, cap]
                if i > b * k:  # the bin's earlier ticks ended in the levels of the row before
                    p = log[r - 1, LOG_COLS:]
                    d0, m0, c0 = (p[COL["depth"]], p[COL["depth"]] + p[COL["in_service"]],
                                  p[COL["capacity"]])
                    e[0], e[1], e[2] = min(e[0], d0), min(e[1], m0), min(e[2], c0)
                    e[3], e[4], e[5] = max(e[3], d0), max(e[4], m0), max(e[5], c0)
            s["n_rows"] = r + 1
        log[r, :LOG_COLS] = [b, i, s["sample_counter"]]
        log[r, LOG_COLS:] = row
        self._last = dict(zip(COLUMNS, row), counter=s["sample_counter"])

    def _serve(self, i):
        s, x = self.s, self.inputs
        dt = x.dt
        speed = x.speed[i]
        t = i * dt
        if speed <= 0.0:
            for w in range(x.n_workers):
                if self.busy[w]:
                    self.busy_time += dt
            return
        active = x.consumers[i]
        budget = dt * speed
        n = x.n_workers
        busy, rem = self.busy, self.rem
        used = [0.0] * n  # work each worker has done this tick (s at full speed): its clock
        while True:
            # The next event: the worker that frees first, ties to the lowest number. A busy
            # worker frees at used + rem if that is within the budget; an idle active worker is
            # free now (used) if a message waits. Nothing arrives during service, so a worker that
            # found the buffer empty stays idle for the rest of the tick.
            w, at = -1, 0.0
            for k in range(n):
                if busy[k]:
                    if rem[k] > budget - used[k]:
                        continue  # still busy at the end of the tick
                    free_at = used[k] + rem[k]
                elif k < active and s["depth"] > 0:
                    free_at = used[k]
                else:
                    continue
                if w < 0 or free_at < at:
                    w, at = k, free_at
            if w < 0:
                break
            if busy[w]:  # finish its message
                used[w] = at
                rem[w] = 0.0
                busy[w] = False
                s["in_service"] -= 1
                done = t + at / speed
                latency = done - self.wgen[w] * dt
                if latency > x.timeout:  # its client has left: the work was wasted
                    s["timed_out"] += 1
                    self.wasted_time += done - self.wstart[w]
                else:
                    s["delivered"] += 1
                self.lat_hist[lat_bin(latency)] += 1
                r = s["rec_pos"]  # the records are a ring of record_size
                self.rec_gen[r] = self.wgen[w]
                self.rec_start[r] = self.wstart[w]
                self.rec_done[r] = done
                s["rec_pos"] = 0 if r + 1 == x.record_size else r + 1
                s["n_records"] += 1
            if w < active and x.drop_expired:  # discard what its client has left
                now = t + used[w] / speed
                while s["depth"] > 0:
                    lifo = self._lifo_now()
                    batch = self.buffer[-1] if lifo else self.buffer[0]
                    if not now - batch[0] * dt > x.timeout:
                        break
                    s["expired"] += batch[1]
                    s["depth"] -= batch[1]
                    if lifo:
                        self.buffer.pop()
                    else:
                        self.buffer.popleft()
            if w < active and s["depth"] > 0:  # and take the next one at once
                if self._lifo_now():
                    self.wgen[w] = self._pop_tail()
                else:
                    self.wgen[w] = self.buffer[0][0]
                    self._pop_head(1)
                s["in_service"] += 1
                busy[w] = True
                self.wstart[w] = t + used[w] / speed
                rem[w] = self._work()
        for w in range(n):
            if busy[w]:
                rem[w] -= budget - used[w]
                self.busy_time += dt
            else:
                self.busy_time += used[w] / speed

    def _work(self):
        x = self.inputs
        if x.pool.size == 0:
            return x.mean_work
        s = self.s
        v = x.pool[s["pool_index"] % x.pool.size] * x.mean_work
        s["pool_index"] += 1
        return v

    # -- what the driver reads -----------------------------------------------------------------
    def scalars(self) -> dict:
        return dict(self.s)

    def busy_seconds(self) -> float:
        return self.busy_time

    def wasted_seconds(self) -> float:
        """Busy time spent on messages served after their client left (s)."""
        return self.wasted_time

    def records(self, lo, hi):
        """Records ``lo .. hi-1`` (in order of completion) that the ring still holds."""
        return ring_records((self.rec_gen, self.rec_start, self.rec_done), lo, hi,
                            self.s["n_records"])

    def record_stats(self, lo, hi, dt):
        """Latency p50 and p95, sojourn min and p95 of records ``lo .. hi-1`` that the ring
        still holds (s; NaN when none): the fast engine's compiled reading of the same rings."""
        from .kernel import ring_stats
        return ring_stats((self.rec_gen, self.rec_start, self.rec_done), lo, hi,
                          self.s["n_records"], dt)

    def waiting(self):
        """``(gen_ticks, counts)`` of the batches in the buffer, head first."""
        return (np.array([b[0] for b in self.buffer], dtype=np.int64),
                np.array([b[1] for b in self.buffer], dtype=np.int64))

    def crash_tick_list(self):
        return list(self.crash_ticks)


def kept_from(lo, n_records, size):
    """The first record from ``lo`` on that a ring of ``size`` still holds once ``n_records``
    were written to it (the latest ``size``)."""
    return max(lo, n_records - size, 0)


def ring_records(arrays, lo, hi, n_records):
    """Records ``lo .. hi-1`` from ring ``arrays`` after ``n_records`` were written to them: the
    latest ``size`` of those, in order (both engines' ``records``)."""
    size = arrays[0].size
    lo = kept_from(lo, n_records, size)
    if hi <= lo:
        return tuple(a[:0] for a in arrays)
    a, b = lo % size, hi % size or size
    if a < b:
        return tuple(x[a:b] for x in arrays)
    return tuple(np.concatenate((x[a:], x[:b])) for x in arrays)
