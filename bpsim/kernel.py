"""The fast engine: the reference model, compiled with numba.

:mod:`bpsim.reference` is the definition of what bpsim simulates (read its docstring for the order
of events inside a tick). This module runs the same model, operation for operation, as machine code,
and the tests check that both give the same numbers bit for bit: the same series log, the same
per-message records and histograms, the same busy time. When the two disagree, the reference is right.

Why it is fast, and why the cost does not grow with the producer's rate
-----------------------------------------------------------------------
Messages are not simulated one by one on the way in. All the messages generated in one tick travel
together as a *batch*, a pair ``(gen_tick, count)``: a strategy decides on a whole batch with a
few integer operations (``k = min(n, room)``...), and a queue of 400 messages made of 40 batches
is 40 ring-buffer slots. So a producer at 100,000 msg/s costs about what one at 1,000 msg/s costs:
the work per tick depends on the number of batches, not on the number of messages. Only service
touches messages one at a time, and the consumer's rate bounds that.

The state lives in a handful of numpy arrays (the reference's scalars in one int64 vector indexed
by :data:`bpsim.state.S`, the workers, the rings), so :meth:`FastEngine.run` can stop after any
tick and carry on later: adaptive strategies call it once per control interval.

One rule for every strategy
---------------------------
The kernel does not call Python. It runs the generic admission rule given by
:meth:`bpsim.strategies.Strategy.rule` (the knobs of :class:`bpsim.strategies.Rule`), one batch at a
time, as one sequence of the reference's verbs that reproduces each built-in ``admit`` exactly:

1. ``enqueue`` what fits (only up to the sampling threshold, if sampling);
2. the rest goes through the 1-in-N counter (sampling), or evicts as many of the oldest queued
   messages (``evict_oldest``);
3. ``enqueue`` what now fits;
4. ``overflow`` what is left: ``drop`` it, ``hold`` it in the producer, or ``reject`` it (and
   schedule its retry).

Without sampling or eviction step 3 is always empty, which leaves ``unbounded``, ``block``,
``drop_newest``, ``shed`` and ``adaptive``: ``k = min(n, room); enqueue(k); overflow(n - k)``.
A strategy without a rule (``rule()`` returns ``None``) runs on the reference engine instead.

The rings, and why their sizes are enough
-----------------------------------------
* The buffer holds at most ``max_in_memory`` messages (the memory check) and each batch holds at
  least one, so it never has more batches than that, nor more than messages were ever generated.
  (A batch of the same tick as the tail is merged into it: invisible, as messages of one tick are
  alike, and it keeps the ring short.)
* The producer's held backlog gains at most one batch per tick (the new one; a batch offered from
  the backlog and held again replaces itself), and holds at most as many batches as messages.
* Retry FIFO ``k`` receives at most one batch per tick (first tries come one batch per tick, and a
  FIFO releases, each tick, only what was pushed ``backoff[k]`` ticks earlier), so it never holds
  more than ``backoff[k] + 1`` batches.
* Crashes are at least ``max(1, restart_ticks)`` ticks apart (the first ``MAX_CRASH_TICKS`` are
  kept).
* A long run's arrivals are not known up front (:class:`bpsim.engine.ArrivalStream`): "messages
  ever generated" is then a bound 12 standard deviations above the mean (exact for evenly spaced
  arrivals).
* The per-message records are a ring (the latest ``record_size``); the series log has a row per
  bin at most, plus the initial state.

A push onto a full ring is refused and makes ``run`` raise, so a wrong bound cannot go unnoticed.

What a tick writes
------------------
Not a row of a per-tick table: the series log of :mod:`bpsim.state` gets a row only when the state
differs from what its last row predicts, so a run of quiet ticks writes nothing. The reference
engine writes the same log by the same rule, and the tests compare the logs.

Compiling takes about 25 s of CPU the first time (it was 7 s before the quiet path learnt block,
drop_oldest, shed and queuing, and before timeouts and service orders; the quiet path's tight loops
for the headline's stretches added about 3 s, the one-worker service loop about 3 more: every
inlined call site is a copy); numba caches
the machine code in ``bpsim/__pycache__`` (``cache=True``), so later sessions load it in about
half a second. Where the package directory is read-only, numba uses the user's cache directory
(``~/.cache/numba``) or ``NUMBA_CACHE_DIR`` if set; with nowhere to write at all, the kernel still
works, compiled afresh in each process.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .state import (COLUMNS, DERIVE_DROP, DERIVE_EVICT, DERIVE_HOLD, DERIVE_SAMPLE, HIST_MANTISSA_BITS, LAT_BINS, LOG_BIN,
                    LOG_COLS, LOG_COUNTER, LOG_TICK, MAX_CRASH_TICKS, S, SCALARS,
                    UNBOUNDED_CAPACITY, WAIT_EXACT, n_bins, wait_bins)
from .reference import kept_from, ring_records
from .strategies import DROP, HOLD, REJECT
from .validate import InputError

# -- the state vector ``v`` (int64): the reference's scalars, then the kernel's own ----------------
# Scalars first, at the same index as state.S, so scalars() is a view of v[:N_SCALARS].
DEPTH, IN_SERVICE, HELD, RETRY_PENDING = S["depth"], S["in_service"], S["held"], S["retry_pending"]
CAPACITY, DOWN, UP_TICK = S["capacity"], S["down"], S["up_tick"]
OFFERED, ADMITTED, DELIVERED, DROPPED = S["offered"], S["admitted"], S["delivered"], S["dropped"]
SHED, SAMPLED_OUT, LOST, LOST_DOWN = S["shed"], S["sampled_out"], S["lost"], S["lost_down"]
REJECTED, ATTEMPTS, SAMPLE_COUNTER = S["rejected"], S["attempts"], S["sample_counter"]
N_RECORDS, CRASHES, FIRST_CRASH = S["n_records"], S["crashes"], S["first_crash_tick"]
MAX_DEPTH, PEAK, POOL_INDEX = S["max_depth"], S["peak_in_memory"], S["pool_index"]
TIMED_OUT, EXPIRED, MAX_WAIT = S["timed_out"], S["expired"], S["max_wait"]
REC_POS, N_ROWS = S["rec_pos"], S["n_rows"]
N_SCALARS = len(SCALARS)
# Then the kernel's own: the current tick, the reference's _front/_reheld flags, ring heads and
# lengths, crashes recorded, a flag raised if a ring was ever full, and for retry FIFO k its head at
# RQ + 2k and its length at RQ + 2k + 1.
TICK, FRONT, REHELD, BUF_HEAD, BUF_LEN, HOLD_HEAD, HOLD_LEN, N_CRASH_TICKS, RING_FULL, RQ = (
    N_SCALARS + k for k in range(10))

#: For each table column, its slot in ``v``: the first ones, in order (see state.SCALARS).
COLUMN_SLOTS = tuple(S[name] for name in COLUMNS)
N_COLUMNS = len(COLUMNS)
assert COLUMN_SLOTS == tuple(range(N_COLUMNS)), "state.SCALARS must begin with state.COLUMNS"


# Other arrays: ``buf`` and ``hold`` are rings [2, size] of (gen_tick, count), ``rq`` the retry
# rings [retries, 3, size] of (due_tick, gen_tick, count); workers ``wi`` [2, workers] (busy,
# gen_tick) and ``wf`` [3, workers] (remaining work, start time, work done this tick); records
# ``rec_gen`` and ``rec_t`` [2, size] (start, done), a ring; ``fv`` [2] the busy worker-seconds
# and those spent on messages whose client had left; ``log`` and ``env`` the series log
# (bpsim.state); ``wait_hist`` and ``lat_hist`` the producer-wait and latency histograms.

# -- settings of one run: ``cfg`` (int64) and ``fcfg`` (float64) -----------------------------------
C_MAX_IN_MEMORY, C_RESTART, C_RETRIES, C_RECORD_SIZE = range(4)
C_SAMPLING, C_SAMPLE_EVERY, C_EVICT, C_OVERFLOW = range(4, 8)
C_BIN, C_DROP_EXPIRED, C_ORDER, C_LIFO_DEPTH, C_DERIVE = range(8, 13)
C_BACKOFF = 13  # backoff (ticks) before retry k+1 at C_BACKOFF + k
F_DT, F_MEAN_WORK, F_SAMPLE_FROM, F_TIMEOUT = range(4)
# the histograms' bins, as in bpsim.state (lat_bin, wait_bin)
_SHIFT = 52 - HIST_MANTISSA_BITS
_LAT_LOW = (1023 - 40) << HIST_MANTISSA_BITS
_WAIT_LOW = (1023 + 20) << HIST_MANTISSA_BITS

ENDLESS_ROOM = 1 << 62
ORDER_LIFO, ORDER_ADAPTIVE = 1, 2
FIRST_TRY = np.int64(0)  # attempt of a first try; an np.int64 so that numba compiles _offer once,
                         # not once more for the literal 0

# How the functions are compiled, and why (each choice was measured; see benchmarks/bench_core.py):
# * _nrt=False: no reference counting. The kernel allocates nothing; every array belongs to a
#   FastEngine, which outlives the call. With counting on, numba increments and decrements
#   (atomically) every array passed to a helper that might raise: that cost more than the tick.
# * error_model="numpy", and nothing raises: no exception paths (a full ring sets v[RING_FULL],
#   and FastEngine.run raises).
# * inline="always" for the small helpers: numba passes each array as 7 to 9 machine words, so a
#   call with ten arrays cost more than the work inside. Inlined, they stay small readable
#   functions here and cost nothing at run time. The cost is compile time, paid once per install:
#   every call site is a copy, which is why _step offers all batches from one call site (three
#   sites took 20 s to compile). With _offer as a real function (@_jit) instead, the first compile
#   takes about 4.5 s of CPU instead of 7, and a run 1.5 to 2 times as long.
# * cache=True where numba has somewhere to write: next to this file, else the user's cache
#   directory, or NUMBA_CACHE_DIR. With none of these writable numba refuses cache=True outright;
#   then the kernel is compiled in every new process instead (a few seconds, same results).
def _compiler(**options):
    def decorate(fn):
        try:
            return njit(cache=True, **options)(fn)
        except RuntimeError as err:  # "cannot cache function ...: no locator available"
            if "cannot cache" not in str(err):
                raise
            return njit(cache=False, **options)(fn)
    return decorate


_jit = _compiler(error_model="numpy", _nrt=False)
_inline = _compiler(error_model="numpy", _nrt=False, inline="always")

# -- small helpers ---------------------------------------------------------------------------------
@_inline
def _at(a, i):
    """A per-tick value: ``a[i]``, or ``a[0]`` where the value never changes (one element)."""
    return a[i] if a.shape[0] > 1 else a[0]


@_inline
def _lat_bin(x):
    j = (np.float64(x).view(np.int64) >> _SHIFT) - _LAT_LOW
    return min(max(j, 0), LAT_BINS - 1)


@_inline
def _holds_quietly(cfg):
    """Block's rule (hold, no sampling, no eviction, no retries): a full buffer only holds."""
    return (cfg[C_OVERFLOW] == HOLD and cfg[C_SAMPLING] == 0 and not cfg[C_EVICT]
            and cfg[C_RETRIES] == 0)


