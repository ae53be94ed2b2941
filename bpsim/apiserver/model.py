"""The parameters of an API-server run: traffic classes, priority levels, the DNS cache, the
switches, the removal, and the model that holds them. All frozen; every value is checked by
:mod:`bpsim.validate` when it is made, so a bad one is refused where it was written.

Units: seconds for times, requests per second for rates, seat-seconds for costs.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .. import validate
from ..validate import MAX_CAPACITY, MAX_DURATION_S, MAX_MESSAGES, MAX_RATE, MIN_DT_S

__all__ = ["TrafficClass", "PriorityLevel", "DnsCache", "Switch", "Removal", "ApiServerModel",
           "CLASS_FIELDS", "SERVER_FIELDS", "MAX_RETRIES", "MAX_TICKS"]

#: Most retries of one request. A backoff doubles with each attempt (``backoff_s * 2**attempt``)
#: and ``2.0**1024`` overflows a float, so the attempt number stays below that; the incident's
#: operator, who keeps trying, retries 1,000 times.
MAX_RETRIES = 1000
#: Most ticks in one run: the result keeps 18 float64 series per class per tick, so 10 million
#: ticks of 3 classes are 4.3 GB, about what a laptop can hold.
MAX_TICKS = 10 ** 7

_SECONDS = "seconds"


def _seconds(name, value, *, positive=True, low=0.0):
    return validate.number(name, value, low=low, high=MAX_DURATION_S, low_open=positive,
                           what=_SECONDS)


def _name(name, value):
    if not isinstance(value, str) or not value:
        validate.bad(name, value, "a non-empty string")
    return value


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
        How long a client waits for an answer before it gives up on that attempt (s, > 0).
    level : str
        The priority level it is admitted to when fairness is on.
    clients : int or None
        How many clients send this traffic. With a backoff, a client waiting to retry sends
        nothing new (an immediate retry leaves no pause). ``None``: so many clients that backing
        off does not lower the offered load.
    retries : int
        Retries after a timeout or a 429 (0: give up at once).
    backoff_s : float
        0: retry at the next tick. Otherwise the first backoff (s); it doubles with each attempt.
    backoff_cap_s : float
        The longest backoff (s).
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
        n = _name("TrafficClass.name", self.name)
        validate.number(f"{n}.rate_per_s", self.rate_per_s, low=0, high=MAX_RATE,
                        what="a rate in requests/s")
        validate.number(f"{n}.cost_s", self.cost_s, low=0, low_open=True, high=MAX_DURATION_S,
                        what="seat-seconds per request")
        _seconds(f"{n}.timeout_s", self.timeout_s)
        _name(f"{n}.level", self.level)
        validate.optional(validate.whole, f"{n}.clients", self.clients, low=1,
                          high=MAX_MESSAGES, what="a number of clients",
                          none_means="so many clients that backing off does not lower the load")
        validate.whole(f"{n}.retries", self.retries, low=0, high=MAX_RETRIES,
                       what="a number of retries")
        _seconds(f"{n}.backoff_s", self.backoff_s, positive=False)
        _seconds(f"{n}.backoff_cap_s", self.backoff_cap_s, positive=False,
                 low=float(self.backoff_s))


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
        n = _name("PriorityLevel.name", self.name)
        validate.number(f"level {n}.share", self.share, low=0, low_open=True, high=MAX_RATE,
                        what="a share of the seats (shares are normalised)")
        validate.whole(f"level {n}.queue_limit", self.queue_limit, low=0, high=MAX_CAPACITY,
                       what="a number of waiting requests")


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
        A record keeps resolving this long (s) after its last successful refresh.
    reresolve_s : float
        Seconds between re-resolution attempts for a dead record.
    """
    cls: str
    records: int
    refresh_s: float
    stale_s: float
    reresolve_s: float

    def __post_init__(self):
        _name("dns.cls", self.cls)
        validate.whole("dns.records", self.records, low=1, high=MAX_CAPACITY,
                       what="a number of service records")
        for name in ("refresh_s", "stale_s", "reresolve_s"):
            _seconds(f"dns.{name}", getattr(self, name))


#: What a :class:`Switch` may change. Class fields need ``cls``; server fields must not have it.
CLASS_FIELDS = ("rate_per_s", "cost_s", "clients", "retries", "backoff_s", "backoff_cap_s",
                "blocked")
SERVER_FIELDS = ("seats", "fairness")


