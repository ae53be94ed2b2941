"""The shared API-server model: books that balance, bounds that hold, and the behaviours the
incident notebook relies on (fairness protects, load ~ N^2, retries sustain an overload)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpsim.apiserver import (ApiServerModel, DnsCache, PriorityLevel, Switch, TrafficClass,
                             simulate_apiserver)
from bpsim.course import openai_outage as incident
from helpers import close_figures  # noqa: F401 (every test: figures closed after it)


def _identities_hold_every_tick(r):
    for name in r.names:
        s = {k: r.series(name, k) for k in (
            "offered", "succeeded", "rejected_final", "timed_out_final", "queued",
            "in_service", "retry_pending", "attempts", "completed", "rejected", "blocked",
            "queued_orphan", "in_service_orphan")}
        client = (s["succeeded"] + s["rejected_final"] + s["timed_out_final"] + s["queued"]
                  + s["in_service"] + s["retry_pending"])
        np.testing.assert_array_equal(s["offered"], client, err_msg=f"client books of {name}")
        server = (s["completed"] + s["rejected"] + s["blocked"] + s["queued"]
                  + s["queued_orphan"] + s["in_service"] + s["in_service_orphan"])
        np.testing.assert_array_equal(s["attempts"], server, err_msg=f"server books of {name}")
        for k in ("queued", "in_service", "retry_pending", "queued_orphan",
                  "in_service_orphan"):
            assert s[k].min() >= 0, f"{name}.{k} went negative"
        b = r.books(name)
        assert b["offered"] == b["accounted"] and b["attempts"] == b["attempts_accounted"]


LEVEL_NAMES = ("hi", "lo")


@st.composite
def models(draw):
    n = draw(st.integers(1, 3))
    classes = tuple(TrafficClass(
        f"c{k}",
        rate_per_s=draw(st.floats(0, 400)),
        cost_s=draw(st.sampled_from([0.01, 0.1, 0.7, 1.0, 2.5])),
        timeout_s=draw(st.sampled_from([0.5, 2.0, 5.0, 30.0])),
        level=draw(st.sampled_from(LEVEL_NAMES)),
        clients=draw(st.one_of(st.none(), st.integers(1, 500))),
        retries=draw(st.integers(0, 4)),
        backoff_s=draw(st.sampled_from([0.0, 0.0, 1.0, 3.0])),
        backoff_cap_s=10.0) for k in range(n))
    levels = (PriorityLevel("hi", draw(st.floats(0.1, 1)), draw(st.integers(0, 300))),
              PriorityLevel("lo", draw(st.floats(0.1, 1)), draw(st.integers(0, 300))))
    switches = []
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.floats(0, 80))
        kind = draw(st.sampled_from(["seats", "fairness", "blocked", "rate_per_s", "cost_s"]))
        if kind == "seats":
            switches.append(Switch(at, "seats", draw(st.floats(1, 200))))
        elif kind == "fairness":
            switches.append(Switch(at, "fairness", draw(st.booleans())))
        elif kind == "blocked":
            switches.append(Switch(at, "blocked", draw(st.booleans()), "c0"))
        elif kind == "rate_per_s":
            switches.append(Switch(at, "rate_per_s", draw(st.floats(0, 400)), "c0"))
        else:
            switches.append(Switch(at, "cost_s", draw(st.sampled_from([0.05, 1.5])), "c0"))
    dns = None
    if draw(st.booleans()):
        dns = DnsCache(f"c{n - 1}", records=draw(st.integers(1, 500)), refresh_s=10.0,
                       stale_s=draw(st.sampled_from([5.0, 20.0])), reresolve_s=1.0)
    return ApiServerModel(
        classes=classes, seats=draw(st.floats(1, 200)), fairness=draw(st.booleans()),
        levels=levels, fifo_limit=draw(st.one_of(st.none(), st.integers(0, 2000))),
        dns=dns, switches=tuple(switches), duration_s=100.0,
        dt_s=draw(st.sampled_from([0.5, 1.0, 2.0])))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=models(), seed=st.integers(0, 2**16))
def test_no_class_loses_requests_from_the_books(model, seed):
    _identities_hold_every_tick(simulate_apiserver(model, rng=seed))


@settings(max_examples=30, deadline=None)
@given(model=models(), seed=st.integers(0, 2**16))
def test_queues_never_exceed_their_bounds(model, seed):
    model = ApiServerModel(**{**model.__dict__, "switches": ()})   # fairness fixed all run
    r = simulate_apiserver(model, rng=seed)
    waiting = {n: r.series(n, "queued") + r.series(n, "queued_orphan") for n in r.names}
    if model.fairness:
        for lev in model.levels:
            total = sum(waiting[c.name] for c in model.classes if c.level == lev.name)
            assert np.max(total, initial=0) <= lev.queue_limit
    elif model.fifo_limit is not None:
        assert max(w.max() for w in waiting.values()) <= model.fifo_limit


def test_same_seed_same_run_and_the_seed_matters():
    m = incident.retry_storm_model(1.0, duration_s=200)
    a, b, c = (simulate_apiserver(m, rng=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(a._t, b._t)
    assert not np.array_equal(a._t, c._t)


# -- closed forms -----------------------------------------------------------------------------
@pytest.mark.parametrize("cost_s", [0.05, 2.5])
def test_under_capacity_nothing_grows_and_everything_succeeds(cost_s):
    seats = 50
    rate = 0.8 * seats / cost_s                  # utilisation 0.8
    m = ApiServerModel(classes=(TrafficClass("a", rate, cost_s, timeout_s=60),), seats=seats,
                       duration_s=1800)
    r = simulate_apiserver(m, rng=3)
    q = r.series("a", "queued")
    # no growth: the second half holds no more waiting work than the first half
    half = len(q) // 2
    assert q[half:].max() <= max(q[:half].max(), 2 * rate)
    b = r.books("a")
    assert b["timed_out_final"] == b["rejected_final"] == 0
    assert b["succeeded"] >= b["offered"] - q[-1] - r.series("a", "in_service")[-1]


@pytest.mark.parametrize("cost_s,dt_s", [(0.05, 1.0), (2.5, 1.0), (0.3, 0.5)])
def test_overloaded_bounded_queue_serves_exactly_the_seat_capacity(cost_s, dt_s):
    seats = 40
    capacity = seats / cost_s                     # requests per second
    m = ApiServerModel(classes=(TrafficClass("a", 3 * capacity, cost_s, timeout_s=1e6),),
                       seats=seats, fifo_limit=500, duration_s=600, dt_s=dt_s)
    r = simulate_apiserver(m, rng=4)
    done = r.series("a", "completed")
    t = r.time_s
    rate = (done[-1] - done[len(done) // 3]) / (t[-1] - t[len(t) // 3])
    assert rate == pytest.approx(capacity, rel=0.02)
    assert r.series("a", "queued").max() <= 500
    # and the rest were turned away with 429, not lost
    b = r.books("a")
    assert b["rejected_final"] > 0 and b["offered"] == b["accounted"]


# -- fairness protects --------------------------------------------------------------------------
def _flood(fairness):
    classes = (TrafficClass("flood", rate_per_s=300, cost_s=1.0, timeout_s=60, level="low",
                            retries=3),
               TrafficClass("dns", rate_per_s=100, cost_s=0.05, timeout_s=5, level="high"))
    levels = (PriorityLevel("low", 0.7, 200), PriorityLevel("high", 0.3, 200))
    return simulate_apiserver(ApiServerModel(classes=classes, seats=200, fairness=fairness,
                                             levels=levels, fifo_limit=50_000,
                                             duration_s=900), rng=7)


def test_fairness_keeps_the_protected_class_under_its_timeout_in_the_same_overload():
    off, on = _flood(False), _flood(True)
    late = slice(300, None)                       # after the first five minutes
    # without fairness the protected class waits behind the flood, past its timeout
    assert np.nanmin(off.latency("dns")[late]) > 5
    assert off.books("dns")["succeeded"] < 0.05 * off.books("dns")["offered"]
    # with fairness the same class is served well inside it, and nothing of it times out
    assert np.nanmax(on.latency("dns")[late]) < 5
    assert on.books("dns")["timed_out_final"] == 0
    assert on.books("dns")["succeeded"] > 0.99 * on.books("dns")["offered"] - 200
    # the flood is still overloaded: it gets 429s instead
    assert on.books("flood")["rejected"] > 0


def test_fairness_switched_on_mid_run_restores_the_protected_class():
    m = incident.incident_model(fixes=("fairness",), removal=False)
    r = simulate_apiserver(m, rng=1)
    _identities_hold_every_tick(r)
    after = r.time_s > incident.at(m_fix := incident.Assumptions().fix_at) + 120
    assert np.nanmax(r.latency("discovery")[after]) < 5
    assert incident.resolving_fraction(r)[-1] == 1.0 and m_fix


# -- the incident's mechanisms -------------------------------------------------------------------
def test_load_grows_like_the_square_of_the_cluster_size():
    a = incident.Assumptions()
    n = np.array([100, 200, 400, 800, 1600])
    load = incident.telemetry_load(n, a)
    np.testing.assert_allclose(load[1:] / load[:-1], 4.0)
    tip = incident.tipping_nodes(a)
    assert incident.telemetry_load(tip, a) + incident.baseline_load(a) == \
        pytest.approx(incident.seat_capacity(a))
    assert a.staging_nodes < tip < a.nodes


def test_simulated_seat_use_grows_like_the_square_of_the_size():
    a = incident.Assumptions()
    used = []
    for nodes in (500, 1000):
        c = TrafficClass("telemetry", nodes * a.per_node_rate_per_s,
                         float(incident.telemetry_cost_s(nodes, a)), timeout_s=600)
        r = simulate_apiserver(ApiServerModel(classes=(c,), seats=1e5, duration_s=600),
                               rng=nodes)
        used.append(r.busy_seat_s[60:].mean())
    assert used[1] / used[0] == pytest.approx(4.0, rel=0.05)


def test_the_dns_cache_hides_the_stall_for_its_stale_window_then_adds_load():
    a = incident.Assumptions()
    r = incident.run_incident(a, removal=False)
    res = incident.resolving_fraction(r)
    deploy = incident.at(a.deploy_at)
    half_dead = r.first_time(res < 0.5)
    assert half_dead - deploy == pytest.approx(a.dns_stale_s, abs=120)
    before = r.rate("discovery", "attempts", 60)[int(deploy) - 1]
    after = r.rate("discovery", "attempts", 60)[-1]
    assert after > 10 * before                   # re-resolution load


def test_the_operator_is_locked_out_on_the_fifo_and_not_with_fairness():
    assert incident.first_admin_success(incident.run_incident()) is None
    r = incident.run_incident(fairness=True)
    assert incident.first_admin_success(r) <= incident.at(incident.Assumptions().admin_from) + 60


def test_retries_without_backoff_outlive_the_trigger_and_backoff_recovers():
    runs = {b: simulate_apiserver(incident.retry_storm_model(b), rng=2) for b in (0.0, 1.0)}
    no_retry = simulate_apiserver(incident.retry_storm_model(0.0, retries=0), rng=2)
    last = slice(-120, None)                      # minutes after the one-minute trigger ended
    offered = 700
    assert runs[0.0].rate("clients", "succeeded", 60)[last].max() < 0.05 * offered
    assert runs[0.0].rate("clients", "attempts", 60)[last].min() > 2 * offered
    for r in (runs[1.0], no_retry):
        assert runs[1.0].rate("clients", "succeeded", 60)[last].min() > 0.9 * offered
        _identities_hold_every_tick(r)


# -- errors that teach ---------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,word", [
    (dict(cost_s=0), "cost_s"), (dict(timeout_s=-1), "timeout_s"), (dict(retries=-1), "retries"),
    (dict(backoff_s=5, backoff_cap_s=1), "backoff_cap_s"), (dict(clients=0), "clients")])
def test_bad_class_parameters_are_named(kwargs, word):
    base = dict(name="x", rate_per_s=1, cost_s=1, timeout_s=1)
    with pytest.raises(ValueError, match=word):
        TrafficClass(**{**base, **kwargs})


def test_bad_model_parameters_are_named():
    c = TrafficClass("x", 1, 1, 1, level="nowhere")
    with pytest.raises(ValueError, match="x.level"):
        ApiServerModel(classes=(c,), seats=1, fairness=True, levels=(PriorityLevel("a", 1, 1),))
    with pytest.raises(ValueError, match="Switch.field"):
        Switch(1, "speed", 2)
    with pytest.raises(ValueError, match="seats"):
        Switch(1, "seats", 0)
    with pytest.raises(ValueError, match="cost_s"):
        Switch(1, "cost_s", -1, "x")
    with pytest.raises(ValueError, match="retry"):
        incident.incident_model(retry="sometimes")
    with pytest.raises(ValueError, match="fixes"):
        incident.incident_model(fixes=("reboot",))


def test_a_full_fifo_turns_away_each_class_in_proportion_not_in_a_fixed_order():
    twins = tuple(TrafficClass(n, rate_per_s=500, cost_s=0.1, timeout_s=1e6) for n in "ab")
    tiny = TrafficClass("tiny", rate_per_s=1, cost_s=0.1, timeout_s=1e6)   # batches of ~1
    r = simulate_apiserver(ApiServerModel(classes=twins + (tiny,), seats=50, fifo_limit=100,
                                          duration_s=1200), rng=9)
    share = {n: r.books(n)["rejected"] / r.books(n)["attempts"] for n in r.names}
    assert share["a"] == pytest.approx(0.5, abs=0.02)
    assert share["b"] == pytest.approx(0.5, abs=0.02)
    assert share["tiny"] == pytest.approx(0.5, abs=0.1)   # ~1,200 attempts: sd ~0.015


# -- figures and the explorer --------------------------------------------------------------------
def _every_axis_is_labelled(fig):
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        assert ax.get_xlabel() or ax.get_ylabel(), "an axis without labels"
    assert any(ax.get_title() for ax in fig.axes), "a figure without a title"


def test_incident_figures_have_titles_and_labelled_axes():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    a = incident.Assumptions()
    r = incident.run_incident(a)
    runs = {"immediate": simulate_apiserver(incident.retry_storm_model(0.0, duration_s=200),
                                            rng=1)}
    fixes = {"none": (r, r)}
    for fig in (incident.timeline_figure(), incident.load_figure(a),
                incident.collapse_figure(r, a), incident.dns_figure(r, a),
                incident.admin_figure(r, a), incident.retry_storm_figure(runs),
                incident.fixes_figure(fixes, a)):
        _every_axis_is_labelled(fig)
        plt.close(fig)


def test_incident_figures_name_each_thing_once_and_keep_one_y_axis_per_panel():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    a = incident.Assumptions()
    r = incident.run_incident(a)
    for fig in (incident.collapse_figure(r, a), incident.dns_figure(r, a)):
        labels = [t.get_text() for ax in fig.axes if ax.get_legend()
                  for t in ax.get_legend().get_texts()]
        assert labels and len(labels) == len(set(labels)), labels
        # no twin axes: every axis has a title of its own
        assert all(ax.get_title() for ax in fig.axes)
        titles = " ".join(ax.get_title() for ax in fig.axes)
        assert "flood" not in titles            # the postmortem describes no flood of data
        plt.close(fig)
    # the cliff of the model's cache is labelled a simplification on the figure
    fig = incident.dns_figure(r, a)
    assert any("simplification" in t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)


def test_a_fixes_bar_of_length_zero_carries_a_note():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    a = incident.Assumptions()
    base = incident.run_incident(a)
    fixes = {"none": (base, base),
             "block_admin_api": tuple(incident.run_incident(a, fixes=("block_admin_api",),
                                                            removal=rm) for rm in (False, True))}
    fig = incident.fixes_figure(fixes, a)
    notes = [t.get_text() for t in fig.axes[1].texts]
    assert "telemetry: 0 % (blocked at the network)" in notes
    assert "discovery: 0 %" in notes            # nothing answered in time without a fix
    plt.close(fig)


def test_printed_lines_fit_a_notebook_column(capsys):
    a = incident.Assumptions()
    r = incident.run_incident(a)
    incident.print_assumptions(a)
    incident.print_load_check(a)
    incident.print_dns_numbers(r, a)
    incident.print_admin_numbers(r)
    incident.print_outcome(r)
    incident.fixes_table({"none": (r, r)}, a)
    lines = capsys.readouterr().out.splitlines()
    assert lines and max(map(len, lines)) <= 100, max(lines, key=len)


def test_the_explorer_redraws_when_a_slider_moves():
    d = incident.outage_dashboard()
    first, png = d.last_text, d.figure.axes[0].get_title()
    d.controls["nodes"].value = 1500                 # below the tipping size
    assert "never broke" in d.last_text and d.last_text != first
    assert d.figure.axes[0].get_title() != png
    for ax in d.figure.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert d.figure.axes[1].get_legend() is not None


def test_the_explorer_preview_tells_the_same_outcome_as_the_story_tick(capsys):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    for kw in (dict(), dict(fairness=True), dict(nodes=1500), dict(retry="backoff")):
        incident.show_outage(**kw)
        printed = capsys.readouterr().out.rstrip("\n")
        d = incident.outage_dashboard(**kw)
        assert d.last_text == printed, kw
        plt.close("all")


def test_every_number_the_incident_model_uses_is_a_listed_assumption(capsys):
    # a rate hard-coded in incident_model would be a non-public number nobody labelled
    from dataclasses import fields, replace
    a = replace(incident.Assumptions(), admin_rate_per_s=0.25)
    m = incident.incident_model(a)
    assert {(w.cls, w.value) for w in m.switches if w.field == "rate_per_s"} == {
        ("telemetry", a.nodes * a.per_node_rate_per_s), ("admin", 0.25)}
    incident.print_assumptions(a)
    out = capsys.readouterr().out
    # every one is printed, but those a question asks the learner to work out first
    assert all(f.name in out for f in fields(incident.Assumptions)
               if f.name not in incident.ASKED_LATER)
