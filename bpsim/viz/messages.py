"""The message view: every message as a dot, on a simulation you can pause, steer and feed by hand.

A :class:`MessageView` owns one :class:`bpsim.Simulation` (or two, "lanes", fed the same traffic:
same seed, same bursts; the second differs by its strategy, its service order, whether it drops
expired work, or its capacity, see ``compare``) and an ``anywidget`` view drawn in the page by
``static/messages.js`` (a canvas for the producer, the buffer's slots, the consumers and the dots;
the vendored uPlot for the small live charts of queue depth and latency). Nothing is fetched from
a network: the JavaScript and CSS ship in the package.

The way of a frame
------------------
The page is the clock. While it plays it asks the kernel for the next frame (a custom message
``{"event": "tick", "real_s": ...}``) and asks again only once that frame has arrived, so a slow
kernel slows the view down instead of piling up requests (the view practises backpressure). For
each request the kernel advances every lane by ``speed * real_s`` simulated seconds (rounded to
whole ticks; what is left over is carried to the next request, so slow motion below one tick a
frame still moves), reads ``sim.events()`` and sends one compact frame per lane (:func:`encode`):
the per-tick counts of every fate, a sample of the latencies served, the state (depth, capacity,
workers, held backlog, memory, down) and the running totals of the accounting identity. The page
turns the counts into dots (one per ``k`` messages, :func:`dot_scale`) and animates them.

Controls (all in the page, all reachable with Tab, visible focus): play/pause (space), one step
(``.``), speed from slow motion to real time, "send a burst of N" (button and ``b``), producer
rate, capacity, consumers, strategy per lane (and retries for ``shed``), reset. A change goes to
``sim.set(...)`` of the running simulation at once: nothing restarts.

When a simulation reaches its horizon (it refuses to advance: a ValueError), the view stops
playing, says so and offers reset; a refused setting is shown in the library's own words. Neither
ever becomes a traceback on the page.

The still twin
--------------
:func:`show_messages` runs the same view headless for a few seconds (seeded, bursts included) and
draws its state with matplotlib (:func:`render_messages`: queue depth over time, and where every
offered message is, the terms of the accounting identity), printing a sentence of the counts: for
strict nbval, a notebook read on GitHub and static exports, where widgets cannot run.

Naming (docs/architecture.md): ``messages_dashboard(**values)`` is the live view,
``render_messages(fig, **values) -> str`` the still figure and its sentence, ``show_messages``
the still twin.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping

import numpy as np

from .. import validate
from ..validate import InputError
from .palette import OUTCOMES, lane_colors

#: Frames a second the page asks for while it plays.
FPS = 30
#: The speeds offered, simulated seconds per real second: slow motion up to real time.
SPEEDS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
#: Most dots in flight on one lane's canvas at once (beyond that a dot stands for k messages).
DOT_BUDGET = 1000
#: Most buffer slots drawn one by one (beyond that a slot cell holds k messages).
SLOT_BUDGET = 500
#: Real seconds a dot is in flight (the page's animation), used to size the dot budget.
DOT_LIFE_S = 0.8
#: The scales a dot may stand for (messages); the smallest that fits is used.
SCALES = tuple(m * 10 ** e for e in range(0, 10) for m in (1, 2, 5))
#: Workers drawn one by one (beyond that the rest are summed up in a line).
WORKERS_SHOWN = 24
#: Batches of the buffer's head whose ages are sent (the page shades the first slots by age).
HEAD_SHOWN = 60
#: Latencies sent per frame at most (a sample, for the latency chart).
LATENCIES_SENT = 200
#: Seed of every view unless told otherwise: the same settings always play the same traffic.
SEED = 2024

#: Per-tick counts a frame carries, in this order (the names of ``Events.counts``).
COUNTS = ("offered", "injected", "admitted", "delivered", "timed_out", "expired", "dropped",
          "shed", "rejected", "retried", "sampled_out", "lost")
#: The terms of the accounting identity: their sum is always ``offered``.
TERMS = ("delivered", "timed_out", "expired", "dropped", "shed", "sampled_out", "lost_in_crash",
         "queue_end", "in_service_end", "producer_backlog_end")
#: What the page calls each term (and the still figure's legend).
TERM_LABELS = {"delivered": "delivered", "timed_out": "served too late", "expired": "expired",
               "dropped": "dropped", "shed": "shed (error)", "sampled_out": "sampled out",
               "lost_in_crash": "lost in crash", "queue_end": "in the buffer",
               "in_service_end": "being served", "producer_backlog_end": "held by producer"}
#: Settings the page may change on a running simulation (``sim.set``), besides ``strategy``.
SETTABLE = ("producer_rate", "capacity", "consumers", "retries")
#: Limits of the page's own inputs (the simulation checks the values again).
MAX_BURST = 100_000
#: Scenario fields a second lane may have of its own (``compare={"order": "lifo"}``), besides its
#: strategy: the traffic (rates, arrivals, bursts, the clients' timeout) stays the same for both.
LANE_FIELDS = ("order", "drop_expired", "capacity")
#: How a lane's label says its service order.
ORDER_WORDS = {"fifo": "FIFO", "lifo": "LIFO", "adaptive_lifo": "adaptive LIFO"}


# -- what a dot stands for ---------------------------------------------------------------------
def dot_scale(flow_per_s: float, speed: float, capacity: int = -1, budget: int = DOT_BUDGET,
              slots: int = SLOT_BUDGET) -> int:
    """Messages one dot stands for: 1 while the screen can show each message, else the smallest
    of :data:`SCALES` that keeps at most ``budget`` dots in flight and ``slots`` buffer cells.

    ``flow_per_s`` is the messages a simulated second sets moving (offered plus served);
    ``speed`` simulated seconds per real second; ``capacity`` the buffer's slots (-1 unbounded).

    >>> dot_scale(100, 0.1), dot_scale(1000, 1.0), dot_scale(20_000, 1.0), dot_scale(10, 1, 5000)
    (1, 1, 20, 10)
    """
    need = max(flow_per_s * speed * DOT_LIFE_S / budget, (capacity / slots) if capacity > 0 else 0)
    for k in SCALES:
        if k >= need:
            return k
    return SCALES[-1]


def _ints(a) -> list:
    return np.asarray(a, dtype=np.int64).tolist()


def encode(ev, lane: int = 0, k: int = 1, strategy: str = "", seq: int = 0,
           evicts: bool = False) -> dict:
    """One lane's frame for the page: ``ev`` (a ``bpsim.simulation.Events``) as lists and numbers.

    Keys: ``lane``, ``seq``, ``t0``, ``t1`` (s), ``ticks``, ``k`` (messages per dot),
    ``strategy``, ``c`` (name -> per-tick counts, only the names that happened; with ``evicts``,
    a strategy that makes room by pushing out the oldest, its drops are split between
    ``dropped_head``, those it pushed out of the buffer's head, and ``dropped``, those turned away
    at the entrance: see :func:`head_drops`), ``lat`` (a sample
    of at most :data:`LATENCIES_SENT` latencies of the messages served, s), ``served`` and
    ``late`` (how many were served, how many after their client left), ``s`` (the state: depth,
    capacity, in_service, held, retry_pending, down, mem, mem_limit, active, ``w`` = ``[busy,
    progress, age_s]`` of the first :data:`WORKERS_SHOWN` workers, ``head`` = ``[age_s, count]``
    of the first :data:`HEAD_SHOWN` batches), ``tot`` (the totals) and ``adds_up`` (the totals'
    terms sum to ``offered``).
    """
    t1 = float(ev.t1_s)
    counts = {}
    split = dict(ev.counts)
    if evicts and "dropped" in split:
        split["dropped_head"] = head_drops(split["dropped"], split["admitted"])
        split["dropped"] = split["dropped"] - split["dropped_head"]
    for name in COUNTS + ("dropped_head",):
        a = split.get(name)
        if a is not None and len(a) and np.any(a):
            counts[name] = _ints(a)
    served = ev.served
    done = np.asarray(served.get("done_s", ()), float)
    gen = np.asarray(served.get("gen_s", ()), float)
    lat = done - gen
    in_time = np.asarray(served.get("in_time", np.ones(len(done), bool)), bool)
    if len(lat) > LATENCIES_SENT:
        lat = lat[np.linspace(0, len(lat) - 1, LATENCIES_SENT).astype(np.int64)]
    st = ev.state
    w = st.get("workers", {})
    busy = np.asarray(w.get("busy", ()), bool)[:WORKERS_SHOWN]
    prog = np.asarray(w.get("progress", ()), float)[:WORKERS_SHOWN]
    wgen = np.asarray(w.get("gen_s", ()), float)[:WORKERS_SHOWN]
    workers = [[bool(b), round(float(p), 3) if b else 0.0,
                round(t1 - float(g), 4) if b and math.isfinite(g) else 0.0]
               for b, p, g in zip(busy, prog, wgen)]
    buf = st.get("buffer", {})
    bg = np.asarray(buf.get("gen_s", ()), float)[:HEAD_SHOWN]
    bc = np.asarray(buf.get("count", ()), np.int64)[:HEAD_SHOWN]
    tot = {name: int(v) for name, v in ev.totals.items()}
    return {
        "lane": lane, "seq": seq, "t0": float(ev.t0_s), "t1": t1, "ticks": len(ev.tick_s),
        "k": int(k), "strategy": strategy, "c": counts,
        "lat": [round(float(x), 5) for x in lat], "served": int(len(done)),
        "late": int(np.count_nonzero(~in_time)),
        "s": {"depth": int(st["depth"]), "capacity": int(st["capacity"]),
              "in_service": int(st["in_service"]), "held": int(st["held"]),
              "retry_pending": int(st.get("retry_pending", 0)), "down": bool(st["down"]),
              "mem": float(st["memory_bytes"]), "mem_limit": float(st["memory_limit_bytes"]),
              "active": int(st.get("active_consumers", len(w.get("busy", ())))),
              "workers": int(len(w.get("busy", ()))), "w": workers,
              "head": [[round(t1 - float(g), 4), int(c)] for g, c in zip(bg, bc)]},
        "tot": tot,
        "adds_up": tot.get("offered", 0) == sum(tot.get(t, 0) for t in TERMS),
    }


def head_drops(dropped, admitted) -> np.ndarray:
    """Of a tick's drops by a strategy that evicts the oldest for what arrives, those pushed out
    of the buffer's head: ``min(dropped, admitted)`` per tick (messages).

    Such a rule admits what fits, then for each message left over pushes one out of the head and
    admits it in its place; only what is left once the whole buffer has been pushed out is turned
    away at the entrance. So every eviction has an admission beside it, and for a tick's one
    batch the count is exact unless the batch is larger than the buffer's room plus its capacity
    while it has room. In a tick where a burst comes besides the arrivals, the arrivals admitted
    before it may be drawn as pushed out too. And while the buffer holds more than its capacity
    (just after the capacity was lowered: the buffer is not trimmed), each arrival pushes one
    out and is turned away as well, with no admission beside it: those pushed out are drawn at
    the door until the buffer is back within its capacity. Only the drawing depends on this:
    the two counts add up to the engine's ``dropped``, and the totals are the engine's.
    """
    return np.minimum(np.asarray(dropped, np.int64), np.asarray(admitted, np.int64))


# -- one lane: a simulation and what the view remembers of it ------------------------------------
class Lane:
    """One simulation of the view, its strategy's name, its label and colour (the view names its
    lanes, :meth:`MessageView.labels`), and the frames' history (for charts)."""

    def __init__(self, sim, index: int):
        self.sim = sim
        self.index = index
        self.label = sim.strategy.name
        self.color = "#777777"
        self.k = 1
        self.history = {"t": [], "depth": [], "latency": [], "capacity": []}
        self.last = None

    @property
    def strategy(self) -> str:
        return self.sim.strategy.name

    def frame(self, speed: float, seq: int) -> dict:
        ev = self.sim.events()
        sc = self.sim.scenario
        flow = sc.producer_rate + sc.consumers * sc.consumer_rate
        cap = int(ev.state["capacity"])
        self.k = dot_scale(flow, speed, cap)
        rule = self.sim.strategy.rule()  # declared: where its drops leave from
        f = encode(ev, self.index, self.k, self.strategy, seq,
                   evicts=rule is not None and rule.evict_oldest)
        h = self.history
        h["t"].append(f["t1"])
        h["depth"].append(f["s"]["depth"])
        h["latency"].append(float(np.median(f["lat"])) if f["lat"] else math.nan)
        h["capacity"].append(cap)
        self.last = f
        return f


