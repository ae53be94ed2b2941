"""Runs of any length: series in bins, latencies past the records, bounded memory.

The oracle for binning is the same run kept per tick: the engines step the same ticks either way,
so a binned series must be exactly what the per-tick one gives when cut into bins (counts summed,
levels at the bin's end, least and greatest within it). The oracle for the latency histogram is
``np.percentile`` on the exact values.
"""
import numpy as np
import pytest

import bpsim
from bpsim import engine, simulate, state
from bpsim.state import hist_percentiles, lat_bin, lat_value, wait_bin, wait_value
from helpers import assert_books_balance, assert_bounds, close_figures  # noqa: F401
from test_kernel import assert_same_results

RUN = dict(duration_s=3.0, producer_rate=900.0, consumer_rate=300.0, capacity=150, consumers=2,
           arrivals="poisson", service="exponential", memory_limit_bytes=120_000, restart_s=0.05,
           speed_schedule=((1.0, 0.2), (1.6, 1.0)), rate_schedule=((2.2, 30.0),))


@pytest.fixture
def small_bins(monkeypatch):
    """Runs above 1,000 ticks binned, into at most 280 bins (3,000 ticks: bins of 11)."""
    monkeypatch.setattr(state, "PER_TICK_MAX", 1000)
    monkeypatch.setattr(state, "BINNED_POINTS", 280)


def cut(a, k, how):
    idx = np.arange(0, a.size, k)
    if how == "sum":
        return np.add.reduceat(a, idx)
    if how == "min":
        return np.minimum.reduceat(a, idx)
    if how == "max":
        return np.maximum.reduceat(a, idx)
    return a[np.minimum(idx + k, a.size) - 1]  # the last of each bin


def test_bin_sizes():
    assert state.bin_ticks(state.PER_TICK_MAX) == 1
    assert state.bin_ticks(state.PER_TICK_MAX + 1) > 1
    for n in (state.PER_TICK_MAX + 1, 3_600_000, 10**9 + 7):
        assert state.n_bins(n) <= state.BINNED_POINTS
        k, points = state.bin_ticks(n), state.n_bins(n)
        assert (points - 1) * k < n <= points * k


@pytest.mark.parametrize("strategy", ["drop_newest", "block", "shed", "drop_oldest", "adaptive"])
def test_a_binned_run_is_its_per_tick_run_cut_into_bins(strategy, monkeypatch):
    per_tick = simulate(strategy=strategy, rng=3, **RUN)
    monkeypatch.setattr(state, "PER_TICK_MAX", 1000)
    monkeypatch.setattr(state, "BINNED_POINTS", 280)
    binned = simulate(strategy=strategy, rng=3, **RUN)
    k = binned.bin_ticks
    assert k == 11 and per_tick.bin_ticks == 1 and binned.time_s.size == 273
    assert np.array_equal(binned.time_s, cut(per_tick.time_s, k, "last"))
    for name in ("offered", "admitted", "delivered", "dropped", "shed", "rejected", "lost",
                 "attempts", "timed_out", "expired", "sampled_out"):
        assert np.array_equal(getattr(binned, name), cut(getattr(per_tick, name), k, "sum")), name
    for name in ("queue_depth", "in_service", "memory_bytes", "producer_backlog", "down"):
        assert np.array_equal(getattr(binned, name), cut(getattr(per_tick, name), k, "last")), name
    for name in ("queue_depth", "memory_bytes", "capacity"):
        lo, hi = binned.envelope(name)
        series = getattr(per_tick, name)
        if name == "capacity" and not binned.strategy.bounded:
            assert np.isnan(lo).all() and np.isnan(hi).all()
            continue
        assert np.array_equal(lo, cut(series, k, "min")), name
        assert np.array_equal(hi, cut(series, k, "max")), name
        assert np.all(lo <= getattr(binned, name)) and np.all(getattr(binned, name) <= hi)
    assert binned.summary() == per_tick.summary()
    assert_books_balance(binned)
    assert_bounds(binned)


@pytest.mark.parametrize("strategy", ["drop_newest", "block", "sample", "adaptive"])
def test_binned_runs_kernel_equals_reference(strategy, small_bins):
    a = simulate(strategy=strategy, rng=8, engine="fast", **RUN)
    b = simulate(strategy=strategy, rng=8, engine="reference", **RUN)
    assert a.bin_ticks == 11
    assert_same_results(a, b)
    assert np.array_equal(a._env, b._env)


