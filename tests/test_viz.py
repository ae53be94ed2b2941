"""Figures are labelled the way the series promises, and dashboards react to their controls."""
import functools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np
import pytest  # noqa: E402

import bpsim  # noqa: E402
from bpsim import theory  # noqa: E402
from bpsim.course import prediction, strategies as course_strategies, the_scenario  # noqa: E402
from bpsim.viz import dashboard, figures as plots, palette  # noqa: E402
from helpers import close_figures  # noqa: E402, F401 (every test: figures closed after it)




def run(strategy, **kw):
    kw.setdefault("duration_s", 6)
    kw.setdefault("dt_s", 0.01)
    return bpsim.simulate(strategy=strategy, rng=1, **kw)


#: The figures checked below (named here, not by drawing them: collecting the tests draws nothing).
FIGURES = ("queue_and_memory", "latency", "strategy", "queue_depths", "comparison",
           "producer_wait", "scale_out", "littles_law", "crash_dashboard", "strategy_dashboard")


@functools.lru_cache(maxsize=1)
def figures():
    crash = run("unbounded", memory_limit_bytes=2_000_000)
    block, drop = run("block", capacity=50), run("drop_newest", capacity=50)
    both = {"drop_newest": drop, "block": block}
    checks = {"a": ("drop_newest", theory.littles_law_check(drop, warmup_s=2)),
              "b": ("block", theory.littles_law_check(block, warmup_s=2))}
    return {
        "queue_and_memory": plots.plot_queue_and_memory(crash),
        "latency": plots.plot_latency(drop),
        "strategy": plots.plot_strategy(block),
        "queue_depths": plots.plot_queue_depths(both, events=[(3, "scale out")]),
        "comparison": plots.plot_comparison({**both, "unbounded": crash}),
        "producer_wait": plots.plot_producer_wait(both),
        "scale_out": plots.plot_scale_out(both, events=[(2, "ordered"), (4, "ready")]),
        "littles_law": plots.plot_littles_law(checks),
        "crash_dashboard": the_scenario.crash_dashboard().figure,
        "strategy_dashboard": course_strategies.strategy_dashboard().figure,
    }


@pytest.mark.parametrize("name", FIGURES)
def test_every_axes_has_a_title_labels_with_units_and_a_legend(name):
    assert tuple(figures()) == FIGURES
    fig = figures()[name]
    assert fig.axes
    for ax in fig.axes:
        assert ax.get_title(), f"{name}: an axes has no title"
        for label in (ax.get_xlabel(), ax.get_ylabel()):
            assert "(" in label and ")" in label, f"{name}: label {label!r} has no unit"
        if len(ax.get_lines()) > 1:
            assert ax.get_legend() is not None, f"{name}: several lines but no legend"


def test_a_strategy_keeps_its_colour_in_every_figure():
    r = run("sample")
    colours = {line.get_color() for line in plots.plot_strategy(r).axes[0].get_lines()
               if "sample" in line.get_label()}
    assert colours == {palette.STRATEGY_COLORS["sample"]}


def test_thin_keeps_few_points_and_the_first():
    import numpy as np
    t, y = plots.thin(np.arange(100_000), np.arange(100_000) * 2, max_points=1000)
    assert len(t) <= 1000 and t[0] == 0 and np.all(y == 2 * t)


def test_crash_dashboard_text_follows_its_sliders():
    d = the_scenario.crash_dashboard(memory_limit_mb=10)
    before = d.text
    d.controls["producer_rate"].value = 2000  # as a learner moving the slider would
    assert d.text != before
    assert "crashes after" in d.last_text


def test_strategy_dashboard_update_changes_its_text_and_figure():
    d = course_strategies.strategy_dashboard()
    before = d.last_text
    after = d.update(strategy="block")
    assert after != before and after.startswith("block")
    assert "block" in d.figure.axes[0].get_title()
    assert d.last_redraw_s > 0


def test_static_twin_gives_the_same_sentence_as_the_dashboard():
    d = course_strategies.strategy_dashboard(strategy="shed", capacity=200)
    text = course_strategies.show_strategy(strategy="shed", capacity=200, show=False)
    assert text.split() == d.last_text.split()  # the same words; lines may break elsewhere


def test_dashboard_refuses_an_unknown_control():
    with pytest.raises(ValueError, match="not a control"):
        the_scenario.crash_dashboard().update(capacity=3)


