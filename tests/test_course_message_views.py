"""The message views of notebooks 01, 02, 03 and 07: their settings, their twins, their answers.

Each notebook checks a learner's guess against a number computed by its course module; these
tests pin that the number is the one the view on screen plays, and that it says what the
notebook's text says it does.
"""
import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from bpsim import theory  # noqa: E402
from bpsim.course import clients_that_give_up as clients  # noqa: E402
from bpsim.course import micro_challenge as micro  # noqa: E402
from bpsim.course import strategies  # noqa: E402
from bpsim.course import the_scenario  # noqa: E402
from bpsim.viz.messages import SEED, MessageView  # noqa: E402


def played(strategy, seconds, bursts=(), compare=None, **settings):
    view = MessageView(strategy=strategy, compare=compare, speed=1.0, **settings)
    view.play_for(seconds, bursts=bursts)
    return view


def totals(view, lane=0):
    return view.lanes[lane].last["tot"]


def lines_fit(text):
    return all(len(line) < 100 for line in text.splitlines())


# -- 01: the crash --------------------------------------------------------------------------------
def test_01_the_check_reads_the_run_the_view_plays():
    view = played("unbounded", the_scenario.WATCH_SECONDS, **the_scenario.WATCH)
    s = the_scenario.watch_crash_run().summary()
    assert {k: s[k] for k in totals(view)} == totals(view)


def test_01_the_crash_comes_when_the_closed_form_says_within_a_minute_of_real_time():
    w = the_scenario.WATCH
    t = theory.time_to_exhaust_memory_s(w["producer_rate"], w["consumer_rate"],
                                        w["memory_limit_bytes"], 1000)
    s = the_scenario.watch_crash_run().summary()
    view = the_scenario.watch_crash()
    assert s["crashed"] and abs(s["crash_time_s"] - t) < 0.05
    assert t / view.speed < 60 and t < the_scenario.WATCH_SECONDS
    assert [lane.strategy for lane in view.lanes] == ["unbounded"]
    assert view.lanes[0].k == 1                   # one dot is one message


# -- 02: two lanes ----------------------------------------------------------------------------------
def test_02_what_one_lane_drops_the_other_lane_holds():
    c = strategies.lanes_counts()
    w = strategies.LANES
    surplus = (w["producer_rate"] - w["consumer_rate"]) * strategies.LANES_SECONDS
    assert c["dropped"] == c["held"]
    assert abs(c["dropped"] - (surplus - w["capacity"])) <= 2
    view = played(*strategies.LANE_STRATEGIES[:1], strategies.LANES_SECONDS,
                  compare=strategies.LANE_STRATEGIES[1], **w)
    assert totals(view, 0)["dropped"] == c["dropped"]
    assert totals(view, 1)["producer_backlog_end"] == c["held"]
    live = strategies.lanes_dashboard()
    assert [lane.strategy for lane in live.lanes] == list(strategies.LANE_STRATEGIES)


# -- 03: drive the load ------------------------------------------------------------------------------
def test_03_nothing_is_lost_without_a_burst_and_a_burst_into_an_empty_buffer_loses_its_excess():
    quiet = played("drop_newest", micro.DRIVE_SECONDS, **micro.DRIVE)
    assert totals(quiet)["dropped"] == 0
    first, second = micro.burst_drops()
    n = micro.DRIVE_BURSTS[0][1]
    assert first == n - micro.DRIVE["capacity"]
    assert second > first                          # the buffer had not drained yet
    view = played("drop_newest", micro.DRIVE_SECONDS, micro.DRIVE_BURSTS, **micro.DRIVE)
    assert totals(view)["dropped"] == first + second
    live = micro.drive_dashboard()
    assert [lane.strategy for lane in live.lanes] == list(micro.DRIVE_STRATEGIES)
    assert live.burst_size == n


# -- 07: served too late -------------------------------------------------------------------------------
def test_07_a_burst_longer_than_a_timeouts_worth_is_served_dead():
    t = clients.watch_totals()
    assert t["offered"] == sum(v for k, v in t.items() if k != "offered")
    assert t["timed_out"] > 2 * t["delivered"]     # most of what is served comes too late
    # the notebook's reckoning: the queue drains at 2 msg/s from 50 to 10 (20 s), 10 served a s
    assert abs(t["timed_out"] - 200) <= 15
    # a buffer of one timeout's worth (10 slots) drops the burst instead and serves the rest fresh
    short = played("drop_newest", clients.WATCH_SECONDS, clients.WATCH_BURSTS,
                   **{**clients.WATCH, "capacity": 10})
    assert totals(short)["timed_out"] < 10 and totals(short)["dropped"] > 0
    live = clients.watch_dashboard()
    assert live.lanes[0].sim.scenario.client_timeout_s == clients.TIMEOUT_S


def test_07_lifo_beside_fifo_serves_only_the_bursts_own_messages_too_late():
    w, (at, n) = clients.WATCH, clients.WATCH_BURSTS[0]
    view = played("drop_newest", clients.WATCH_SECONDS, clients.WATCH_BURSTS,
                  compare={"order": "lifo"}, **w)
    fifo, lifo = totals(view, 0), totals(view, 1)
    # the check cells read watch_totals: the numbers of the twin's two lanes
    assert fifo == clients.watch_totals() and lifo == clients.watch_totals(order="lifo")
    assert fifo["offered"] == lifo["offered"] == w["producer_rate"] * clients.WATCH_SECONDS + n
    for t in (fifo, lifo):
        assert t["offered"] == sum(v for k, v in t.items() if k != "offered")
    # the notebook's reckoning: newcomers are served at once, fresh; the burst gets the spare
    # rate, so all of it but what that serves within one timeout is served dead
    spare = w["consumer_rate"] - w["producer_rate"]
    assert abs(lifo["timed_out"] - (n - spare * clients.TIMEOUT_S)) <= 1
    assert n / spare <= clients.WATCH_SECONDS - at, "the burst must be served within the run"
    assert lifo["timed_out"] < fifo["timed_out"] / 3 and lifo["delivered"] > 2 * fifo["delivered"]
    live = clients.watch_dashboard(compare={"order": "lifo"})
    assert live.labels() == ["drop_newest, FIFO", "drop_newest, LIFO"]
    assert len(set(live.status()["colors"])) == 2


# -- the still twins: a figure and a sentence that adds up, in lines that fit -------------------------
@pytest.mark.parametrize("show", [the_scenario.show_watch_crash, strategies.show_lanes,
                                  micro.show_drive, clients.show_watch,
                                  lambda: clients.show_watch(compare={"order": "lifo"})])
def test_still_twins_print_counts_that_add_up(show, capsys):
    import matplotlib.pyplot as plt
    show()
    out = capsys.readouterr().out
    assert "(it adds up)" in out and "NOT" not in out
    assert lines_fit(out)
    fig = plt.gcf()
    assert all(ax.get_title() for ax in fig.axes)
    plt.close("all")