def _seed(rng):
    """One integer seed from ``rng`` (so that two lanes can be given the same traffic)."""
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        validate.rng(rng)
        return int(rng)
    return int(validate.rng(rng).integers(2 ** 63))


def _compare(compare, names) -> tuple | None:
    """``(strategy or None, scenario fields)`` of the second lane from ``compare``; ``None``
    for one lane. Every value is checked here, so a bad one is named as part of ``compare``."""
    if compare is None:
        return None
    if isinstance(compare, str):
        return validate.choice("compare", compare, names), {}
    keys = ", ".join(("strategy",) + LANE_FIELDS)
    if not isinstance(compare, Mapping) or not compare:
        validate.bad("compare", compare, f"a strategy name (one of {', '.join(names)}), a dict of "
                                         f"what lane 2 does differently (keys among {keys}), or "
                                         "None for one lane")
    unknown = sorted((k for k in compare if k not in ("strategy",) + LANE_FIELDS), key=str)
    if unknown:
        validate.bad("compare", compare, f"a dict with keys among {keys} ({unknown[0]!r} is not "
                                         "one: both lanes share every other setting)")
    from ..scenario import ORDERS
    fields = {}
    strategy = None
    if "strategy" in compare:
        strategy = validate.choice("compare['strategy']", compare["strategy"], names)
    if "order" in compare:
        fields["order"] = validate.choice("compare['order']", compare["order"], ORDERS)
    if "drop_expired" in compare:
        fields["drop_expired"] = validate.flag("compare['drop_expired']", compare["drop_expired"])
    if "capacity" in compare:
        fields["capacity"] = validate.whole("compare['capacity']", compare["capacity"], low=0,
                                            high=validate.MAX_CAPACITY,
                                            what="a whole number of slots")
    return strategy, fields


