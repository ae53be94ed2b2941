"""One run of an :class:`~bpsim.apiserver.model.ApiServerModel`: :class:`ApiServer`.

The class lays the model out as the arrays of a :class:`~bpsim.apiserver.ticks.State` (the
switchable parameters, the queues, the ledgers, what is in service, the retries due, the DNS
cache, the table being recorded), runs the compiled ticks of :mod:`bpsim.apiserver.ticks` over
it, grows the arrays when a tick could outgrow them, and hands back an
:class:`~bpsim.apiserver.result.ApiServerResult`.
"""
from __future__ import annotations

import math

import numpy as np

from .. import validate
from . import draws, ticks
from .model import CLASS_FIELDS, ApiServerModel
from .result import SERIES, ApiServerResult

__all__ = ["ApiServer", "simulate_apiserver"]


class ApiServer:
    """A run of ``model`` in progress: its state, and the ticks that change it.

    Parameters
    ----------
    model : ApiServerModel
    rng : int, numpy.random.Generator or None
        Seed or generator for every random draw (arrivals, backoff jitter, which requests a
        full queue refuses, how a partly served tick is rounded).

    Attributes
    ----------
    tick : int
        The next tick to run (0 before the first, ``model.n_ticks`` when done).
    state : bpsim.apiserver.ticks.State
        The arrays the ticks change (see :mod:`bpsim.apiserver.ticks` for their layout).
    """

    def __init__(self, model: ApiServerModel, rng=None):
        if not isinstance(model, ApiServerModel):
            validate.bad("model", model, "an ApiServerModel")
        self.model = model
        self.rng = validate.rng(rng)
        self._bitgen = draws.bitgen(self.rng)
        self.tick = 0
        self.state = _initial_state(model)

    def run(self, ticks_: int | None = None) -> "ApiServer":
        """Run ``ticks_`` more ticks (all that are left if None); returns ``self``."""
        n = self.model.n_ticks
        stop = n if ticks_ is None else min(n, self.tick + validate.whole(
            "ticks", ticks_, low=0, high=n, what="a number of ticks"))
        while self.tick < stop:
            self.tick = ticks.run(self.state, self._bitgen, self.tick, stop)
            if self.tick < stop:
                self.state = _grown(self.state)
        return self

    def result(self) -> ApiServerResult:
        """The series of the ticks run so far."""
        s, i = self.state, self.tick
        removed = s.floats[ticks.REMOVED_AT_S]
        return ApiServerResult(self.model, s.table[:i].copy(), s.dns_dead[:i].copy(),
                               s.seats[:i].copy(), s.busy[:i].copy(),
                               None if math.isnan(removed) else float(removed))


def simulate_apiserver(model: ApiServerModel, rng=None) -> ApiServerResult:
    """Run ``model`` tick by tick (see :mod:`bpsim.apiserver` for what happens in a tick).

    Parameters
    ----------
    model : ApiServerModel
    rng : int, numpy.random.Generator or None
        Seed or generator for every random draw.

    Returns
    -------
    ApiServerResult
    """
    return ApiServer(model, rng).run().result()


