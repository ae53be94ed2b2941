"""The tick of the API-server model, compiled: one function per thing that happens in a tick.

:class:`bpsim.apiserver.server.ApiServer` holds a run's state (a :class:`State` of numpy
arrays, laid out below) and calls :func:`run`; everything else here is what :func:`step` does
in tick ``i``, in this order (the order of events of the model's docstring):

1. :func:`apply_switches` (and :func:`move_levels` when fairness is switched), the removal;
2. :func:`expire_timeouts`: attempts whose client gave up become orphans and :func:`fail`;
3. :func:`age_dns`: records past ``stale_s`` die; the discovery rate follows the cache;
4. :func:`send_due_retries`, then :func:`send_new` (Poisson): each :func:`send` is refused if
   its class is blocked, else queued at its level (or the shared FIFO);
5. :func:`serve_levels`: each level :func:`serve` s what holds seats, then :func:`start` s work
   from the head of its queue (:func:`serve_fresh` for this tick's arrivals, served in
   proportion); paid requests :func:`complete` (and :func:`renew_dns`); what waits beyond a
   queue's bound gets a 429 (:func:`trim`, :func:`reject_waiting`);
6. a first success of the removal's ``by`` class schedules the removal;
7. :func:`record`.

Counts travel in *batches*: the attempts of one class sent in one tick with one attempt number
(one row of ``State.batch``, which is also the client's ledger entry for them). A queue holds
batch ids; a record in service holds ``(class, count, batch, tick sent)`` and the seat-seconds
still owed. Random numbers come from numpy's own samplers (:mod:`bpsim.apiserver.draws`), in
the order a pure-Python loop would draw them, so a seed gives the same run as ever.

Arrays never grow inside a tick: before each tick :func:`has_room` checks that the tick cannot
outgrow them (a tick adds at most one batch per class plus one per retry due, and starts at
most one service record per queued batch plus one per level); if it could, :func:`run` returns
early and the caller grows them. Numba freezes this module's constants into the machine code
and caches it by this file, so every constant the code uses is defined here.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from . import draws
from .result import SERIES

# -- columns of a class's running state (State.books), = SERIES -------------------------------
(QUEUED, QUEUED_ORPHAN, IN_SERVICE, IN_SERVICE_ORPHAN, RETRY_PENDING, OFFERED, SUCCEEDED,
 REJECTED_FINAL, TIMED_OUT_FINAL, ATTEMPTS, COMPLETED, REJECTED, BLOCKED, TIMED_OUT,
 LATENCY_SUM, SUCCESS_LATENCY_SUM, COMPLETIONS_TICK, SUCCESSES_TICK) = range(18)
FIRST_PER_TICK = LATENCY_SUM            # columns from here on count one tick only
assert SERIES[QUEUED] == "queued" and SERIES[FIRST_PER_TICK] == "latency_sum" \
    and SERIES[SUCCESSES_TICK] == "successes_tick" and len(SERIES) == 18, "SERIES moved"

# -- a class's live parameters (State.params): the order of model.CLASS_FIELDS ------------------
RATE, COST, CLIENTS, RETRIES, BACKOFF, BACKOFF_CAP, IS_BLOCKED = range(7)   # CLIENTS 0: None
# -- a batch (State.batch) -----------------------------------------------------------------------
B_CLS, B_GEN, B_ATTEMPT, B_WAITING, B_LIVE_QUEUED, B_LIVE_SERVING, B_EXPIRED = range(7)
# -- a record in service (State.serving) ---------------------------------------------------------
S_CLS, S_COUNT, S_BATCH, S_GEN = range(4)
# -- the run's scalars (State.scalars, int64) ---------------------------------------------------
FAIR, NEXT_SWITCH, REMOVAL_TICK, DEAD, ALIVE_HEAD, ALIVE_TAIL, N_BATCHES = range(7)
# -- fixed settings (State.config, int64) ---------------------------------------------------------
(N_TICKS, N_CLASSES, N_LEVELS, DNS_CLS, STALE_TICKS, DNS_RECORDS, REMOVAL_BY, REMOVAL_TARGET,
 REMOVAL_DELAY_TICKS, ATTEMPT_SLOTS, DUE_SLOTS) = range(11)
# -- fixed settings (State.config_f) and the run's float scalars (State.floats) -------------------
DT, DNS_REFRESH_S, DNS_RERESOLVE_S = range(3)
SEATS, REMOVED_AT_S = range(2)
#: A switch's field code for the server (``cls`` -1): seats, fairness.
SW_SEATS, SW_FAIRNESS = range(2)
#: Bound of an unbounded queue.
NO_BOUND = 1 << 62
EPS_SEAT_S = 1e-12          # seat-seconds below this are nothing
EPS_TIME = 1e-9             # a switch "at" a tick's start may be written a hair late

State = namedtuple("State", [
    "config", "config_f", "level_of", "timeout_ticks", "bound", "level_budget",
    "sw_at", "sw_field", "sw_cls", "sw_value",
    "scalars", "floats", "params", "books",
    "batch", "queue", "q_head", "q_tail", "q_len", "fresh", "n_fresh",
    "ledger", "l_head", "l_tail", "serving", "owed", "n_serving",
    "due", "due_keys", "n_due", "alive",
    "table", "dns_dead", "seats", "busy",
    "colors", "variates", "ids", "multinomial", "even", "binomial",
    "at", "moved", "moved_owed"])

# No reference counting (_nrt=False): every helper takes the whole State, and with counting on
# numba increments and decrements each of its arrays at every call, which cost more than the
# tick itself. So nothing here allocates: scratch arrays are part of the State.
# The helpers called once per batch are inlined: numba passes the State as some 300 machine
# words, and a call per batch cost more than the work inside. Compiling takes about 20 s of CPU
# the first time; numba caches the machine code in this package's __pycache__ (or the user's
# cache directory), and where nothing is writable it compiles afresh in each process.
def _compiler(**options):
    def decorate(fn):
        try:
            return njit(cache=True, error_model="numpy", _nrt=False, **options)(fn)
        except RuntimeError as err:  # "cannot cache function ...: no locator available"
            if "cannot cache" not in str(err):
                raise
            return njit(cache=False, error_model="numpy", _nrt=False, **options)(fn)
    return decorate


_jit = _compiler()
_inline = _compiler(inline="always")


# -- the run -----------------------------------------------------------------------------------
@_jit
def run(s, bg, i, stop):
    """Tick from ``i`` up to ``stop``, or until :func:`has_room` says no; the next tick."""
    while i < stop and has_room(s, i):
        step(s, bg, i)
        i += 1
    return i


@_jit
def has_room(s, i):
    """Whether tick ``i`` fits in the arrays: its new batches, and its new service records."""
    new = s.config[N_CLASSES] + s.n_due[i % s.config[DUE_SLOTS]]
    if s.scalars[N_BATCHES] + new > s.batch.shape[0]:
        return False
    most = new
    for lv in range(s.config[N_LEVELS]):
        most += s.n_serving[lv] + s.q_tail[lv] - s.q_head[lv] + 1
    return most <= s.serving.shape[1]


@_jit
def step(s, bg, i):
    """Tick ``i``, covering ``[i*dt, (i+1)*dt)``."""
    dt = s.config_f[DT]
    t0 = i * dt
    apply_switches(s, t0)
    if s.scalars[REMOVAL_TICK] == i:
        s.params[s.config[REMOVAL_TARGET], RATE] = 0.0
        s.floats[REMOVED_AT_S] = t0
    expire_timeouts(s, bg, i)
    if s.config[DNS_CLS] >= 0:
        age_dns(s, i)
    send_due_retries(s, bg, i)
    send_new(s, bg, i)
    s.books[:, FIRST_PER_TICK:] = 0.0
    busy = serve_levels(s, bg, i)
    for lv in range(s.config[N_LEVELS]):
        if s.q_len[lv] > s.bound[lv]:
            trim(s, bg, lv, i)
        s.n_fresh[lv] = 0
    by = s.config[REMOVAL_BY]
    if by >= 0 and s.scalars[REMOVAL_TICK] < 0 and s.books[by, SUCCESSES_TICK] > 0:
        s.scalars[REMOVAL_TICK] = i + 1 + s.config[REMOVAL_DELAY_TICKS]
    record(s, i, busy)


@_jit
def record(s, i, busy):
    for c in range(s.books.shape[0]):
        copy(s.table[i, c], s.books[c])
    s.busy[i] = busy
    s.seats[i] = s.floats[SEATS]


# -- 1. switches ---------------------------------------------------------------------------------
@_jit
def apply_switches(s, t0):
    """Every switch due by ``t0`` takes effect, in order of time."""
    while s.scalars[NEXT_SWITCH] < s.sw_at.size and \
            s.sw_at[s.scalars[NEXT_SWITCH]] <= t0 + EPS_TIME:
        k = s.scalars[NEXT_SWITCH]
        s.scalars[NEXT_SWITCH] += 1
        c = s.sw_cls[k]
        if c >= 0:
            s.params[c, s.sw_field[k]] = s.sw_value[k]
        elif s.sw_field[k] == SW_SEATS:
            s.floats[SEATS] = s.sw_value[k]
        elif (s.sw_value[k] != 0) != (s.scalars[FAIR] != 0):
            s.scalars[FAIR] = 1 - s.scalars[FAIR]
            move_levels(s)


@_inline
def level_now(s, c):
    """The queue class ``c`` is admitted to: its priority level with fairness, else the FIFO."""
    return s.level_of[c] if s.scalars[FAIR] else 0


@_jit
def move_levels(s):
    """Fairness switched: everything waiting moves to its new queue in order of arrival (ties
    in order of the old queues), and everything in service to its new level."""
    n_lv = s.config[N_LEVELS]
    waiting, at = s.ids, s.at
    n_waiting = 0
    for lv in range(n_lv):
        at[lv] = s.q_head[lv]
        n_waiting += s.q_tail[lv] - s.q_head[lv]
    for m in range(n_waiting):              # merge the queues, each in order of arrival
        best = -1
        for lv in range(n_lv):
            if at[lv] < s.q_tail[lv] and (best < 0 or s.batch[s.queue[lv, at[lv]], B_GEN]
                                          < s.batch[s.queue[best, at[best]], B_GEN]):
                best = lv
        waiting[m] = s.queue[best, at[best]]
        at[best] += 1
    s.q_head[:] = 0
    s.q_tail[:] = 0
    s.q_len[:] = 0
    for m in range(n_waiting):
        b = waiting[m]
        lv = level_now(s, s.batch[b, B_CLS])
        push(s.queue, s.q_head, s.q_tail, lv, b)
        s.q_len[lv] += s.batch[b, B_WAITING]
    records, owed = s.moved, s.moved_owed
    n_records = 0
    for lv in range(n_lv):
        for j in range(s.n_serving[lv]):
            copy(records[n_records], s.serving[lv, j])
            owed[n_records] = s.owed[lv, j]
            n_records += 1
    s.n_serving[:] = 0
    for m in range(n_records):
        lv = level_now(s, records[m, S_CLS])
        copy(s.serving[lv, s.n_serving[lv]], records[m])
        s.owed[lv, s.n_serving[lv]] = owed[m]
        s.n_serving[lv] += 1


@_jit
def copy(dst, src):
    """``dst[:] = src`` for 1-d arrays (numba's own would allocate, in case they overlap)."""
    for j in range(src.size):
        dst[j] = src[j]


@_jit
def push(rows, head, tail, r, x):
    """Append ``x`` to row ``r`` of ``rows`` (a FIFO from ``head[r]`` to ``tail[r]``), moving
    the row's content to its start when it reached the end."""
    if tail[r] == rows.shape[1]:
        n = tail[r] - head[r]
        for j in range(n):
            rows[r, j] = rows[r, head[r] + j]
        head[r], tail[r] = 0, n
    rows[r, tail[r]] = x
    tail[r] += 1


# -- 2. clients that give up ---------------------------------------------------------------------
@_jit
def expire_timeouts(s, bg, i):
    """Attempts sent ``timeout`` ago or earlier: their clients leave, what is still queued or in
    service becomes an orphan, and the request is retried or has finally timed out."""
    for c in range(s.config[N_CLASSES]):
        while s.l_head[c] < s.l_tail[c]:
            b = s.ledger[c, s.l_head[c]]
            if s.batch[b, B_GEN] + s.timeout_ticks[c] > i:
                break
            s.l_head[c] += 1
            s.batch[b, B_EXPIRED] = 1
            q, sv = s.batch[b, B_LIVE_QUEUED], s.batch[b, B_LIVE_SERVING]
            if q or sv:
                s.books[c, QUEUED] -= q
                s.books[c, QUEUED_ORPHAN] += q
                s.books[c, IN_SERVICE] -= sv
                s.books[c, IN_SERVICE_ORPHAN] += sv
                s.books[c, TIMED_OUT] += q + sv
                fail(s, bg, c, s.batch[b, B_ATTEMPT], q + sv, True, i)


@_inline
def fail(s, bg, c, attempt, n, timeout, i):
    """``n`` attempts of class ``c`` failed at tick ``i`` (timed out, or refused): retried if
    their request has attempts left, at once or after a backoff spread over its upper half in
    up to 4 steps; final otherwise."""
    if n <= 0:
        return
    p = s.params[c]
    if attempt < p[RETRIES]:
        if p[BACKOFF] <= 0:
            add_due(s, i + 1, c, attempt + 1, n)
        else:
            dt = s.config_f[DT]
            d = min(p[BACKOFF_CAP], p[BACKOFF] * 2.0 ** attempt)
            lo = max(1, int(np.rint(0.5 * d / dt)))
            hi = max(1, int(np.rint(d / dt)))
            nb = min(4, hi - lo + 1)
            counts = s.multinomial
            counts[:] = 0
            if nb > 1:              # = rng.multinomial(n, [1/nb] * nb)
                draws.multinomial(bg, n, counts.ctypes.data, s.even[nb].ctypes.data, nb,
                                  s.binomial.ctypes.data)
            else:
                counts[0] = n
            for j in range(nb):
                if counts[j]:
                    add_due(s, i + lo + (j * (hi - lo)) // max(1, nb - 1), c, attempt + 1,
                            counts[j])
        s.books[c, RETRY_PENDING] += n
    elif timeout:
        s.books[c, TIMED_OUT_FINAL] += n
    else:
        s.books[c, REJECTED_FINAL] += n


@_inline
def add_due(s, tick, c, attempt, n):
    """``n`` retries of class ``c`` (attempt number ``attempt``) are due at ``tick``."""
    slot = tick % s.config[DUE_SLOTS]
    if s.due[slot, c, attempt] == 0:
        s.due_keys[slot, s.n_due[slot]] = c * s.config[ATTEMPT_SLOTS] + attempt
        s.n_due[slot] += 1
    s.due[slot, c, attempt] += n


# -- 3. the DNS cache ----------------------------------------------------------------------------
@_jit
def age_dns(s, i):
    """Records last refreshed more than ``stale_s`` ago die; discovery asks for the rest every
    ``refresh_s`` and for the dead every ``reresolve_s``."""
    a, sc = s.alive, s.scalars
    while sc[ALIVE_HEAD] < sc[ALIVE_TAIL] and a[sc[ALIVE_HEAD], 0] < i - s.config[STALE_TICKS]:
        sc[DEAD] += a[sc[ALIVE_HEAD], 1]
        sc[ALIVE_HEAD] += 1
    dead = sc[DEAD]
    s.dns_dead[i] = dead
    s.params[s.config[DNS_CLS], RATE] = ((s.config[DNS_RECORDS] - dead) / s.config_f[DNS_REFRESH_S]
                                         + dead / s.config_f[DNS_RERESOLVE_S])


@_inline
def renew_dns(s, n, i):
    """``n`` refreshes succeeded at tick ``i``: dead records first, then the oldest alive."""
    a, sc = s.alive, s.scalars
    back = min(n, sc[DEAD])
    sc[DEAD] -= back
    n -= back
    while n > 0 and sc[ALIVE_HEAD] < sc[ALIVE_TAIL] and a[sc[ALIVE_HEAD], 0] < i:
        h = sc[ALIVE_HEAD]
        take = min(n, a[h, 1])
        a[h, 1] -= take
        n -= take
        back += take
        if a[h, 1] == 0:
            sc[ALIVE_HEAD] += 1
    if back:
        t = sc[ALIVE_TAIL]
        if sc[ALIVE_HEAD] < t and a[t - 1, 0] == i:
            a[t - 1, 1] += back
        else:
            a[t, 0], a[t, 1] = i, back
            sc[ALIVE_TAIL] += 1


# -- 4. sending ----------------------------------------------------------------------------------
@_jit
def send_due_retries(s, bg, i):
    """The retries due at tick ``i``, in order of class, then attempt number."""
    slot = i % s.config[DUE_SLOTS]
    keys = s.due_keys[slot, :s.n_due[slot]]
    for j in range(1, keys.size):            # insertion sort: a handful of keys
        key, k = keys[j], j
        while k > 0 and keys[k - 1] > key:
            keys[k] = keys[k - 1]
            k -= 1
        keys[k] = key
    s.n_due[slot] = 0
    width = s.config[ATTEMPT_SLOTS]
    for key in keys:
        c, attempt = key // width, key % width
        n = s.due[slot, c, attempt]
        s.due[slot, c, attempt] = 0
        s.books[c, RETRY_PENDING] -= n
        send(s, bg, c, attempt, n, i)


@_jit
def send_new(s, bg, i):
    """New requests, Poisson; clients waiting out a backoff send none."""
    for c in range(s.config[N_CLASSES]):
        p = s.params[c]
        rate = p[RATE]
        if rate <= 0:
            continue
        if p[CLIENTS] != 0 and p[BACKOFF] > 0:
            rate *= max(0.0, 1.0 - s.books[c, RETRY_PENDING] / p[CLIENTS])
        n = draws.poisson(bg, rate * s.config_f[DT])
        if n:
            s.books[c, OFFERED] += n
            send(s, bg, c, 0, n, i)


@_inline
def send(s, bg, c, attempt, n, i):
    """``n`` attempts of class ``c`` reach the network: refused if the class is blocked, else
    one new batch at the tail of its queue (and of its client's ledger)."""
    s.books[c, ATTEMPTS] += n
    if s.params[c, IS_BLOCKED]:
        s.books[c, BLOCKED] += n
        fail(s, bg, c, attempt, n, False, i)
        return
    lv = level_now(s, c)
    b = s.scalars[N_BATCHES]
    s.scalars[N_BATCHES] += 1
    row = s.batch[b]
    row[B_CLS], row[B_GEN], row[B_ATTEMPT] = c, i, attempt
    row[B_WAITING], row[B_LIVE_QUEUED], row[B_LIVE_SERVING], row[B_EXPIRED] = n, n, 0, 0
    push(s.ledger, s.l_head, s.l_tail, c, b)
    push(s.queue, s.q_head, s.q_tail, lv, b)
    s.fresh[lv, s.n_fresh[lv]] = b
    s.n_fresh[lv] += 1
    s.q_len[lv] += n
    s.books[c, QUEUED] += n


# -- 5. service ----------------------------------------------------------------------------------
@_jit
def serve_levels(s, bg, i):
    """Every level spends its seat-seconds of the tick; the seat-seconds used, all levels."""
    budget = s.floats[SEATS] * s.config_f[DT]
    busy = 0.0
    if s.scalars[FAIR]:
        for lv in range(1, s.config[N_LEVELS]):
            busy += serve(s, bg, lv, s.floats[SEATS] * s.level_budget[lv] * s.config_f[DT], i)
        busy += serve(s, bg, 0, 0.0, i) if s.n_serving[0] else 0.0   # left from the FIFO era
    else:
        busy = serve(s, bg, 0, budget, i)
        for lv in range(1, s.config[N_LEVELS]):
            if s.n_serving[lv]:
                busy += serve(s, bg, lv, 0.0, i)
    return busy


@_jit
def serve(s, bg, lv, budget, i):
    """Level ``lv`` spends ``budget`` seat-seconds: first on what holds seats, then from the
    head of its queue. Returns the seat-seconds it gave to requests taken from its queue."""
    dt = s.config_f[DT]
    used = 0.0
    kept = 0
    for j in range(s.n_serving[lv]):
        rec = s.serving[lv, j]
        owed = s.owed[lv, j]
        used += rec[S_COUNT] * min(owed, dt)
        owed -= dt
        if owed <= EPS_SEAT_S:
            complete(s, rec[S_CLS], rec[S_COUNT], rec[S_BATCH], rec[S_GEN], i)
        else:
            copy(s.serving[lv, kept], rec)
            s.owed[lv, kept] = owed
            kept += 1
    s.n_serving[lv] = kept
    pool = budget - used
    while s.q_head[lv] < s.q_tail[lv] and pool > EPS_SEAT_S:
        b = s.queue[lv, s.q_head[lv]]
        waiting = s.batch[b, B_WAITING]
        if waiting == 0:                     # emptied by a 429
            s.q_head[lv] += 1
            continue
        if s.batch[b, B_GEN] == i:           # only this tick's arrivals are left
            return budget - serve_fresh(s, bg, lv, pool, i)
        u = min(s.params[s.batch[b, B_CLS], COST], dt)
        fit = pool / u + 1e-9
        k = waiting if fit >= waiting else int(fit)
        if k == 0:
            break
        pool -= k * u
        start(s, b, k, lv, i)
        if s.batch[b, B_WAITING] == 0:
            s.q_head[lv] += 1
    return budget - max(pool, 0.0)


@_jit
def serve_fresh(s, bg, lv, pool, i):
    """This tick's arrivals came interleaved: serve the same fraction of each batch (rounded at
    random, so a batch of one is served as often as its share says). The pool left."""
    dt = s.config_f[DT]
    q, h, t = s.queue[lv], s.q_head[lv], s.q_tail[lv]
    need = 0.0
    for j in range(h, t):
        b = q[j]
        if s.batch[b, B_WAITING] > 0:
            need += s.batch[b, B_WAITING] * min(s.params[s.batch[b, B_CLS], COST], dt)
    frac = 1.0 if need <= pool else pool / need
    for j in range(h, t):
        b = q[j]
        n = s.batch[b, B_WAITING]
        if n <= 0:
            continue
        if frac >= 1.0:
            k = n
        else:                                # randomized rounding: right on average
            x = frac * n
            k = min(n, int(x) + (draws.uniform(bg) < x - int(x)))
        if k:
            pool -= k * min(s.params[s.batch[b, B_CLS], COST], dt)
            start(s, b, k, lv, i)
    w = h
    for j in range(h, t):                    # keep the rest, in order
        if s.batch[q[j], B_WAITING] > 0:
            q[w] = q[j]
            w += 1
    s.q_tail[lv] = w
    return max(pool, 0.0)


@_inline
def start(s, b, k, lv, i):
    """Move ``k`` requests of queued batch ``b`` into service (completing them if they fit in
    this tick)."""
    c, gen = s.batch[b, B_CLS], s.batch[b, B_GEN]
    s.batch[b, B_WAITING] -= k
    s.q_len[lv] -= k
    if s.batch[b, B_EXPIRED]:
        s.books[c, QUEUED_ORPHAN] -= k
        s.books[c, IN_SERVICE_ORPHAN] += k
    else:
        s.batch[b, B_LIVE_QUEUED] -= k
        s.batch[b, B_LIVE_SERVING] += k
        s.books[c, QUEUED] -= k
        s.books[c, IN_SERVICE] += k
    cost = s.params[c, COST]
    dt = s.config_f[DT]
    if cost <= dt + EPS_SEAT_S:
        complete(s, c, k, b, gen, i)
    else:
        j = s.n_serving[lv]
        rec = s.serving[lv, j]
        rec[S_CLS], rec[S_COUNT], rec[S_BATCH], rec[S_GEN] = c, k, b, gen
        s.owed[lv, j] = cost - dt
        s.n_serving[lv] += 1


@_inline
def complete(s, c, n, b, gen, i):
    """``n`` requests of batch ``b`` are answered at the end of tick ``i``: a success if their
    client still waits, wasted work for an orphan."""
    lat = (i + 1 - gen) * s.config_f[DT]
    s.books[c, COMPLETED] += n
    s.books[c, COMPLETIONS_TICK] += n
    s.books[c, LATENCY_SUM] += n * lat
    if s.batch[b, B_EXPIRED]:
        s.books[c, IN_SERVICE_ORPHAN] -= n
    else:
        s.batch[b, B_LIVE_SERVING] -= n
        s.books[c, IN_SERVICE] -= n
        s.books[c, SUCCEEDED] += n
        s.books[c, SUCCESSES_TICK] += n
        s.books[c, SUCCESS_LATENCY_SUM] += n * lat
        if c == s.config[DNS_CLS]:
            renew_dns(s, n, i)


@_jit
def trim(s, bg, lv, i):
    """What waits beyond the queue's bound gets a 429, drawn at random from this tick's
    arrivals (they arrived interleaved); only after a switch that shrank the bound can older
    requests be over it, and then the newest go."""
    excess = s.q_len[lv] - s.bound[lv]
    m, total = 0, 0
    for j in range(s.n_fresh[lv]):
        b = s.fresh[lv, j]
        if s.batch[b, B_WAITING] > 0:
            s.ids[m] = b
            s.colors[m] = s.batch[b, B_WAITING]
            total += s.colors[m]
            m += 1
    cut = min(excess, total)
    share = s.variates
    if cut == total:
        for j in range(m):
            share[j] = s.colors[j]
    elif m == 1:
        share[0] = cut
    else:                                    # which of them: uniformly at random
        for j in range(m):
            share[j] = 0
        draws.multivariate_hypergeometric(bg, total, m, s.colors.ctypes.data, cut, 1,
                                          share.ctypes.data)
    for j in range(m):
        reject_waiting(s, bg, s.ids[j], share[j], lv, i)
    excess -= cut
    j = s.q_tail[lv] - 1
    while j >= s.q_head[lv] and excess > 0:
        b = s.queue[lv, j]
        k = min(excess, s.batch[b, B_WAITING])
        reject_waiting(s, bg, b, k, lv, i)
        excess -= k
        j -= 1


@_inline
def reject_waiting(s, bg, b, k, lv, i):
    """``k`` waiting requests of batch ``b`` get a 429."""
    if k <= 0:
        return
    c = s.batch[b, B_CLS]
    s.batch[b, B_WAITING] -= k
    s.q_len[lv] -= k
    s.books[c, REJECTED] += k
    if s.batch[b, B_EXPIRED]:                # its client had already gone
        s.books[c, QUEUED_ORPHAN] -= k
    else:
        s.batch[b, B_LIVE_QUEUED] -= k
        s.books[c, QUEUED] -= k
        fail(s, bg, c, s.batch[b, B_ATTEMPT], k, False, i)
