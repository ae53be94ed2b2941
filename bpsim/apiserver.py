"""A shared server with several traffic classes: the Kubernetes API server under overload.

The core model (:mod:`bpsim.reference`) has one producer and one queue. A Kubernetes API server
is shared: telemetry agents, service discovery and human operators all send it requests, and
those requests compete for the same limited concurrency. This module extends the model to that
case, in the same discrete-time style (a tick of ``dt_s`` seconds, counts of requests travelling
in batches, every random draw from an explicit ``rng``).

The pieces
----------
**Seats.** The server can work on ``seats`` requests at once (Kubernetes calls the units of its
concurrency limit *seats*). A request of a class costs ``cost_s`` seat-seconds: it holds one
seat for that long. In one tick a level with ``s`` seats has ``s * dt_s`` seat-seconds to give;
a request takes ``min(cost_s, dt_s)`` of them per tick until its cost is paid, so a seat serves
several cheap requests per tick and a request dearer than a tick stays *in service* across ticks.
A request finishes at the end of the tick its cost is paid in (latency is known to within a tick).

**Admission.** Either

- ``fairness=False``: one shared FIFO queue in front of all the seats (the naive server; the
  optional ``fifo_limit`` bounds it), or
- ``fairness=True``: in the spirit of Kubernetes API Priority and Fairness (APF), each class
  belongs to a :class:`PriorityLevel` that owns a share of the seats and its own bounded queue.
  Real APF also fair-queues the flows inside a level (shuffle sharding) and lets levels lend and
  borrow seats; this model leaves both out.

A request that can start at once needs no room in the queue; one that would have to wait in a
full queue is rejected at once with HTTP 429. Requests arriving in the same tick arrived
interleaved, so they are served, and turned away, in proportion to their numbers (the few
that round one way or the other are drawn at random). A class can also be ``blocked`` at the
network: its requests never reach the server.

**Clients that give up.** A client waits ``timeout_s`` for an answer. The server does not know
when a client has given up: the abandoned request (an *orphan*) stays in the queue and is still
served, wasting seats. That wasted work is what lets an overload outlive its cause.

**Retries.** A request that times out or gets a 429 is retried up to ``retries`` times, either
at once (``backoff_s=0``: the next tick) or after a capped exponential backoff with jitter
(``backoff_s * 2**attempt``, capped at ``backoff_cap_s``, spread over its upper half). A class
with a finite number of ``clients`` models clients that hold back while they back off: a client
waiting out a backoff sends nothing new, so backing off lowers the offered load.

**A DNS cache** (:class:`DnsCache`) in front of service discovery: each service record is
refreshed through the API server every ``refresh_s``; a record whose refreshes fail keeps
working from the cache until ``stale_s`` after its last successful refresh, then stops
resolving, and the clients of a dead record re-resolve every ``reresolve_s`` (more load).

**Switches** (:class:`Switch`) change a class or the server at a chosen time: scale the cluster
down, block a class at the network, add API servers, turn fairness on, make clients back off.

The books
---------
Per class, every request a client ever wanted to make is in exactly one place (the *client's
books*; retries are attempts of the same request, not new requests)::

    offered == succeeded + rejected_final + timed_out_final
               + queued + in_service + retry_pending

where ``queued`` and ``in_service`` count only live attempts (whose client still waits), and a
request is final once its last allowed attempt failed. The *server's books* count attempts::

    attempts == completed + rejected + blocked + queued + queued_orphan
                + in_service + in_service_orphan

with ``completed`` counting live and orphan completions alike. :meth:`ApiServerResult.books`
returns both sides of both identities.

>>> m = ApiServerModel(classes=(TrafficClass("a", rate_per_s=50, cost_s=0.1, timeout_s=5),),
...                    seats=10, duration_s=60)
>>> r = simulate_apiserver(m, rng=1)
>>> b = r.books("a")
>>> b["offered"] == b["accounted"]
True
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

__all__ = ["TrafficClass", "PriorityLevel", "DnsCache", "Switch", "Removal", "ApiServerModel",
           "ApiServerResult", "simulate_apiserver", "SERIES"]


@dataclass(frozen=True)
class TrafficClass:
    """One kind of client traffic.

    Parameters
    ----------
    name : str
    rate_per_s : float
        New requests per second when every client is active (Poisson arrivals).
    cost_s : float
        Seat-seconds one request costs the server (> 0).
    timeout_s : float
        How long a client waits for an answer before it gives up on that attempt (> 0).
    level : str
        The priority level it is admitted to when fairness is on.
    clients : int or None
        How many clients send this traffic. With a backoff, a client waiting to retry sends
        nothing new (an immediate retry leaves no pause). ``None``: so many clients that backing
        off does not lower the offered load.
    retries : int
        Retries after a timeout or a 429 (0: give up at once).
    backoff_s : float
        0: retry at the next tick. Otherwise the first backoff; it doubles with each attempt.
    backoff_cap_s : float
        The longest backoff.
    """
    name: str
    rate_per_s: float
    cost_s: float
    timeout_s: float
    level: str = "default"
    clients: int | None = None
    retries: int = 0
    backoff_s: float = 0.0
    backoff_cap_s: float = 60.0

    def __post_init__(self):
        _check(self.rate_per_s >= 0, f"{self.name}.rate_per_s", self.rate_per_s, "a rate >= 0")
        _check(self.cost_s > 0, f"{self.name}.cost_s", self.cost_s, "seat-seconds > 0, e.g. 0.05")
        _check(self.timeout_s > 0, f"{self.name}.timeout_s", self.timeout_s,
               "seconds > 0, e.g. 60")
        _check(self.clients is None or self.clients >= 1, f"{self.name}.clients", self.clients,
               "None or an integer >= 1")
        _check(self.retries >= 0, f"{self.name}.retries", self.retries, "an integer >= 0")
        _check(self.backoff_s >= 0, f"{self.name}.backoff_s", self.backoff_s,
               "0 (immediate retry) or seconds > 0")
        _check(self.backoff_cap_s >= self.backoff_s, f"{self.name}.backoff_cap_s",
               self.backoff_cap_s, f"a cap >= backoff_s ({self.backoff_s})")


@dataclass(frozen=True)
class PriorityLevel:
    """An APF-like priority level: a share of the seats and its own bounded queue.

    Parameters
    ----------
    name : str
    share : float
        Fraction of the server's seats reserved for this level (shares are normalised).
    queue_limit : int
        Requests the level may hold waiting; more are rejected with HTTP 429.
    """
    name: str
    share: float
    queue_limit: int

    def __post_init__(self):
        _check(self.share > 0, f"level {self.name}.share", self.share, "a share > 0")
        _check(self.queue_limit >= 0, f"level {self.name}.queue_limit", self.queue_limit,
               "an integer >= 0")


@dataclass(frozen=True)
class DnsCache:
    """A DNS cache in front of service discovery, attached to one traffic class.

    That class's rate is not its own ``rate_per_s``: it is ``alive / refresh_s + dead /
    reresolve_s`` requests per second, and each of its successful requests renews one record
    (a dead one first).

    Parameters
    ----------
    cls : str
        The traffic class that carries the refreshes.
    records : int
        Service records in the cache.
    refresh_s : float
        Seconds between refreshes of a healthy record.
    stale_s : float
        A record keeps resolving this long after its last successful refresh.
    reresolve_s : float
        Seconds between re-resolution attempts for a dead record.
    """
    cls: str
    records: int
    refresh_s: float
    stale_s: float
    reresolve_s: float

    def __post_init__(self):
        _check(self.records >= 1, "dns.records", self.records, "an integer >= 1")
        for name in ("refresh_s", "stale_s", "reresolve_s"):
            _check(getattr(self, name) > 0, f"dns.{name}", getattr(self, name), "seconds > 0")


#: What a :class:`Switch` may change. Class fields need ``cls``; server fields must not have it.
CLASS_FIELDS = ("rate_per_s", "cost_s", "clients", "retries", "backoff_s", "backoff_cap_s",
                "blocked")
SERVER_FIELDS = ("seats", "fairness")


@dataclass(frozen=True)
class Switch:
    """At ``at_s`` seconds, set ``field`` to ``value`` (for class ``cls``, or for the server).

    Class fields: ``rate_per_s, cost_s, clients, retries, backoff_s, backoff_cap_s, blocked``
    (``blocked=True`` refuses the class at the network: it never reaches the server).
    Server fields: ``seats, fairness``.
    """
    at_s: float
    field: str
    value: Any
    cls: str | None = None

    def __post_init__(self):
        if self.cls is None:
            _check(self.field in SERVER_FIELDS, "Switch.field", self.field,
                   f"a server field {SERVER_FIELDS}, or give cls= for a class field")
        else:
            _check(self.field in CLASS_FIELDS, "Switch.field", self.field,
                   f"a class field {CLASS_FIELDS}")
        _check(self.at_s >= 0, "Switch.at_s", self.at_s, "seconds >= 0")
        v, f = self.value, self.field
        ok = {"seats": lambda: v > 0, "cost_s": lambda: v > 0, "rate_per_s": lambda: v >= 0,
              "clients": lambda: v is None or v >= 1, "retries": lambda: v >= 0,
              "backoff_s": lambda: v >= 0, "backoff_cap_s": lambda: v >= 0}.get(f, lambda: True)
        _check(ok(), f"Switch({f!r}).value", v, f"a value a {f} can take")


@dataclass(frozen=True)
class Removal:
    """When a request of class ``by`` first succeeds, class ``target`` stops sending new
    requests ``delay_s`` later (an operator deleting the bad service; its pending retries
    still run out)."""
    by: str
    target: str
    delay_s: float = 60.0

    def __post_init__(self):
        _check(self.delay_s >= 0, "removal.delay_s", self.delay_s, "seconds >= 0")


@dataclass(frozen=True)
class ApiServerModel:
    """Everything a run needs. Times in seconds from the start of the run.

    Parameters
    ----------
    classes : tuple of TrafficClass
    seats : float
        The server's concurrency limit (all API servers together).
    fairness : bool
        False: one shared FIFO. True: the priority levels.
    levels : tuple of PriorityLevel
        Needed when fairness is on (or switched on); every class's ``level`` must be one of them.
    fifo_limit : int or None
        Bound of the shared FIFO (None: unbounded).
    dns : DnsCache or None
    switches : tuple of Switch
    removal : Removal or None
    duration_s, dt_s : float
    """
    classes: tuple
    seats: float
    fairness: bool = False
    levels: tuple = ()
    fifo_limit: int | None = None
    dns: DnsCache | None = None
    switches: tuple = ()
    removal: Removal | None = None
    duration_s: float = 3600.0
    dt_s: float = 1.0

    def __post_init__(self):
        _check(len(self.classes) >= 1, "classes", self.classes, "at least one TrafficClass")
        names = [c.name for c in self.classes]
        _check(len(set(names)) == len(names), "classes", names, "distinct class names")
        _check(self.seats > 0, "seats", self.seats, "a concurrency limit > 0, e.g. 600")
        _check(self.dt_s > 0, "dt_s", self.dt_s, "a tick in seconds > 0, e.g. 1")
        _check(self.duration_s >= self.dt_s, "duration_s", self.duration_s,
               f"at least one tick ({self.dt_s} s)")
        _check(self.fifo_limit is None or self.fifo_limit >= 0, "fifo_limit", self.fifo_limit,
               "None (unbounded) or an integer >= 0")
        needs_levels = self.fairness or any(s.field == "fairness" and s.value
                                            for s in self.switches)
        if needs_levels:
            lv = {lev.name for lev in self.levels}
            for c in self.classes:
                _check(c.level in lv, f"{c.name}.level", c.level,
                       f"one of the priority levels {sorted(lv)}")
        for s in self.switches:
            if s.cls is not None:
                _check(s.cls in names, "Switch.cls", s.cls, f"one of the classes {names}")
        if self.dns is not None:
            _check(self.dns.cls in names, "dns.cls", self.dns.cls, f"one of the classes {names}")
        if self.removal is not None:
            for k in ("by", "target"):
                _check(getattr(self.removal, k) in names, f"removal.{k}",
                       getattr(self.removal, k), f"one of the classes {names}")

    def with_class(self, name: str, **changes) -> "ApiServerModel":
        """A copy with the fields of class ``name`` changed."""
        return replace(self, classes=tuple(replace(c, **changes) if c.name == name else c
                                           for c in self.classes))

    def index(self, name: str) -> int:
        for i, c in enumerate(self.classes):
            if c.name == name:
                return i
        raise ValueError(f"class {name!r} is not in the model; the classes are "
                         f"{[c.name for c in self.classes]}")


def _check(ok, name, value, want):
    if not ok:
        raise ValueError(f"{name}={value!r} is not valid: expected {want}.")


#: Per-class series in :class:`ApiServerResult` (cumulative ones are running totals).
SERIES = (
    # state at the end of the tick
    "queued", "queued_orphan", "in_service", "in_service_orphan", "retry_pending",
    # running totals, client's books (requests)
    "offered", "succeeded", "rejected_final", "timed_out_final",
    # running totals, server's books (attempts)
    "attempts", "completed", "rejected", "blocked", "timed_out",
    # per tick
    "latency_sum", "success_latency_sum", "completions_tick", "successes_tick",
)
_IX = {n: i for i, n in enumerate(SERIES)}


class ApiServerResult:
    """Per-tick series of a run, per class.

    ``series(cls, name)`` gives one column (see :data:`SERIES`); the helpers below derive the
    ones a figure needs. Times are seconds from the start of the run, at the end of each tick.
    """

    def __init__(self, model, table, dns_dead, seats, busy, removed_at_s):
        self.model = model
        self._t = table                       # [tick, class, series]
        self.time_s = (np.arange(table.shape[0]) + 1) * model.dt_s
        self.dns_dead = dns_dead              # records that no longer resolve, per tick
        self.seats = seats                    # seats in force, per tick
        self.busy_seat_s = busy               # seat-seconds spent per tick (all classes)
        self.removed_at_s = removed_at_s      # when the removal took effect (or None)
        self.names = [c.name for c in model.classes]

    def __repr__(self):
        parts = ", ".join(f"{n}: {self.books(n)['succeeded']}/{self.books(n)['offered']} ok"
                          for n in self.names)
        return f"<ApiServerResult {parts}>"

    def series(self, cls: str, name: str) -> np.ndarray:
        if name not in _IX:
            raise ValueError(f"series {name!r} is unknown; pick one of {SERIES}")
        return self._t[:, self.model.index(cls), _IX[name]]

    def rate(self, cls: str, name: str, window_s: float = 60.0) -> np.ndarray:
        """Per-second rate of a running total, averaged over a trailing window."""
        total = self.series(cls, name)
        k = max(1, int(round(window_s / self.model.dt_s)))
        lag = np.concatenate([np.zeros(k), total[:-k]])
        span = np.minimum(np.arange(1, len(total) + 1), k) * self.model.dt_s
        return (total - lag) / span

    def latency(self, cls: str, window_s: float = 60.0, successes_only: bool = False):
        """Mean time in the system (queue + service) of the requests completed in a trailing
        window, orphans included unless ``successes_only``; NaN where none completed."""
        key = ("success_latency_sum", "successes_tick") if successes_only else \
              ("latency_sum", "completions_tick")
        k = max(1, int(round(window_s / self.model.dt_s)))
        s = np.convolve(self.series(cls, key[0]), np.ones(k))[:len(self.time_s)]
        n = np.convolve(self.series(cls, key[1]), np.ones(k))[:len(self.time_s)]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, s / np.maximum(n, 1), np.nan)

    def goodput_fraction(self, cls: str, window_s: float = 60.0) -> np.ndarray:
        """Fraction of the class's attempts that succeeded, over a trailing window."""
        ok = self.rate(cls, "succeeded", window_s)
        att = self.rate(cls, "attempts", window_s)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(att > 0, ok / np.maximum(att, 1e-12), np.nan)

    def books(self, cls: str) -> dict:
        """Both sides of both identities at the end of the run (see the module docstring)."""
        end = {n: int(round(self.series(cls, n)[-1])) for n in SERIES[:14]}
        end["accounted"] = (end["succeeded"] + end["rejected_final"] + end["timed_out_final"]
                            + end["queued"] + end["in_service"] + end["retry_pending"])
        end["attempts_accounted"] = (end["completed"] + end["rejected"] + end["blocked"]
                                     + end["queued"] + end["queued_orphan"]
                                     + end["in_service"] + end["in_service_orphan"])
        return end

    def first_time(self, mask) -> float | None:
        """The first time (s) at which a boolean series is true, or None."""
        idx = np.flatnonzero(mask)
        return float(self.time_s[idx[0]]) if len(idx) else None


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
