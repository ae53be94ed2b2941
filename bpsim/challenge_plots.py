"""Figures for the adaptive-backpressure challenge (notebook 05).

Each helper draws one figure, which the notebook shows when the cell ends, and returns ``None``:
strict nbval runs cells without history, and IPython then cannot see a trailing ``;``, so a
returned ``Figure`` would print its repr in the test run but not in the committed notebook
(``plt.gcf()`` gets the figure if you need it).

Colours follow :mod:`bpsim.plots`: a fixed buffer that drops arrivals is ``drop_newest``'s orange,
the reference adaptive policy is ``adaptive``'s black, CoDel (which drops at the head) borrows
``drop_oldest``'s colour, AIMD ``shed``'s sky blue, and the learner's policy is blue.
"""
from __future__ import annotations

from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np

from .challenge import BASE, LATENCY_TARGET_S, builtin_policies, run_policy, score_run, suite
from .policies import FixedCapacity, policy_name
from .plots import COLORS, STRATEGY_COLORS, label_axes

#: One colour per built-in policy; any other policy (the learner's) is drawn in YOU.
POLICY_COLORS = {"fixed": STRATEGY_COLORS["drop_newest"], "adaptive": STRATEGY_COLORS["adaptive"],
                 "codel": STRATEGY_COLORS["drop_oldest"], "aimd": STRATEGY_COLORS["shed"]}
YOU = STRATEGY_COLORS["block"]
OTHER = "#999999"


def policy_color(name: str, others: str = YOU) -> str:
    """The colour of a policy by name (``fixed 50`` is a fixed buffer)."""
    return POLICY_COLORS.get(name.split()[0], others)


def _thin(result, every_s=0.01):
    """Step between plotted ticks: one point per ``every_s`` is plenty for a 30 s run."""
    return max(1, int(round(every_s / result.scenario.dt_s)))


def _shade(ax, challenge):
    for start, stop in challenge.trouble:
        ax.axvspan(start, stop, color=COLORS["memory"], alpha=0.15, lw=0)


def fixed_both_ways(capacities=(5, 10, 25, 50, 99), latency_target_s=LATENCY_TARGET_S):
    """Fixed buffers of several sizes on the surge and on the slowdown: wrong in both directions.

    Left: messages lost in the ``burst`` scenario (a small buffer throws away a surge it could
    have absorbed). Right: the share of time the latency target is met in the ``slowdown``
    scenario (a large buffer holds more work than a slowed consumer can finish in time).
    """
    ch = {c.name: c for c in suite()}
    lost, met = [], []
    for c in capacities:
        r = run_policy(FixedCapacity(c), ch["burst"])
        lost.append(score_run(r, ch["burst"], latency_target_s).lost)
        r = run_policy(FixedCapacity(c), ch["slowdown"])
        met.append(100 * score_run(r, ch["slowdown"], latency_target_s).on_target)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    color = POLICY_COLORS["fixed"]
    a.plot(capacities, lost, "o-", color=color, label="fixed buffer")
    b.plot(capacities, met, "o-", color=color, label="fixed buffer")
    full = ch["burst"].scenario.consumer_rate * latency_target_s
    for ax in (a, b):
        ax.axvline(full, color=COLORS["theory"], ls="--", lw=1,
                   label=f"Little's law at full speed ({full:.0f})")
    label_axes(a, "Surge: a small buffer drops good traffic", "buffer capacity (messages)",
               "messages lost")
    label_axes(b, "Slowdown: a large buffer misses the target", "buffer capacity (messages)",
               "time on target (%)")
    b.set_ylim(0, 105)
    a.legend()
    b.legend(loc="lower left")