# -- laying the model out ------------------------------------------------------------------------
def _initial_state(m: ApiServerModel) -> ticks.State:
    dt = float(m.dt_s)
    n, nc = m.n_ticks, len(m.classes)
    names = [c.name for c in m.classes]
    level_names = [lev.name for lev in m.levels]
    n_lv = 1 + len(m.levels)                 # queue 0 is the shared FIFO, then the levels
    share_sum = sum(lev.share for lev in m.levels) or 1.0
    switches = sorted(m.switches, key=lambda s: s.at_s)

    params = np.array([[c.rate_per_s, c.cost_s, c.clients or 0, c.retries, c.backoff_s,
                        c.backoff_cap_s, False] for c in m.classes], dtype=float)
    sw_field = [CLASS_FIELDS.index(s.field) if s.cls is not None else
                (ticks.SW_SEATS if s.field == "seats" else ticks.SW_FAIRNESS) for s in switches]
    sw_value = [0.0 if s.value is None else float(s.value) for s in switches]

    # retries due: a ring of ticks as long as the longest backoff; attempts numbered up to the
    # most retries any class may have
    caps = [c.backoff_cap_s for c in m.classes] + [s.value for s in switches
                                                   if s.field == "backoff_cap_s"]
    due_slots = max(1, int(round(max(caps) / dt))) + 1
    attempt_slots = 1 + max([c.retries for c in m.classes]
                            + [s.value for s in switches if s.field == "retries"])

    config = np.zeros(11, np.int64)
    config[[ticks.N_TICKS, ticks.N_CLASSES, ticks.N_LEVELS]] = n, nc, n_lv
    config[[ticks.ATTEMPT_SLOTS, ticks.DUE_SLOTS]] = attempt_slots, due_slots
    config[[ticks.DNS_CLS, ticks.REMOVAL_BY, ticks.REMOVAL_TARGET]] = -1
    config_f = np.zeros(3)
    config_f[ticks.DT] = dt
    scalars = np.zeros(7, np.int64)
    scalars[ticks.FAIR] = bool(m.fairness)
    scalars[ticks.REMOVAL_TICK] = -1
    floats = np.array([float(m.seats), math.nan])

    alive = np.zeros((1, 2), np.int64)
    if m.dns is not None:
        d = m.dns
        config[ticks.DNS_CLS] = m.index(d.cls)
        config[ticks.STALE_TICKS] = int(round(d.stale_s / dt))
        config[ticks.DNS_RECORDS] = d.records
        config_f[[ticks.DNS_REFRESH_S, ticks.DNS_RERESOLVE_S]] = d.refresh_s, d.reresolve_s
        k = max(1, int(round(d.refresh_s / dt)))
        base, extra = divmod(d.records, k)
        alive = np.zeros((k + n + 1, 2), np.int64)     # one entry per tick at most, after these
        for j in range(k):               # staggered refreshes over the last refresh period
            alive[j] = -k + j, base + (1 if j < extra else 0)
        scalars[ticks.ALIVE_TAIL] = k
    if m.removal is not None:
        config[ticks.REMOVAL_BY] = m.index(m.removal.by)
        config[ticks.REMOVAL_TARGET] = m.index(m.removal.target)
        config[ticks.REMOVAL_DELAY_TICKS] = int(round(m.removal.delay_s / dt))

    even = np.zeros((5, 4))
    for k in range(2, 5):
        even[k, :k] = np.full(k, 1.0 / k)
    room_b, room_s = 64 + 2 * n * nc, 64 + 4 * n_lv
    return ticks.State(
        config=config, config_f=config_f,
        level_of=np.array([1 + level_names.index(c.level) if c.level in level_names else 0
                           for c in m.classes], np.int64),
        timeout_ticks=np.array([max(1, int(math.ceil(c.timeout_s / dt - 1e-9)))
                                for c in m.classes], np.int64),
        bound=np.array([ticks.NO_BOUND if m.fifo_limit is None else m.fifo_limit]
                       + [lev.queue_limit for lev in m.levels], np.int64),
        level_budget=np.array([0.0] + [lev.share / share_sum for lev in m.levels]),
        sw_at=np.array([s.at_s for s in switches], float),
        sw_field=np.array(sw_field, np.int64),
        sw_cls=np.array([-1 if s.cls is None else names.index(s.cls) for s in switches],
                        np.int64),
        sw_value=np.array(sw_value, float),
        scalars=scalars, floats=floats, params=params, books=np.zeros((nc, len(SERIES))),
        batch=np.zeros((room_b, 7), np.int64),
        queue=np.zeros((n_lv, room_b), np.int64), q_head=np.zeros(n_lv, np.int64),
        q_tail=np.zeros(n_lv, np.int64), q_len=np.zeros(n_lv, np.int64),
        fresh=np.zeros((n_lv, room_b), np.int64), n_fresh=np.zeros(n_lv, np.int64),
        ledger=np.zeros((nc, room_b), np.int64), l_head=np.zeros(nc, np.int64),
        l_tail=np.zeros(nc, np.int64),
        serving=np.zeros((n_lv, room_s, 4), np.int64), owed=np.zeros((n_lv, room_s)),
        n_serving=np.zeros(n_lv, np.int64),
        due=np.zeros((due_slots, nc, attempt_slots), np.int64),
        due_keys=np.zeros((due_slots, nc * attempt_slots), np.int64),
        n_due=np.zeros(due_slots, np.int64), alive=alive,
        table=np.zeros((n, nc, len(SERIES))), dns_dead=np.zeros(n), seats=np.zeros(n),
        busy=np.zeros(n),
        colors=np.zeros(room_b, np.int64), variates=np.zeros(room_b, np.int64),
        ids=np.zeros(room_b, np.int64), multinomial=np.zeros(4, np.int64), even=even,
        binomial=np.zeros(draws.BINOMIAL_WORDS, np.int64), at=np.zeros(n_lv, np.int64),
        moved=np.zeros((room_s, 4), np.int64), moved_owed=np.zeros(room_s))


def _wider(a: np.ndarray, axis: int, size: int) -> np.ndarray:
    shape = list(a.shape)
    shape[axis] = size
    out = np.zeros(shape, a.dtype)
    out[tuple(slice(0, k) for k in a.shape)] = a
    return out


def _grown(s: ticks.State) -> ticks.State:
    """``s`` with twice the room for batches and for records in service."""
    b, r = 2 * s.batch.shape[0], 2 * s.serving.shape[1]
    return s._replace(
        batch=_wider(s.batch, 0, b), queue=_wider(s.queue, 1, b), fresh=_wider(s.fresh, 1, b),
        ledger=_wider(s.ledger, 1, b), colors=_wider(s.colors, 0, b),
        variates=_wider(s.variates, 0, b), ids=_wider(s.ids, 0, b),
        serving=_wider(s.serving, 1, r), owed=_wider(s.owed, 1, r),
        moved=_wider(s.moved, 0, r), moved_owed=_wider(s.moved_owed, 0, r))
