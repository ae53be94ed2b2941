"""The compiled kernel must give exactly what the reference engine gives.

Both engines run on the same inputs (every random draw is made up front by ``prepare``), so they
must agree bit for bit: the per-tick table, the per-message records, the producer-wait histogram,
the scalar state, the busy time and the crash ticks. Every comparison is exact (``np.array_equal``,
``==`` on floats): the kernel does the same floating-point operations in the same order.

The kernel runs every built-in strategy through one generic admission rule (the knobs of
``Strategy.rule()``), so two strategies with the same rule must also agree on the reference engine.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpsim
from bpsim import Adaptive, DropNewest, Sample, Shed, Strategy
from bpsim.engine import _make_engine, build_scenario, prepare
from bpsim.kernel import FastEngine
from bpsim.reference import ReferenceEngine
from bpsim.result import Result
from bpsim.state import COLUMNS, SCALARS
from helpers import strategy_examples


# -- helpers --------------------------------------------------------------------------------------
def assert_same_engines(ref, fast):
    s_ref, s_fast = ref.scalars(), fast.scalars()
    assert list(s_fast) == list(SCALARS)
    assert s_ref == s_fast
    rows = s_ref["n_rows"]
    assert np.array_equal(ref.log[:rows], fast.log[:rows])
    assert np.array_equal(ref.env[:rows], fast.env[:rows])
    assert np.array_equal(ref.wait_hist, fast.wait_hist)
    assert np.array_equal(ref.lat_hist, fast.lat_hist)
    n = s_ref["n_records"]
    for a, b in zip(ref.records(0, n), fast.records(0, n)):
        assert np.array_equal(a, b)
    assert ref.busy_seconds() == fast.busy_seconds()
    assert ref.wasted_seconds() == fast.wasted_seconds()
    assert ref.crash_tick_list() == fast.crash_tick_list()
    # the same messages waiting, in the same order (the kernel merges batches of one tick)
    assert np.array_equal(np.repeat(*ref.waiting()), np.repeat(*fast.waiting()))


def assert_same_results(a, b):
    assert np.array_equal(a._log, b._log)
    assert (a._env is None) == (b._env is None)
    if a._env is not None:
        assert np.array_equal(a._env, b._env)
    assert np.array_equal(a._wait_hist, b._wait_hist)
    assert a._scalars == b._scalars
    for name in ("latency_s", "queue_wait_s", "delivery_time_s", "crash_times_s"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.summary() == b.summary()


def run_both(scenario, strategy, seed, segments=()):
    """Run both engines over the same inputs, in segments; between segments apply the same
    ``("drop_head", n)`` or ``("capacity", c)`` control to both."""
    x = prepare(scenario, strategy, seed)
    ref = ReferenceEngine(x, strategy)
    fast = FastEngine(x, strategy, strategy.rule())
    start = 0
    for frac, control in list(segments) + [(1.0, None)]:
        stop = max(start, min(x.n_ticks, int(round(frac * x.n_ticks))))
        ref.run(start, stop)
        fast.run(start, stop)
        start = stop
        if control is not None:
            what, value = control
            if what == "drop_head":
                assert ref.drop_head(value) == fast.drop_head(value)
            elif strategy.bounded:
                ref.set_capacity(value)
                fast.set_capacity(value)
        assert_same_engines(ref, fast)
    return ref, fast


# -- the rule agrees with admit -------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(3))
def test_same_rule_same_books_when_a_crash_interrupts_an_admission(seed):
    # Sample(every=1, start_fraction=1.0) samples nothing: its rule is drop_newest's. Capacity
    # equal to the memory slots makes the server crash part-way through a batch; what was not yet
    # handed over must be dropped by both, not lost by one and dropped by the other.
    kw = dict(capacity=200, memory_limit_bytes=200_000, producer_rate=5000, arrivals="poisson",
              duration_s=2, restart_s=0.1, rng=seed, engine="reference")
    assert Sample(every=1, start_fraction=1.0).rule() == DropNewest().rule()
    a = bpsim.simulate(strategy=Sample(every=1, start_fraction=1.0), **kw).summary()
    b = bpsim.simulate(strategy=DropNewest(), **kw).summary()
    assert a["crashes"] > 0
    a.pop("strategy"), b.pop("strategy")
    assert a == b


# -- fixed scenarios: every strategy, the course's defaults and the hard corners -------------------
# Every registered strategy with a rule, at its defaults and its declared example values.
STRATEGY_OBJECTS = strategy_examples()


#: The fixed scenarios, by name.
CASES = {
    "course": dict(duration_s=3, arrivals="poisson", service="exponential"),
    "crashes": dict(duration_s=2, producer_rate=4000, consumers=3, capacity=50,
                    arrivals="poisson", service="exponential", memory_limit_bytes=40_000,
                    restart_s=0.05),
    "schedules": dict(duration_s=2, producer_rate=800, capacity=40, consumers=2,
                      rate_schedule=((0.5, 5000), (0.8, 300)),
                      speed_schedule=((0.3, 0.0), (0.6, 0.4)),
                      consumers_schedule=((1.0, 0), (1.3, 4))),
    # mostly quiet ticks (the kernel skips them on a fast path): sparse arrivals, a paused
    # consumer, retries falling due in otherwise empty ticks, then a full buffer that only counts
    "quiet": dict(duration_s=3, producer_rate=20, consumer_rate=30, capacity=3, consumers=2,
                  arrivals="poisson", service="exponential", restart_s=0.01,
                  speed_schedule=((0.5, 0.0), (1.5, 1.0)), rate_schedule=((2.0, 900),)),
    # clients that give up (served late, or discarded at dequeue), with each order of service
    "timeouts-lifo": dict(duration_s=2, producer_rate=3000, consumers=2, capacity=200,
                          arrivals="poisson", service="exponential", client_timeout_s=0.05,
                          order="lifo"),
    "expired-adaptive": dict(duration_s=2, producer_rate=3000, consumers=3, capacity=200,
                             arrivals="poisson", service="exponential", client_timeout_s=0.05,
                             drop_expired=True, order="adaptive_lifo",
                             speed_schedule=((0.5, 0.2), (1.0, 1.0))),
    "expired-fifo-crashes": dict(duration_s=2, producer_rate=500, capacity=300,
                                 client_timeout_s=0.3, drop_expired=True,
                                 memory_limit_bytes=250_000, restart_s=0.05),
    # one worker behind a full buffer, served late and newest first (the quiet stretch serves
    # the ticks in which it finishes), then adaptive LIFO on a buffer that drains below its depth
    "one-worker-lifo": dict(duration_s=2, producer_rate=1500, capacity=50, arrivals="poisson",
                            service="exponential", client_timeout_s=0.2, order="lifo"),
    "one-worker-adaptive": dict(duration_s=3, producer_rate=150, capacity=30, arrivals="poisson",
                                service="exponential", order="adaptive_lifo",
                                rate_schedule=((1.0, 2000), (1.5, 60))),
}
#: Controls between ticks in the fixed cases: (fraction of the run, what, value).
CONTROLS = [(0.3, ("drop_head", 7)), (0.6, ("capacity", 20))]


@pytest.mark.parametrize("strategy", STRATEGY_OBJECTS, ids=repr)
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_kernel_equals_reference(strategy, case):
    run_both(build_scenario(**case), strategy, seed=7, segments=CONTROLS)


@pytest.mark.parametrize("strategy", STRATEGY_OBJECTS, ids=repr)
@pytest.mark.parametrize("case", ["course", "crashes", "schedules", "quiet", "timeouts-lifo"])
def test_the_log_gives_the_state_of_every_tick(strategy, case):
    # The oracle: the reference engine stopped after every tick and asked for its state. A tick
    # that writes no row must be what the last row predicts (bpsim.state.derive), so the series a
    # Result reads from either engine's log is, tick by tick, that state.
    sc = build_scenario(**CASES[case])
    x = prepare(sc, strategy, 7)
    stepped, ref = ReferenceEngine(x, strategy), ReferenceEngine(x, strategy)
    fast = FastEngine(x, strategy, strategy.rule())
    controls = {int(round(frac * x.n_ticks)): c for frac, c in CONTROLS}
    truth, start = [], 0
    for i in range(x.n_ticks + 1):
        if i in controls or i == x.n_ticks:
            for e in (ref, fast):  # the others run in one call from control to control
                e.run(start, i)
            start = i
        if i in controls:
            what, value = controls[i]
            for e in (stepped, ref, fast):
                if what == "drop_head":
                    e.drop_head(value)
                elif strategy.bounded:
                    e.set_capacity(value)
        if i < x.n_ticks:
            stepped.run(i, i + 1)
            state = stepped.scalars()
            truth.append([state[name] for name in COLUMNS])
    for engine in (ref, fast):
        np.testing.assert_array_equal(Result(sc, strategy, x, engine).table, np.array(truth))


@pytest.mark.parametrize("strategy", STRATEGY_OBJECTS, ids=repr)
def test_memory_for_one_message(strategy):
    # Every hand-over while a message is in service crashes the server; restart at once. (Found by
    # the randomized test: block re-offered, in the same tick, a batch the crash had just held.)
    sc = build_scenario(producer_rate=400, consumer_rate=40, capacity=1, duration_s=0.3,
                        arrivals="poisson", message_bytes=100, memory_limit_bytes=100,
                        restart_s=0.0)
    run_both(sc, strategy, seed=0)


@pytest.mark.parametrize("overflow", ["drop", "block"])
def test_adaptive_through_simulate(overflow):
    kw = dict(strategy="adaptive", overflow=overflow, duration_s=4, arrivals="poisson",
              service="exponential", consumers=2, speed_schedule=((1.0, 0.3), (2.5, 1.0)),
              latency_target_s=0.2, control_interval_s=0.05, rng=3)
    fast = bpsim.simulate(engine="fast", **kw)
    ref = bpsim.simulate(engine="reference", **kw)
    assert len(set(fast.capacity.tolist())) > 3  # the controller did steer
    assert_same_results(fast, ref)


@pytest.mark.parametrize("make_policy", ["CoDel", "AIMD", "LittlesLaw"])
@pytest.mark.parametrize("overflow", ["drop", "block"])
def test_policies_through_simulate(make_policy, overflow):
    # Policies steer between segments with set_capacity and (CoDel) drop_head.
    from bpsim import policies
    strat = policies.PolicyStrategy(getattr(policies, make_policy)(), overflow=overflow,
                                    control_interval_s=0.05)
    kw = dict(duration_s=4, arrivals="poisson", service="exponential", producer_rate=1500,
              speed_schedule=((1.0, 0.3), (2.5, 1.0)), rng=5)
    fast = bpsim.simulate(strategy=strat, engine="fast", **kw)
    ref = bpsim.simulate(strategy=strat, engine="reference", **kw)
    assert_same_results(fast, ref)


def test_auto_uses_the_kernel_for_built_ins():
    sc = build_scenario(duration_s=1)
    for name in bpsim.STRATEGIES:
        strat = bpsim.make_strategy(name)
        assert isinstance(_make_engine(prepare(sc, strat, 0), strat, "auto"), FastEngine)


# -- randomized scenarios --------------------------------------------------------------------------
MESSAGE_BYTES = 100


@st.composite
def scenarios(draw):
    dt = draw(st.sampled_from([0.001, 0.002, 0.01]))
    duration = draw(st.sampled_from([0.3, 1.0, 2.0]))
    sc = dict(
        producer_rate=draw(st.sampled_from([0, 30, 400, 1000, 3000, 20000])),
        consumer_rate=draw(st.sampled_from([40, 100, 333, 2000])),
        capacity=draw(st.sampled_from([0, 1, 7, 60, 500])),
        duration_s=duration, dt_s=dt,
        arrivals=draw(st.sampled_from(["constant", "poisson"])),
        service=draw(st.sampled_from(["deterministic", "exponential"])),
        consumers=draw(st.integers(1, 3)),
        message_bytes=MESSAGE_BYTES,
        memory_limit_bytes=MESSAGE_BYTES * draw(st.sampled_from([1, 5, 40, 300, 10**6])),
        restart_s=draw(st.sampled_from([0.0, 0.004, 0.05, 0.3])),
    )
    times = st.floats(0, duration, allow_nan=False).map(lambda t: round(t, 3))
    if draw(st.booleans()):
        ts = sorted(draw(st.lists(times, min_size=1, max_size=3)))
        sc["rate_schedule"] = tuple((t, draw(st.sampled_from([0, 200, 5000]))) for t in ts)
    if draw(st.booleans()):
        ts = sorted(draw(st.lists(times, min_size=1, max_size=3)))
        sc["speed_schedule"] = tuple((t, draw(st.sampled_from([0.0, 0.37, 1.0, 2.5]))) for t in ts)
    if draw(st.booleans()):
        ts = sorted(draw(st.lists(times, min_size=1, max_size=3)))
        sc["consumers_schedule"] = tuple((t, draw(st.integers(0, 4))) for t in ts)
    # clients that give up, and the order of service
    sc["client_timeout_s"] = draw(st.sampled_from([None, None, 0.001, 0.01, 0.1, 0.5]))
    sc["drop_expired"] = sc["client_timeout_s"] is not None and draw(st.booleans())
    sc["order"] = draw(st.sampled_from(["fifo", "fifo", "lifo", "adaptive_lifo"]))
    return build_scenario(**sc)


strategy_objects = st.one_of(
    st.sampled_from(strategy_examples()),
    st.builds(Sample, every=st.integers(1, 12), start_fraction=st.sampled_from([0, 0.3, 0.5, 1.0])),
    st.builds(Shed, retries=st.integers(0, 4), backoff_s=st.sampled_from([0, 0.001, 0.01, 0.05])),
)
controls = st.one_of(
    st.tuples(st.just("drop_head"), st.integers(0, 80)),
    st.tuples(st.just("capacity"), st.integers(0, 300)),
)
segment_lists = st.lists(st.tuples(st.floats(0, 1), controls), max_size=3).map(sorted)


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), strategy=strategy_objects, seed=st.integers(0, 2**32 - 1),
       segments=segment_lists)
def test_kernel_equals_reference_randomized(scenario, strategy, seed, segments):
    run_both(scenario, strategy, seed, segments)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(scenario=scenarios(), overflow=st.sampled_from(["drop", "block"]),
       target=st.sampled_from([0.01, 0.1, 0.5]), interval=st.sampled_from([0.01, 0.05, 0.2]),
       seed=st.integers(0, 2**32 - 1))
def test_adaptive_randomized(scenario, overflow, target, interval, seed):
    strat = Adaptive(latency_target_s=target, control_interval_s=interval, overflow=overflow)
    a = bpsim.simulate(scenario, strat, rng=seed, engine="fast")
    b = bpsim.simulate(scenario, strat, rng=seed, engine="reference")
    assert_same_results(a, b)


# -- a strategy without a rule runs on the reference engine ----------------------------------------
class KeepHalf(Strategy):
    """Admits the first half of every batch (rounded up) if it fits; drops the rest. No rule."""

    name = "keep_half"

    def admit(self, q, gen, n, attempt):
        k = min((n + 1) // 2, q.room())
        q.enqueue(gen, k)
        q.drop(n - k)


@pytest.mark.parametrize("seed", range(3))
def test_strategy_without_rule_runs_on_the_reference_engine(seed):
    strat = KeepHalf()
    assert strat.rule() is None
    sc = build_scenario(duration_s=2, producer_rate=3000, arrivals="poisson", capacity=30)
    assert isinstance(_make_engine(prepare(sc, strat, seed), strat, "auto"), ReferenceEngine)
    with pytest.raises(ValueError, match="engine='fast'"):
        bpsim.simulate(sc, strat, rng=seed, engine="fast")
    s = bpsim.simulate(sc, strat, rng=seed).summary()
    assert s["dropped"] > 0 and s["delivered"] > 0
    assert s["offered"] == (s["delivered"] + s["dropped"] + s["shed"] + s["sampled_out"]
                            + s["lost_in_crash"] + s["queue_end"] + s["in_service_end"]
                            + s["producer_backlog_end"])


# -- compiling where numba cannot write its cache --------------------------------------------------
def test_kernel_compiles_without_a_cache(monkeypatch):
    # A read-only install with no writable cache directory: numba refuses cache=True ("no
    # locator available"); the kernel must then compile without the cache rather than fail.
    from bpsim import kernel

    real, asked = kernel.njit, []

    def njit_without_cache(**options):
        asked.append(options["cache"])
        if options["cache"]:
            raise RuntimeError("cannot cache function 'f': no locator available for file 'x.py'")
        return real(**options)

    monkeypatch.setattr(kernel, "njit", njit_without_cache)
    f = kernel._compiler(error_model="numpy")(lambda a: a + 1)
    assert f(41) == 42
    assert asked == [True, False]


def test_the_meters_compiled_percentiles_are_numpys_bit_for_bit():
    # What a control interval reports (bpsim.control.Meter): np.percentile's values, sorted in
    # compiled code instead of partitioned by numpy; ties, zeros and every size up to 40; the
    # records read in place from a ring, as the engines keep them.
    from bpsim.kernel import interval_stats
    rng = np.random.default_rng(5)
    for n in list(range(1, 41)) + [57, 200, 1001]:
        for _ in range(15):
            dt = float(rng.choice([0.001, 0.002, 0.0005, 0.1]))
            gen = rng.integers(0, 50_000, n)
            start = gen * dt + rng.choice([0.0, 0.001, 0.25, 3.0], n) * rng.integers(0, 3, n)
            finish = start + rng.choice([0.0, 0.001, 0.01, 0.3, 1e-9], n)
            lat, soj = finish - gen * dt, start - gen * dt
            want = [*np.percentile(lat, [50, 95]), soj.min(), np.percentile(soj, 95)]
            got = interval_stats(gen, start, finish, 0, n, dt)
            assert np.array(got).tobytes() == np.array(want, dtype=float).tobytes(), (n, got, want)
            # the same records in a ring, starting anywhere (they wrap around its end)
            size = n + int(rng.integers(0, 5))
            at = int(rng.integers(0, 3 * size))
            ring = [np.zeros(size, dtype=a.dtype) for a in (gen, start, finish)]
            for r, a in zip(ring, (gen, start, finish)):
                r[(at + np.arange(n)) % size] = a
            got = interval_stats(*ring, at, at + n, dt)
            assert np.array(got).tobytes() == np.array(want, dtype=float).tobytes(), (n, at)


@pytest.mark.parametrize("mean", [0.3, 1.0, 2.5, 9.0])
def test_the_four_chains_of_the_poisson_chase_give_its_counts(mean):
    """kernel._poisson_chains follows four stretches of the uniforms at once and stitches them:
    the same counts and the same return as the one chain of _poisson_chase, also where the
    uniforms run out before the ticks do, where too few ticks are asked for to reach the later
    chains, and through long ticks (a stretch of uniforms near 1)."""
    from bpsim.kernel import CHAINS_MIN, _poisson_chains, _poisson_chase
    rng = np.random.default_rng(int(mean * 10))
    enlam = float(np.exp(-mean))
    for n_u in (CHAINS_MIN, 3 * CHAINS_MIN + 7):
        for share in (0.1, 0.6, 1.0, 1.3):  # ticks asked for, of those the uniforms cover
            u = rng.random(n_u)
            if share == 0.6:
                u[n_u // 2:n_u // 2 + 60] = 0.9999
            ticks = int(n_u / (mean + 1) * share)
            one, four = np.full(ticks + 3, -7), np.full(ticks + 3, -7)
            got = _poisson_chains(four, 2, ticks + 2, enlam, u, np.empty(n_u, np.int8),
                                  np.empty(n_u, np.int64))
            assert got == _poisson_chase(one, 2, ticks + 2, enlam, u, np.empty(n_u, np.int8))
            assert np.array_equal(one, four)


def test_the_uniforms_of_thirty_two_lanes_are_numpys():
    """kernel.pcg64_uniforms steps PCG_LANES copies of the generator in vector registers (the
    128-bit product from 32-bit halves): numpy's uniforms, bit for bit, around whole rounds of
    lanes and over many rounds (carries between the halves of the state)."""
    from bpsim.kernel import PCG_LANES, pcg64_uniforms
    for seed in (0, 1, 2**63 + 11):
        for n in (PCG_LANES - 1, PCG_LANES, PCG_LANES + 1, 2 * PCG_LANES + 3, 200_003):
            a, b = np.random.default_rng(seed), np.random.default_rng(seed)
            got = pcg64_uniforms(a.bit_generator, np.empty(n))
            assert got.tobytes() == b.random(n).tobytes()