def plot_scoreboard(board, you=None):
    """The scoreboard as a dot plot: one row per scenario and the total, one colour per policy.

    ``you`` names the learner's policy (drawn larger); by default any policy that is not a
    built-in.
    """
    rows = board.scenarios + ["total"]
    fig, ax = plt.subplots(figsize=(8, 3.8), constrained_layout=True)
    ranking = board.ranking()
    for k, name in enumerate(ranking):
        xs = [board.get(name, s).score for s in board.scenarios] + [board.total(name)]
        mine = name == you or (you is None and name.split()[0] not in POLICY_COLORS)
        ax.plot(xs, np.arange(len(rows)) + (k - (len(ranking) - 1) / 2) * 0.1,
                "D" if mine else "o", ms=9 if mine else 6, color=policy_color(name),
                label=f"{name} ({board.total(name):.1f})", ls="none")
    ax.set_yticks(range(len(rows)), rows)
    ax.invert_yaxis()
    label_axes(ax, "Scoreboard: share of messages delivered in time",
               "score (0-100, higher is better)", "scenario")
    ax.legend(title="policy (total)", loc="center left", bbox_to_anchor=(1.01, 0.5))


def capacity_vs_speed(board, scenario="slowdown", policies=("adaptive", "codel", "aimd")):
    """Capacity over time against the consumer speed the policy measured, one panel per policy.

    The dashed line is what Little's law asks for: measured speed x latency target.
    """
    ch = next(c for c in board.challenges if c.name == scenario)
    target = board.latency_target_s
    fig, axes = plt.subplots(len(policies) + 1, 1, figsize=(9, 2.1 * (len(policies) + 1)),
                             sharex=True, constrained_layout=True)
    top, sc = axes[0], ch.scenario
    true = sc.per_tick("speed") * sc.consumer_rate * sc.per_tick("consumers")
    for name in policies:
        tr = board.results[(name, scenario)].strategy.traced()
        top.plot(tr["time_s"], tr["service_rate_per_s"], color=policy_color(name), lw=0.8,
                 alpha=0.7, label=f"measured by {name}")
    top.plot(np.arange(sc.n_ticks) * sc.dt_s, true, color=COLORS["theory"], ls="--", lw=1.5,
             label="true mean speed")
    label_axes(top, f"Scenario '{scenario}': {ch.about}", "", "consumer speed (msg/s)")
    top.legend(loc="upper right", ncol=len(policies) + 1, fontsize="small")
    for ax, name in zip(axes[1:], policies):
        r = board.results[(name, scenario)]
        tr = r.strategy.traced()
        k = _thin(r)
        ax.plot(r.time_s[::k], r.queue_depth[::k], color=policy_color(name), lw=0.6, alpha=0.45,
                label="queue depth")
        ax.plot(r.time_s[::k], r.capacity[::k], color=policy_color(name), lw=1.8,
                label="capacity")
        ax.plot(tr["time_s"], tr["service_rate_per_s"] * target, color=COLORS["theory"], ls="--",
                lw=1, label=f"speed x {target:g} s")
        label_axes(ax, name, "", "messages")
        ax.legend(loc="upper right", ncol=3, fontsize="small")
    for ax in axes:
        _shade(ax, ch)
    axes[-1].set_xlabel("time (s)")


def _comparison(policy, latency_target_s):
    """The fixed buffer :func:`explore` draws beside ``policy``: sized by Little's law at full
    speed, or 10 (50) slots when ``policy`` is that very buffer."""
    fixed = FixedCapacity(int(BASE.consumer_rate * latency_target_s))
    if policy_name(policy) == policy_name(fixed):   # the same buffer: compare with another
        fixed = FixedCapacity(10 if fixed.capacity != 10 else 50)
    return fixed


def _challenge(memory_budget_mb, slowdown):
    return suite(slowdown=slowdown, memory_budget_bytes=int(memory_budget_mb * 1e6))[0]


@lru_cache(maxsize=64)
def _fixed_run(capacity, memory_budget_mb, slowdown):
    """A fixed buffer on the slowdown scenario, remembered: it does not depend on the policy
    chosen, so changing the policy costs one simulation, not two."""
    return run_policy(FixedCapacity(capacity), _challenge(memory_budget_mb, slowdown))


