"""prepare() lays a scenario out faster than the obvious code, and gives exactly what it gives.

The oracles are the obvious code itself: ``Scenario.per_tick`` for the schedules, and
``rng.poisson(per_tick("rate") * dt)`` for Poisson arrivals, which must come out the same bit for
bit, leaving the generator in the same state (so the service-time pool drawn next is the same).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpsim.engine import _per_tick, _poisson_counts, _steps, build_scenario, prepare
from bpsim.strategies import make_strategy


@st.composite
def schedules(draw):
    dt = draw(st.sampled_from([0.001, 0.002, 0.01, 0.1, 0.0037]))
    # a whole number of ticks (a run that is not is refused)
    duration = round(draw(st.sampled_from([0.3, 1.0, 2.5])) / dt) * dt
    times = st.one_of(st.floats(0, duration * 1.2, allow_nan=False).map(lambda t: round(t, 4)),
                      st.integers(0, 300).map(lambda k: k * dt))  # right on a tick boundary
    ts = sorted(draw(st.lists(times, max_size=4)))
    rates = st.sampled_from([0.0, 0.5, 30.0, 999.0, 5000.0, 12_000.0, 30_000.0])
    return build_scenario(
        dt_s=dt, duration_s=duration, producer_rate=draw(rates),
        rate_schedule=tuple((t, draw(rates)) for t in ts),
        speed_schedule=tuple((t, draw(st.sampled_from([0.0, 0.37, 2.0]))) for t in ts[:2]),
        consumers_schedule=tuple((t, draw(st.integers(0, 4))) for t in ts[1:]))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(sc=schedules(), seed=st.integers(0, 2**32 - 1))
def test_schedules_and_poisson_counts_are_the_obvious_ones(sc, seed):
    n, dt = sc.n_ticks, sc.dt_s
    for name in ("rate", "speed", "consumers"):
        assert np.array_equal(_per_tick(n, _steps(sc, name)), sc.per_tick(name)), name
    a, b = np.random.default_rng(seed), np.random.default_rng(seed)
    want = a.poisson(sc.per_tick("rate") * dt).astype(np.int64)
    got = _poisson_counts(b, n, dt, _steps(sc, "rate"))
    assert got.dtype == np.int64 and np.array_equal(got, want)
    assert a.bit_generator.state == b.bit_generator.state


def test_a_used_generator_and_another_bit_generator():
    # a Generator that has drawn 32-bit values keeps its buffered half-word; MT19937 (no fast
    # path) still gives numpy's counts
    sc = build_scenario(producer_rate=2000, duration_s=1, arrivals="poisson")
    for make in (lambda: np.random.Generator(np.random.PCG64(5)),
                 lambda: np.random.Generator(np.random.MT19937(5))):
        a, b = make(), make()
        a.integers(0, 10, 3, dtype=np.int32), b.integers(0, 10, 3, dtype=np.int32)
        want = a.poisson(sc.per_tick("rate") * sc.dt_s)
        assert np.array_equal(_poisson_counts(b, sc.n_ticks, sc.dt_s, _steps(sc, "rate")), want)
        # the same generator afterwards: the same 32-bit and 64-bit draws
        assert np.array_equal(a.integers(0, 10, 5, dtype=np.int32),
                              b.integers(0, 10, 5, dtype=np.int32))
        assert np.array_equal(a.random(5), b.random(5))


def test_a_long_stretch_that_needs_more_uniforms_than_expected():
    # the uniforms are drawn in chunks; a chunk that runs out mid-tick must not skip a draw
    from bpsim import kernel
    for mean in (2.0, 0.1):  # the two ways poisson_mult counts (see its docstring)
        counts = np.zeros(50, dtype=np.int64)
        u = np.random.default_rng(3).random(40)
        stop, used = kernel.poisson_mult(counts, 0, 50, np.exp(-mean), u, np.empty(40, np.int64))
        assert stop < 50 and used <= 40
        # what the finished ticks used is exactly their counts plus one each
        assert used == counts[:stop].sum() + stop
        # and the counts are numpy's
        assert np.array_equal(counts[:stop], np.random.default_rng(3).poisson(mean, stop))


def test_the_compiled_uniforms_are_numpys():
    # the Poisson draws take their uniforms from kernel.pcg64_uniforms, not rng.random
    from bpsim import kernel
    for seed in range(5):
        for n in (0, 1, 2, 3, 4, 5, 7, 8, 1001):
            a, b = np.random.default_rng(seed), np.random.default_rng(seed)
            a.random(seed), b.random(seed)  # a state of any phase
            before = a.bit_generator.state
            got = kernel.pcg64_uniforms(a.bit_generator, np.empty(n))
            assert a.bit_generator.state == before  # left where it was
            assert got.tobytes() == b.random(n).tobytes()


def test_prepare_counts_what_it_drew():
    sc = build_scenario(producer_rate=700, duration_s=2, arrivals="poisson",
                        service="exponential", rate_schedule=((1.0, 50),))
    x = prepare(sc, make_strategy("drop_newest"), 11)
    assert x.offered == x.arrivals.sum() > 0


@pytest.mark.parametrize("rate", [20.0, 1000.0, 4000.0])
def test_poisson_arrivals_in_small_chunks_are_numpys(rate, monkeypatch):
    # uniforms are drawn _CHUNK at a time (bounded memory for long runs): a chunk boundary, even
    # mid-tick, changes nothing, neither the counts nor where the generator is left
    from bpsim import engine
    monkeypatch.setattr(engine, "_CHUNK", 777)
    steps = [(0, rate), (3000, 50.0)]
    a = np.random.default_rng(5)
    counts = engine._poisson_counts(a, 9000, 0.001, steps)
    b = np.random.default_rng(5)
    expect = np.concatenate([b.poisson(rate * 0.001, 3000), b.poisson(0.05, 6000)])
    assert np.array_equal(counts, expect)
    assert a.random() == b.random()
