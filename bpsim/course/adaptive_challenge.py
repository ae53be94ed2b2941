"""Notebook 05, the adaptive-backpressure challenge: a suite of scenarios, a scorer, a scoreboard.

The course ends with a challenge: instead of a fixed queue size, adjust it from the consumer's
measured speed, the memory in use and a latency target. Here it becomes a game with rules. A
policy (see :mod:`bpsim.policies`) runs on every scenario of the :func:`suite`, each with its own
fixed seed, and each run is scored.

The system
----------
One consumer that manages 100 msg/s at full speed (exponential service times), a producer at
70 msg/s on average (Poisson arrivals), messages of 100 kB and a memory budget of 10 MB for the
messages in the server: at most 100 of them. The latency target is 0.5 s from the moment a
message is produced to the moment it is processed, so Little's law sizes the buffer at full speed
to 100 msg/s x 0.5 s = 50 messages.

The scenarios (30 s each; trouble starts at 10 s)
--------------------------------------------------
The producer is bursty in all of them: every 5 s (at 2.5 s, 7.5 s, ...) it sends 180 msg/s for
half a second, about 40 messages more than the consumer can take at once. A buffer absorbs them.

``slowdown``
    The consumer drops to a quarter of its speed for 10 s (a GC pause, a slow disk), then recovers.
``burst``
    A surge: 150 msg/s for 2 s.
``memory``
    At 10 s the memory budget shrinks to a fifth (another process needs the rest).
``load_step``
    At 10 s the producer steps up to 120 msg/s and stays there: more than the consumer can take.

The score
---------
For each run:

* ``on_target``: the fraction of half-second windows in which at least 95 % of the messages
  delivered in that window met the latency target (a window where nothing is delivered counts
  as met only if nothing was waiting);
* ``lost``: messages dropped (or lost in a crash), and ``throughput_per_s``;
* ``peak_memory_bytes``, and ``over_budget_s``: how long the memory in use exceeded the budget;
* ``on_time``: the share of *all offered* messages delivered within the latency target.

The combined score is ``100 x on_time x (1 - over_budget_s / duration_s)``. It is the share of
messages that got through in time ("goodput"), so a lost message and a late one cost the same,
throughput counts, and a policy cannot win by dropping everything (nothing delivered, nothing on
time) or by keeping everything (late). Time spent over the memory budget, when a real server
would risk being killed, scales it down. A policy's total is the mean over the suite.

>>> board = run_suite([FixedCapacity(50)], challenges=suite()[:1], duration_s=5)
>>> board.ranking()
['fixed 50']
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np

from .. import validate
from ..control import memory_slots
from ..engine import simulate
from ..policies import (AIMD, CoDel, FixedCapacity, PolicyError, PolicyStrategy, LittlesLaw,
                       policy_name)
from ..scenario import Scenario
from ..schedule import Schedule
from ..viz import charts
from ..viz.dashboard import Dashboard, dropdown, lighten, slider
from ..viz.figures import label_axes, new_figure
from ..viz.palette import COLORS, POLICY_COLORS, YOU, policy_color

__all__ = ["LATENCY_TARGET_S", "BASE", "Challenge", "suite", "builtin_policies", "run_policy",
           "score_run", "Score", "Scoreboard", "run_suite"]

#: The latency target of the challenge: production to end of processing (s).
LATENCY_TARGET_S = 0.5
#: Length of the windows in which the latency target is checked (s).
WINDOW_S = 0.5
#: The share of a window's messages that must meet the target for the window to count.
WINDOW_QUANTILE = 0.95

#: The producer's spikes, in every scenario: BURST_RATE msg/s for BURST_S at each of BURST_TIMES.
BURST_RATE, BURST_S, BURST_TIMES = 180.0, 0.5, (2.5, 7.5, 12.5, 17.5, 22.5, 27.5)
#: The surge of the ``burst`` scenario and the new rate of ``load_step`` (msg/s).
SURGE_RATE, STEP_RATE = 150.0, 120.0

#: The system every scenario starts from (see the module docstring).
BASE = Scenario(producer_rate=70, consumer_rate=100, capacity=50, duration_s=30,
                arrivals="poisson", service="exponential", message_bytes=100_000,
                memory_limit_bytes=10_000_000)


@dataclass(frozen=True)
class Challenge:
    """One scenario of the suite.

    Parameters
    ----------
    name : str
        Short name (a column of the scoreboard).
    about : str
        What happens, in one line.
    scenario : Scenario
        The run itself.
    memory_budget_bytes : int, tuple or None
        Memory the messages may use (bytes), or ``(time_s, bytes)`` steps; ``None``: the
        scenario's ``memory_limit_bytes``.
    seed : int
        The run's seed (fixed, so every policy meets exactly the same arrivals).
    trouble : tuple of (start_s, stop_s)
        When the trouble happens, for shading figures.
    """

    name: str
    about: str
    scenario: Scenario
    memory_budget_bytes: object = None
    seed: int = 1
    trouble: tuple = ()

    def budget(self) -> Schedule:
        """The memory budget as a schedule (bytes)."""
        b = self.memory_budget_bytes
        if b is None:
            return Schedule(float(self.scenario.memory_limit_bytes))
        if isinstance(b, (int, float)):
            return Schedule(float(b))
        return Schedule(float(self.scenario.memory_limit_bytes), tuple(b))

    def budget_per_tick(self) -> np.ndarray:
        """The memory budget in force at every tick (bytes)."""
        return self.budget().per_tick(self.scenario.n_ticks, self.scenario.dt_s)


def suite(slowdown: float = 0.25, memory_budget_bytes: int = 10_000_000,
          duration_s: float | None = None) -> list[Challenge]:
    """The four scenarios of the challenge (see the module docstring).

    Parameters
    ----------
    slowdown : float
        The consumer's speed during the slowdown, as a fraction of full speed (0 stops it).
    memory_budget_bytes : int
        The memory budget before any pressure (bytes); the ``memory`` scenario shrinks it to a
        fifth.
    duration_s : float or None
        Shorter runs (for quick tests); trouble still starts at 10 s.
    """
    slowdown = validate.number("slowdown", slowdown, low=0, high=1,
                               what="the consumer's speed during the slowdown as a fraction of "
                                    "full speed (0.25 is a quarter)")
    budget = int(validate.number("memory_budget_bytes", memory_budget_bytes,
                                 low=10 * BASE.message_bytes, high=validate.MAX_BYTES,
                                 what="a number of bytes with room for 10 messages"))
    duration_s = validate.optional(validate.number, "duration_s", duration_s, low=0.5,
                                   high=3600, what="a time in seconds",
                                   none_means=f"the full {BASE.duration_s:g} s")
    base = replace(BASE, memory_limit_bytes=max(budget, BASE.memory_limit_bytes),
                   duration_s=duration_s or BASE.duration_s)
    end = base.duration_s
    spikes = _steps(base.producer_rate, [(t, t + BURST_S, BURST_RATE) for t in BURST_TIMES])
    surge = _steps(base.producer_rate, [(t, t + BURST_S, BURST_RATE) for t in BURST_TIMES]
                   + [(10, 12, SURGE_RATE)])
    step = tuple((t, r) for t, r in spikes if t < 10) + ((10, STEP_RATE),)
    return [
        Challenge("slowdown", f"the consumer slows to {slowdown:g}x for 10 s, then recovers",
                  replace(base, rate_schedule=spikes, speed_schedule=((10, slowdown), (20, 1.0))),
                  budget, seed=11, trouble=((10, 20),)),
        Challenge("burst", f"a surge to {SURGE_RATE:g} msg/s for 2 s",
                  replace(base, rate_schedule=surge), budget, seed=12, trouble=((10, 12),)),
        Challenge("memory", "the memory budget shrinks to a fifth at 10 s",
                  replace(base, rate_schedule=spikes), ((0, budget), (10, budget // 5)), seed=13,
                  trouble=((10, end),)),
        Challenge("load_step", f"the producer steps up to {STEP_RATE:g} msg/s at 10 s",
                  replace(base, rate_schedule=step), budget, seed=14, trouble=((10, end),)),
    ]


def _steps(base_rate, spans):
    """``(start, stop, rate)`` spans as a rate schedule that returns to ``base_rate``."""
    out = []
    for start, stop, rate in sorted(spans):
        out += [(start, rate), (stop, base_rate)]
    return tuple(out)


def builtin_policies(latency_target_s: float = LATENCY_TARGET_S) -> list:
    """The policies the learner plays against, tuned to one latency target.

    A fixed buffer sized by Little's law for the consumer at full speed (the size an engineer
    would pick from a load test), the reference adaptive policy, CoDel (target a tenth of the
    latency target) and AIMD.
    """
    return [FixedCapacity(int(BASE.consumer_rate * latency_target_s)),
            LittlesLaw(latency_target_s=latency_target_s),
            CoDel(target_s=latency_target_s / 10),
            AIMD(latency_target_s=latency_target_s)]


def run_policy(policy, challenge: Challenge, *, control_interval_s: float = 0.1,
               duration_s: float | None = None):
    """Run one policy on one scenario of the suite; returns the :class:`bpsim.Result`."""
    sc = challenge.scenario
    if duration_s is not None:
        sc = replace(sc, duration_s=duration_s)
    strategy = PolicyStrategy(policy, control_interval_s=control_interval_s,
                              memory_budget_bytes=challenge.memory_budget_bytes)
    try:
        return simulate(sc, strategy=strategy, rng=challenge.seed)
    except PolicyError as e:
        # The message says everything; the frames behind it are the engine's, not the learner's.
        raise PolicyError(f"{e} (scenario {challenge.name!r})") from None


@dataclass(frozen=True)
class Score:
    """How one policy did on one scenario (see the module docstring for each number)."""

    policy: str
    scenario: str
    on_target: float
    on_time: float
    lost: int
    throughput_per_s: float
    peak_memory_bytes: int
    over_budget_s: float
    score: float


def score_run(result, challenge: Challenge, latency_target_s: float = LATENCY_TARGET_S) -> Score:
    """Score one run of ``challenge`` (see the module docstring)."""
    sc = result.scenario
    s = result.summary()
    lat, done = result.latency_s, result.delivery_time_s
    n_win = int(math.ceil(sc.duration_s / WINDOW_S - 1e-9))
    win = np.minimum((done / WINDOW_S).astype(np.int64), n_win - 1)
    late = np.bincount(win, weights=lat > latency_target_s, minlength=n_win)
    count = np.bincount(win, minlength=n_win)
    # messages waiting at the end of each window (queued or in service)
    ends = np.minimum(np.round((np.arange(n_win) + 1) * WINDOW_S / sc.dt_s).astype(int),
                      sc.n_ticks) - 1
    waiting = result.queue_depth[ends] + result.in_service[ends]
    met = np.where(count > 0, late <= (1 - WINDOW_QUANTILE) * count, waiting == 0)
    over = result.memory_bytes > challenge.budget_per_tick()[: sc.n_ticks]
    over_s = float(over.sum() * sc.dt_s)
    on_time = float(np.sum(lat <= latency_target_s) / max(1, s["offered"]))
    lost = s["dropped"] + s["lost_in_crash"] + s["shed"] + s["sampled_out"]
    return Score(policy=result.strategy.name, scenario=challenge.name,
                 on_target=float(met.mean()), on_time=on_time, lost=int(lost),
                 throughput_per_s=float(s["throughput_per_s"]),
                 peak_memory_bytes=int(s["peak_memory_bytes"]), over_budget_s=over_s,
                 score=100.0 * on_time * (1.0 - over_s / sc.duration_s))


class Scoreboard:
    """Every policy on every scenario: the scores, the runs, a table and a figure.

    Attributes
    ----------
    scores : list of Score
    results : dict
        ``(policy name, scenario name) -> Result``, for figures.
    """

    def __init__(self, scores, results, challenges, latency_target_s):
        self.scores = list(scores)
        self.results = dict(results)
        self.challenges = list(challenges)
        self.latency_target_s = latency_target_s

    @property
    def policies(self) -> list[str]:
        return list(dict.fromkeys(s.policy for s in self.scores))

    @property
    def scenarios(self) -> list[str]:
        return [c.name for c in self.challenges]

    def get(self, policy: str, scenario: str) -> Score:
        for s in self.scores:
            if s.policy == policy and s.scenario == scenario:
                return s
        raise KeyError(f"no score for policy {policy!r} on scenario {scenario!r}")

    def total(self, policy: str) -> float:
        """Mean score over the suite (0 to 100)."""
        return float(np.mean([s.score for s in self.scores if s.policy == policy]))

    def ranking(self) -> list[str]:
        """Policy names, best total first."""
        return sorted(self.policies, key=self.total, reverse=True)

    def table(self, metric: str = "score") -> str:
        """A text table: one row per policy (best first), one column per scenario, and the mean."""
        if metric not in Score.__dataclass_fields__ or metric in ("policy", "scenario"):
            raise ValueError(f"metric={metric!r} is not valid: use one of score, on_target, "
                             "on_time, lost, throughput_per_s, peak_memory_bytes, over_budget_s.")
        fmt = {"on_target": "{:.0%}", "on_time": "{:.0%}", "lost": "{:,}",
               "throughput_per_s": "{:.1f}", "peak_memory_bytes": "{:,.0f}",
               "over_budget_s": "{:.1f}", "score": "{:.1f}"}[metric]
        width = max(12, *(len(p) + 1 for p in self.policies))
        head = "policy".ljust(width) + "".join(n.rjust(11) for n in self.scenarios)
        if metric == "score":
            head += "total".rjust(9)
        lines = [head, "-" * len(head)]
        for p in self.ranking():
            row = p.ljust(width) + "".join(
                fmt.format(getattr(self.get(p, n), metric)).rjust(11) for n in self.scenarios)
            if metric == "score":
                row += f"{self.total(p):9.1f}"
            lines.append(row)
        return "\n".join(lines)

    def __str__(self):
        return self.table()

    def __repr__(self):
        return f"<Scoreboard: {len(self.policies)} policies x {len(self.scenarios)} scenarios>"


def run_suite(policies, challenges=None, *, latency_target_s: float = LATENCY_TARGET_S,
              duration_s: float | None = None) -> Scoreboard:
    """Run every policy on every scenario and score them.

    Parameters
    ----------
    policies : list
        Policies (functions or :class:`bpsim.policies.Policy` objects). Names must differ.
    challenges : list of Challenge or None
        The scenarios; ``None`` is :func:`suite` with its defaults.
    latency_target_s : float
        The latency target the scorer checks (s).
    duration_s : float or None
        Shorter runs, for quick checks.
    """
    validate.number("latency_target_s", latency_target_s, low=0, low_open=True, high=3600,
                    what="a time in seconds, such as 0.5")
    if isinstance(policies, (str, bytes)) or not hasattr(policies, "__iter__"):
        validate.bad("policies", policies, "a list of policies (functions or Policy objects)")
    policies = list(policies)
    if not policies:
        validate.bad("policies", policies, "a list of at least one policy, such as "
                                           "[FixedCapacity(50)]")
    challenges = suite() if challenges is None else list(challenges)
    names = [policy_name(p) for p in policies]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"two policies are called {dup!r}: give one another name (a function's "
                         "name, or the name attribute of a Policy).")
    scores, results = [], {}
    for policy in policies:
        for ch in challenges:
            r = run_policy(policy, ch, duration_s=duration_s)
            ch_run = replace(ch, scenario=r.scenario)
            scores.append(score_run(r, ch_run, latency_target_s))
            results[(policy_name(policy), ch.name)] = r
    return Scoreboard(scores, results, challenges, latency_target_s)


# -- figures and the dashboard -------------------------------------------------------------------
def _thin(result, every_s=0.01):
    """Step between plotted ticks: one point per ``every_s`` is plenty for a 30 s run."""
    return max(1, int(round(every_s / result.scenario.dt_s)))


def _shade(ax, challenge):
    for start, stop in challenge.trouble:
        ax.axvspan(start, stop, color=COLORS["memory"], alpha=0.15, lw=0)


def fixed_both_ways(capacities=(5, 10, 25, 50, 99), latency_target_s=LATENCY_TARGET_S, fig=None):
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
    fig, (a, b) = new_figure(2, 1, (10, 3.6), fig)
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
    return fig


def plot_scoreboard(board, you=None, fig=None):
    """The scoreboard as a dot plot: one row per scenario and the total, one colour per policy.

    ``you`` names the learner's policy (drawn larger); by default any policy that is not a
    built-in.
    """
    rows = board.scenarios + ["total"]
    fig, (ax,) = new_figure(1, 1, (8, 3.8), fig)
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
    return fig


def capacity_vs_speed(board, scenario="slowdown", policies=("adaptive", "codel", "aimd"),
                      fig=None):
    """Capacity over time against the consumer speed the policy measured, one panel per policy.

    The dashed line is what Little's law asks for: measured speed x latency target.
    """
    ch = next(c for c in board.challenges if c.name == scenario)
    target = board.latency_target_s
    fig, axes = new_figure(1, len(policies) + 1, (9, 2.1 * (len(policies) + 1)), fig, sharex=True)
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
    return fig


def _comparison(policy, latency_target_s):
    """The fixed buffer :func:`compare_policy` draws beside ``policy``: sized by Little's law at full
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