def test_dashboard_keeps_its_own_margins_and_can_show_a_small_table():
    import ipywidgets as w

    from bpsim.viz import charts

    def render(fig, n):
        ax = fig.add_subplot()
        ax.plot(range(n))
        return "a:  1\nbb: 2"

    def chart(n):
        return charts.Frame([charts.Panel("n", "x (1)", "y (1)").line("n", range(n), range(n),
                                                                     "#000000")], "a:  1\nbb: 2")
    d = dashboard.Dashboard({"n": dashboard.slider(3, 1, 9, 1, "n")}, render, chart,
                            margins=dict(right=0.7), preformatted=True)
    d.update(n=5)
    assert d.figure.subplotpars.right == pytest.approx(0.7)
    assert d.figure.subplotpars.left == pytest.approx(dashboard.PREVIEW_MARGINS["left"])
    assert d.chart.preformatted and d.text == "a:  1\nbb: 2"
    assert len(d.figure.axes[0].lines[0].get_xdata()) == 5   # the still figure of n=5
    assert isinstance(d.widget, w.VBox)


def _every_dashboard():
    from bpsim.course import adaptive_challenge, clients_that_give_up, openai_outage
    return {"crash": (the_scenario.crash_dashboard(), the_scenario.show_crash),
            "strategy": (course_strategies.strategy_dashboard(), course_strategies.show_strategy),
            "outage": (openai_outage.outage_dashboard(), openai_outage.show_outage),
            "policy": (adaptive_challenge.policy_dashboard(), adaptive_challenge.show_policy),
            "clients": (clients_that_give_up.clients_dashboard(),
                        clients_that_give_up.show_clients)}


def test_every_slider_of_every_dashboard_reports_while_it_is_dragged():
    for name, (d, _) in _every_dashboard().items():
        sliders = [c for c in d.controls.values() if hasattr(c, "continuous_update")
                   and hasattr(c, "step")]
        assert sliders and all(c.continuous_update for c in sliders), name


def test_every_dashboard_chart_keeps_the_series_standards():
    from bpsim.viz import charts
    colours = set(palette.STRATEGY_COLORS.values()) | set(palette.COLORS.values()) | set(
        palette.CLASS_COLORS.values()) | set(palette.POLICY_COLORS.values()) | {palette.YOU}
    for name, (d, _) in _every_dashboard().items():
        spec = d.chart.spec
        assert spec["font_px"] >= 13 and spec["height"] >= 250, name
        for p in spec["panels"]:
            assert p["title"] and "(" in p["xlabel"] and "(" in p["ylabel"], (name, p)  # units
            assert p["series"] and all(s["label"] for s in p["series"]), (name, p)   # a legend
            assert {s["color"] for s in p["series"]} <= colours, (name, p)
        assert d.text == d.last_text and charts.checksum(d.chart.data) != 0
        # at the screen's resolution: a line has about two points a column, dots one a cell
        # (notebook 07 once sent 58,001 points a line, 1.9 MB a redraw)
        data = np.frombuffer(d.chart.data)
        for p in spec["panels"]:
            for s in p["series"]:
                n = int(np.isfinite(data[s["y"][0]:s["y"][0] + s["y"][1]]).sum())
                limit = 4 * charts.BUCKETS if s["kind"] == "line" else charts.CELLS[0] * 2
                assert n <= limit, (name, p["title"], s["label"], n)


def test_a_line_longer_than_the_screen_is_sent_as_its_envelope():
    from bpsim.viz import charts
    x = np.arange(60_000) * 0.001
    y = np.sin(x * 7) + (x == 31.0) * 5
    p = charts.Panel("t", "x (s)", "y (1)").line("a", x, y, "#000000")
    s = p.series[0]
    assert len(s.x) <= 2 * charts.BUCKETS + 60_000 // charts.BUCKETS
    assert s.y.max() == y.max() and s.y.min() == y.min()
    dots = charts.Panel("t", "x (s)", "y (1)").line("b", x, y, "#000000", kind="points")
    assert len(dots.series[0].x) == 60_000   # dots are thinned by scatter_cells, by the caller


@pytest.mark.parametrize("name", ["crash", "strategy", "outage", "policy", "clients"])
def test_a_value_from_the_page_is_drawn_as_its_still_twin_says(name, capsys):
    import matplotlib
    matplotlib.use("Agg")
    d, show = _every_dashboard()[name]
    slider = next(k for k, c in d.controls.items() if hasattr(c, "step"))
    c = d.controls[slider]
    new = c.max if c.value != c.max else c.min
    # what the slider's sync does while it is dragged: the page's value reaches the control
    c.value = new
    assert d.last_values[slider] == new and type(d.last_values[slider]) is type(c.value)
    assert d.chart.drawn == d.last_values
    capsys.readouterr()
    text = show(**d.last_values)   # 01, 02 return it (wrapped); 04, 05 print it
    text = capsys.readouterr().out.rstrip("\n") if text is None else text
    assert text.replace("\n", " ") == d.last_text.replace("\n", " "), name


