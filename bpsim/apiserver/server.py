"""The run (being rewritten as a class): the old tick loop, moved here unchanged."""
from __future__ import annotations

import math
from collections import deque

import numpy as np

from .model import ApiServerModel
from .result import SERIES, _IX, ApiServerResult

_EVEN = {k: np.full(k, 1.0 / k) for k in range(2, 5)}


class _Entry:
    """A client's ledger entry: attempts of one class sent in one tick with one attempt number,
    and where the still-live ones are (queued or in service)."""
    __slots__ = ("gen", "attempt", "q", "s", "expired")

    def __init__(self, gen, attempt):
        self.gen, self.attempt, self.q, self.s, self.expired = gen, attempt, 0, 0, False


def simulate_apiserver(model: ApiServerModel, rng=None) -> ApiServerResult:
    """Run ``model`` tick by tick.

    Order of events in tick ``i`` (covering ``[i*dt, (i+1)*dt)``):

    1. switches due at this tick take effect;
    2. attempts whose client timeout has passed become orphans; their requests are retried or
       count as finally timed out;
    3. DNS records older than ``stale_s`` die; the discovery rate follows the cache;
    4. retries that are due, then new requests (Poisson), are sent: refused if the class is
       blocked, queued at the tail of their level's queue (or the shared FIFO) otherwise;
    5. each level (or the shared FIFO) spends its seat-seconds: first on requests already in
       service, then from the head of its queue; requests whose cost is paid complete. What
       is left waiting beyond the queue's bound is rejected with 429, drawn at random from this
       tick's arrivals, which arrived interleaved and are served in proportion too (a request
       that can start at once needs no room in the queue);
    6. a first success of the removal's ``by`` class schedules the removal;
    7. the state is recorded.

    Parameters
    ----------
    model : ApiServerModel
    rng : int, numpy.random.Generator or None
        Seed or generator for the arrivals and the backoff jitter.
    """
    rng = np.random.default_rng(rng)
    m = model
    dt = m.dt_s
    n_ticks = int(round(m.duration_s / dt))
    nc = len(m.classes)
    rows = []
    dns_dead = np.zeros(n_ticks)
    seats_series = np.zeros(n_ticks)
    busy_series = np.zeros(n_ticks)

    # live, switchable parameters
    P = [dict(rate_per_s=c.rate_per_s, cost_s=c.cost_s, clients=c.clients, retries=c.retries,
              backoff_s=c.backoff_s, backoff_cap_s=c.backoff_cap_s, blocked=False)
         for c in m.classes]
    timeout_ticks = [max(1, int(math.ceil(c.timeout_s / dt - 1e-9))) for c in m.classes]
    seats, fairness = float(m.seats), bool(m.fairness)
    switches = sorted(m.switches, key=lambda s: s.at_s)
    sw_i = 0
    removal_tick, removed_at = None, None
    rm_by = m.index(m.removal.by) if m.removal else -1
    rm_target = m.index(m.removal.target) if m.removal else -1

    # levels: index 0 is the shared FIFO; levels 1.. are the priority levels
    lnames = [lev.name for lev in m.levels]
    share_sum = sum(lev.share for lev in m.levels) or 1.0
    shares = [lev.share / share_sum for lev in m.levels]
    lv_limits = [lev.queue_limit for lev in m.levels]
    cls_level = [1 + lnames.index(c.level) if c.level in lnames else 0 for c in m.classes]
    n_lv = 1 + len(m.levels)
    queues = [deque() for _ in range(n_lv)]     # batches [cls, gen, count, entry]
    qlen = [0] * n_lv
    serving = [[] for _ in range(n_lv)]          # batches [cls, count, remaining_s, entry, gen]
    fresh = [[] for _ in range(n_lv)]            # this tick's arrivals, for the 429s
    bound = [math.inf if m.fifo_limit is None else m.fifo_limit] + lv_limits

    ledger = [deque() for _ in range(nc)]
    retry_due: dict[int, dict] = {}              # tick -> {(cls, attempt): count}
    C = [[0.0] * len(SERIES) for _ in range(nc)]  # running state, one row per class
    i_tick = _IX["latency_sum"]
    zeros_tick = [0.0] * (len(SERIES) - i_tick)
    iq, iqo, isv, iso, irp = (_IX[k] for k in ("queued", "queued_orphan", "in_service",
                                               "in_service_orphan", "retry_pending"))

    # DNS cache: records by tick of last successful refresh, oldest on the left
    dns = m.dns
    dns_cls = m.index(dns.cls) if dns else -1
    alive: deque = deque()
    dead = 0
    if dns:
        k = max(1, int(round(dns.refresh_s / dt)))
        base, extra = divmod(dns.records, k)
        for j in range(k):               # staggered refreshes over the last refresh period
            alive.append([-k + j, base + (1 if j < extra else 0)])
        stale_ticks = int(round(dns.stale_s / dt))

    def fail(c, attempt, n, reason, i):
        """n attempts of class c failed at tick i (reason: 'timeout' or 'reject')."""
        if n <= 0:
            return
        p = P[c]
        if attempt < p["retries"]:
            key = (c, attempt + 1)
            if p["backoff_s"] <= 0:
                due = retry_due.setdefault(i + 1, {})
                due[key] = due.get(key, 0) + n
            else:       # spread uniformly over the upper half of the backoff, in 4 steps
                d = min(p["backoff_cap_s"], p["backoff_s"] * 2.0 ** attempt)
                lo, hi = max(1, int(round(0.5 * d / dt))), max(1, int(round(d / dt)))
                nb = min(4, hi - lo + 1)
                counts = rng.multinomial(n, _EVEN[nb]) if nb > 1 else (n,)
                for j in range(nb):
                    if counts[j]:
                        b = lo + (j * (hi - lo)) // max(1, nb - 1)
                        due = retry_due.setdefault(i + b, {})
                        due[key] = due.get(key, 0) + int(counts[j])
            C[c][irp] += n
        else:
            C[c][_IX["timed_out_final" if reason == "timeout" else "rejected_final"]] += n

    def send(c, attempt, n, i):
        C[c][_IX["attempts"]] += n
        if P[c]["blocked"]:
            C[c][_IX["blocked"]] += n
            fail(c, attempt, n, "reject", i)
            return
        lv = cls_level[c] if fairness else 0
        e = _Entry(i, attempt)
        e.q = n
        ledger[c].append(e)
        b = [c, i, n, e]
        queues[lv].append(b)
        fresh[lv].append(b)
        qlen[lv] += n
        C[c][iq] += n

    def trim(lv, i):
        """After service: what waits beyond the queue's bound gets a 429, drawn at random from
        this tick's arrivals (they arrived interleaved); only after a switch that shrank the
        bound can older requests be over it, and then the newest go."""
        excess = qlen[lv] - bound[lv]
        batches = [b for b in fresh[lv] if b[2] > 0]
        total = sum(b[2] for b in batches)
        cut = min(excess, total)
        if cut == total:
            share = [b[2] for b in batches]
        elif len(batches) == 1:
            share = [cut]
        elif cut:                               # which of them: uniformly at random
            share = rng.multivariate_hypergeometric([b[2] for b in batches], cut)
        else:
            share = []
        for b, k in zip(batches, share):
            reject_waiting(b, int(k), lv, i)
        excess -= cut
        for b in reversed(queues[lv]):
            if excess <= 0:
                break
            k = min(excess, b[2])
            reject_waiting(b, k, lv, i)
            excess -= k

    def reject_waiting(b, k, lv, i):
        if k <= 0:
            return
        c, _, _, e = b
        b[2] -= k
        qlen[lv] -= k
        C[c][_IX["rejected"]] += k
        if e.expired:                           # its client had already gone
            C[c][iqo] -= k
        else:
            e.q -= k
            C[c][iq] -= k
            fail(c, e.attempt, k, "reject", i)

    def complete(c, n, entry, gen, i):
        lat = (i + 1 - gen) * dt
        C[c][_IX["completed"]] += n
        C[c][_IX["completions_tick"]] += n
        C[c][_IX["latency_sum"]] += n * lat
        if entry.expired:
            C[c][iso] -= n
        else:
            entry.s -= n
            C[c][isv] -= n
            C[c][_IX["succeeded"]] += n
            C[c][_IX["successes_tick"]] += n
            C[c][_IX["success_latency_sum"]] += n * lat
            if c == dns_cls:
                renew(n, i)

    def renew(n, i):
        nonlocal dead
        back = min(n, dead)
        dead -= back
        n -= back
        while n > 0 and alive and alive[0][0] < i:
            take = min(n, alive[0][1])
            alive[0][1] -= take
            n -= take
            back += take
            if alive[0][1] == 0:
                alive.popleft()
        if back:
            if alive and alive[-1][0] == i:
                alive[-1][1] += back
            else:
                alive.append([i, back])

    def serve(lv, budget, i):
        used = 0.0
        keep = []
        for b in serving[lv]:                   # requests already holding seats
            c, n, rem, entry, gen = b
            used += n * min(rem, dt)
            rem -= dt
            if rem <= 1e-12:
                complete(c, n, entry, gen, i)
            else:
                b[2] = rem
                keep.append(b)
        serving[lv] = keep
        pool = budget - used
        q = queues[lv]
        while q and pool > 1e-12:
            b = q[0]
            if b[2] == 0:                       # emptied by a 429
                q.popleft()
                continue
            if b[1] == i:                       # only this tick's arrivals are left
                return budget - serve_fresh(lv, pool, i)
            u = min(P[b[0]]["cost_s"], dt)
            k = min(b[2], int(pool / u + 1e-9))
            if k == 0:
                break
            pool -= k * u
            start(b, k, lv, i)
            if b[2] == 0:
                q.popleft()
        return budget - max(pool, 0.0)

    def serve_fresh(lv, pool, i):
        """This tick's arrivals came interleaved: serve the same fraction of each batch (rounded
        at random, so a batch of one is served as often as its share says)."""
        q = queues[lv]
        rest = [b for b in q if b[2] > 0]
        need = sum(b[2] * min(P[b[0]]["cost_s"], dt) for b in rest)
        frac = 1.0 if need <= pool else pool / need
        for b in rest:
            if frac >= 1.0:
                k = b[2]
            else:                               # randomized rounding: right on average
                x = frac * b[2]
                k = min(b[2], int(x) + (rng.random() < x - int(x)))
            if k:
                pool -= k * min(P[b[0]]["cost_s"], dt)
                start(b, k, lv, i)
        q.clear()
        q.extend(b for b in rest if b[2] > 0)
        return max(pool, 0.0)

    def start(b, k, lv, i):
        """Move k requests of queued batch b into service (completing them if they fit)."""
        c, gen, _, entry = b
        b[2] -= k
        qlen[lv] -= k
        if entry.expired:
            C[c][iqo] -= k
            C[c][iso] += k
        else:
            entry.q -= k
            entry.s += k
            C[c][iq] -= k
            C[c][isv] += k
        cost = P[c]["cost_s"]
        if cost <= dt + 1e-12:
            complete(c, k, entry, gen, i)
        else:
            serving[lv].append([c, k, cost - dt, entry, gen])

    def move_level(old_to_new):
        # fairness switched: requeue everything waiting, keeping arrival order per class
        items = []
        for lv in range(n_lv):
            items.extend(queues[lv])
            queues[lv].clear()
            qlen[lv] = 0
        items.sort(key=lambda b: b[1])
        for b in items:
            lv = old_to_new(b[0])
            queues[lv].append(b)
            qlen[lv] += b[2]
        moved = []
        for lv in range(n_lv):
            moved.extend(serving[lv])
            serving[lv] = []
        for b in moved:
            serving[old_to_new(b[0])].append(b)

    for i in range(n_ticks):
        t0 = i * dt
        # 1. switches
        while sw_i < len(switches) and switches[sw_i].at_s <= t0 + 1e-9:
            s = switches[sw_i]
            sw_i += 1
            if s.cls is None:
                if s.field == "seats":
                    seats = float(s.value)
                elif bool(s.value) != fairness:
                    fairness = bool(s.value)
                    move_level((lambda c: cls_level[c]) if fairness else (lambda c: 0))
            else:
                P[m.index(s.cls)][s.field] = s.value
        if removal_tick is not None and i == removal_tick:
            P[rm_target]["rate_per_s"] = 0.0
            removed_at = t0
        # 2. client timeouts
        for c in range(nc):
            led = ledger[c]
            K = timeout_ticks[c]
            while led and led[0].gen + K <= i:
                e = led.popleft()
                e.expired = True
                if e.q or e.s:
                    C[c][iq] -= e.q
                    C[c][iqo] += e.q
                    C[c][isv] -= e.s
                    C[c][iso] += e.s
                    C[c][_IX["timed_out"]] += e.q + e.s
                    fail(c, e.attempt, e.q + e.s, "timeout", i)
        # 3. DNS cache
        if dns:
            while alive and alive[0][0] < i - stale_ticks:
                dead += alive.popleft()[1]
            dns_dead[i] = dead
            P[dns_cls]["rate_per_s"] = (dns.records - dead) / dns.refresh_s + dead / dns.reresolve_s
        # 4. retries due, then new requests
        for (c, attempt), n in sorted(retry_due.pop(i, {}).items()):
            C[c][irp] -= n
            send(c, attempt, n, i)
        for c in range(nc):
            p = P[c]
            rate = p["rate_per_s"]
            if rate <= 0:
                continue
            if p["clients"] and p["backoff_s"] > 0:   # clients backing off send nothing new
                rate *= max(0.0, 1.0 - C[c][irp] / p["clients"])
            n = int(rng.poisson(rate * dt))
            if n:
                C[c][_IX["offered"]] += n
                send(c, 0, n, i)
        # 5. service
        for row in C:
            row[i_tick:] = zeros_tick
        if fairness:
            busy = 0.0
            for lv in range(1, n_lv):
                busy += serve(lv, seats * shares[lv - 1] * dt, i)
            busy += serve(0, 0.0, i) if serving[0] else 0.0   # leftovers from the FIFO era
        else:
            busy = serve(0, seats * dt, i)
            for lv in range(1, n_lv):
                if serving[lv]:
                    busy += serve(lv, 0.0, i)
        for lv in range(n_lv):
            if qlen[lv] > bound[lv]:
                trim(lv, i)
            if fresh[lv]:
                fresh[lv].clear()
        # 6. removal
        if rm_by >= 0 and removal_tick is None and C[rm_by][_IX["successes_tick"]] > 0:
            removal_tick = i + 1 + int(round(m.removal.delay_s / dt))
        # 7. record
        rows.append([row[:] for row in C])
        busy_series[i] = busy
        seats_series[i] = seats
    table = np.array(rows, dtype=float).reshape(n_ticks, nc, len(SERIES))
    return ApiServerResult(model, table, dns_dead, seats_series, busy_series, removed_at)