def _run(policy, memory_budget_mb, slowdown):
    if isinstance(policy, FixedCapacity):
        return _fixed_run(policy.capacity, memory_budget_mb, slowdown)
    return run_policy(policy, _challenge(memory_budget_mb, slowdown))


def _score_lines(runs, ch, latency_target_s) -> str:
    lines = []
    for p, r in runs:
        s = score_run(r, ch, latency_target_s)
        lines.append(f"{policy_name(p):>10}: score {s.score:5.1f}, on target {s.on_target:4.0%} of "
                     f"the time, lost {s.lost:,}, peak memory {s.peak_memory_bytes / 1e6:.1f} MB")
    return "\n".join(lines)


def _explore_title(latency_target_s, memory_budget_mb, slowdown):
    return (f"Slowdown to {slowdown:g}x, latency target {latency_target_s:g} s, "
            f"budget {memory_budget_mb:g} MB")


def _budget_slots(ch):
    budget = ch.scenario.memory_limit_bytes if ch.memory_budget is None else ch.memory_budget
    return budget // ch.scenario.message_bytes


def _legends(a, b):
    for ax in (a, b):
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", markerscale=4)


def draw_explore(fig, runs, latency_target_s=LATENCY_TARGET_S, memory_budget_mb=10.0,
                 slowdown=0.25, light=False) -> str:
    """Draw ``runs`` (``[(policy, result), ...]``, the comparison first) into the empty ``fig``:
    capacity over time above, the latency of every delivered message below. Returns one score
    line per run. ``light``: fewer points, for a quick redraw."""
    ch = _challenge(memory_budget_mb, slowdown)
    a, b = fig.subplots(2, 1, sharex=True)
    for (p, r), style in zip(runs, (":", "-")):
        name = policy_name(p)
        color = policy_color(name)
        k = _thin(r, 0.05 if light else 0.01)
        a.plot(r.time_s[::k], r.capacity[::k], style, color=color, lw=1.6,
               label=f"{name}: capacity")
        b.plot(r.delivery_time_s, r.latency_s, ".", ms=2, color=color, alpha=0.6, label=name)
    a.axhline(_budget_slots(ch), color=COLORS["limit"], lw=1, label="memory budget (messages)")
    b.axhline(latency_target_s, color=COLORS["target"], lw=1.5, label="latency target")
    label_axes(a, _explore_title(latency_target_s, memory_budget_mb, slowdown), "",
               "capacity (messages)")
    label_axes(b, "Latency of each delivered message", "time (s)", "latency (s)")
    b.set_yscale("log")
    for ax in (a, b):
        _shade(ax, ch)
    _legends(a, b)
    return _score_lines(runs, ch, latency_target_s)


def _redraw_explore(fig, runs, latency_target_s, memory_budget_mb, slowdown) -> str:
    """:func:`draw_explore` (light) the first time; later, only new data, colours, labels and
    limits for the same artists (building axes and ticks afresh is half a redraw's cost)."""
    from .widgets import _light
    if getattr(fig, "_bpsim_explore", None) != tuple(fig.axes):
        fig.clear()
        text = draw_explore(fig, runs, latency_target_s, memory_budget_mb, slowdown, light=True)
        _light(fig)
        fig._bpsim_explore = tuple(fig.axes)
        return text
    ch = _challenge(memory_budget_mb, slowdown)
    a, b = fig.axes
    for (p, r), cap, lat in zip(runs, a.lines[:2], b.lines[:2]):
        name = policy_name(p)
        k = _thin(r, 0.05)
        cap.set_data(r.time_s[::k], r.capacity[::k])
        lat.set_data(r.delivery_time_s, r.latency_s)
        for line, label in ((cap, f"{name}: capacity"), (lat, name)):
            line.set_color(policy_color(name))
            line.set_label(label)
    a.lines[2].set_ydata([_budget_slots(ch)] * 2)
    b.lines[2].set_ydata([latency_target_s] * 2)
    for ax in (a, b):
        ax.relim()
        ax.autoscale_view()
    a.set_title(_explore_title(latency_target_s, memory_budget_mb, slowdown))
    _legends(a, b)
    return _score_lines(runs, ch, latency_target_s)