def test_a_float_from_the_page_is_drawn_as_its_readout_shows_it(capsys):
    # The page's steps of 0.1 from 0.5 send 0.8999999999999999 for the 0.90 the readout shows;
    # notebook 05's fixed buffer for it would be int(100 * 0.8999999999999999) = 89 slots.
    import matplotlib
    matplotlib.use("Agg")
    from bpsim.course import adaptive_challenge
    sent = 0.5
    for _ in range(4):
        sent += 0.1
    assert sent != 0.9 and f"{sent:.2f}" == "0.90"
    d = adaptive_challenge.policy_dashboard()
    d.controls["latency_target_s"].value = sent
    assert d.last_values["latency_target_s"] == 0.9 and d.chart.drawn["latency_target_s"] == 0.9
    capsys.readouterr()
    adaptive_challenge.show_policy(latency_target_s=0.9)
    twin = capsys.readouterr().out
    assert " ".join(d.last_text.split()) in " ".join(twin.split())
    adaptive_challenge.show_policy(latency_target_s=sent)
    assert capsys.readouterr().out != twin   # the noise would have been another run


def test_envelope_keeps_every_peak_and_scatter_cells_keep_one_dot_a_cell():
    from bpsim.viz import charts
    rng = np.random.default_rng(1)
    y = rng.normal(size=300_000)
    y[123_457] = 40.0
    x = np.arange(len(y)) * 0.001
    xe, (ye,) = charts.envelope(x, [y])
    assert len(xe) <= 2 * charts.BUCKETS + 2 * len(y) // charts.BUCKETS
    assert ye.max() == 40.0 and ye.min() == y.min() and np.all(np.diff(xe) >= 0)
    sx, sy = charts.scatter_cells(x, np.abs(y) + 0.01, (0, 300), (0.01, 50), log_y=True)
    assert len(sx) <= charts.CELLS[0] * charts.CELLS[1] < len(x) and np.all(np.diff(sx) >= 0)


def test_a_frame_puts_every_series_on_one_x_and_marks_its_gaps():
    from bpsim.viz import charts
    p = charts.Panel("t", "x (s)", "y (1)").line("a", [0, 1, 2], [1, 2, 3], "#000000")
    p.line("b", [0.5, 0.5], [7, 8], "#000000", kind="points").hline("h", 5, "#000000")
    spec, data = charts.Frame([p]).payload()
    a = np.frombuffer(data)
    x0, n = spec["panels"][0]["x"]
    xs = a[x0:x0 + n]
    assert np.all(np.diff(xs) > 0) and n == 5   # 0, 0.5, 0.5 + 1e-7, 1, 2
    b0, _ = spec["panels"][0]["series"][1]["y"]
    assert np.isnan(a[b0]) and a[b0 + 1] == 7 and a[b0 + 2] == 8


def test_each_frame_a_chart_shows_starts_with_its_own_serial_number():
    # the page compares a new buffer with the old one byte by byte until they differ: frames
    # that share their first points must differ in their first number (charts.HEADER), and the
    # page's checksum leaves that number out
    from bpsim.viz import charts
    panel = charts.Panel("t", "x (s)", "y (1)").line("a", [0, 1], [1, 2], "#000000")
    frame = charts.Frame([panel])
    chart = charts.Chart()
    sent = []
    for _ in range(3):
        chart.show(frame)
        sent.append(np.frombuffer(chart.data))
    _, plain = frame.payload()
    assert [a[0] for a in sent] == [1.0, 2.0, 3.0]
    assert all(a[charts.HEADER:].tobytes() == plain[8 * charts.HEADER:] for a in sent)
    assert charts.checksum(chart.data) == charts.checksum(plain) == 0 + 1 + 1 + 2


def test_check_prediction_is_kind_whatever_is_typed(capsys):
    for guess in (None, "lots", 2650, 2000, 10):
        prediction.check_prediction(guess, 2650)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 5
    assert "No prediction yet" in out[0] and "could not read" in out[1]
    assert "Spot on" in out[2] and "Close" in out[3] and "Not quite" in out[4]