@_inline
def _rejects_quietly(cfg):
    """shed's rule (reject, no sampling, no eviction)."""
    return cfg[C_OVERFLOW] == REJECT and cfg[C_SAMPLING] == 0 and not cfg[C_EVICT]


@_inline
def _evicts_quietly(cfg):
    """drop_oldest's rule (evict, drop the rest, no sampling)."""
    return cfg[C_EVICT] != 0 and cfg[C_OVERFLOW] == DROP and cfg[C_SAMPLING] == 0


@_inline
def _sample_threshold(v, fcfg):
    """The depth from which Sample admits only 1 in N (Sample.admit)."""
    return np.int64(np.ceil(fcfg[F_SAMPLE_FROM] * v[CAPACITY]))


@_inline
def _lifo_now(v, cfg):
    order = cfg[C_ORDER]
    return order == ORDER_LIFO or (order == ORDER_ADAPTIVE and v[DEPTH] > cfg[C_LIFO_DEPTH])


@_inline
def _record(v, log, env, cfg, fcfg, i):
    """Step 5 of tick ``i``: the series log (bpsim.state; reference._record). Nothing is written
    when the state is what the last row predicts (state.derive)."""
    r = v[N_ROWS] - 1
    same = True
    for c in range(N_COLUMNS):
        if (c != OFFERED and c != ATTEMPTS and c != DROPPED and c != SAMPLED_OUT and c != HELD
                and c != ADMITTED and c != DEPTH):
            if log[r, LOG_COLS + c] != v[c]:
                same = False
                break
    if same:
        arrived = v[OFFERED] - log[r, LOG_COLS + OFFERED]
        mode = cfg[C_DERIVE]
        dropped, sampled = log[r, LOG_COLS + DROPPED], log[r, LOG_COLS + SAMPLED_OUT]
        held, admitted = log[r, LOG_COLS + HELD], log[r, LOG_COLS + ADMITTED]
        depth, cap = log[r, LOG_COLS + DEPTH], log[r, LOG_COLS + CAPACITY]
        queued = 0
        if mode == DERIVE_HOLD:
            held += arrived
        elif mode == DERIVE_EVICT:
            dropped += arrived
            admitted += arrived
        elif mode == DERIVE_DROP or mode == DERIVE_SAMPLE:
            room = arrived if cap == UNBOUNDED_CAPACITY else max(0, cap - depth)
            if mode == DERIVE_DROP:
                queued = min(arrived, room)
                dropped += arrived - queued
            else:
                # (the capacity is the row's: the loop above found them equal)
                free = min(arrived, max(0, _sample_threshold(v, fcfg) - depth), room)
                rest = arrived - free
                passed = (log[r, LOG_COUNTER] + rest) // cfg[C_SAMPLE_EVERY]
                q = min(passed, room - free)
                sampled += rest - passed
                dropped += passed - q
                queued = free + q
            admitted += queued
        # (a binned run writes each change of the depth: its bin's extremes take it in)
        same = (v[ATTEMPTS] == log[r, LOG_COLS + ATTEMPTS] + arrived and v[DROPPED] == dropped
                and v[SAMPLED_OUT] == sampled and v[HELD] == held and v[ADMITTED] == admitted
                and v[DEPTH] == depth + queued and (cfg[C_BIN] == 1 or queued == 0))
    if not same:
        _write_row(v, log, env, cfg, i)


@_inline
def _write_row(v, log, env, cfg, i):
    """The row of tick ``i`` in the series log: :func:`_record` once it found the state differs
    from what the last row predicts (called directly where that is known)."""
    r = v[N_ROWS] - 1
    k = cfg[C_BIN]
    if k == 1:  # per tick: a new row for each tick that writes
        b = i
        r += 1
        v[N_ROWS] = r + 1
    else:  # bins: the row of the bin, and its extremes (not inlined: it only runs long runs)
        b = i // k
        r = _binned_row(v, log, env, i, k, b, r)
    log[r, LOG_BIN] = b
    log[r, LOG_TICK] = i
    log[r, LOG_COUNTER] = v[SAMPLE_COUNTER]
    for c in range(N_COLUMNS):
        log[r, LOG_COLS + c] = v[c]


@_jit
def _discard_expired(v, cfg, buf, now, dt, timeout):
    """drop_expired, at a dequeue at time ``now`` (s): the batches at the end the order takes from
    whose client has left (``now - gen * dt > timeout``) are discarded, as ``expired``. Not
    inlined into the kernel: it only runs with ``drop_expired``."""
    size = buf.shape[1]
    while v[DEPTH] > 0:
        lifo = _lifo_now(v, cfg)
        j = v[BUF_HEAD]
        if lifo:
            j += v[BUF_LEN] - 1
            if j >= size:
                j -= size
        if not now - buf[0, j] * dt > timeout:
            break
        v[EXPIRED] += buf[1, j]
        v[DEPTH] -= buf[1, j]
        buf[1, j] = 0
        v[BUF_LEN] -= 1
        if not lifo:
            v[BUF_HEAD] = 0 if j + 1 == size else j + 1


@_jit
def _binned_row(v, log, env, i, k, b, r):
    """_record's row for tick ``i`` in bin ``b`` of ``k`` ticks (the last row is ``r``): the last
    row if it is of the same bin, else a new one; its env takes the tick's levels in."""
    depth, mem, cap = v[DEPTH], v[DEPTH] + v[IN_SERVICE], v[CAPACITY]
    if log[r, LOG_BIN] != b:
        r += 1
        if i > b * k:  # the bin's earlier ticks ended in the levels of the row before
            d0 = log[r - 1, LOG_COLS + DEPTH]
            m0 = d0 + log[r - 1, LOG_COLS + IN_SERVICE]
            c0 = log[r - 1, LOG_COLS + CAPACITY]
            env[r, 0], env[r, 1], env[r, 2] = min(depth, d0), min(mem, m0), min(cap, c0)
            env[r, 3], env[r, 4], env[r, 5] = max(depth, d0), max(mem, m0), max(cap, c0)
        else:
            env[r, 0], env[r, 1], env[r, 2] = depth, mem, cap
            env[r, 3], env[r, 4], env[r, 5] = depth, mem, cap
        v[N_ROWS] = r + 1
    else:  # the same bin: its last state, and its extremes
        env[r, 0], env[r, 1], env[r, 2] = (min(env[r, 0], depth), min(env[r, 1], mem),
                                           min(env[r, 2], cap))
        env[r, 3], env[r, 4], env[r, 5] = (max(env[r, 3], depth), max(env[r, 4], mem),
                                           max(env[r, 5], cap))
    return r


# -- rings -----------------------------------------------------------------------------------------
@_inline
def _buf_push(v, buf, gen, n):
    """Append ``n`` messages of tick ``gen`` to the buffer (merged into the tail if same tick)."""
    size = buf.shape[1]
    if v[BUF_LEN] > 0:
        tail = v[BUF_HEAD] + v[BUF_LEN] - 1
        if tail >= size:
            tail -= size
        if buf[0, tail] == gen:
            buf[1, tail] += n
            return
    if v[BUF_LEN] == size:
        v[RING_FULL] = 1
        return
    j = v[BUF_HEAD] + v[BUF_LEN]
    if j >= size:
        j -= size
    buf[0, j] = gen
    buf[1, j] = n
    v[BUF_LEN] += 1


@_inline
def _buf_pop(v, buf, n):
    """Remove ``n`` messages from the head of the buffer (the reference's ``_pop_head``)."""
    v[DEPTH] -= n
    size = buf.shape[1]
    while n > 0:
        h = v[BUF_HEAD]
        take = min(n, buf[1, h])
        buf[1, h] -= take
        n -= take
        if buf[1, h] == 0:
            v[BUF_HEAD] = 0 if h + 1 == size else h + 1
            v[BUF_LEN] -= 1


@_inline
def _put_after_tail(buf, head, blen, gen, n):
    """A batch of ``n`` messages of tick ``gen`` in the slot after the ring's tail, its head and
    length kept in registers by the caller (who knows the slot is free); the new length."""
    j = head + blen
    if j >= buf.shape[1]:
        j -= buf.shape[1]
    buf[0, j] = gen
    buf[1, j] = n
    return blen + 1


@_inline
def _pop_owed(buf, head, blen, n):
    """:func:`_buf_pop` of ``n`` messages on a head and length held in registers (the depth is
    the caller's); returns the new ``(head, blen)``."""
    size = buf.shape[1]
    while n > 0:
        c = buf[1, head]
        take = min(n, c)
        buf[1, head] = c - take
        n -= take
        if c == take:
            head = 0 if head + 1 == size else head + 1
            blen -= 1
    return head, blen


@_inline
def _hold_push(v, hold, gen, n, front):
    size = hold.shape[1]
    if v[HOLD_LEN] == size:
        v[RING_FULL] = 1
        return
    if front:
        j = v[HOLD_HEAD] - 1
        if j < 0:
            j += size
        v[HOLD_HEAD] = j
    else:
        j = v[HOLD_HEAD] + v[HOLD_LEN]
        if j >= size:
            j -= size
    hold[0, j] = gen
    hold[1, j] = n
    v[HOLD_LEN] += 1


@_inline
def _retry_push(v, rq, k, due, gen, n):
    size = rq.shape[2]
    head, length = RQ + 2 * k, RQ + 2 * k + 1
    if v[length] == size:
        v[RING_FULL] = 1
        return
    j = v[head] + v[length]
    if j >= size:
        j -= size
    rq[k, 0, j] = due
    rq[k, 1, j] = gen
    rq[k, 2, j] = n
    v[length] += 1


# -- the verbs a strategy uses (same names as in reference.ReferenceEngine) ------------------------
@_inline
def _room(v):
    if v[DOWN]:
        return 0
    if v[CAPACITY] == UNBOUNDED_CAPACITY:
        return ENDLESS_ROOM
    return max(0, v[CAPACITY] - v[DEPTH])


@_inline
def _crash(v, cfg, wi, wf, crash_ticks):
    v[LOST] += v[DEPTH] + v[IN_SERVICE]
    v[DEPTH] = 0
    v[IN_SERVICE] = 0
    v[BUF_HEAD] = 0
    v[BUF_LEN] = 0
    for w in range(wi.shape[1]):
        wi[0, w] = 0    # not busy
        wf[0, w] = 0.0  # no work left
    v[DOWN] = 1
    v[UP_TICK] = v[TICK] + cfg[C_RESTART]
    v[CRASHES] += 1
    if v[FIRST_CRASH] < 0:
        v[FIRST_CRASH] = v[TICK]
    if v[N_CRASH_TICKS] < crash_ticks.size:  # the first MAX_CRASH_TICKS of them
        crash_ticks[v[N_CRASH_TICKS]] = v[TICK]
    v[N_CRASH_TICKS] += 1


