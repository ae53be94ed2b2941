"""The message view's kernel side: the frames it sends, its controls, its still twin, its errors."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import bpsim  # noqa: E402
from bpsim.viz import messages as M  # noqa: E402

SMALL = dict(producer_rate=150, consumer_rate=100, capacity=20)


def _adds_up(tot):
    return tot["offered"] == sum(tot[t] for t in M.TERMS)


@pytest.mark.parametrize("strategy", ["drop_newest", "drop_oldest", "block", "shed", "sample",
                                      "unbounded"])
def test_every_frame_accounts_for_every_message_exactly_once(strategy):
    extra = {"retries": 2} if strategy == "shed" else {}
    if strategy == "unbounded":
        extra = {"memory_limit_bytes": 200_000, "restart_s": 0.5}
    view = M.MessageView(strategy=strategy, speed=1.0, **SMALL, **extra)
    seen = {name: 0 for name in M.COUNTS + ("dropped_head",)}
    first = view.lanes[0].last["tot"]
    for i in range(120):
        if i == 40:
            view.burst(300, show=False)
        (f,) = view.step()
        json.dumps(f)                      # what is sent is plain JSON
        assert f["adds_up"] and _adds_up(f["tot"]), f["tot"]
        for name, a in f["c"].items():
            assert len(a) == f["ticks"]
            seen[name] += sum(a)
    tot = f["tot"]
    # the per-tick counts of all frames add up to the totals: each message counted once (a drop
    # is sent as pushed out of the head or turned away at the door, never both)
    seen["dropped"] += seen.pop("dropped_head")
    for name in ("delivered", "timed_out", "expired", "dropped", "shed", "sampled_out"):
        assert seen[name] == tot[name] - first[name], name
    assert seen["lost"] == tot["lost_in_crash"] - first["lost_in_crash"]
    assert seen["offered"] == tot["offered"] - first["offered"]
    if strategy == "unbounded":
        assert tot["lost_in_crash"] > 0, "the small memory limit should crash the server"


def test_frames_follow_the_simulation_and_a_burst_raises_offered():
    view = M.MessageView(**SMALL, speed=0.1)
    view.step(0.5)
    before = view.lanes[0].last["tot"]["offered"]
    (f,) = view.burst(200)                # while paused: one tick, so the burst is seen at once
    assert f["tot"]["offered"] >= before + 200
    assert f["c"]["injected"] == [200]
    assert view.now == pytest.approx(0.5 + view.lanes[0].sim.dt_s)


def test_slow_motion_below_a_tick_per_frame_still_moves():
    view = M.MessageView(**SMALL, speed=0.01)       # a third of a tick per frame
    for _ in range(30):
        view.step()
    assert view.now == pytest.approx(0.01, abs=view.lanes[0].sim.dt_s)


def test_controls_map_to_sim_set_without_a_restart():
    view = M.MessageView(**SMALL, compare="block")
    view.step(1.0)
    view.handle({"event": "set", "changes": {"capacity": 60, "consumers": 3,
                                             "producer_rate": 400}})
    for sim in view.sims:
        assert (sim.scenario.capacity, sim.scenario.consumers, sim.scenario.producer_rate) == \
            (60, 3, 400)
        assert sim.now == pytest.approx(1.0), "a setting restarted the simulation"
    view.handle({"event": "set", "lane": 0, "changes": {"strategy": "shed"}})
    view.handle({"event": "set", "changes": {"retries": 2}})   # only the shed lane takes it
    assert [s.strategy.name for s in view.sims] == ["shed", "block"]
    assert view.sims[0].strategy.retries == 2
    assert view.status()["strategies"] == ["shed", "block"] and not view.error
    (f0, f1) = view.step(0.5)
    assert f0["s"]["capacity"] == 60 and f0["s"]["active"] == 3 and f0["adds_up"]


def test_two_lanes_get_the_same_traffic():
    view = M.MessageView(**SMALL, strategy="drop_newest", compare="block", rng=7)
    view.play_for(2.0, bursts=[(1.0, 100)])
    a, b = (lane.last["tot"] for lane in view.lanes)
    assert a["offered"] == b["offered"] > 100
    assert a["dropped"] > 0 and b["producer_backlog_end"] > 0 and b["dropped"] == 0


def test_the_scale_says_how_many_messages_a_dot_is():
    assert M.dot_scale(150 + 100, 0.1) == 1
    assert M.dot_scale(1e6, 1.0) > 1
    view = M.MessageView(producer_rate=200_000, consumer_rate=50_000, capacity=50_000, speed=1.0)
    (f,) = view.step()
    assert f["k"] > 1 and f["k"] in M.SCALES


def test_page_errors_are_shown_not_raised():
    view = M.MessageView(**SMALL)
    view.handle({"event": "set", "changes": {"capacity": -5}})
    assert view.error.startswith("capacity=-5 is not valid: use")
    view.handle({"event": "speed", "speed": 3})
    assert view.error.startswith("speed=3 is not valid: use one of")
    view.handle({"event": "tick", "real_s": 1 / 30})
    assert view.error == ""


def test_the_horizon_stops_the_view_and_reset_starts_again():
    from bpsim.simulation import HORIZON_TICKS
    view = M.MessageView(**SMALL, dt_s=0.01, speed=1.0)
    view.step(HORIZON_TICKS * 0.01 - 0.05)
    for _ in range(10):
        view.step(0.04)
    assert view.ended and "reset" in view.ended
    assert view.status()["ended"] == view.ended
    view.handle({"event": "reset"})
    assert view.now == 0 and not view.ended


@pytest.mark.parametrize("kwargs, start", [
    ({"strategy": "fastest"}, "strategy='fastest' is not valid: use"),
    ({"compare": "nope"}, "compare='nope' is not valid: use"),
    ({"speed": 0.3}, "speed=0.3 is not valid: use one of"),
    ({"burst": 0}, "burst=0 is not valid: use a whole number of messages"),
    ({"capacity": -1}, "capacity=-1 is not valid: use"),
])
def test_bad_arguments_are_named(kwargs, start):
    with pytest.raises(ValueError) as err:
        M.MessageView(**kwargs)
    assert str(err.value).startswith(start), str(err.value)


def test_the_still_twin_has_title_axes_legend_and_a_sentence(capsys):
    import matplotlib.pyplot as plt
    plt.close("all")
    M.show_messages(strategy="drop_newest", compare="block", **SMALL)
    text = capsys.readouterr().out
    assert "drop_newest: of" in text and "block: of" in text and "it adds up" in text
    fig = plt.gcf()
    assert fig._suptitle is not None and fig._suptitle.get_text()
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        assert ax.get_legend() is not None
    assert "(s)" in fig.axes[0].get_xlabel()
    # clean: no legend covers data, no label or title runs off the figure
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    page = fig.bbox
    for ax in fig.axes:
        legend = ax.get_legend().get_window_extent(r)
        assert not legend.overlaps(ax.bbox), f"the legend of {ax.get_title()!r} covers its data"
        for part in (legend, ax.yaxis.label.get_window_extent(r), ax.title.get_window_extent(r),
                     ax.xaxis.label.get_window_extent(r)):
            assert page.x0 <= part.x0 and part.x1 <= page.x1 and page.y0 <= part.y0 \
                and part.y1 <= page.y1, f"{ax.get_title()!r}: {part} runs off the figure {page}"
    plt.close("all")
    assert M.show_messages(show=False, **SMALL).startswith("After 10 s with bursts of 200 at 4 s")


def test_the_widget_ships_its_code_and_is_told_the_frames():
    view = M.MessageView(**SMALL)
    w = view.widget
    assert "export default" in w._esm and "uPlot" in w._esm
    own = (Path(M.__file__).parent / "static" / "messages.js").read_text()
    # nothing is fetched at run time: no address, no import, no fetch in the view's own code
    assert not any(s in own for s in ("http://", "https://", "import(", "fetch(", "import "))
    assert ".bpsim-messages" in w._css
    before = w.status["seq"]
    view.handle({"event": "tick", "real_s": 1 / 30})
    assert w.status["seq"] == before + 1 and w.frames[0]["seq"] == before + 1


def test_a_strategy_keyword_goes_to_the_lane_that_takes_it():
    view = M.MessageView(strategy="unbounded", compare="shed", retries=2, **SMALL)
    assert view.sims[1].strategy.retries == 2
    with pytest.raises(ValueError, match="retries=2 is not valid with strategy='unbounded'"):
        M.MessageView(strategy="unbounded", compare="block", retries=2)


# -- a second lane that differs by more than its strategy (compare as a dict) ----------------------
RANDOM = dict(SMALL, arrivals="poisson", service="exponential", client_timeout_s=0.3)


@pytest.mark.parametrize("compare", [{"order": "lifo"}, {"drop_expired": True, "capacity": 35},
                                     {"strategy": "block", "order": "adaptive_lifo"}])
def test_a_compare_dict_makes_the_lane_a_plain_run_of_those_settings_gives(compare):
    view = M.MessageView(strategy="drop_newest", compare=compare, rng=11, **RANDOM)
    view.step(3.0)
    settings = {**RANDOM, **{k: v for k, v in compare.items() if k != "strategy"}}
    for lane, strategy, kw in ((0, "drop_newest", RANDOM),
                               (1, compare.get("strategy", "drop_newest"), settings)):
        r = bpsim.simulate(strategy=strategy, duration_s=view.now, rng=11, **kw).summary()
        tot = view.lanes[lane].last["tot"]
        assert {k: r[k] for k in tot} == tot, (lane, compare)
        assert _adds_up(tot)
    # the lanes differ in what they do, not in what they were offered
    assert view.lanes[0].last["tot"] != view.lanes[1].last["tot"]


def test_two_lanes_of_one_strategy_meet_the_same_arrivals_and_are_told_apart():
    view = M.MessageView(strategy="drop_newest", compare={"order": "lifo"}, rng=3, speed=1.0,
                         **RANDOM)
    offered = [[], []]
    for i in range(60):
        if i == 20:
            view.burst(80, show=False)
        for f in view.step():
            offered[f["lane"]] += f["c"].get("offered", [0] * f["ticks"])
            assert f["adds_up"] and _adds_up(f["tot"])
    assert offered[0] == offered[1] and sum(offered[0]) > 80
    st = view.status()
    assert st["strategies"] == ["drop_newest", "drop_newest"]
    assert st["labels"] == ["drop_newest, FIFO", "drop_newest, LIFO"] == view.labels()
    assert len(set(st["colors"])) == 2, "two lanes of one strategy share a colour"
    from bpsim.viz.palette import VARIANT_COLORS, strategy_color
    assert st["colors"][0] == strategy_color("drop_newest") and st["colors"][1] in VARIANT_COLORS
    # the lanes keep their own order through a reset and a change of strategy on lane 2
    view.handle({"event": "set", "lane": 1, "changes": {"strategy": "block"}})
    view.handle({"event": "reset"})
    assert [s.scenario.order for s in view.sims] == ["fifo", "lifo"] and not view.error
    assert view.labels() == ["drop_newest, FIFO", "block, LIFO"]


def test_a_capacity_of_its_own_stays_until_the_page_sets_every_lanes():
    view = M.MessageView(compare={"capacity": 5}, **SMALL)
    assert [s.scenario.capacity for s in view.sims] == [20, 5]
    assert view.labels() == ["drop_newest, 20 slots", "drop_newest, 5 slots"]
    view.handle({"event": "set", "changes": {"capacity": 30}})
    view.reset()
    assert [s.scenario.capacity for s in view.sims] == [30, 30]
    assert view.labels() == ["drop_newest, 30 slots (lane 1)", "drop_newest, 30 slots (lane 2)"]


@pytest.mark.parametrize("compare, start", [
    ({"speed": 2}, "compare={'speed': 2} is not valid: use a dict with keys among strategy, order"),
    ({"order": "random"}, "compare['order']='random' is not valid: use one of fifo, lifo"),
    ({"drop_expired": "yes"}, "compare['drop_expired']='yes' is not valid: use True or False"),
    ({"capacity": -1}, "compare['capacity']=-1 is not valid: use a whole number of slots"),
    ({"strategy": "fastest"}, "compare['strategy']='fastest' is not valid: use one of"),
    (42, "compare=42 is not valid: use a strategy name"),
    (["lifo"], "compare=['lifo'] is not valid: use a strategy name"),
    ({}, "compare={} is not valid: use a strategy name"),
    ({"order": "fifo"}, "compare={'order': 'fifo'} is not valid: use a dict that changes"),
    ({"drop_expired": True}, "compare={'drop_expired': True} does not make a second lane: "
                             "drop_expired=True is not valid"),
])
def test_a_bad_compare_is_named(compare, start):
    with pytest.raises(ValueError) as err:
        M.MessageView(compare=compare, **SMALL)
    assert str(err.value).startswith(start), str(err.value)


def test_the_still_twin_names_and_colours_each_lane(capsys):
    import matplotlib.pyplot as plt
    plt.close("all")
    text = M.show_messages(strategy="drop_newest", compare={"order": "lifo"}, show=False,
                           client_timeout_s=0.5, **SMALL)
    assert "drop_newest, FIFO: of" in text and "drop_newest, LIFO: of" in text
    M.show_messages(strategy="drop_newest", compare={"order": "lifo"}, client_timeout_s=0.5,
                    **SMALL)
    capsys.readouterr()
    fig = plt.gcf()
    depth, where = fig.axes
    lines = {line.get_label(): line.get_color() for line in depth.get_lines()}
    a, b = (lines[f"drop_newest, {o}: queue depth"] for o in ("FIFO", "LIFO"))
    assert a != b
    assert [t.get_text() for t in where.get_yticklabels()] == ["drop_newest, FIFO",
                                                               "drop_newest, LIFO"]
    assert where.get_ylabel() == "lane"
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_legend() is not None
    plt.close("all")


@pytest.fixture
def evictions(monkeypatch):
    """The reference engine's own evictions from the head, counted as it makes them: call the
    fixture with a run's number of ticks for the messages pushed out in each (int64)."""
    from bpsim.reference import ReferenceEngine
    evicted = {}
    evict = ReferenceEngine.evict_oldest

    def counting(self, n):
        evicted[self.tick] = evicted.get(self.tick, 0) + n
        evict(self, n)

    monkeypatch.setattr(ReferenceEngine, "evict_oldest", counting)

    def per_tick(n_ticks):
        truth = np.zeros(n_ticks, np.int64)
        for tick, n in evicted.items():
            truth[tick] += n
        return truth
    return per_tick