def _words(field: str, value) -> str:
    """A lane's scenario field as its label says it: ``LIFO``, ``drops expired``, ``10 slots``."""
    if field == "order":
        return ORDER_WORDS.get(value, str(value))
    if field == "drop_expired":
        return "drops expired" if value else "serves expired"
    return f"{value:,} slots"


def _choices() -> tuple:
    import bpsim
    return tuple(bpsim.STRATEGIES)


def _simulation_class():
    import bpsim
    return bpsim.Simulation


# -- the view --------------------------------------------------------------------------------------
class MessageView:
    """Watch the messages: an animated view of one simulation, or two fed the same traffic.

    Parameters
    ----------
    scenario : Scenario or None
        The experiment (``None``: the course's scenario); ``**overrides`` change its fields and
        give the strategies' keywords (``producer_rate=150``, ``capacity=20``, ``retries=2``...).
    strategy : str
        The first lane's strategy (a name of ``bpsim.STRATEGIES``).
    compare : str, dict or None
        A second lane, fed the same traffic (seed, bursts, rates), side by side with the first.
        A strategy name gives it that strategy. A dict says what it does differently: any of
        ``strategy`` (a name), ``order`` (``"fifo"``, ``"lifo"`` or ``"adaptive_lifo"``: which
        waiting message is served next), ``drop_expired`` (True or False: discard unserved the
        messages whose client has left, which needs a ``client_timeout_s``) and ``capacity``
        (slots), for example ``{"order": "lifo"}``; it must change at least one of them. The
        lanes' labels name what differs (``drop_newest, FIFO`` and ``drop_newest, LIFO``); the
        page's capacity control sets every lane's capacity.
    rng : int, Generator or None
        The traffic's seed (both lanes get the same one).
    speed : float
        Simulated seconds per real second (one of :data:`SPEEDS`; ``0.1`` is ten times slower
        than real time).
    burst : int
        How many messages "send a burst" hands the producer.

    Attributes
    ----------
    lanes : list of Lane
        ``lanes[i].sim`` is the running :class:`bpsim.Simulation` of lane ``i``; ``lanes[i].label``
        and ``lanes[i].color`` are what the page, the legends and the still twin call and draw it.
    widget
        The anywidget view (made on first display or first use of :attr:`widget`).
    ended : str
        Why the view stopped (the simulation's horizon), or ``""``.
    error : str
        The last refused setting, in the library's words, or ``""``.
    last_step_s : float
        Kernel time of the last frame: advance, events, encoding (s).
    """

    def __init__(self, scenario=None, *, strategy="drop_newest", compare=None, rng=SEED,
                 speed=0.1, burst=50, **overrides):
        import bpsim
        names = tuple(bpsim.STRATEGIES)
        self._strategies = [validate.choice("strategy", strategy, names)]
        self._lane_kw = [{}]        # each lane's own scenario fields (lane 2's from compare)
        self._shown = ()            # the fields the labels name (those compare sets)
        second = _compare(compare, names)
        if second is not None:
            self._strategies.append(second[0] or self._strategies[0])
            self._lane_kw.append(dict(second[1]))
            self._shown = tuple(f for f in LANE_FIELDS if f in second[1])
        self.speed = self._speed(speed)
        self.burst_size = validate.whole("burst", burst, low=1, high=MAX_BURST,
                                         what="a whole number of messages")
        self._scenario = scenario
        self._overrides = dict(overrides)
        self._seed = _seed(rng)
        self._widget = None
        self.seq = 0
        self._carry = 0.0
        self.ended = ""
        self.error = ""
        self.last_step_s = math.nan
        self.bursts = []            # (time_s, n) of every burst sent, for the record
        try:
            self._build()
        except ValueError as err:
            if len(self.lanes) != 1:    # lane 1 is refused in its own words
                raise
            raise InputError(f"compare={validate.shown(compare)} does not make a second lane: "
                             f"{err}") from None
        if isinstance(compare, Mapping):
            self._changes_something(compare)
        self._frames()              # every lane has a frame from the start (time 0)

    # -- the simulations -------------------------------------------------------------------------
    def _build(self):
        cls = _simulation_class()
        self.lanes = []
        from ..strategies import keywords
        known = keywords()
        # a strategy keyword that some lane takes goes to that lane only; one that no lane takes
        # goes to the first, whose strategy refuses it in the library's words
        taken = {k for k in self._overrides
                 if k in known and any(s in known[k] for s in self._strategies)}
        for i, name in enumerate(self._strategies):
            kw = {k: v for k, v in self._overrides.items()
                  if k not in known or name in known[k] or (i == 0 and k not in taken)}
            kw.update(self._lane_kw[i])
            self.lanes.append(Lane(cls(self._scenario, strategy=name, rng=self._seed, **kw), i))
        self._carry = 0.0
        self.ended = ""
        self.bursts = []

    def _changes_something(self, compare) -> None:
        """Refuse a ``compare`` dict whose lane 2 would play exactly what lane 1 plays."""
        one, two = (lane.sim for lane in self.lanes)
        if one.strategy.name != two.strategy.name:
            return
        same = [f"{f}={getattr(one.scenario, f)!r}" for f in self._shown
                if getattr(one.scenario, f) == getattr(two.scenario, f)]
        if len(same) == len(self._shown):
            validate.bad("compare", compare, "a dict that changes something for lane 2: lane 1 "
                         f"already has strategy={one.strategy.name!r}"
                         + "".join(", " + s for s in same))

    def labels(self) -> list[str]:
        """What each lane is called: its strategy, then the fields ``compare`` gave lane 2, as
        they stand now (``drop_newest, FIFO`` beside ``drop_newest, LIFO``); two lanes that
        would share a label are told apart by their numbers (``(lane 1)``, ``(lane 2)``)."""
        out = [", ".join([lane.strategy] + [_words(f, getattr(lane.sim.scenario, f))
                                             for f in self._shown]) for lane in self.lanes]
        return [f"{name} (lane {i + 1})" if out.count(name) > 1 else name
                for i, name in enumerate(out)]

    @staticmethod
    def _fit(strategy: str, kw: dict, strict: bool = False) -> dict:
        """``kw`` without the strategy keywords ``strategy`` does not take (unless ``strict``)."""
        from ..strategies import keywords
        known = keywords()
        return {k: v for k, v in kw.items()
                if strict or k not in known or strategy in known[k]}

    @property
    def sims(self) -> list:
        """The running simulations, one per lane."""
        return [lane.sim for lane in self.lanes]

    @staticmethod
    def _speed(speed) -> float:
        if not validate.is_real(speed) or float(speed) not in SPEEDS:
            validate.bad("speed", speed, "one of " + ", ".join(f"{s:g}" for s in SPEEDS)
                         + " (simulated seconds per real second)")
        return float(speed)

    # -- what the page (or a test) asks ----------------------------------------------------------
    def step(self, seconds: float | None = None) -> list[dict]:
        """Advance every lane by ``seconds`` (default: one frame at the current speed) and return
        the lanes' frames (sent to the page too). At the horizon nothing advances and
        :attr:`ended` says why."""
        start = time.perf_counter()
        if seconds is None:
            seconds = self.speed / FPS
        seconds = validate.number("seconds", seconds, low=0, high=validate.MAX_DURATION_S,
                                  what="a time in seconds")
        dt = self.lanes[0].sim.dt_s
        want = self._carry + seconds
        ticks = int(math.floor(want / dt + 1e-9))
        self._carry = want - ticks * dt
        if ticks and not self.ended:
            try:
                for lane in self.lanes:
                    lane.sim.advance(ticks * dt)
            except ValueError as err:
                self.ended = (f"The simulation has reached its end at {self.now:g} s and stops "
                              f"here ({err}). Press reset to start again.")
        frames = self._frames()
        self.last_step_s = time.perf_counter() - start
        return frames

    def play_for(self, seconds: float, bursts=()) -> list[dict]:
        """Run headless for ``seconds`` of simulated time in frames of the current speed, sending
        the bursts ``[(time_s, n), ...]`` when their time comes; the last frames."""
        todo = sorted((float(t), int(n)) for t, n in bursts)
        end = self.now + seconds
        frames = [lane.last for lane in self.lanes]
        frame_s = max(self.speed / FPS, self.lanes[0].sim.dt_s)
        while self.now < end - 1e-9 and not self.ended:
            while todo and todo[0][0] <= self.now + 1e-12:
                self.burst(todo.pop(0)[1], show=False)
            frames = self.step(min(frame_s, end - self.now))
        return frames

    def burst(self, n: int | None = None, show: bool = True) -> list[dict] | None:
        """Hand every lane's producer ``n`` extra messages (default: the burst size) at the next
        tick. While paused (``show``) the view steps one tick, so the burst is seen at once."""
        n = self.burst_size if n is None else validate.whole(
            "burst", n, low=1, high=MAX_BURST, what="a whole number of messages")
        for lane in self.lanes:
            lane.sim.inject(n)
        self.bursts.append((self.now, n))
        if show:
            return self.step(self.lanes[0].sim.dt_s)
        return None

    def set(self, lane: int | None = None, **changes) -> None:
        """Change the running simulations at once (``sim.set``): ``producer_rate``, ``capacity``,
        ``consumers``, ``retries``, ``strategy`` (on ``lane`` only, or every lane). A strategy
        keyword goes only to the lanes whose strategy takes it. A scenario field set on one lane
        stays that lane's own (a reset keeps it); set on every lane, it replaces the lanes' own."""
        import bpsim
        from ..scenario import Scenario
        lanes = self.lanes if lane is None else [self.lanes[validate.whole(
            "lane", lane, low=0, high=len(self.lanes) - 1, what="a lane number")]]
        if "strategy" in changes:
            validate.choice("strategy", changes["strategy"], tuple(bpsim.STRATEGIES))
        for ln in lanes:
            own = dict(changes)
            name = own.get("strategy", ln.strategy)
            own = self._fit(name, own, strict=len(lanes) == 1 and "strategy" not in own)
            if "strategy" in own:
                # a new strategy takes the view's current keywords it understands (retries...)
                for key, v in self._fit(name, {k: v for k, v in self._overrides.items()
                                               if k in ("retries", "sample_every")}).items():
                    own.setdefault(key, v)
            if own:
                ln.sim.set(**own)
            if "strategy" in own:
                self._strategies[ln.index] = own["strategy"]
        fields = {k: v for k, v in changes.items() if k in Scenario.__dataclass_fields__}
        if lane is None:
            for kw in self._lane_kw:
                for k in fields:
                    kw.pop(k, None)
        else:
            self._lane_kw[lanes[0].index].update(fields)
        self._overrides.update({k: v for k, v in changes.items()
                                if k != "strategy" and (lane is None or k not in fields)})

    def reset(self) -> list[dict]:
        """Start again from time 0 with the current settings (and the same seed)."""
        keep = {k: v for k, v in self._overrides.items()}
        self._overrides = keep
        self._build()
        return self._frames()

    @property
    def now(self) -> float:
        return float(self.lanes[0].sim.now)

    def _frames(self) -> list[dict]:
        self.seq += 1
        for ln, label, color in zip(self.lanes, self.labels(),
                                    lane_colors(x.strategy for x in self.lanes)):
            ln.label, ln.color = label, color
        frames = [lane.frame(self.speed, self.seq) for lane in self.lanes]
        if self._widget is not None:   # the status first: the page makes its lanes from it
            self._widget.status = self.status()
            self._widget.frames = frames
        return frames

    def status(self) -> dict:
        """The view's settings, as the page shows them."""
        sc = self.lanes[0].sim.scenario
        return {"speed": self.speed, "burst": self.burst_size, "ended": self.ended,
                "error": self.error, "strategies": list(self._strategies),
                "labels": [lane.label for lane in self.lanes],
                "producer_rate": float(sc.producer_rate), "consumer_rate": float(sc.consumer_rate),
                "capacity": int(sc.capacity), "consumers": int(sc.consumers),
                "retries": int(self._overrides.get("retries", 0)),
                "restart_s": float(getattr(sc, "restart_s", 0.0)),
                "colors": [lane.color for lane in self.lanes], "seq": self.seq,
                "choices": list(_choices())}

    def handle(self, content: dict) -> None:
        """One message from the page: ``tick``, ``step``, ``burst``, ``set``, ``speed``, ``reset``.

        A refused value is kept in :attr:`error` (shown in the page), never raised into the page.
        """
        event = content.get("event") if isinstance(content, dict) else None
        try:
            self.error = ""
            if event == "tick":
                real = float(content.get("real_s", 1 / FPS))
                self.step(self.speed * min(max(real, 0.0), 0.25))
            elif event == "step":
                self.step(self.speed / FPS if not content.get("tick") else self.lanes[0].sim.dt_s)
            elif event == "burst":
                n = content.get("n")
                if n is not None:
                    self.burst_size = validate.whole("burst", n, low=1, high=MAX_BURST,
                                                     what="a whole number of messages")
                self.burst(self.burst_size)
            elif event == "speed":
                self.speed = self._speed(content.get("speed"))
                self._frames()
            elif event == "set":
                changes = {k: v for k, v in (content.get("changes") or {}).items()
                           if k in SETTABLE + ("strategy",)}
                self.set(lane=content.get("lane"), **changes)
                self._frames()
            elif event == "reset":
                self.reset()
        except ValueError as err:
            self.error = str(err)
            self._frames()

    # -- the widget --------------------------------------------------------------------------------
    @property
    def widget(self):
        if self._widget is None:
            self._widget = _widget_class()()
            self._widget.on_msg(lambda _w, content, _b: self.handle(content))
            self._frames()
        return self._widget

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