@_inline
def _enqueue(v, cfg, buf, wait_hist, wi, wf, crash_ticks, gen, n):
    if n <= 0:
        return
    if v[DOWN]:
        v[LOST] += n
        return
    if v[DEPTH] + v[IN_SERVICE] + n > cfg[C_MAX_IN_MEMORY]:
        _crash(v, cfg, wi, wf, crash_ticks)
        v[LOST] += n
        return
    _buf_push(v, buf, gen, n)
    v[DEPTH] += n
    v[ADMITTED] += n
    w = v[TICK] - gen
    if w < WAIT_EXACT:
        wait_hist[w] += n
    else:
        wait_hist[WAIT_EXACT + (np.float64(w).view(np.int64) >> _SHIFT) - _WAIT_LOW] += n
    v[MAX_WAIT] = max(v[MAX_WAIT], w)
    v[MAX_DEPTH] = max(v[MAX_DEPTH], v[DEPTH])
    v[PEAK] = max(v[PEAK], v[DEPTH] + v[IN_SERVICE])


@_inline
def _evict_oldest(v, buf, n):
    _buf_pop(v, buf, n)
    v[DROPPED] += n


@_inline
def _hold(v, hold, gen, n):
    if n > 0:
        front = v[FRONT] != 0  # a held batch offered again goes back to the front
        _hold_push(v, hold, gen, n, front)
        if front:
            v[REHELD] = 1
        v[HELD] += n


@_inline
def _reject(v, cfg, rq, gen, n, attempt):
    if n <= 0:
        return
    v[REJECTED] += n
    if attempt < cfg[C_RETRIES]:
        _retry_push(v, rq, attempt, v[TICK] + cfg[C_BACKOFF + attempt], gen, n)
        v[RETRY_PENDING] += n
    else:
        v[SHED] += n


@_inline
def _sample(v, n, every):
    total = v[SAMPLE_COUNTER] + n
    passed = total // every
    v[SAMPLE_COUNTER] = total % every
    v[SAMPLED_OUT] += n - passed
    return passed


@_inline
def _overflow(v, cfg, hold, rq, gen, n, attempt):
    """What the rule does with messages that found no room: drop, hold or reject them."""
    kind = cfg[C_OVERFLOW]
    if kind == DROP:
        if n > 0:
            v[DROPPED] += n
    elif kind == HOLD:
        _hold(v, hold, gen, n)
    else:
        _reject(v, cfg, rq, gen, n, attempt)


# -- admission: the generic rule -------------------------------------------------------------------
@_inline
def _admit(v, cfg, fcfg, buf, hold, rq, wait_hist, wi, wf, crash_ticks, gen, n, attempt):
    """The strategy's decision on one batch, from the rule's knobs.

    One sequence covers every built-in ``admit``: what fits goes in (below the sampling threshold
    when sampling); the rest goes through the 1-in-N counter (sampling) and evicts as many of the
    oldest (``evict_oldest``); what now fits goes in; what is left overflows. Without sampling or
    eviction the second hand-over is always empty (the first one filled the buffer, or the server
    is down), so this is exactly ``k = min(n, room); enqueue(k); overflow(n - k)``.
    """
    limit = _room(v)
    if cfg[C_SAMPLING]:  # Sample.admit: free admission only below the threshold
        limit = min(max(0, _sample_threshold(v, fcfg) - v[DEPTH]), limit)
    k = min(n, limit)
    rest = n - k
    for second in range(2):  # two hand-overs from one call site (each site is a compiled copy)
        if second:
            if cfg[C_SAMPLING]:
                rest = _sample(v, rest, cfg[C_SAMPLE_EVERY])
            elif cfg[C_EVICT] and rest:  # DropOldest.admit: each of the rest pushes out the head
                _evict_oldest(v, buf, min(v[DEPTH], rest))
            k = min(rest, _room(v))
            rest -= k
        _enqueue(v, cfg, buf, wait_hist, wi, wf, crash_ticks, gen, k)
    _overflow(v, cfg, hold, rq, gen, rest, attempt)


@_inline
def _offer(v, cfg, fcfg, buf, hold, rq, wait_hist, wi, wf, crash_ticks, gen, n, attempt):
    if v[DOWN]:
        v[LOST] += n
        v[LOST_DOWN] += n
    else:
        _admit(v, cfg, fcfg, buf, hold, rq, wait_hist, wi, wf, crash_ticks, gen, n, attempt)


# -- service ---------------------------------------------------------------------------------------
@_inline
def _serve(v, fv, cfg, fcfg, buf, wi, wf, rec_gen, rec_t, lat_hist, speed, consumers, pool, i,
           a0):
    """Step 4 of a tick: completions and starts in time order across workers (reference._serve)."""
    # wi[0, w]: busy, wi[1, w]: gen tick; wf[0, w]: work left (s), wf[1, w]: start time (s),
    # wf[2, w]: work done this tick (s), the worker's clock
    dt, mean_work, timeout = fcfg[F_DT], fcfg[F_MEAN_WORK], fcfg[F_TIMEOUT]
    sp = _at(speed, i - a0)
    t = i * dt
    n_workers = wi.shape[1]
    if sp <= 0.0:
        for w in range(n_workers):
            if wi[0, w]:
                fv[0] += dt
        return
    active = _at(consumers, i - a0)
    budget = dt * sp
    record_size = cfg[C_RECORD_SIZE]
    drop_expired = cfg[C_DROP_EXPIRED] != 0
    size = buf.shape[1]
    # the workers' clocks start at 0 (a loop here would become a call to memset)
    if n_workers == 1:
        wf[2, 0] = 0.0
        # one worker and nothing happens: it works on (the loop below would find no event, and
        # then do exactly this; an idle worker adds 0.0 / sp to the busy time: nothing)
        if wi[0, 0]:
            if wf[0, 0] > budget:
                wf[0, 0] -= budget
                fv[0] += dt
                return
        elif active <= 0 or v[DEPTH] == 0:
            return
        _serve_one(v, fv, cfg, buf, wi, wf, rec_gen, rec_t, lat_hist, pool, t, sp, budget, dt,
                   mean_work, timeout, active > 0, record_size, drop_expired)
        return
    for w in range(n_workers):
        wf[2, w] = 0.0
    while True:
        # the next event: the worker that frees first, ties to the lowest number
        w = -1
        at = 0.0
        for k in range(n_workers):
            if wi[0, k]:
                if wf[0, k] > budget - wf[2, k]:
                    continue  # still busy at the end of the tick
                free_at = wf[2, k] + wf[0, k]
            elif k < active and v[DEPTH] > 0:
                free_at = wf[2, k]
            else:
                continue
            if w < 0 or free_at < at:
                w = k
                at = free_at
        if w < 0:
            break
        if wi[0, w]:  # finish its message
            wf[2, w] = at
            wf[0, w] = 0.0
            wi[0, w] = 0
            v[IN_SERVICE] -= 1
            done = t + at / sp
            latency = done - wi[1, w] * dt
            if latency > timeout:  # its client has left: the work was wasted
                v[TIMED_OUT] += 1
                fv[1] += done - wf[1, w]
            else:
                v[DELIVERED] += 1
            lat_hist[_lat_bin(latency)] += 1
            r = v[REC_POS]  # the records are a ring of record_size
            rec_gen[r] = wi[1, w]
            rec_t[0, r] = wf[1, w]
            rec_t[1, r] = done
            v[REC_POS] = 0 if r + 1 == record_size else r + 1
            v[N_RECORDS] += 1
        if w < active and drop_expired:  # discard what its client has left
            _discard_expired(v, cfg, buf, t + wf[2, w] / sp, dt, timeout)
        if w < active and v[DEPTH] > 0:  # and take the next one at once
            if _lifo_now(v, cfg):
                j = v[BUF_HEAD] + v[BUF_LEN] - 1
                if j >= size:
                    j -= size
                wi[1, w] = buf[0, j]
                buf[1, j] -= 1
                v[DEPTH] -= 1
                if buf[1, j] == 0:
                    v[BUF_LEN] -= 1
            else:
                wi[1, w] = buf[0, v[BUF_HEAD]]
                _buf_pop(v, buf, 1)
            v[IN_SERVICE] += 1
            wi[0, w] = 1
            wf[1, w] = t + wf[2, w] / sp
            if pool.size == 0:  # the reference's _work()
                wf[0, w] = mean_work
            else:
                p = v[POOL_INDEX]  # pool[p % size]; the pool is rarely shorter than the run
                wf[0, w] = pool[p if p < pool.size else p % pool.size] * mean_work
                v[POOL_INDEX] += 1
    for w in range(n_workers):
        if wi[0, w]:
            wf[0, w] -= budget - wf[2, w]
            fv[0] += dt
        else:
            fv[0] += wf[2, w] / sp