@pytest.mark.parametrize("capacity, rate", [(50, 1500), (3, 3000)])
def test_drop_oldest_drops_leave_from_the_head_as_the_engine_evicts_them(monkeypatch, evictions,
                                                                         capacity, rate):
    """``head_drops`` against the reference engine's own evictions, tick by tick, wherever its
    docstring says it is exact (one batch a tick, not larger than the room plus the capacity
    while there is room); with 3 slots and 3 messages a tick, many are turned away at the door."""
    from bpsim.strategies import DropOldest
    batches, exact = {}, {}
    admit = DropOldest.admit

    def watched(self, q, gen, n, attempt):
        room = q.room()
        batches[q.tick] = batches.get(q.tick, 0) + 1
        exact[q.tick] = batches[q.tick] == 1 and not (room > 0 and n > room + capacity)
        admit(self, q, gen, n, attempt)

    monkeypatch.setattr(DropOldest, "admit", watched)
    r = bpsim.simulate(strategy="drop_oldest", producer_rate=rate, consumer_rate=1000,
                       capacity=capacity, duration_s=5, arrivals="poisson",
                       service="exponential", engine="reference", rng=3)
    truth = evictions(len(r.dropped))
    ok = np.ones(len(truth), bool)             # (a tick without a batch drops nothing)
    ok[[t for t, e in exact.items() if not e]] = False
    assert truth.sum() > 100 and ok.mean() > 0.9              # it evicted, often; mostly exact
    head = M.head_drops(r.dropped, r.admitted)
    np.testing.assert_array_equal(head[ok], truth[ok])
    assert np.all(head >= truth) and np.all(head <= r.dropped)   # elsewhere: between the two
    if capacity == 3:  # the door turned many away: not every drop was drawn at the head
        assert (r.dropped[ok] - head[ok]).sum() > 100


