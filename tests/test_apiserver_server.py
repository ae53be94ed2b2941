"""The compiled API-server run: the books balance over random models (switches of every kind,
the removal, the DNS cache), a run in pieces is the run in one go, and the compiled draws are
numpy's own (the oracle: the Generator's Python methods on a twin generator)."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

from bpsim.apiserver import (ApiServerModel, Removal, Switch, TrafficClass,
                             simulate_apiserver)
from bpsim.apiserver import draws
from bpsim.apiserver.server import ApiServer
from test_apiserver import _identities_hold_every_tick, models

SWITCHES = st.one_of(
    st.builds(Switch, st.floats(0, 90), st.just("retries"), st.integers(0, 6), st.just("c0")),
    st.builds(Switch, st.floats(0, 90), st.just("clients"),
              st.one_of(st.none(), st.integers(1, 300)), st.just("c0")),
    st.builds(Switch, st.floats(0, 90), st.just("backoff_s"), st.sampled_from([0.0, 2.0]),
              st.just("c0")),
    st.builds(Switch, st.floats(0, 90), st.just("backoff_cap_s"), st.sampled_from([1.0, 20.0]),
              st.just("c0")),
    st.builds(Switch, st.floats(0, 90), st.just("fairness"), st.booleans()),
    st.builds(Switch, st.floats(0, 90), st.just("blocked"), st.booleans(), st.just("c0")))


@st.composite
def richer_models(draw):
    m = draw(models())
    extra = tuple(draw(st.lists(SWITCHES, max_size=4)))
    names = [c.name for c in m.classes]
    removal = None
    if draw(st.booleans()):
        removal = Removal(draw(st.sampled_from(names)), draw(st.sampled_from(names)),
                          draw(st.sampled_from([0.0, 5.0])))
    return ApiServerModel(**{**m.__dict__, "switches": m.switches + extra, "removal": removal})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=richer_models(), seed=st.integers(0, 2**16))
def test_the_books_balance_every_tick_with_every_kind_of_switch(model, seed):
    _identities_hold_every_tick(simulate_apiserver(model, rng=seed))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=richer_models(), seed=st.integers(0, 2**16), piece=st.integers(1, 40))
def test_a_run_in_pieces_is_the_run_in_one_go(model, seed, piece):
    whole = ApiServer(model, seed).run()
    parts = ApiServer(model, seed)
    while parts.tick < model.n_ticks:
        parts.run(piece)
    a, b = whole.result(), parts.result()
    assert a._t.tobytes() == b._t.tobytes()
    assert a.busy_seat_s.tobytes() == b.busy_seat_s.tobytes()
    assert whole.rng.random() == parts.rng.random()        # and the stream is left alike


def test_the_arrays_grow_when_a_tick_could_outgrow_them():
    # immediate retries of 20 attempt numbers: up to 21 new batches a tick for one class
    c = TrafficClass("a", rate_per_s=900, cost_s=2.0, timeout_s=1.0, retries=20)
    m = ApiServerModel(classes=(c,), seats=20, fifo_limit=50, duration_s=60, dt_s=1.0)
    srv = ApiServer(m, 3)
    room = srv.state.batch.shape[0], srv.state.serving.shape[1]
    srv.run()
    assert srv.state.batch.shape[0] > room[0] and srv.state.serving.shape[1] > room[1]
    _identities_hold_every_tick(srv.result())


@njit
def _compiled_draws(bg, lams, colors, nsample, n, pvals, out_mvhg, out_mult, binomial):
    got = np.empty(lams.size, np.int64)
    for j in range(lams.size):
        got[j] = draws.poisson(bg, lams[j])
    u = draws.uniform(bg)
    draws.multivariate_hypergeometric(bg, colors.sum(), colors.size, colors.ctypes.data,
                                      nsample, 1, out_mvhg.ctypes.data)
    draws.multinomial(bg, n, out_mult.ctypes.data, pvals.ctypes.data, pvals.size,
                      binomial.ctypes.data)
    return got, u


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32), lams=st.lists(st.floats(0, 5000), min_size=1, max_size=5),
       colors=st.lists(st.integers(0, 3000), min_size=2, max_size=6), frac=st.floats(0, 1),
       n=st.integers(0, 10**6), k=st.integers(2, 4))
def test_the_compiled_draws_are_numpys_own(seed, lams, colors, frac, n, k):
    colors = np.array(colors, np.int64)
    nsample = int(frac * colors.sum())
    pvals = np.full(k, 1.0 / k)
    ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
    mvhg, mult = np.zeros(colors.size, np.int64), np.zeros(k, np.int64)
    got, u = _compiled_draws(draws.bitgen(ours), np.array(lams), colors, nsample, n, pvals,
                             mvhg, mult, np.zeros(draws.BINOMIAL_WORDS, np.int64))
    assert list(got) == [theirs.poisson(x) for x in lams]
    assert u == theirs.random()
    assert list(mvhg) == list(theirs.multivariate_hypergeometric(colors, nsample))
    assert list(mult) == list(theirs.multinomial(n, pvals))
    assert ours.random() == theirs.random()