def test_check_prediction_says_where_the_answer_comes_from(capsys):
    prediction.check_prediction(90, 88, "points")
    prediction.check_prediction(90, 88, "points", source="the ceiling works out at")
    counted, bound = capsys.readouterr().out.splitlines()
    assert "the simulation counted 88 points" in counted
    assert "the ceiling works out at 88 points" in bound and "counted" not in bound


def test_check_prediction_reads_a_thousands_comma_and_refuses_what_is_no_count(capsys):
    # ``my_prediction = 2,650`` is the tuple (2, 650); True, -3 and nan are not counts.
    for guess in ((2, 650), (1, 0), (2, 65), True, -3, float("nan")):
        prediction.check_prediction(guess, 2650)
    out = capsys.readouterr().out.splitlines()
    assert "predicted 2,650" in out[0] and "Spot on" in out[0] and "2650" in out[0]
    assert "predicted 1,000" in out[1]
    assert "could not read" in out[2] and "commas" in out[2]
    assert all("not a count" in line for line in out[3:])


def test_sentences_when_the_producer_sends_nothing_or_one_message_waits():
    assert "sent nothing" in course_strategies.describe(course_strategies.strategy_run(producer_rate=0))
    assert "sends nothing" in the_scenario.crash_sentence(the_scenario.crash_run(producer_rate=0))
    text = the_scenario.crash_sentence(the_scenario.crash_run(producer_rate=50, consumer_rate=2000))
    assert "past 1 message in" in text


def test_summary_table_has_one_row_per_run():
    table = plots.summary_table({"x": run("drop_newest"), "y": run("block")})
    assert len(table.splitlines()) == 3


def test_crash_sentence_counts_every_crash():
    # 1,000 messages of room filled at 4,990 msg/s: it crashes again after each 5 s restart.
    r = the_scenario.crash_run(producer_rate=5000, consumer_rate=10, memory_limit_mb=10,
                          message_bytes=10_000)
    s = r.summary()
    assert s["crashes"] > 1
    text = " ".join(the_scenario.crash_sentence(r).split())
    assert f"{s['lost_in_crash'] - s['lost_while_down']:,} messages were lost" in text


def test_crash_preview_matches_the_closed_form_even_with_little_memory():
    r = the_scenario.crash_run(producer_rate=2000, consumer_rate=1990, memory_limit_mb=10,
                          message_bytes=10_000)
    predicted = theory.time_to_exhaust_memory_s(2000, 1990, 10_000_000, 10_000)
    assert abs(r.summary()["crash_time_s"] - predicted) <= 0.03 * predicted


def test_block_under_overload_shows_buffer_and_producer_on_a_log_axis():
    # The producer ends up holding ~100x the buffer: a linear axis would flatten the buffer to 0.
    fig = plots.plot_strategy(run("block", capacity=50))
    ax = fig.axes[0]
    assert ax.get_yscale() == "symlog" and "log scale" in ax.get_ylabel()
    plt.close(fig)
    fig = plots.plot_strategy(run("drop_newest", capacity=50))
    assert fig.axes[0].get_yscale() == "linear"
    plt.close(fig)


def test_strategy_dashboard_redraws_block_under_overload():
    d = course_strategies.strategy_dashboard(strategy="block", producer_rate=5000, consumer_rate=10,
                                   capacity=10)
    assert "held by the producer" in " ".join(d.last_text.split())


def test_crash_loop_is_marked_at_every_crash_and_counted_in_the_legend():
    r = the_scenario.crash_run(producer_rate=5000, consumer_rate=100, memory_limit_mb=50,
                          message_bytes=10_000)
    n = len(r.crash_times_s)
    assert n > 1
    fig = plots.plot_queue_and_memory(r)
    for ax in fig.axes:
        labels = ax.get_legend_handles_labels()[1]
        assert f"{n} crashes, first at {r.crash_times_s[0]:.1f} s" in labels
        marks = [line for line in ax.get_lines() if line.get_marker() == "X"]
        assert len(marks) == n


def test_no_prediction_reveals_nothing(capsys):
    # "Run all" must not give the answer away: without a guess the count is not printed.
    prediction.check_prediction(None, 2650)
    out = capsys.readouterr().out
    assert "No prediction yet" in out and "2650" not in out and "2,650" not in out