def test_the_envelope_catches_a_peak_between_points(small_bins):
    # a burst fills the buffer and the consumer drains it within one bin: the last values miss
    # the peak, the envelope does not
    r = simulate(strategy="drop_newest", producer_rate=0.0, consumer_rate=10_000.0, capacity=60,
                 duration_s=3.0, rate_schedule=((1.500, 40_000.0), (1.501, 0.0)), rng=1)
    lo, hi = r.envelope("queue_depth")
    # 40 arrive in the burst's tick and the consumer serves 10 of them in it: 30 wait at its end
    assert r.queue_depth.max() < hi.max() == 40 - 10
    assert lo.min() == 0


def test_a_quiet_run_costs_rows_per_event_not_per_tick():
    r = simulate(strategy="drop_newest", producer_rate=5.0, consumer_rate=100.0, duration_s=200.0,
                 arrivals="poisson", service="exponential", rng=2)
    s = r.summary()
    assert r.time_s.size == r.scenario.n_ticks == 200_000
    # a row for each tick with an arrival or a completion, at most
    assert len(r._log) <= 1 + s["offered"] + s["delivered"] + s["timed_out"]
    assert_books_balance(r)


def test_longer_than_a_million_ticks():
    r = simulate(strategy="drop_newest", producer_rate=2.0, consumer_rate=100.0,
                 duration_s=2_500.0, arrivals="poisson", service="exponential", rng=4)
    assert r.scenario.n_ticks == 2_500_000 and r.bin_ticks == 25
    assert r.time_s.size == 100_000 and r.time_s[-1] == 2_500.0
    assert r.offered.sum() == r.summary()["offered"]
    assert_books_balance(r)
    assert_bounds(r)


def test_tick_cap_says_what_to_change():
    from bpsim.scenario import MAX_TICKS
    with pytest.raises(ValueError, match="use a larger dt_s"):
        bpsim.Scenario(duration_s=(MAX_TICKS + 1) * 0.001)


# -- the latency histogram -------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(3))
def test_histogram_percentiles_within_a_tenth_of_a_percent(seed):
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.lognormal(-4, 2, 5000), rng.exponential(3.0, 300), [1e-9, 40.0]])
    hist = np.zeros(state.LAT_BINS, dtype=np.int64)
    np.add.at(hist, [lat_bin(v) for v in values], 1)
    q = [0, 1, 10, 50, 90, 95, 99, 99.9, 100]
    exact = np.percentile(values, q)
    approx = hist_percentiles(hist, q, lat_value)
    assert np.all(np.abs(np.array(approx) / exact - 1) <= 1e-3), (approx, exact)
    # the smallest n of them: the percentiles of those alone
    n = 2000
    low = np.sort(values)[:n]
    approx = hist_percentiles(hist, q, lat_value, n_lowest=n)
    assert np.all(np.abs(np.array(approx) / np.percentile(low, q) - 1) <= 1e-3)


def test_bins_are_narrow_enough():
    for x in (1e-6, 0.0123, 1.0, 2.0 - 1e-12, 3.7e4):
        assert abs(lat_value(lat_bin(x)) / x - 1) <= 2.0 ** -10
    for w in (0, 5, state.WAIT_EXACT - 1):
        assert wait_value(wait_bin(w)) == w  # exact below WAIT_EXACT
    for w in (state.WAIT_EXACT, 3 * state.WAIT_EXACT + 17, 10**12):
        assert abs(wait_value(wait_bin(w)) / w - 1) <= 2.0 ** -10


def test_past_the_records_the_summary_uses_the_histogram(monkeypatch):
    kw = dict(strategy="drop_newest", duration_s=20.0, arrivals="poisson", service="exponential",
              consumers=3, client_timeout_s=2.0, rng=6)
    full = simulate(**kw)
    monkeypatch.setattr(engine, "MAX_RECORDS", 1000)
    ring = simulate(**kw)
    assert full.records_complete and not ring.records_complete
    n = full.latency_s.size
    assert ring.latency_s.size == 1000 and n > 1000
    assert np.array_equal(ring.latency_s, full.latency_s[-1000:])  # the latest ones
    a, b = full.summary(), ring.summary()
    for key in a:
        if "latency" in key and a[key] is not None:
            assert abs(b[key] / a[key] - 1) <= 1e-3, key
        elif "latency" not in key:
            assert a[key] == b[key], key