def explore(policy, latency_target_s=LATENCY_TARGET_S, memory_budget_mb=10.0, slowdown=0.25,
            compare=None):
    """One policy on the slowdown scenario, with the knobs the sliders turn (draws a figure).

    Prints each policy's score line. ``compare`` (default: a fixed buffer sized by Little's law
    at full speed) is drawn beside it.
    """
    compare = _comparison(policy, latency_target_s) if compare is None else compare
    runs = [(p, _run(p, memory_budget_mb, slowdown)) for p in (compare, policy)]
    fig = plt.figure(figsize=(10, 5), layout="constrained")
    print(draw_explore(fig, runs, latency_target_s, memory_budget_mb, slowdown))


def _policies(latency_target_s, extra=()):
    pols = {policy_name(p).split()[0]: p for p in builtin_policies(latency_target_s)}
    pols.update({policy_name(p): p for p in extra})
    return pols


def show_policy(name="adaptive", latency_target_s=LATENCY_TARGET_S, memory_budget_mb=10.0,
                slowdown=0.25, extra=()):
    """:func:`explore` for a policy chosen by name, then show the figure (the static twin of
    :func:`explore_widget`).

    ``name`` is a built-in (``adaptive``, ``codel``, ``aimd``, ``fixed``; rebuilt for the latency
    target) or the name of one of the ``extra`` policies (yours).
    """
    pols = _policies(latency_target_s, extra)
    if name not in pols:
        raise ValueError(f"name={name!r} is not valid: use one of {', '.join(pols)}.")
    explore(pols[name], latency_target_s, memory_budget_mb, slowdown)
    plt.show()


def explore_widget(extra=()):
    """Sliders for the latency target, the memory budget and the slowdown, and a policy menu.

    A :class:`bpsim.widgets.Dashboard`: one figure redrawn in place, sliders that report on
    release, every run remembered (the fixed comparison run is shared by all policies).
    """
    from .widgets import Dashboard, _dropdown, _slider

    names = ["adaptive", "codel", "aimd", "fixed"] + [policy_name(p) for p in extra]

    @lru_cache(maxsize=64)   # one cache per widget: a redefined policy of yours is run afresh
    def policy_run(name, latency_target_s, memory_budget_mb, slowdown):
        return _run(_policies(latency_target_s, extra)[name], memory_budget_mb, slowdown)

    def render(fig, name, latency_target_s, memory_budget_mb, slowdown):
        policy = _policies(latency_target_s, extra)[name]
        compare = _comparison(policy, latency_target_s)
        runs = [(compare, _run(compare, memory_budget_mb, slowdown)),
                (policy, policy_run(name, latency_target_s, memory_budget_mb, slowdown))]
        return _redraw_explore(fig, runs, latency_target_s, memory_budget_mb, slowdown)

    controls = {
        "name": _dropdown("adaptive", names, "policy"),
        "latency_target_s": _slider(LATENCY_TARGET_S, 0.1, 2.0, 0.1, "latency target (s)",
                                    integer=False),
        "memory_budget_mb": _slider(10.0, 1.0, 20.0, 1.0, "memory budget (MB)", integer=False),
        "slowdown": _slider(0.25, 0.0, 1.0, 0.05, "slowdown (x full speed)", integer=False),
    }
    return Dashboard(controls, render, figsize=(10, 5), preformatted=True,
                     margins=dict(left=0.07, right=0.77, bottom=0.1, top=0.94, hspace=0.3))