_Widget = None


def _widget_class():
    """The anywidget class, made on first use (anywidget and traitlets load only then)."""
    global _Widget
    if _Widget is None:
        import anywidget
        import traitlets
        from .assets import page_assets
        js, css = page_assets("messages")

        class MessageWidget(anywidget.AnyWidget):
            """The page side of :class:`MessageView` (see the module docstring)."""
            _esm = js
            _css = css
            frames = traitlets.List().tag(sync=True)
            status = traitlets.Dict().tag(sync=True)
            glyphs = traitlets.Dict(GLYPHS).tag(sync=True)

            def __repr__(self):  # what a notebook read without widgets (GitHub, nbval) shows
                return ("<bpsim message view: it plays in Jupyter; where widgets do not run, "
                        "its still twin shows a seeded run>")

        _Widget = MessageWidget
    return _Widget


#: How the page draws each fate: shape, fill (the palette's outcome greys), motion.
GLYPHS = {
    "delivered": {"shape": "disc", "fill": "#4D4D4D", "motion": "leaves to the right"},
    "timed_out": {"shape": "diamond", "fill": "#8C8C8C", "motion": "leaves to the right, sinking"},
    "expired": {"shape": "ring", "fill": "#FFFFFF", "motion": "drops out of the buffer's head"},
    "dropped": {"shape": "triangle", "fill": "#BDBDBD",
                "motion": "falls away at the buffer's door (pushed out: from its head)"},
    "shed": {"shape": "square", "fill": "#FFFFFF", "motion": "bounces back to the producer"},
    "retried": {"shape": "square", "fill": "strategy", "motion": "comes back from the producer"},
    "sampled_out": {"shape": "ring", "fill": "#E0E0E0", "motion": "fades where it was"},
    "lost_in_crash": {"shape": "cross", "fill": "#FFFFFF", "motion": "scatters in the crash"},
    "admitted": {"shape": "disc", "fill": "strategy", "motion": "enters the buffer"},
}