def test_a_drop_oldest_lane_sends_its_drops_from_the_head_and_drop_newest_from_the_door():
    view = M.MessageView(strategy="drop_oldest", compare="drop_newest", speed=1.0, **SMALL)
    sent = [{"dropped": 0, "dropped_head": 0}, {"dropped": 0, "dropped_head": 0}]
    for _ in range(60):
        for f in view.step():
            for name in sent[f["lane"]]:
                sent[f["lane"]][name] += sum(f["c"].get(name, ()))
    oldest, newest = sent
    assert oldest["dropped_head"] > 0 and newest["dropped_head"] == 0
    assert newest["dropped"] > 0


def test_after_the_capacity_is_lowered_head_drops_stay_between_none_and_all(evictions):
    """The case ``head_drops`` states it misses: a buffer above its new capacity."""
    from bpsim.engine import prepare
    from bpsim.reference import ReferenceEngine
    from bpsim.result import Result
    sc = bpsim.Scenario(producer_rate=1500, consumer_rate=1000, capacity=200, duration_s=2,
                        arrivals="poisson", service="exponential")
    strategy = bpsim.make_strategy("drop_oldest")
    x = prepare(sc, strategy, 3)
    eng = ReferenceEngine(x, strategy)
    eng.run(0, 1000)
    eng.set_capacity(20)             # as the page's capacity control does, mid-run
    eng.run(1000, x.n_ticks)
    r = Result(sc, strategy, x, eng)
    truth = evictions(len(r.dropped))
    head = M.head_drops(r.dropped, r.admitted)
    assert np.all(head >= 0) and np.all(head <= r.dropped)
    assert np.all(truth <= r.dropped)
    missed = truth > head
    assert missed.any(), "the buffer above its capacity should show the stated miss"
    # the miss lasts only while the buffer is above its new capacity: after that, exact again
    back = np.argmax(r.queue_depth[1000:] <= 20) + 1000
    assert r.queue_depth[back] <= 20 and back > 1000
    np.testing.assert_array_equal(head[back + 1:], truth[back + 1:])