@_inline
def _serve_one(v, fv, cfg, buf, wi, wf, rec_gen, rec_t, lat_hist, pool, t, sp, budget, dt,
               mean_work, timeout, takes, record_size, drop_expired):
    """:func:`_serve`'s loop for one worker (``takes``: it is among the active ones), when
    something happens in the tick: the same operations in the same order, on local copies.

    The general loop reads and writes every counter, the buffer's head and the worker through
    the state arrays at each step; numba cannot keep them in registers there (the arrays might
    overlap, as far as it knows), and in a busy tick that cost more than the work. Here they are
    loaded once, kept in locals through the tick's completions and starts, and stored back at the
    end (and around :func:`_discard_expired`, which works on ``v``)."""
    size = buf.shape[1]
    order, lifo_depth = cfg[C_ORDER], cfg[C_LIFO_DEPTH]
    busy, gen, rem, begun = wi[0, 0] != 0, wi[1, 0], wf[0, 0], wf[1, 0]
    clock = 0.0  # the worker's clock: work done this tick (s)
    depth, in_service, head, blen = v[DEPTH], v[IN_SERVICE], v[BUF_HEAD], v[BUF_LEN]
    delivered, timed_out = v[DELIVERED], v[TIMED_OUT]
    rec_pos, n_records, pool_index = v[REC_POS], v[N_RECORDS], v[POOL_INDEX]
    while True:
        # the next event: the worker finishes its message, or takes one
        if busy:
            if rem > budget - clock:
                break  # still busy at the end of the tick
            at = clock + rem
        elif takes and depth > 0:
            at = clock
        else:
            break
        if busy:  # finish its message
            clock = at
            rem = 0.0
            busy = False
            in_service -= 1
            done = t + at / sp
            latency = done - gen * dt
            if latency > timeout:  # its client has left: the work was wasted
                timed_out += 1
                fv[1] += done - begun
            else:
                delivered += 1
            lat_hist[_lat_bin(latency)] += 1
            rec_gen[rec_pos] = gen  # the records are a ring of record_size
            rec_t[0, rec_pos] = begun
            rec_t[1, rec_pos] = done
            rec_pos = 0 if rec_pos + 1 == record_size else rec_pos + 1
            n_records += 1
        if takes and drop_expired:  # discard what its client has left
            v[DEPTH], v[BUF_HEAD], v[BUF_LEN] = depth, head, blen
            _discard_expired(v, cfg, buf, t + clock / sp, dt, timeout)
            depth, head, blen = v[DEPTH], v[BUF_HEAD], v[BUF_LEN]
        if takes and depth > 0:  # and take the next one at once
            if order == ORDER_LIFO or (order == ORDER_ADAPTIVE and depth > lifo_depth):
                j = head + blen - 1
                if j >= size:
                    j -= size
                gen = buf[0, j]
                buf[1, j] -= 1
                depth -= 1
                if buf[1, j] == 0:
                    blen -= 1
            else:  # _buf_pop of one message
                gen = buf[0, head]
                depth -= 1
                n = 1
                while n > 0:
                    take = min(n, buf[1, head])
                    buf[1, head] -= take
                    n -= take
                    if buf[1, head] == 0:
                        head = 0 if head + 1 == size else head + 1
                        blen -= 1
            in_service += 1
            busy = True
            begun = t + clock / sp
            if pool.size == 0:  # the reference's _work()
                rem = mean_work
            else:
                p = pool_index  # pool[p % size]; the pool is rarely shorter than the run
                rem = pool[p if p < pool.size else p % pool.size] * mean_work
                pool_index += 1
    if busy:
        rem -= budget - clock
        fv[0] += dt
    else:
        fv[0] += clock / sp
    wi[0, 0], wi[1, 0], wf[0, 0], wf[1, 0], wf[2, 0] = busy, gen, rem, begun, clock
    v[DEPTH], v[IN_SERVICE], v[BUF_HEAD], v[BUF_LEN] = depth, in_service, head, blen
    v[DELIVERED], v[TIMED_OUT] = delivered, timed_out
    v[REC_POS], v[N_RECORDS], v[POOL_INDEX] = rec_pos, n_records, pool_index


# -- a tick, and a run of ticks --------------------------------------------------------------------
@_inline
def _step(v, fv, buf, hold, rq, wi, wf, rec_gen, rec_t, log, env, wait_hist, lat_hist,
          crash_ticks, arrivals, speed, consumers, pool, cfg, fcfg, i, a0):
    # 1. restart
    if v[DOWN] and i >= v[UP_TICK]:
        v[DOWN] = 0
    # 2. arrivals
    new = arrivals[i - a0]
    v[OFFERED] += new
    v[ATTEMPTS] += new
    # 3. admission, oldest first: the held backlog (unless the server is down; until a batch is
    #    held again), then the due retries of each attempt, then the new messages. One call site
    #    for _offer, so that it can be inlined once.
    backlog = not v[DOWN]
    v[REHELD] = 0
    k = 0            # the retry FIFO being drained
    fresh = new > 0  # the new batch, not offered yet
    size_h, size_r = hold.shape[1], rq.shape[2]
    while True:
        if backlog and (v[HOLD_LEN] == 0 or v[REHELD]):
            backlog = False  # done with it: what is held from now on waits for the next tick
        if backlog:
            h = v[HOLD_HEAD]
            gen, n, attempt = hold[0, h], hold[1, h], FIRST_TRY
            v[HOLD_HEAD] = 0 if h + 1 == size_h else h + 1
            v[HOLD_LEN] -= 1
            v[HELD] -= n
            v[FRONT] = 1  # if held again, it goes back to the front
        elif k < cfg[C_RETRIES]:
            head, length = RQ + 2 * k, RQ + 2 * k + 1
            if v[length] == 0 or rq[k, 0, v[head]] > i:
                k += 1  # nothing (more) due in this FIFO
                continue
            h = v[head]
            gen, n, attempt = rq[k, 1, h], rq[k, 2, h], k + 1
            v[head] = 0 if h + 1 == size_r else h + 1
            v[length] -= 1
            v[RETRY_PENDING] -= n
            v[ATTEMPTS] += n
        elif fresh:
            gen, n, attempt = i, new, FIRST_TRY
            fresh = False
        else:
            break
        _offer(v, cfg, fcfg, buf, hold, rq, wait_hist, wi, wf, crash_ticks, gen, n, attempt)
        v[FRONT] = 0
    # 4. service
    if not v[DOWN]:
        _serve(v, fv, cfg, fcfg, buf, wi, wf, rec_gen, rec_t, lat_hist, speed, consumers, pool,
               i, a0)
    # 5. record: the columns are the first scalars (state.SCALARS)
    _record(v, log, env, cfg, fcfg, i)