def test_a_controller_still_sees_each_interval_past_the_records(monkeypatch):
    monkeypatch.setattr(engine, "MAX_RECORDS", 50)
    kw = dict(strategy="adaptive", duration_s=3, arrivals="poisson", service="exponential",
              consumers=2, latency_target_s=0.2, control_interval_s=0.05, rng=3)
    a = simulate(engine="fast", **kw)
    b = simulate(engine="reference", **kw)
    assert not a.records_complete
    assert_same_results(a, b)


# -- arrivals drawn a window at a time -------------------------------------------------------------
@pytest.fixture
def streamed(monkeypatch):
    """Runs above 1,000 ticks draw their arrivals in windows of 777 ticks."""
    monkeypatch.setattr(engine, "EAGER_TICKS", 1000)
    monkeypatch.setattr(engine, "WINDOW", 777)


@pytest.mark.parametrize("strategy", ["drop_newest", "block", "shed", "sample", "adaptive"])
@pytest.mark.parametrize("arrivals", ["poisson", "constant"])
def test_streamed_runs_kernel_equals_reference(strategy, arrivals, streamed):
    kw = dict(RUN, arrivals=arrivals, consumers_schedule=((2.5, 1),), client_timeout_s=0.3)
    a = simulate(strategy=strategy, rng=9, engine="fast", **kw)
    b = simulate(strategy=strategy, rng=9, engine="reference", **kw)
    assert a._inputs.stream is not None and a._inputs.arrivals is None
    assert_same_results(a, b)
    assert_books_balance(a)
    assert_bounds(a)


def test_streamed_constant_arrivals_are_the_eager_ones(monkeypatch):
    kw = dict(RUN, arrivals="constant", producer_rate=333.3)
    eager = simulate(rng=1, **kw)
    monkeypatch.setattr(engine, "EAGER_TICKS", 1000)
    monkeypatch.setattr(engine, "WINDOW", 777)
    streamed = simulate(rng=1, **kw)
    assert streamed._inputs.stream is not None
    for name in ("offered", "queue_depth", "delivered", "dropped"):
        assert np.array_equal(getattr(eager, name), getattr(streamed, name)), name


def test_streamed_poisson_arrivals_are_poisson_and_reproducible(streamed):
    kw = dict(strategy="drop_newest", producer_rate=2000.0, duration_s=5.0, arrivals="poisson")
    a, b = simulate(rng=2, **kw), simulate(rng=2, **kw)
    assert np.array_equal(a.offered, b.offered) and a.summary() == b.summary()
    per_tick = a.offered
    assert abs(per_tick.mean() - 2.0) < 5 * np.sqrt(2.0 / per_tick.size)
    assert abs(per_tick.var() / per_tick.mean() - 1) < 0.05  # Poisson: variance = mean


def test_a_long_run_in_bounded_memory():
    # a simulated hour at 1 ms (3.6 million ticks): 100,000 points, arrivals streamed
    r = simulate(strategy="drop_newest", producer_rate=1000.0, duration_s=3600.0,
                 arrivals="poisson", service="exponential", rng=1)
    assert r._inputs.arrivals is None and r.time_s.size == 100_000 and r.bin_ticks == 36
    assert len(r._log) <= 100_001
    s = r.summary()
    assert abs(s["throughput_per_s"] - 100.0) < 1.0
    assert abs(s["offered"] / 3600.0 - 1000.0) < 5 * np.sqrt(1000.0 / 3600.0)
    assert_books_balance(r)


def test_figures_draw_a_binned_run(small_bins):
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    from bpsim.viz import figures
    r = simulate(strategy="block", rng=1, **RUN)
    assert r.bin_ticks > 1
    fig = figures.plot_queue_and_memory(r)
    assert fig.axes and figures.plot_latency(r) is not None


def test_service_times_reused_past_the_pool(monkeypatch):
    # a run that starts more messages than MAX_POOL reuses the service times in order, the same
    # way in both engines
    monkeypatch.setattr(engine, "MAX_POOL", 97)
    kw = dict(RUN, client_timeout_s=0.2, order="lifo")
    a = simulate(strategy="drop_newest", rng=5, engine="fast", **kw)
    b = simulate(strategy="drop_newest", rng=5, engine="reference", **kw)
    assert a._inputs.pool.size == 97 < a._scalars["pool_index"]
    assert_same_results(a, b)