def test_the_hand_over_wait_reaches_the_longest_wait_the_books_record():
    # Two ways to the same number: the wait histogram kept by the engine, and the hand-over wait
    # rebuilt from the cumulative offered and admitted counts (block hands over oldest first).
    from bpsim.course.micro_challenge import micro_run
    r = micro_run("block")
    t, wait = plots._hand_over_wait(r)
    waits, counts = r.producer_wait_s
    assert abs(wait.max() - waits.max()) <= r.scenario.dt_s + 1e-9
    assert np.all(np.diff(wait[t > 1]) >= -1e-9)  # a blocked producer's wait only grows
    t0, w0 = plots._hand_over_wait(micro_run("drop_newest"))
    assert not w0.any()


def test_the_palette_figure_shows_every_strategy():
    fig = plots.plot_palette()
    texts = {t.get_text() for ax in fig.axes for t in ax.texts}
    assert set(palette.STRATEGY_COLORS) <= texts
    assert all(ax.get_title() for ax in fig.axes)


def test_dashboard_sliders_are_not_echoed_back_other_sliders_are():
    import ipywidgets as w
    from bpsim.viz.dashboard import slider
    s = slider(5, 0, 10, 1, "x")
    assert s.trait_metadata("value", "echo_update", True) is False
    assert s.trait_metadata("value", "sync") is True
    assert w.IntSlider().trait_metadata("value", "echo_update", True) is True


def _counting_dashboard(fail_at=None, ahead=None):
    """A two-slider dashboard whose chart records the settings it is asked for."""
    from bpsim.viz import charts
    asked = []

    def chart(n, k):
        asked.append((n, k))
        if (n, k) == fail_at:
            raise ValueError("no picture here")
        # (every frame the same size: ten points)
        p = charts.Panel(f"n={n}", "x (1)", "y (1)").line("a", range(10), [n * k] * 10,
                                                          "#000000")
        return charts.Frame([p], f"n is {n}, k is {k:g}.")

    def render(fig, n, k):
        fig.add_subplot().plot(range(n + 1))
        return f"n is {n}, k is {k:g}."
    d = dashboard.Dashboard({"n": dashboard.slider(3, 1, 9, 1, "n"),
                             "k": dashboard.slider(0.3, 0.1, 0.5, 0.1, "k", integer=False)},
                            render, chart, ahead=ahead)
    return d, asked


def test_a_dashboard_remembers_its_frames_and_sends_them_as_it_made_them():
    d, asked = _counting_dashboard()
    fresh, _ = _counting_dashboard()
    for n in (4, 5, 4, 3, 4):
        d.update(n=n)
    assert asked == [(3, 0.3), (4, 0.3), (5, 0.3)] and d.made == 3   # no setting made twice
    fresh.update(n=4)
    assert np.array_equal(np.frombuffer(d.chart.data)[1:], np.frombuffer(fresh.chart.data)[1:])
    assert d.chart.spec == fresh.chart.spec and d.text == fresh.text == "n is 4, k is 0.3."
    assert np.frombuffer(d.chart.data)[0] == 6      # still a serial number of its own a frame


def test_the_dashboards_of_a_kernel_remember_REMEMBER_BYTES_of_frames_the_last_used_kept(
        monkeypatch):
    d, asked = _counting_dashboard()
    size = dashboard._frames.get(d._key(d.values())).numbers.nbytes
    monkeypatch.setattr(dashboard, "REMEMBER_BYTES", 3 * size)
    for n in (4, 5, 3, 6, 3, 4):   # 4 is forgotten (the least recently used), 3 is not
        d.update(n=n)
    assert asked == [(3, 0.3), (4, 0.3), (5, 0.3), (6, 0.3), (4, 0.3)]
    assert dashboard._frames.bytes <= 3 * size
    # a dashboard made again (its cell run again) shares the same memory: the old one's frames
    # age out instead of staying for the kernel's life
    again, _ = _counting_dashboard()
    again.update(n=7)
    assert dashboard._frames.bytes <= 3 * size
    d.update(n=3)                  # the old dashboard's 6 and 3 were the oldest: 3 made again
    assert asked[-1] == (3, 0.3)