def _policy_title(latency_target_s, memory_budget_mb, slowdown):
    return (f"Slowdown to {slowdown:g}x, latency target {latency_target_s:g} s, "
            f"budget {memory_budget_mb:g} MB")


def _budget_slots(ch):
    """The memory budget at the start, in messages (what the policies are held to)."""
    sc = ch.scenario
    return memory_slots(ch.budget().at(0.0), sc.message_bytes, sc.consumers)


def _legends(a, b):
    for ax in (a, b):
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", markerscale=4)


def draw_policy(fig, runs, latency_target_s=LATENCY_TARGET_S, memory_budget_mb=10.0,
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
    label_axes(a, _policy_title(latency_target_s, memory_budget_mb, slowdown), "",
               "capacity (messages)")
    label_axes(b, "Latency of each delivered message", "time (s)", "latency (s)")
    b.set_yscale("log")
    for ax in (a, b):
        _shade(ax, ch)
    _legends(a, b)
    return _score_lines(runs, ch, latency_target_s)


def _redraw_policy(fig, runs, latency_target_s, memory_budget_mb, slowdown) -> str:
    """:func:`draw_policy` (light) the first time; later, only new data, colours, labels and
    limits for the same artists (building axes and ticks afresh is half a redraw's cost)."""
    if getattr(fig, "_bpsim_policy", None) != tuple(fig.axes):
        fig.clear()
        text = draw_policy(fig, runs, latency_target_s, memory_budget_mb, slowdown, light=True)
        lighten(fig)
        fig._bpsim_policy = tuple(fig.axes)
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
    a.set_title(_policy_title(latency_target_s, memory_budget_mb, slowdown))
    _legends(a, b)
    return _score_lines(runs, ch, latency_target_s)


def policy_frame(runs, latency_target_s, memory_budget_mb, slowdown) -> charts.Frame:
    """:func:`draw_policy` as a browser chart: capacity over time, the latency of every
    delivered message (at screen resolution), and the score lines under it."""
    ch = _challenge(memory_budget_mb, slowdown)
    duration = ch.scenario.duration_s
    cap = charts.Panel(_policy_title(latency_target_s, memory_budget_mb, slowdown), "time (s)",
                       "capacity (messages)", xlim=(0.0, duration))
    lat = charts.Panel("Latency of each delivered message", "time (s)", "latency (s)",
                       yscale="log", xlim=(0.0, duration))
    budget = _budget_slots(ch)
    top = max([budget] + [float(np.max(r.capacity)) for _, r in runs]) * 1.1
    cap.ylim = (0.0, top)
    lats = [r.latency_s[r.latency_s > 0] for _, r in runs]
    lo = min([float(np.min(v)) for v in lats if len(v)] + [latency_target_s]) / 1.5
    hi = max([float(np.max(v)) for v in lats if len(v)] + [latency_target_s]) * 1.5
    lat.ylim = (lo, hi)
    for start, stop in ch.trouble:
        cap.span("trouble", start, stop, COLORS["memory"], top=top)
        lat.span("trouble", start, stop, COLORS["memory"], top=hi)
    for (p, r), dash in zip(runs, ([2, 3], None)):
        name = policy_name(p)
        color = policy_color(name)
        x, (y,) = charts.envelope(r.time_s, [r.capacity])
        cap.line(f"{name}: capacity", x, y, color, width=1.6, dash=dash)
        keep = r.latency_s > 0
        lx, ly = charts.scatter_cells(r.delivery_time_s[keep], r.latency_s[keep], lat.xlim,
                                      lat.ylim, log_y=True)
        lat.line(name, lx, ly, color, kind="points", size=3)
    cap.hline("memory budget (messages)", budget, COLORS["limit"], width=1)
    lat.hline("latency target", latency_target_s, COLORS["target"], width=1.5)
    return charts.Frame([cap, lat], _score_lines(runs, ch, latency_target_s), columns=2,
                        preformatted=True)


def compare_policy(policy, latency_target_s=LATENCY_TARGET_S, memory_budget_mb=10.0, slowdown=0.25,
            compare=None, fig=None):
    """One policy on the slowdown scenario, with the knobs the sliders turn (draws a figure).

    Prints each policy's score line. ``compare`` (default: a fixed buffer sized by Little's law
    at full speed) is drawn beside it.
    """
    compare = _comparison(policy, latency_target_s) if compare is None else compare
    runs = [(p, _run(p, memory_budget_mb, slowdown)) for p in (compare, policy)]
    if fig is None:
        fig = plt.figure(figsize=(10, 5), layout="constrained")
    else:
        fig.clear()
    print(draw_policy(fig, runs, latency_target_s, memory_budget_mb, slowdown))
    return fig


def _policies(latency_target_s, extra=()):
    pols = {policy_name(p).split()[0]: p for p in builtin_policies(latency_target_s)}
    pols.update({policy_name(p): p for p in extra})
    return pols


def show_policy(name="adaptive", latency_target_s=LATENCY_TARGET_S, memory_budget_mb=10.0,
                slowdown=0.25, extra=()):
    """:func:`compare_policy` for a policy chosen by name, then show the figure (the static twin of
    :func:`policy_dashboard`).

    ``name`` is a built-in (``adaptive``, ``codel``, ``aimd``, ``fixed``; rebuilt for the latency
    target) or the name of one of the ``extra`` policies (yours).
    """
    pols = _policies(latency_target_s, extra)
    if name not in pols:
        raise ValueError(f"name={name!r} is not valid: use one of {', '.join(pols)}.")
    compare_policy(pols[name], latency_target_s, memory_budget_mb, slowdown)
    plt.show()


def policy_dashboard(extra=()):
    """Sliders for the latency target, the memory budget and the slowdown, and a policy menu.

    A :class:`bpsim.viz.dashboard.Dashboard`: a browser chart (:func:`policy_frame`) that follows
    the sliders while they move, every run remembered (the fixed comparison run is shared by all
    policies).
    """
    names = ["adaptive", "codel", "aimd", "fixed"] + [policy_name(p) for p in extra]

    @lru_cache(maxsize=64)   # one cache per widget: a redefined policy of yours is run afresh
    def policy_run(name, latency_target_s, memory_budget_mb, slowdown):
        return _run(_policies(latency_target_s, extra)[name], memory_budget_mb, slowdown)

    def render(fig, name, latency_target_s, memory_budget_mb, slowdown):
        policy = _policies(latency_target_s, extra)[name]
        compare = _comparison(policy, latency_target_s)
        runs = [(compare, _run(compare, memory_budget_mb, slowdown)),
                (policy, policy_run(name, latency_target_s, memory_budget_mb, slowdown))]
        return _redraw_policy(fig, runs, latency_target_s, memory_budget_mb, slowdown)

    def chart(name, latency_target_s, memory_budget_mb, slowdown):
        policy = _policies(latency_target_s, extra)[name]
        compare = _comparison(policy, latency_target_s)
        runs = [(compare, _run(compare, memory_budget_mb, slowdown)),
                (policy, policy_run(name, latency_target_s, memory_budget_mb, slowdown))]
        return policy_frame(runs, latency_target_s, memory_budget_mb, slowdown)

    controls = {
        "name": dropdown("adaptive", names, "policy"),
        "latency_target_s": slider(LATENCY_TARGET_S, 0.1, 2.0, 0.1, "latency target (s)",
                                    integer=False),
        "memory_budget_mb": slider(10.0, 1.0, 20.0, 1.0, "memory budget (MB)", integer=False),
        "slowdown": slider(0.25, 0.0, 1.0, 0.05, "slowdown (x full speed)", integer=False),
    }
    return Dashboard(controls, render, chart, figsize=(10, 5), preformatted=True,
                     margins=dict(left=0.07, right=0.77, bottom=0.1, top=0.94, hspace=0.3))