# -- the dashboard naming rule ----------------------------------------------------------------------
def messages_dashboard(scenario=None, *, strategy="drop_newest", compare=None, rng=SEED,
                       speed=0.1, burst=50, **overrides) -> MessageView:
    """The live message view (see :class:`MessageView`); display it as a cell's last line."""
    return MessageView(scenario, strategy=strategy, compare=compare, rng=rng, speed=speed,
                       burst=burst, **overrides)


#: What the still twin runs unless told otherwise: simulated seconds and the bursts sent.
STILL_SECONDS = 10.0
STILL_BURSTS = ((4.0, 200),)


def _still_view(scenario, strategy, compare, rng, seconds, bursts, overrides) -> MessageView:
    view = MessageView(scenario, strategy=strategy, compare=compare, rng=rng, speed=1.0,
                       **overrides)
    seconds = validate.number("seconds", seconds, low=0, low_open=True,
                              high=validate.MAX_DURATION_S, what="a time in seconds")
    view.play_for(seconds, bursts)
    return view


def sentence(view: MessageView) -> str:
    """The counts of every lane (by its label), in words, each adding up to what was offered."""
    parts = []
    for lane in view.lanes:
        t = lane.last["tot"]
        terms = [f"{t[k]:,} {TERM_LABELS[k]}" for k in TERMS if t.get(k)]
        parts.append(f"{lane.label}: of {t['offered']:,} offered, " + ", ".join(terms or ["none"])
                     + (" (it adds up)" if lane.last["adds_up"] else " (it does NOT add up)"))
    burst = ", ".join(f"{n:,} at {s:g} s" for s, n in view.bursts)
    lead = f"After {view.now:g} s" + (f" with bursts of {burst}" if burst else "") + ": "
    return lead + "; ".join(parts) + "."