def test_a_dashboard_works_out_the_settings_next_to_its_own_nearest_first():
    d, asked = _counting_dashboard(fail_at=(5, 0.3), ahead=7)
    # one step right and left on each slider, then two ...; a setting whose chart fails is
    # passed over (the learner sees the error if they move there), the others still made
    assert d.work_ahead(20) == 7 and d.work_ahead(1) == 0   # 7 tried, one failed
    assert asked == [(3, 0.3), (4, 0.3), (2, 0.3), (3, 0.4), (3, 0.2), (5, 0.3), (1, 0.3),
                     (3, 0.5)]
    # the grids hold the values the page sends, read as Dashboard.values reads them: a float
    # slider's 0.1 + 0.2 is 0.3 (without_noise)
    assert dashboard.slider_values(d.controls["k"]) == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert dashboard.slider_values(d.controls["n"]) == list(range(1, 10))
    before = d.made
    d.update(n=4, k=0.2)   # not next to the first setting: made now
    d.update(k=0.3)        # made ahead of the first setting: remembered
    assert d.made == before + 1
    # work ahead starts again from the setting last drawn, passing over what is remembered (a
    # setting that failed is not: it is tried again)
    assert d.work_ahead(2) == 2 and asked[-2:] == [(5, 0.3), (4, 0.4)]


def test_a_failing_setting_ahead_counts_as_one_run_and_sliders_alone_are_walked():
    # a value from the page waits for one run ahead at most, even past a setting that fails
    d, asked = _counting_dashboard(fail_at=(4, 0.3), ahead=3)
    assert d.work_ahead(1) == 1 and d.made == 1 and asked[-1] == (4, 0.3)
    assert d.work_ahead(1) == 1 and d.made == 2
    import ipywidgets as w
    assert dashboard.slider_values(w.IntRangeSlider(value=(2, 4), min=0, max=9)) == []
    assert dashboard.slider_values(w.FloatLogSlider(value=10, base=10, min=-1, max=2)) == []
    assert dashboard.slider_values(w.Dropdown(options=["a", "b"])) == []
    assert dashboard.slider_values(dashboard.slider(4, 0, 11, 2, "n"))[-1] == 10   # not 12


def test_a_dashboard_works_nothing_out_ahead_without_a_page_or_with_ahead_zero():
    # nbval, plain Python, a notebook nobody looks at: no page says it shows the chart, and
    # a page's word outside a kernel starts no worker either
    d, asked = _counting_dashboard()
    d._from_page(d.chart, {"event": "shown"}, [])
    assert d._worker is None and asked == [(3, 0.3)]
    off, asked = _counting_dashboard(ahead=0)
    assert off.work_ahead(10) == 0 and asked == [(3, 0.3)]


def test_a_dashboard_works_ahead_only_once_nothing_is_asked_and_no_cell_runs(monkeypatch):
    # In a kernel, a page showing the chart: the worker works ahead once no value has come for
    # QUIET_S (a drag's values come faster: its page needs the cores) and no cell runs. The
    # worker's clock is a fake one here, moved by hand; only the waiting is real.
    import time as real
    clock = {"now": 1000.0}

    class Clock:
        perf_counter = staticmethod(real.perf_counter)
        monotonic = staticmethod(lambda: clock["now"])
    monkeypatch.setattr(dashboard, "time", Clock)
    monkeypatch.setattr(dashboard, "_in_kernel", lambda: True)
    monkeypatch.setitem(dashboard._cells, "running", 1)
    d, asked = _counting_dashboard(ahead=4)
    d._watched = True
    d.request({"n": 5})             # a value from the page: drawn by the worker at once

    def made(n, within_s=10.0):
        end = real.monotonic() + within_s
        while d.made < n and real.monotonic() < end:
            real.sleep(0.01)
        return d.made
    assert made(2) == 2 and asked[-1] == (5, 0.3)
    clock["now"] += 1.0             # quiet for a second, but a cell runs
    real.sleep(0.5)
    assert d.made == 2
    clock["now"] -= 0.9             # no cell, but a value came 0.1 s ago: a drag may go on
    dashboard._cells["running"] = 0
    real.sleep(0.5)
    assert d.made == 2
    clock["now"] += 0.9
    assert made(6) == 6 and asked[2:] == [(6, 0.3), (4, 0.3), (5, 0.4), (5, 0.2)]


def test_every_browser_view_gets_the_vendored_uplot_then_its_own_files():
    from pathlib import Path

    from bpsim.viz import assets
    viz = Path(assets.__file__).parent
    uplot = (viz / "vendor" / "uplot.iife.min.js").read_text()
    for name in assets.VIEWS:
        js, css = assets.page_assets(name)
        assert js.startswith(uplot) and js.endswith((viz / "static" / f"{name}.js").read_text())
        assert css.endswith((viz / "static" / f"{name}.css").read_text())
    with pytest.raises(ValueError, match=r"name='plots' is not valid: use one of chart, messages"):
        assets.page_assets("plots")