@_inline
def _quiet(v, fv, buf, hold, rq, wi, wf, log, env, wait_hist, arrivals, speed, consumers, cfg,
           fcfg, start, stop, a0):
    """Advance over the *quiet* ticks from ``start`` on; return the first tick that is not quiet.

    A tick is quiet when nothing in it can change the buffer, a worker or a ring: the server is up,
    nobody holds a backlog, no retry is due, no worker finishes or starts a message, and what
    arrives (if anything) meets a full buffer whose rule only counts it (dropped, or sampled out
    then dropped: overflow ``DROP``, no eviction). Such a tick only adds to counters, takes
    ``dt * speed`` off each busy worker's work and adds ``dt`` to the busy time: exactly the
    operations :func:`_step` would do, in the same order, on local copies, leaving out those that
    change nothing (adding ``0.0``; ``budget - 0.0`` is ``budget``). Sampling at or above its
    threshold, a batch of which none passes the 1-in-N is quiet too (it only counts). The loop
    below also takes ticks whose arrivals are queued behind busy workers, evict for their slot or
    are held or rejected at a full buffer. A tick writes nothing to the log unless it rejects
    (or, in a binned run, changes the depth): its state is what the last row predicts
    (bpsim.state.derive). With
    all workers idle and nothing waiting, ticks without arrivals are skipped in a scan of
    ``arrivals``. This is what makes the cost follow events rather than ticks.
    """
    n_workers = wi.shape[1]
    dt = fcfg[F_DT]
    # the first tick a retry is due (retries are only pushed by _step, so this holds throughout)
    due = stop
    for q in range(cfg[C_RETRIES]):
        if v[RQ + 2 * q + 1] > 0:
            due = min(due, rq[q, 0, v[RQ + 2 * q]])
    countable = cfg[C_OVERFLOW] == DROP and not cfg[C_EVICT]
    sampling = cfg[C_SAMPLING] != 0
    every = cfg[C_SAMPLE_EVERY]
    depth, cap = v[DEPTH], v[CAPACITY]
    full = cap != UNBOUNDED_CAPACITY and depth >= cap
    # block against a full buffer: the held batch offered again is held again where it was, and
    # what arrives joins the backlog (only held grows; the log predicts it: DERIVE_HOLD)
    holding = _holds_quietly(cfg) and full
    if v[HOLD_LEN] > 0 and not holding:
        return start
    # drop_oldest at capacity: each arrival evicts one of the oldest and takes its slot (the
    # depth stays; dropped and admitted grow; the log predicts them: DERIVE_EVICT)
    evicting = _evicts_quietly(cfg) and cap != UNBOUNDED_CAPACITY and depth == cap
    # drop_newest, unbounded: what fits is queued, if memory allows and no worker takes it this
    # tick; the rest is dropped (the log predicts both: DERIVE_DROP; a binned run writes the
    # depth's change, for its bin's extremes)
    queuing = countable and not sampling
    qroom = ENDLESS_ROOM if cap == UNBOUNDED_CAPACITY else max(0, cap - depth)
    max_memory = cfg[C_MAX_IN_MEMORY]
    # shed against a full buffer: every batch offered, new or due to retry, is rejected (and
    # scheduled to retry, or shed); the tick writes its row
    rejecting = _rejects_quietly(cfg) and full
    # sampling at or above its threshold: a batch of which none passes the 1-in-N only counts
    sq = sampling and cap != UNBOUNDED_CAPACITY and depth >= _sample_threshold(v, fcfg)
    idle = depth == 0
    for w in range(n_workers):
        if wi[0, w]:
            idle = False
    offered, attempts, dropped, held = v[OFFERED], v[ATTEMPTS], v[DROPPED], v[HELD]
    admitted = v[ADMITTED]
    sampled_out, counter = v[SAMPLED_OUT], v[SAMPLE_COUNTER]
    busy_s = fv[0]
    last = stop if rejecting else min(stop, due)  # (rejecting takes the due retries too)
    retries = cfg[C_RETRIES]
    size_r = rq.shape[2]
    one = n_workers == 1  # then the worker's work left is kept in a register
    busy0 = wi[0, 0] != 0
    rem = wf[0, 0]
    i = start
    steady = speed.shape[0] == 1 and speed[0] > 0.0
    per_tick = cfg[C_BIN] == 1  # a row per tick that writes (not bins)
    while i < last:
        if one and busy0 and steady and (queuing and full or holding or evicting
                                         or sampling and (countable and full or sq)):
            # the commonest stretches of the headline: the one worker busy at a steady speed, a
            # buffer at capacity (or sampling above its threshold) whose rule only counts what
            # arrives, holds it (block) or evicts for it (drop_oldest), or samples it and queues
            # what passes the 1-in-N while there is room. Each tick the worker
            # works on, until it would finish: the same operations as the loop below, in the
            # same order, without the tests that cannot fail here
            budget = dt * speed[0]
            # drop_oldest's buffer head and length, and the messages it admitted with a wait of
            # 0, in registers through the stretch (stored back after it)
            head, blen, size, wait0, owe = v[BUF_HEAD], v[BUF_LEN], buf.shape[1], 0, 0
            max_depth, peak = v[MAX_DEPTH], v[PEAK]
            while i < last:
                if rem <= budget:
                    break
                new = arrivals[i - a0]
                if evicting:
                    # (the ring full of batches whose pops are owed: the stretch ends, and its
                    # pops are made, before this tick)
                    if new > depth or blen >= size - 1:
                        break
                elif sampling:
                    total = counter + new
                    # a message passes the 1-in-N into a buffer with room: it is queued below
                    # (the log predicts it: DERIVE_SAMPLE), unless the run is binned (then the
                    # change of depth writes its row), memory would overflow or the ring is full
                    if total >= every and not (countable and full) and (
                            not per_tick or blen == size or depth + v[IN_SERVICE]
                            + min(total // every, max(0, cap - depth)) > max_memory):
                        break
                rem -= budget
                busy_s += dt
                offered += new
                attempts += new
                if holding:
                    if new > 0:
                        _hold_push(v, hold, i, new, False)
                        held += new
                elif evicting:
                    # _buf_push(i, new) after _buf_pop(new): the depth stays where it is. The
                    # pops are owed and made together (_buf_pop of ``owe``) when the stretch ends
                    # (at the latest when the ring would fill): a FIFO pushed at one end and
                    # popped at the other ends the same, batch for batch and slot for slot,
                    # whether its pops come between the pushes or after them (each pop found
                    # enough messages: ``new`` is at most the depth). The tail is of an earlier
                    # tick (no merge) and the slot after it free, so the batch is written there
                    # whether or not it is empty and counted only if it is not: no branch on the
                    # Poisson count, which would often be mispredicted
                    j = head + blen
                    if j >= size:
                        j -= size
                    buf[0, j] = i
                    buf[1, j] = new
                    blen += new > 0
                    owe += new
                    dropped += new
                    admitted += new
                    wait0 += new
                elif sampling:
                    if total < every:
                        counter = total
                        sampled_out += new
                    else:
                        passed = total // every
                        counter = total % every
                        sampled_out += new - passed
                        q = min(passed, max(0, cap - depth))  # (what fits: _enqueue, wait 0)
                        dropped += passed - q
                        if q > 0:  # (the tail is of an earlier tick: no merge)
                            blen = _put_after_tail(buf, head, blen, i, q)
                            depth += q
                            admitted += q
                            wait0 += q
                            max_depth = max(max_depth, depth)
                            peak = max(peak, depth + v[IN_SERVICE])
                            full = depth >= cap
                else:
                    dropped += new
                i += 1
            if owe > 0:
                head, blen = _pop_owed(buf, head, blen, owe)
            v[BUF_HEAD], v[BUF_LEN], v[DEPTH] = head, blen, depth
            v[MAX_DEPTH], v[PEAK] = max_depth, peak
            wait_hist[0] += wait0
            if i == last:
                break
        if one and busy0 and steady and queuing and not full and per_tick:
            # unbounded (or drop_newest below capacity), its one worker busy at a steady speed:
            # each tick what arrives is queued (a new batch; no row: the log predicts it), until
            # the worker would finish, the buffer fills or memory would overflow. The loop
            # below's operations in its order, with the buffer's counters in registers
            budget = dt * speed[0]
            in_service = v[IN_SERVICE]
            head, blen, size = v[BUF_HEAD], v[BUF_LEN], buf.shape[1]
            max_depth, peak = v[MAX_DEPTH], v[PEAK]
            while i < last:
                if rem <= budget:
                    break
                new = arrivals[i - a0]
                q = min(new, qroom)
                if new > 0 and depth + in_service + q > max_memory:
                    break
                rem -= budget
                busy_s += dt
                offered += new
                attempts += new
                dropped += new - q
                if q > 0:  # _enqueue with a wait of 0
                    tail = head + blen - 1
                    if tail >= size:
                        tail -= size
                    if blen > 0 and buf[0, tail] == i:
                        buf[1, tail] += q
                    elif blen == size:
                        v[RING_FULL] = 1
                    else:
                        blen = _put_after_tail(buf, head, blen, i, q)
                    depth += q
                    admitted += q
                    wait_hist[0] += q
                    max_depth = max(max_depth, depth)
                    peak = max(peak, depth + in_service)
                    qroom -= q
                i += 1
                if qroom == 0:
                    full = True
                    break
            v[DEPTH], v[BUF_LEN] = depth, blen
            v[MAX_DEPTH], v[PEAK] = max_depth, peak
            if i == last:
                break
            if full:  # it filled the buffer: on in the stretch of a full buffer, above
                continue
        new = arrivals[i - a0]
        # (the tests that do not read the count come first: a branch on a Poisson count is
        # mispredicted often, and its cost was most of a quiet tick's)
        if idle and not rejecting and new == 0:  # nothing to serve: on to the next arrival
            i += 1
            while i < last and arrivals[i - a0] == 0:
                i += 1
            continue
        if not (countable and full or holding or rejecting) and new > 0 and not (
                evicting and new <= depth
                or queuing and depth + v[IN_SERVICE] + min(new, qroom) <= max_memory
                or sq and counter + new < every
                # (or some pass the 1-in-N and are queued, if memory allows; with a message
                # already waiting, so that an idle worker would take one and end the stretch)
                or sq and depth > 0 and depth + v[IN_SERVICE] + min(
                    (counter + new) // every, max(0, cap - depth)) <= max_memory):
            break
        # 4. service, decided first: a worker that finishes or starts a message ends the stretch
        takes = depth > 0 or queuing and new > 0 and qroom > 0  # something to take this tick
        sp = _at(speed, i - a0)
        if sp > 0.0:
            budget = dt * sp
            if one:
                if busy0:
                    if rem <= budget:  # would finish this tick
                        break
                    rem -= budget
                    busy_s += dt
                elif takes and _at(consumers, i - a0) > 0:
                    break  # would take a message
            else:
                active = _at(consumers, i - a0)
                moves = False
                for w in range(n_workers):
                    if wi[0, w]:
                        if wf[0, w] <= budget:  # would finish this tick (its clock starts at 0)
                            moves = True
                    elif w < active and takes:  # would take a message
                        moves = True
                if moves:
                    break
                for w in range(n_workers):  # every busy worker works the whole tick
                    if wi[0, w]:
                        wf[0, w] -= budget
                        busy_s += dt
        elif one:
            if busy0:
                busy_s += dt
        else:
            for w in range(n_workers):
                if wi[0, w]:
                    busy_s += dt
        # 2.-3. arrivals (no branch on new > 0 where adding 0 is the same: Poisson counts
        # mispredict), then 5. the row, for a tick that rejects (the retries change) or, in a
        # binned run, changes the depth (the others are what the log predicts)
        offered += new
        attempts += new
        row = False
        if holding:
            if new > 0:
                _hold_push(v, hold, i, new, False)
                held += new
        elif evicting:
            if new > 0:
                _buf_pop(v, buf, new)
                _buf_push(v, buf, i, new)
                v[DEPTH] += new
                dropped += new
                admitted += new
                wait_hist[0] += new
        elif rejecting:  # the due retries of each attempt, then the new batch, rejected
            v[TICK] = i
            q = 0
            fresh = new > 0
            while True:
                if q < retries:
                    head, length = RQ + 2 * q, RQ + 2 * q + 1
                    if v[length] == 0 or rq[q, 0, v[head]] > i:
                        q += 1
                        continue
                    h = v[head]
                    gen, n, attempt = rq[q, 1, h], rq[q, 2, h], q + 1
                    v[head] = 0 if h + 1 == size_r else h + 1
                    v[length] -= 1
                    v[RETRY_PENDING] -= n
                    attempts += n
                elif fresh:
                    gen, n, attempt = i, new, FIRST_TRY
                    fresh = False
                else:
                    break
                _reject(v, cfg, rq, gen, n, attempt)
                row = True  # (a tick that rejects nothing changes nothing: the log predicts it)
        elif queuing:
            q = min(new, qroom)
            dropped += new - q
            if q > 0:  # _enqueue with a wait of 0 (the memory was checked)
                _buf_push(v, buf, i, q)
                v[DEPTH] += q
                admitted += q
                wait_hist[0] += q
                v[MAX_DEPTH] = max(v[MAX_DEPTH], v[DEPTH])
                v[PEAK] = max(v[PEAK], v[DEPTH] + v[IN_SERVICE])
                depth = v[DEPTH]
                qroom -= q
                full = qroom == 0
                idle = False
                row = not per_tick  # (a binned run writes the change of depth for its bin)
        elif sampling:
            total = counter + new
            if total < every:  # (most ticks: no division, whose latency the counter waits on)
                passed = 0
                counter = total
            else:
                passed = total // every
                counter = total % every
            sampled_out += new - passed
            # what passes is queued as far as there is room (Sample.admit's second hand-over:
            # _enqueue with a wait of 0, the memory checked above), the rest dropped
            q = min(passed, max(0, cap - depth)) if sq else 0
            dropped += passed - q
            if q > 0:
                _buf_push(v, buf, i, q)
                v[DEPTH] += q
                admitted += q
                wait_hist[0] += q
                v[MAX_DEPTH] = max(v[MAX_DEPTH], v[DEPTH])
                v[PEAK] = max(v[PEAK], v[DEPTH] + v[IN_SERVICE])
                depth = v[DEPTH]
                full = depth >= cap
                idle = False
                row = not per_tick
        else:
            dropped += new
        if row:  # the rejected count changed (or a binned depth): the row differs, no compare
            v[OFFERED], v[ATTEMPTS], v[ADMITTED] = offered, attempts, admitted
            v[DROPPED], v[SAMPLED_OUT], v[HELD] = dropped, sampled_out, held
            v[SAMPLE_COUNTER] = counter  # (the row keeps the 1-in-N counter too)
            _write_row(v, log, env, cfg, i)
        i += 1
    if one:
        wf[0, 0] = rem
    v[OFFERED], v[ATTEMPTS], v[DROPPED], v[HELD] = offered, attempts, dropped, held
    v[ADMITTED] = admitted
    v[SAMPLED_OUT] = sampled_out
    v[SAMPLE_COUNTER] = counter
    fv[0] = busy_s
    if n_workers == 1:
        wf[2, 0] = 0.0  # the worker's clock, as _serve leaves it after a quiet tick
    else:
        for w in range(n_workers):
            wf[2, w] = 0.0
    return i


@_jit
def _run(v, fv, buf, hold, rq, wi, wf, rec_gen, rec_t, log, env, wait_hist, lat_hist,
         crash_ticks, arrivals, speed, consumers, pool, cfg, fcfg, a0, start, stop):
    """Ticks ``start .. stop-1``; the per-tick inputs cover ticks from ``a0`` on."""
    i = start
    countable = cfg[C_OVERFLOW] == DROP and not cfg[C_EVICT]
    sampling = cfg[C_SAMPLING] != 0 and v[CAPACITY] != UNBOUNDED_CAPACITY
    threshold = _sample_threshold(v, fcfg)  # capacity changes only between calls
    holds = _holds_quietly(cfg)
    evicts = _evicts_quietly(cfg) and v[CAPACITY] != UNBOUNDED_CAPACITY
    queues = countable and cfg[C_SAMPLING] == 0
    rejects = _rejects_quietly(cfg)
    # The first tick of a call always takes the full step: a control between calls
    # (set_capacity, drop_head) may have changed a column, and only _step compares with the log.
    first = True
    while i < stop:
        # a cheap first look before trying the quiet path (see _quiet)
        full = v[CAPACITY] != UNBOUNDED_CAPACITY and v[DEPTH] >= v[CAPACITY]
        if not first and v[DOWN] == 0 and (
                (v[HOLD_LEN] == 0 and (arrivals[i - a0] == 0 or (countable and full)
                                       or (sampling and v[DEPTH] >= threshold)))
                or (holds and full) or (evicts and v[DEPTH] == v[CAPACITY])
                or (queues and v[HOLD_LEN] == 0)  # (queues covers full buffers of drops too)
                or (rejects and full and v[HOLD_LEN] == 0)):
            j = _quiet(v, fv, buf, hold, rq, wi, wf, log, env, wait_hist, arrivals, speed,
                       consumers, cfg, fcfg, i, stop, a0)
            if j > i:
                v[TICK] = j - 1
                i = j
                if i == stop:
                    break
                # _quiet stopped at a tick that is not quiet: asked again, it would return at
                # once (same state, same tick), so that tick takes the full step straight away
        first = False
        v[TICK] = i
        _step(v, fv, buf, hold, rq, wi, wf, rec_gen, rec_t, log, env, wait_hist, lat_hist,
              crash_ticks, arrivals, speed, consumers, pool, cfg, fcfg, i, a0)
        i += 1


@_jit
def _drop_head(v, buf, n):
    n = min(n, v[DEPTH])
    if n > 0:
        _evict_oldest(v, buf, n)
    return n


@_jit
def poisson_mult(counts, start, stop, enlam, u, scratch, starts=None):
    """Poisson counts for ticks ``start..stop-1`` by numpy's multiplication method.

    For each tick: multiply uniforms from ``u`` (in order) until the product is at most
    ``enlam = exp(-mean)``; the count is the number of factors before that (numpy's
    ``random_poisson_mult``, operation for operation). Returns the first tick not done (``stop``,
    or the tick at which ``u`` ran out) and how many uniforms the finished ticks used.

    With a mean of 0.3 or more per tick (``enlam <= 0.74``) the ticks' ends are hard to predict, and
    a loop that branches on them stalls: :func:`_poisson_chase` computes the same counts another
    way (``scratch``: int8 or wider, as long as ``u``); given ``starts`` too (int32 or wider, as
    long as ``u``), :func:`_poisson_chains` follows four stretches of them at once. Below that,
    almost every tick takes one uniform, and the plain loop is fastest.
    """
    if enlam <= 0.74 and scratch.size >= u.size:
        if starts is not None and starts.size >= u.size and u.size >= CHAINS_MIN:
            return _poisson_chains(counts, start, stop, enlam, u, scratch, starts)
        return _poisson_chase(counts, start, stop, enlam, u, scratch)
    pos = 0
    n_u = u.size
    for i in range(start, stop):
        x = 0
        prod = 1.0
        j = pos
        while True:
            if j == n_u:
                return i, pos
            prod *= u[j]
            j += 1
            if prod > enlam:
                x += 1
            else:
                break
        counts[i] = x
        pos = j
    return stop, pos


@_jit
def _poisson_chase(counts, start, stop, enlam, u, cnt):
    """:func:`poisson_mult` in two passes. First, for *every* position ``j`` of ``u``, the count a
    tick starting there would have if it is below 4: the products ``u[j]``, ``u[j]*u[j+1]``, ...
    (the same floating-point operations, in the same order, as for a tick that starts at ``j``),
    and how many stay above ``enlam`` (they only fall: each factor is below 1). These are
    independent of each other, so the processor overlaps them. Then the ticks follow each other
    through that table, one load per tick; a tick of 4 or more, or one that reaches the last
    uniforms, is counted factor by factor as in the plain loop."""
    _chase_table(u, cnt, enlam)
    return _chase_on(counts, stop, enlam, u, cnt, start, 0)


@_inline
def _chase_table(u, cnt, enlam):
    """The first pass of :func:`_poisson_chase`: ``cnt[j]`` for ``j < m_end``; returns
    ``m_end``."""
    m_end = u.size - 4
    for j in range(max(m_end, 0)):
        p = u[j]
        c = np.int64(p > enlam)
        p *= u[j + 1]
        c += p > enlam
        p *= u[j + 2]
        c += p > enlam
        p *= u[j + 3]
        c += p > enlam
        cnt[j] = c
    return m_end


@_inline
def _chase_on(counts, stop, enlam, u, cnt, i, j):
    """The second pass of :func:`_poisson_chase` from tick ``i``, which starts at uniform ``j``:
    ``(first tick not done, uniforms used)``."""
    n_u = u.size
    m_end = n_u - 4
    while i < stop:
        if j < m_end and cnt[j] < 4:
            c = cnt[j]
            counts[i] = c
            j += c + 1
            i += 1
            continue
        x = 0
        prod = 1.0
        k = j
        while True:
            if k == n_u:
                return i, j
            prod *= u[k]
            k += 1
            if prod > enlam:
                x += 1
            else:
                break
        counts[i] = x
        j = k
        i += 1
    return i, j


#: Uniforms from which :func:`poisson_mult` follows four chains (below, one: the stitching
#: would cost more than it saves).
CHAINS_MIN = 1 << 14


@_inline
def _tick_end(u, cnt, enlam, j, m_end):
    """Where the tick that starts at uniform ``j`` ends: the start of the next one (``cnt`` from
    :func:`_chase_table` below ``m_end``, else factor by factor), or -1 if ``u`` runs out first."""
    if j < m_end and cnt[j] < 4:
        return j + cnt[j] + 1
    n_u = u.size
    prod = 1.0
    k = j
    while True:
        if k == n_u:
            return -1
        prod *= u[k]
        k += 1
        if not prod > enlam:
            return k


@_inline
def _take_starts(counts, i, starts, r, stop_r, after):
    """The counts of the ticks that start at ``starts[r:stop_r]`` (the next tick at ``after``;
    -1: the last of them ran out of uniforms), written from ``counts[i]`` on: ``(i, j)``, the
    next tick and where it starts, or ``-1 - j`` where the one that ran out starts."""
    m = stop_r - r
    if m <= 0:  # (none: a chain that never moved, ``after`` its first start)
        return i, after
    # differences of neighbours, no chain between them; on views, whose indices from 0 numba
    # need not check for negative ones (the check kept the loop from being vectorised)
    out, at = counts[i:], starts[r:]
    for s in range(m - 1):
        out[s] = at[s + 1] - at[s] - 1
    last = starts[stop_r - 1]
    if after < 0:
        return i + m - 1, -1 - last
    counts[i + m - 1] = after - last - 1
    return i + m, after


@_jit
def _poisson_chains(counts, start, stop, enlam, u, cnt, starts):
    """:func:`_poisson_chase` with its second pass split four ways, the same counts.

    Following the ticks through the table is a chain of loads, each waiting for the one before
    (about 2.3 ns a tick, three quarters of the time). So four chains are followed at once, the
    first from uniform 0 and the others from a quarter, a half and three quarters of ``u``
    (guesses: positions that may not start a tick), each writing the uniform at which each of its
    ticks starts into ``starts`` (chain ``q`` from index ``g_q``, its first uniform: a tick takes
    at least one). Where a tick starts decides everything after it, so once the true chain, walked
    on from the end of the stretch before, lands on a start of the next chain, that chain's starts
    from there are the true ones: it is taken over whole (two chains of ticks that take two
    uniforms on average meet within a few ticks). A chain that the true one never meets is only
    work thrown away. The counts are the differences of successive starts, less one."""
    m_end = _chase_table(u, cnt, enlam)
    need = stop - start
    seg = m_end // 4
    g1, g2, g3 = seg, 2 * seg, 3 * seg
    j0, j1, j2, j3 = 0, g1, g2, g3   # each chain's next tick start (-1: u ran out in it)
    t0, t1, t2, t3 = 0, g1, g2, g3   # and where it writes that start in ``starts``
    # (the four at once, each tick from the table or factor by factor, until one is done)
    while j0 < g1 and t0 < need and j1 < g2 and j2 < g3 and j3 < m_end:
        c0, c1, c2, c3 = cnt[j0], cnt[j1], cnt[j2], cnt[j3]
        starts[t0] = j0
        starts[t1] = j1
        starts[t2] = j2
        starts[t3] = j3
        t0 += 1
        t1 += 1
        t2 += 1
        t3 += 1
        j0 = j0 + c0 + 1 if c0 < 4 else _tick_end(u, cnt, enlam, j0, 0)
        j1 = j1 + c1 + 1 if c1 < 4 else _tick_end(u, cnt, enlam, j1, 0)
        j2 = j2 + c2 + 1 if c2 < 4 else _tick_end(u, cnt, enlam, j2, 0)
        j3 = j3 + c3 + 1 if c3 < 4 else _tick_end(u, cnt, enlam, j3, 0)
        if j0 < 0 or j1 < 0 or j2 < 0 or j3 < 0:  # (u ran out: only far from the end, never)
            break
    # the rest of chains 1-3, one at a time (a chain that ran out stops where it did)
    ends = ((j1, t1, g2), (j2, t2, g3), (j3, t3, m_end))
    # chain 0, then each chain's stretch in turn: the true ticks, walked on until they meet the
    # next chain's starts, then that chain's starts taken over
    i, j = _take_starts(counts, start, starts, 0, t0, j0)
    if i == stop or j < 0:
        return i, -j - 1 if j < 0 else j
    for q in range(3):
        jq, tq, lim = ends[q]
        r0 = g1 + q * seg  # the chain's first start in ``starts``
        # its own finish (it stopped with the others)
        while jq >= 0 and jq < lim:
            k = _tick_end(u, cnt, enlam, jq, m_end)
            if k < 0:
                break
            starts[tq] = jq
            tq += 1
            jq = k
        r = r0
        while i < stop and j >= 0:
            while r < tq and starts[r] < j:
                r += 1
            if r < tq and starts[r] == j:  # met: its starts from r on are the true ones
                m = min(tq - r, stop - i)
                i, j = _take_starts(counts, i, starts, r, r + m, jq if r + m == tq else
                                    starts[r + m])
                if j < 0:
                    return i, -j - 1
                break
            if r == tq and j >= (jq if jq >= 0 else lim):
                break  # past this chain without meeting it: on to the next one
            k = _tick_end(u, cnt, enlam, j, m_end)  # one true tick, then look again
            if k < 0:
                return i, j
            counts[i] = k - j - 1
            i += 1
            j = k
        if i == stop:
            return i, j
    return _chase_on(counts, stop, enlam, u, cnt, i, j)


# -- numpy's PCG64, thirty-two lanes at a time ---------------------------------------------------
# rng.random() takes one serial 128-bit multiply-add per uniform, through a call per number. The
# same uniforms, bit for bit, come faster from 32 interleaved copies of the generator, each
# stepping 32 states at once (x -> A x + C with A = M**32, C = inc (M**31 + ... + M + 1), modulo
# 2**128): the lanes are independent, so the compiler does them in vector registers. There is no
# 64 x 64 -> 128-bit vector multiply, so the low words' product is made of four 32 x 32 -> 64 ones
# (the cross terms only need their low 64 bits, which vector units multiply). 32 lanes: 1.37 ns
# a uniform with four scalar lanes (the integer multiplier's limit), 0.77 ns; 16 lanes took 0.86,
# 64 no less than 32. The Poisson draws take their uniforms from here (engine._poisson_draw
# puts the generator where numpy would).
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645  # PCG_DEFAULT_MULTIPLIER_128, as in numpy
_M64, _M128 = (1 << 64) - 1, (1 << 128) - 1
PCG_LANES = 32
_PCG_JUMP = pow(_PCG_MULT, PCG_LANES, 1 << 128)  # A, and C / inc:
_PCG_JUMP_SUM = sum(pow(_PCG_MULT, e, 1 << 128) for e in range(PCG_LANES)) & _M128
_LOW32, _32 = np.uint64(0xFFFFFFFF), np.uint64(32)
_PCG_MULT_HI, _PCG_MULT_LO = np.uint64(_PCG_MULT >> 64), np.uint64(_PCG_MULT & _M64)
_PCG_JUMP_HI, _PCG_JUMP_LO = np.uint64(_PCG_JUMP >> 64), np.uint64(_PCG_JUMP & _M64)


@_inline
def _pcg_double(hi, lo):
    """numpy's pcg64_next_double of a state: XSL-RR output, its top 53 bits over 2**53."""
    x = hi ^ lo
    rot = hi >> np.uint64(58)
    x = (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))
    return np.float64(np.int64(x >> np.uint64(11))) * (1.0 / 9007199254740992.0)


@_inline
def _pcg_step(h, lo, ah, al, ch, cl):
    """``(h:lo) * (ah:al) + (ch:cl)`` modulo 2**128, as ``(hi, lo)``; ``lo * al`` in 32-bit
    halves (what vector units multiply)."""
    a0, a1 = al & _LOW32, al >> _32
    l0, l1 = lo & _LOW32, lo >> _32
    p00, p01, p10 = l0 * a0, l0 * a1, l1 * a0
    mid = (p00 >> _32) + (p01 & _LOW32) + (p10 & _LOW32)
    low = (p00 & _LOW32) | (mid << _32)
    high = l1 * a1 + (p01 >> _32) + (p10 >> _32) + (mid >> _32)
    new_lo = low + cl
    carry = np.uint64(1) if new_lo < low else np.uint64(0)
    return high + lo * ah + h * al + ch + carry, new_lo


@_jit
def _pcg_fill(out, lanes, gen):
    """``out`` from :data:`PCG_LANES` lanes: ``gen`` holds hi and lo of the generator's state,
    of its increment, then of the lanes' jump's increment C; lane ``k`` starts ``k + 1`` steps
    ahead of the state (``lanes[0, k]``, ``lanes[1, k]``: its hi and lo, work space) and is
    stepped by the jump (A, C) after each output: ``out[j + k]`` is lane ``k``'s output in round
    ``j / lanes``. The lanes are set up here rather than in Python, whose 128-bit integers took
    10 to 15 us for the 32 of them, a twentieth of the headline's Poisson draw."""
    n = out.size
    h, lo = gen[0], gen[1]
    for k in range(PCG_LANES):  # numpy steps the state, then outputs it
        h, lo = _pcg_step(h, lo, _PCG_MULT_HI, _PCG_MULT_LO, gen[2], gen[3])
        lanes[0, k], lanes[1, k] = h, lo
    ah, al, ch, cl = _PCG_JUMP_HI, _PCG_JUMP_LO, gen[4], gen[5]
    j = 0
    while j + PCG_LANES <= n:
        for k in range(PCG_LANES):
            h, lo = lanes[0, k], lanes[1, k]
            out[j + k] = _pcg_double(h, lo)
            lanes[0, k], lanes[1, k] = _pcg_step(h, lo, ah, al, ch, cl)
        j += PCG_LANES
    for k in range(n - j):  # the last few: the lanes hold their states already
        out[j + k] = _pcg_double(lanes[0, k], lanes[1, k])


def pcg64_uniforms(bitgen, out):
    """``out`` filled with what ``Generator(bitgen).random(out.size)`` would draw, bit for bit,
    for a ``numpy.random.PCG64`` ``bitgen``, which is left where it was (not advanced)."""
    s = bitgen.state["state"]
    x, inc = s["state"], s["inc"]
    c = (inc * _PCG_JUMP_SUM) & _M128
    _pcg_fill(out, np.empty((2, PCG_LANES), dtype=np.uint64),
              np.array([x >> 64, x & _M64, inc >> 64, inc & _M64, c >> 64, c & _M64],
                       dtype=np.uint64))
    return out


# -- a stale cache ---------------------------------------------------------------------------------
# numba freezes module globals into the machine code, and its cache is keyed on this file alone:
# after an edit of state.SCALARS or COLUMNS (or strategies.DROP...) the cached kernel would
# still use the old slots. So the constants the kernel was compiled with are compared, once per
# process, with the current ones, and a mismatch throws the cached code away.
LAYOUT = (DEPTH, IN_SERVICE, HELD, RETRY_PENDING, CAPACITY, DOWN, UP_TICK, OFFERED, ADMITTED,
          DELIVERED, DROPPED, SHED, SAMPLED_OUT, LOST, LOST_DOWN, REJECTED, ATTEMPTS,
          SAMPLE_COUNTER, N_RECORDS, CRASHES, FIRST_CRASH, MAX_DEPTH, PEAK, POOL_INDEX, N_SCALARS,
          DROP, HOLD, REJECT, UNBOUNDED_CAPACITY, TIMED_OUT, EXPIRED, MAX_WAIT, REC_POS, N_ROWS,
          HIST_MANTISSA_BITS, LAT_BINS, WAIT_EXACT, LOG_BIN, LOG_TICK, LOG_COUNTER, LOG_COLS,
          DERIVE_DROP, DERIVE_SAMPLE, DERIVE_HOLD, DERIVE_EVICT) + COLUMN_SLOTS


@_compiler(error_model="numpy")
def interval_stats(gen, start, finish, lo, hi, dt):
    """``(p50, p95, min, p95)``: the 50th and 95th percentiles of the latencies
    ``finish - gen * dt`` and the least and the 95th percentile of the sojourns
    ``start - gen * dt`` of records ``lo .. hi-1`` (s; ``gen`` in ticks, at least one record).

    The arrays are rings (record ``i`` at ``i % size``), as both engines keep their records, so
    the interval's records are read where they lie. What :class:`bpsim.control.Meter` reports
    every control interval, in one compiled call: the same float operations as numpy's (each
    ``gen * dt`` then the difference) and the same interpolation as
    :func:`bpsim.state.percentiles`, on sorted copies. np.percentile's values bit for bit:
    sorting and partitioning find the same order statistics here, since these differences of
    finite times are never NaN and never -0.0 (``x - x`` is +0.0).
    """
    n = hi - lo
    size = gen.size
    lat = np.empty(n)
    soj = np.empty(n)
    for i in range(n):
        j = (lo + i) % size
        g = gen[j] * dt
        lat[i] = finish[j] - g
        soj[i] = start[j] - g
    lat.sort()
    soj.sort()
    return _sorted_percentile(lat, 50.0), _sorted_percentile(lat, 95.0), soj[0], \
        _sorted_percentile(soj, 95.0)


def ring_stats(arrays, lo, hi, n_records, dt):
    """:func:`interval_stats` of records ``lo .. hi-1`` in rings ``arrays`` (``gen``, ``start``,
    ``finish``) after ``n_records`` were written to them: of those the rings still hold (the
    latest ``size``); four NaN when none (both engines' ``record_stats``)."""
    lo = kept_from(lo, n_records, arrays[0].size)
    if hi <= lo:
        return _NO_STATS
    return interval_stats(arrays[0], arrays[1], arrays[2], lo, hi, dt)


_NO_STATS = (float("nan"),) * 4


@_jit
def _sorted_percentile(s, q):
    """numpy's linear percentile ``q`` (0-100) of the sorted ``s``, as state.percentiles."""
    n = s.size
    v = (n - 1) * (q / 100)
    if v >= n - 1:              # at or past the top rank: numpy takes index -1 twice
        lo = hi = n - 1
        g = v + 1.0
    else:
        lo = int(np.floor(v))
        hi = lo + 1
        g = v - lo
    a = s[lo]
    d = s[hi] - a
    return s[hi] - d * (1 - g) if g >= 0.5 else a + d * g


@_jit
def _compiled_layout():
    return LAYOUT


_fresh = False


def _ensure_fresh_cache():
    global _fresh
    if not _fresh:
        if _compiled_layout() != LAYOUT:
            for f in (_run, _offer, _drop_head, _compiled_layout, poisson_mult, _poisson_chase,
                      _poisson_chains, _binned_row, _discard_expired):
                f.recompile()  # also replaces the cached copy
        _fresh = True


# -- the engine object -----------------------------------------------------------------------------
def _per_tick_arg(a, dtype):
    """A per-tick input for the kernel: one element if it never changes (a broadcast view)."""
    a = np.asarray(a)
    if a.ndim == 1 and a.shape[0] > 1 and a.strides[0] == 0:
        return np.array(a[:1], dtype=dtype)
    return np.ascontiguousarray(a, dtype=dtype)



class FastEngine:
    """Runs a scenario with the compiled kernel; same interface as :class:`ReferenceEngine`.

    Parameters
    ----------
    inputs : bpsim.engine.Inputs
        The scenario turned into per-tick arrays, with every random draw made up front.
    strategy : Strategy
        Kept for reference; the kernel only uses ``rule``.
    rule : bpsim.strategies.Rule
        The strategy's admission rule (``strategy.rule()``).
    """

    def __init__(self, inputs, strategy, rule):
        _ensure_fresh_cache()
        x = inputs
        self.strategy, self.rule = strategy, rule
        if rule.overflow not in (DROP, HOLD, REJECT):
            raise InputError(f"rule.overflow={rule.overflow!r} is not valid: use "
                             "bpsim.strategies.DROP, HOLD or REJECT.")
        if rule.bounded != (x.capacity != UNBOUNDED_CAPACITY):
            raise InputError(f"rule.bounded={rule.bounded!r} does not match {strategy!r} "
                             f"(bounded={strategy.bounded!r}): make them agree.")
        n = x.n_ticks
        offered = int(x.offered_max)
        retries = int(x.retries)
        backoff = np.asarray(x.backoff_ticks, dtype=np.int64)
        cfg = np.zeros(C_BACKOFF + backoff.size, dtype=np.int64)
        cfg[C_MAX_IN_MEMORY] = x.max_in_memory
        cfg[C_RESTART] = x.restart_ticks
        cfg[C_RETRIES] = retries
        cfg[C_RECORD_SIZE] = x.record_size
        cfg[C_SAMPLING] = rule.sample_every > 1 or rule.sample_from < 1.0
        cfg[C_SAMPLE_EVERY] = rule.sample_every
        cfg[C_EVICT] = rule.evict_oldest
        cfg[C_OVERFLOW] = rule.overflow
        cfg[C_BIN] = x.bin_ticks
        cfg[C_DROP_EXPIRED] = x.drop_expired
        cfg[C_ORDER] = x.order
        cfg[C_LIFO_DEPTH] = x.lifo_depth
        cfg[C_DERIVE] = x.derive
        cfg[C_BACKOFF:] = backoff
        fcfg = np.array([x.dt, x.mean_work, float(rule.sample_from), x.timeout],
                        dtype=np.float64)

        # Ring sizes from the bounds in the module docstring (+2 to stay clear of the edges).
        buf_size = min(x.max_in_memory, offered) + 2
        hold_size = 1
        if rule.overflow == HOLD:  # one batch per tick, or one per offer with retries (no built-in)
            hold_size = min(n * (1 + retries), offered) + 2
        rq_size = min(int(backoff.max()) + 1, n, offered) + 2 if retries else 1
        r, w = max(1, retries), x.n_workers
        v = np.zeros(RQ + 2 * r, dtype=np.int64)
        v[CAPACITY] = x.capacity
        v[FIRST_CRASH] = -1
        self._v = v
        self._rec_gen = np.zeros(x.record_size, dtype=np.int64)
        self._rec_t = np.zeros((2, x.record_size))
        self._crash_ticks = np.zeros(min(n // max(1, x.restart_ticks) + 2, MAX_CRASH_TICKS),
                                     dtype=np.int64)
        self._fv = np.zeros(2)
        # not zeroed: the kernel reads only the batches it wrote (head .. head + length), and
        # zeroing the ring (most of a megabyte in the headline) was work for nothing
        self._buf = np.empty((2, buf_size), dtype=np.int64)
        # the series log (bpsim.state): row 0 is the state before the first tick, bin -1
        rows = n_bins(n) + 1
        self.log = np.empty((rows, LOG_COLS + N_COLUMNS), dtype=np.int64)
        self.log[0, :LOG_COLS] = (-1, -1, 0)
        self.log[0, LOG_COLS:] = v[:N_COLUMNS]
        v[N_ROWS] = 1
        self.env = np.zeros((rows if x.bin_ticks > 1 else 1, 6), dtype=np.int64)
        self.wait_hist = np.zeros(wait_bins(n), dtype=np.int64)
        self.lat_hist = np.zeros(LAT_BINS, dtype=np.int64)
        self._args = (
            v, self._fv, self._buf, np.zeros((2, hold_size), dtype=np.int64),
            np.zeros((r, 3, rq_size), dtype=np.int64),
            np.zeros((2, w), dtype=np.int64), np.zeros((3, w)),
            self._rec_gen, self._rec_t, self.log, self.env, self.wait_hist, self.lat_hist,
            self._crash_ticks, None, None, None,
            np.ascontiguousarray(x.pool, dtype=np.float64), cfg, fcfg)
        self._inputs = x
        if x.stream is None:  # the whole run's per-tick inputs, once
            self._args = self._with_window(x.window(0))

    def _with_window(self, window):
        a0, arrivals, speed, consumers = window
        args = list(self._args)
        args[14] = np.ascontiguousarray(arrivals, dtype=np.int64)
        args[15] = _per_tick_arg(speed, np.float64)
        args[16] = _per_tick_arg(consumers, np.int64)
        return tuple(args) + (a0,)

    # -- controls used between ticks -----------------------------------------------------------
    def run(self, start: int, stop: int) -> None:
        """Advance ticks ``start .. stop-1``."""
        i, stop = int(start), int(stop)
        if self._inputs.stream is None:
            _run(*self._args, i, stop)
        while i < stop and self._inputs.stream is not None:  # one call per window of arrivals
            args = self._with_window(self._inputs.window(i))
            end = min(stop, args[-1] + args[14].size)
            _run(*args, i, end)
            i = end
        if self._v[RING_FULL]:
            raise RuntimeError("bpsim.kernel: a ring buffer was full, so a bound in kernel.py is "
                               "wrong; please report this run (engine='reference' still works).")

    def rule_changed(self, tick: int, every: int) -> None:
        """As :meth:`bpsim.reference.ReferenceEngine.rule_changed`."""
        v, log, cfg = self._v, self.log, self._args[18]
        if every > 0:
            v[SAMPLE_COUNTER] %= every
        if tick < 0:
            return
        r = int(v[N_ROWS]) - 1
        if cfg[C_BIN] > 1:  # (the compiled function a binned row takes anyway)
            b = tick // int(cfg[C_BIN])
            r = _binned_row(v, log, self.env, tick, int(cfg[C_BIN]), b, r)
        else:
            b = tick
            if log[r, LOG_TICK] != tick:
                r += 1
                v[N_ROWS] = r + 1
        log[r, LOG_BIN], log[r, LOG_TICK], log[r, LOG_COUNTER] = b, tick, v[SAMPLE_COUNTER]
        log[r, LOG_COLS:] = v[:N_COLUMNS]

    def set_capacity(self, capacity: int) -> None:
        self._v[CAPACITY] = int(capacity)

    def drop_head(self, n: int) -> int:
        """Drop up to ``n`` messages from the head of the buffer; returns how many."""
        return int(_drop_head(self._v, self._buf, int(n)))

    # -- what the driver reads -----------------------------------------------------------------
    def scalars(self) -> dict:
        return dict(zip(SCALARS, self._v[:N_SCALARS].tolist()))

    def busy_seconds(self) -> float:
        return float(self._fv[0])

    def wasted_seconds(self) -> float:
        """Busy time spent on messages served after their client left (s)."""
        return float(self._fv[1])

    def records(self, lo, hi):
        """Records ``lo .. hi-1`` (in order of completion) that the ring still holds."""
        return ring_records((self._rec_gen, self._rec_t[0], self._rec_t[1]), lo, hi,
                            int(self._v[N_RECORDS]))

    def record_stats(self, lo, hi, dt):
        """Latency p50 and p95, sojourn min and p95 of records ``lo .. hi-1`` that the ring
        still holds (s; NaN when none), in one compiled call."""
        return ring_stats((self._rec_gen, self._rec_t[0], self._rec_t[1]), lo, hi,
                          int(self._v[N_RECORDS]), dt)

    def waiting(self):
        """``(gen_ticks, counts)`` of the batches in the buffer, head first."""
        size = self._buf.shape[1]
        j = (self._v[BUF_HEAD] + np.arange(self._v[BUF_LEN])) % size
        return self._buf[0, j].copy(), self._buf[1, j].copy()

    def crash_tick_list(self):
        return self._crash_ticks[:min(self._v[N_CRASH_TICKS], self._crash_ticks.size)].tolist()

    # -- what bpsim.Simulation needs to carry a run on (a new strategy, larger rings) ----------
    def take_state(self, other: "FastEngine") -> None:
        """Carry on from where ``other``, an engine of the same run, stopped.

        Everything the run has so far (counters, messages waiting, held and due for retry,
        workers and their messages, records, the series log, histograms, crash ticks, the pool of
        service times) is copied into this engine, re-laid from the start of each ring, whose
        size is made larger where ``other`` holds more. What this engine was made with (its rule
        and settings) stays its own. Pending retries of an attempt this engine does not retry
        join its last retry FIFO, in order of their due tick; an engine without retry FIFOs
        cannot take them (``ValueError``).
        """
        a, b = list(self._args), other._args
        v, ov = a[0], b[0]
        v[:RQ] = ov[:RQ]
        a[1][:] = b[1]

        def relay(old, head, length, size_at_least):
            size = old.shape[-1]
            idx = (head + np.arange(length)) % size
            return old[..., idx], max(size_at_least, length + 2)

        for slot, head, length in ((2, BUF_HEAD, BUF_LEN), (3, HOLD_HEAD, HOLD_LEN)):
            items, size = relay(b[slot], ov[head], ov[length], a[slot].shape[1])
            ring = np.zeros((2, size), dtype=np.int64)
            ring[:, :items.shape[1]] = items
            a[slot] = ring
            v[head] = 0
        # retry FIFOs: level k of other -> level min(k, levels - 1) here, merged by due tick
        levels = int(a[18][C_RETRIES])
        old_levels = int(other._args[18][C_RETRIES])
        per_level = [[] for _ in range(max(1, levels))]
        for k in range(old_levels):
            n = ov[RQ + 2 * k + 1]
            if n:
                if levels == 0:
                    raise ValueError("this engine has no retry FIFO for the pending retries")
                items, _ = relay(b[4][k], ov[RQ + 2 * k], n, 0)
                per_level[min(k, levels - 1)].append(items)
        size = a[4].shape[2]
        for k in range(levels):
            items = (np.concatenate(per_level[k], axis=1) if per_level[k]
                     else np.zeros((3, 0), dtype=np.int64))
            items = items[:, np.argsort(items[0], kind="stable")]
            size = max(size, items.shape[1] + 2)
            per_level[k] = items
        rq = np.zeros((max(1, levels), 3, size), dtype=np.int64)
        for k in range(levels):
            rq[k, :, :per_level[k].shape[1]] = per_level[k]
            v[RQ + 2 * k], v[RQ + 2 * k + 1] = 0, per_level[k].shape[1]
        a[4] = rq
        # workers: this engine may have more (idle ones change nothing)
        w = b[5].shape[1]
        if a[5].shape[1] < w:
            raise ValueError(f"this engine has {a[5].shape[1]} workers, fewer than {w}")
        a[5][:, :w], a[6][:, :w] = b[5], b[6]
        # records, series log, histograms, crash ticks, pool: the same run, so the same sizes;
        # taken over as they are (other is not run again)
        for slot in (7, 8, 9, 10, 11, 12, 13, 17):
            if a[slot].shape != b[slot].shape:
                raise ValueError(f"argument {slot} of other has shape {b[slot].shape}, "
                                 f"not {a[slot].shape}: not an engine of the same run")
            a[slot] = b[slot]
        self._args = tuple(a)
        self._v, self._fv, self._buf = a[0], a[1], a[2]
        self._rec_gen, self._rec_t, self._crash_ticks = a[7], a[8], a[13]
        self.log, self.env, self.wait_hist, self.lat_hist = a[9], a[10], a[11], a[12]

    def use_pool(self, pool: np.ndarray) -> None:
        """Service times from now on: ``pool`` (float64), which must begin with the current one."""
        a = list(self._args)
        a[17] = np.ascontiguousarray(pool, dtype=np.float64)
        self._args = tuple(a)

    def ring_use(self) -> dict:
        """Batches in each ring and the ring's size: ``{name: (length, size)}``."""
        v, a = self._v, self._args
        out = {"buffer": (int(v[BUF_LEN]), a[2].shape[1]), "held": (int(v[HOLD_LEN]),
                                                                    a[3].shape[1])}
        for k in range(int(a[18][C_RETRIES])):
            out[f"retry{k + 1}"] = (int(v[RQ + 2 * k + 1]), a[4].shape[2])
        return out

    def workers(self):
        """``(busy, gen_ticks, start_s, work_left_s)`` of each worker (numpy arrays)."""
        wi, wf = self._args[5], self._args[6]
        return wi[0].astype(bool), wi[1].copy(), wf[1].copy(), wf[0].copy()