def render_messages(fig, scenario=None, *, strategy="drop_newest", compare=None, rng=SEED,
                    seconds=STILL_SECONDS, bursts=STILL_BURSTS, **overrides) -> str:
    """The message view's state after a seeded run, drawn into ``fig``; returns the sentence.

    Left: the queue depth of each lane over time (messages), the capacity dashed, the bursts
    marked. Right: where every offered message is at the end (the terms of the accounting
    identity, one bar per lane), in the palette's outcome greys and hatches. Each lane is drawn
    in its own colour and named by its label (:meth:`MessageView.labels`); ``compare`` is as for
    :class:`MessageView`.
    """
    from .figures import new_figure
    view = _still_view(scenario, strategy, compare, rng, seconds, bursts, overrides)
    fig, (ax1, ax2) = new_figure(2, fig=fig, gridspec_kw={"width_ratios": [3, 2]})
    # Each axes keeps its legend below it (under its x label), so no legend covers the data.
    many = len(view.lanes) > 1
    caps = {lane.history["capacity"][-1] for lane in view.lanes}
    top = 0
    for i, lane in enumerate(view.lanes):
        h, color = lane.history, lane.color
        # lanes drawn wide to thin: where two lanes sit on the same depth both stay visible
        ax1.plot(h["t"], h["depth"], color=color, lw=3.4 - 1.6 * i if many else 2,
                 label=f"{lane.label}: queue depth", zorder=3 + i)
        top = max(top, max(h["depth"], default=0))
        cap = h["capacity"][-1]
        if cap >= 0 and len(caps) > 1:
            ax1.plot(h["t"], h["capacity"], color=color, lw=1, ls="--",
                     label=f"{lane.label}: capacity")
    if len(caps) == 1 and (cap := caps.pop()) >= 0:
        ax1.axhline(cap, color="#555555", lw=1.2, ls="--", zorder=2,
                    label=f"capacity ({cap:,} slots)")
        top = max(top, cap)
    for s, n in view.bursts:
        ax1.axvline(s, color="#555555", lw=1, ls=":")
    if view.bursts:
        ax1.plot([], [], color="#555555", lw=1, ls=":", label="burst (messages sent at once)")
    ax1.set_ylim(0, max(1, top) * 1.08)
    ax1.set_xlim(0, view.now)
    ax1.set(title="Queue depth while the view ran", xlabel="simulated time (s)",
            ylabel="messages in the buffer")
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=9,
               frameon=False)
    styles = {key: (fill, hatch) for key, _label, fill, hatch in OUTCOMES}
    styles.update(queue_end=("#FFFFFF", ""), in_service_end=("#FFFFFF", "-----"),
                  producer_backlog_end=("#FFFFFF", "||"))
    names = [lane.label for lane in view.lanes]
    for k in TERMS:
        left = [sum(lane.last["tot"].get(j, 0) for j in TERMS[:TERMS.index(k)])
                for lane in view.lanes]
        width = [lane.last["tot"].get(k, 0) for lane in view.lanes]
        if not any(width):
            continue
        fill, hatch = styles.get(k, ("#FFFFFF", ""))
        ax2.barh(names, width, left=left, height=0.55, color=fill, hatch=hatch,
                 edgecolor="#222222", label=TERM_LABELS[k])
    ax2.set_ylim(len(names) - 0.4, -0.6)     # lane 1 on top, as on the page
    ax2.set(title="Where every offered message is", xlabel=f"messages (at {view.now:g} s)",
            ylabel="strategy" if names == [lane.strategy for lane in view.lanes] else "lane")
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=9,
               frameon=False)
    fig.suptitle("The message view after a seeded run" + (" (two lanes, same traffic)"
                                                          if compare else ""))
    return sentence(view)


def show_messages(scenario=None, *, strategy="drop_newest", compare=None, rng=SEED,
                  seconds=STILL_SECONDS, bursts=STILL_BURSTS, show=True, **overrides):
    """The still twin of :func:`messages_dashboard`: the figure and the sentence of the counts,
    for strict nbval, GitHub and exports (see :func:`bpsim.viz.dashboard.still`)."""
    from .dashboard import still

    def render(fig, **_):
        return render_messages(fig, scenario, strategy=strategy, compare=compare, rng=rng,
                               seconds=seconds, bursts=bursts, **overrides)
    return still(render, {}, figsize=(10, 4.6), show=show)