def _switch_value(field, value):
    """Check the value a switch sets, as the field it sets would be checked."""
    name = f"Switch({field!r}).value"
    if field in ("blocked", "fairness"):
        return validate.flag(name, value)
    if field == "seats":
        return validate.number(name, value, low=0, low_open=True, high=MAX_CAPACITY,
                               what="a concurrency limit in seats")
    if field == "rate_per_s":
        return validate.number(name, value, low=0, high=MAX_RATE, what="a rate in requests/s")
    if field == "cost_s":
        return validate.number(name, value, low=0, low_open=True, high=MAX_DURATION_S,
                               what="seat-seconds per request")
    if field == "clients":
        return validate.optional(validate.whole, name, value, low=1, high=MAX_MESSAGES,
                                 what="a number of clients", none_means="unlimited clients")
    if field == "retries":
        return validate.whole(name, value, low=0, high=MAX_RETRIES, what="a number of retries")
    return _seconds(name, value, positive=False)            # backoff_s, backoff_cap_s


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
            if self.field not in SERVER_FIELDS:
                validate.bad("Switch.field", self.field,
                             f"a server field ({', '.join(SERVER_FIELDS)}), or give cls= for a "
                             "class field")
        else:
            _name("Switch.cls", self.cls)
            validate.choice("Switch.field", self.field, CLASS_FIELDS)
        _seconds("Switch.at_s", self.at_s, positive=False)
        _switch_value(self.field, self.value)


@dataclass(frozen=True)
class Removal:
    """When a request of class ``by`` first succeeds, class ``target`` stops sending new
    requests ``delay_s`` seconds later (an operator deleting the bad service; its pending
    retries still run out)."""
    by: str
    target: str
    delay_s: float = 60.0

    def __post_init__(self):
        _name("removal.by", self.by)
        _name("removal.target", self.target)
        _seconds("removal.delay_s", self.delay_s, positive=False)


@dataclass(frozen=True)
class ApiServerModel:
    """Everything a run needs. Times in seconds from the start of the run.

    Parameters
    ----------
    classes : tuple of TrafficClass
    seats : float
        The server's concurrency limit (all API servers together), in seats.
    fairness : bool
        False: one shared FIFO. True: the priority levels.
    levels : tuple of PriorityLevel
        Needed when fairness is on (or switched on); every class's ``level`` must be one of them.
    fifo_limit : int or None
        Bound of the shared FIFO in requests (None: unbounded).
    dns : DnsCache or None
    switches : tuple of Switch
    removal : Removal or None
    duration_s, dt_s : float
        Length of the run and of one tick (s).
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
        self._check_parts()
        names = [c.name for c in self.classes]
        if len(set(names)) != len(names):
            validate.bad("classes", names, "distinct class names")
        validate.number("seats", self.seats, low=0, low_open=True, high=MAX_CAPACITY,
                        what="a concurrency limit in seats, e.g. 600")
        validate.flag("fairness", self.fairness)
        dt = validate.number("dt_s", self.dt_s, low=MIN_DT_S, high=MAX_DURATION_S,
                             what="a tick in seconds, e.g. 1")
        validate.number("duration_s", self.duration_s, low=dt, high=min(MAX_DURATION_S,
                        MAX_TICKS * dt), what=f"seconds, at least one tick and at most "
                        f"{MAX_TICKS:,} ticks")
        validate.optional(validate.whole, "fifo_limit", self.fifo_limit, low=0,
                          high=MAX_CAPACITY, what="a number of waiting requests",
                          none_means="an unbounded FIFO")
        if self.fairness or any(s.field == "fairness" and s.value for s in self.switches):
            levels = [lev.name for lev in self.levels]
            for c in self.classes:
                validate.choice(f"{c.name}.level", c.level, levels)
        for s in self.switches:
            if s.cls is not None:
                validate.choice("Switch.cls", s.cls, names)
        if self.dns is not None:
            validate.choice("dns.cls", self.dns.cls, names)
        if self.removal is not None:
            validate.choice("removal.by", self.removal.by, names)
            validate.choice("removal.target", self.removal.target, names)

    def _check_parts(self):
        """Each part is of its kind (what they hold was checked when they were made)."""
        for name, value, kind, what in (
                ("classes", self.classes, TrafficClass, "a tuple of at least one TrafficClass"),
                ("levels", self.levels, PriorityLevel, "a tuple of PriorityLevel"),
                ("switches", self.switches, Switch, "a tuple of Switch")):
            if not isinstance(value, (tuple, list)) or not all(isinstance(x, kind)
                                                               for x in value):
                validate.bad(name, value, what)
        if not self.classes:
            validate.bad("classes", self.classes, "a tuple of at least one TrafficClass")
        for name, value, kind in (("dns", self.dns, DnsCache),
                                  ("removal", self.removal, Removal)):
            if value is not None and not isinstance(value, kind):
                validate.bad(name, value, f"a {kind.__name__} or None")

    @property
    def n_ticks(self) -> int:
        """Ticks in the run."""
        return int(round(self.duration_s / self.dt_s))

    def with_class(self, name: str, **changes) -> "ApiServerModel":
        """A copy with the fields of class ``name`` changed."""
        return replace(self, classes=tuple(replace(c, **changes) if c.name == name else c
                                           for c in self.classes))

    def index(self, name: str) -> int:
        """Position of class ``name`` in :attr:`classes`."""
        for i, c in enumerate(self.classes):
            if c.name == name:
                return i
        validate.choice("class", name, [c.name for c in self.classes])
