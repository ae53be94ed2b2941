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
half a second instead of 70: 90 messages in half a second, 40 more than the consumer can take in
that time, and 55 more than the steady 70 msg/s would bring. On average the producer sends
70 + 55 / 5 = 81 msg/s, not 70 (:func:`mean_rate` computes it from the schedule).

``slowdown``
    The consumer drops to a quarter of its speed for 10 s (a GC pause, a slow disk), then recovers.
``burst``
    A surge: 150 msg/s for 2 s.
``memory``
    At 10 s the memory budget shrinks to a fifth (another process needs the rest).
``load_step``
    At 10 s the producer steps up to 120 msg/s and stays there: more than the consumer can take.

:func:`held_out` has five more, of other shapes and seeds, that no built-in policy was tuned on.

The score
---------
For each run, two ingredients:

* ``on_time``: the share of *all offered* messages delivered within the latency target. A
  message counts against it if it was dropped, lost in a crash, delivered late, or still waiting
  at the end of the run (``lost`` and ``late`` count the first three);
* ``over_budget_s``: how long the memory in use exceeded the budget (s).

The combined score is ``100 x on_time x (1 - over_budget_s / duration_s)``. Without time over the
budget it is the share of messages that got through in time, in percent: the *goodput* (useful
work) as a share of the offered load. A lost message and a late one cost the same, so a policy
cannot win by dropping everything (nothing delivered, nothing on time) or by keeping everything
(late). Time spent over the memory budget, when a real server would risk being killed, scales it
down. A policy's total is the mean over the suite.

Diagnostics that are not in the score: ``on_target``, the share of half-second windows in which
at least 95 % of the messages delivered in that window met the target (a window where nothing is
delivered counts as met only if nothing was waiting): a policy that drops a lot can be on target
all the time and still score low; ``throughput_per_s`` and ``peak_memory_bytes``.

The ceiling
-----------
:func:`ceiling` bounds the number of messages *any* policy could deliver in time in a scenario,
from the scenario alone (its arrivals, the consumer's speed over time, and the service times the
run draws); ``100 x bound / offered`` is the best score possible. The distance of a policy from
it is how much is left to win. See :func:`ceiling` for the derivation.

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
from ..validate import InputError
from ..control import memory_slots
from ..engine import prepare, simulate
from ..policies import (AIMD, CoDel, FixedCapacity, PolicyError, PolicyStrategy, LittlesLaw,
                       policy_name)
from ..scenario import Scenario
from ..schedule import Schedule
from ..strategies import make_strategy
from ..viz import charts
from ..viz.dashboard import Dashboard, dropdown, lighten, slider
from ..viz.figures import label_axes, new_figure
from ..viz.palette import COLORS, POLICY_COLORS, policy_color

__all__ = ["LATENCY_TARGET_S", "BASE", "Challenge", "suite", "held_out", "builtin_policies",
           "run_policy", "score_run", "Score", "Scoreboard", "run_suite", "mean_rate", "ceiling",
           "Ceiling", "print_suite", "print_ceilings", "fixed_on_time"]

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


def held_out(duration_s: float | None = None) -> list[Challenge]:
    """Five scenarios no built-in policy was tuned on: other shapes, other seeds (21 to 25).

    The same system and bursts as :func:`suite`; the trouble differs in depth, length, timing and
    kind. The notebook shows only their scores, so that a policy tuned on the suite's tables is
    tested on something it has not seen.
    """
    duration_s = validate.optional(validate.number, "duration_s", duration_s, low=0.5,
                                   high=3600, what="a time in seconds",
                                   none_means=f"the full {BASE.duration_s:g} s")
    base = replace(BASE, duration_s=duration_s or BASE.duration_s)
    end, budget = base.duration_s, base.memory_limit_bytes
    bursts = [(t, t + BURST_S, BURST_RATE) for t in BURST_TIMES]
    spikes = _steps(base.producer_rate, bursts)
    return [
        Challenge("slow_40", "the consumer slows to 0.4x from 5 s to 17 s",
                  replace(base, rate_schedule=spikes, speed_schedule=((5, 0.4), (17, 1.0))),
                  seed=21, trouble=((5, 17),)),
        Challenge("stall", "the consumer stops for 3 s at 15 s",
                  replace(base, rate_schedule=spikes, speed_schedule=((15, 0.0), (18, 1.0))),
                  seed=22, trouble=((15, 18),)),
        Challenge("surges", "two surges to 200 msg/s for 1 s, at 8 s and 20 s",
                  replace(base, rate_schedule=_steps(base.producer_rate, bursts
                                                     + [(8, 9, 200.0), (20, 21, 200.0)])),
                  seed=23, trouble=((8, 9), (20, 21))),
        Challenge("memory_3", "the memory budget shrinks to a third at 15 s",
                  replace(base, rate_schedule=spikes), ((0, budget), (15, budget // 3)),
                  seed=24, trouble=((15, end),)),
        Challenge("step_110", "the producer steps up to 110 msg/s at 12 s",
                  replace(base, rate_schedule=tuple((t, r) for t, r in spikes if t < 12)
                          + ((12, 110.0),)), seed=25, trouble=((12, end),)),
    ]


def mean_rate(challenge: Challenge) -> float:
    """The producer's mean rate over the run (msg/s), from its schedule (bursts included)."""
    sc = challenge.scenario
    return float(sc.per_tick("rate").mean())


def print_suite(challenges=None) -> None:
    """One line per scenario: what happens, the producer's mean rate, the messages offered."""
    challenges = suite() if challenges is None else list(challenges)
    b = BASE
    print(f"consumer {b.consumer_rate:g} msg/s ({b.service} service), producer {b.producer_rate:g}"
          f" msg/s between bursts ({b.arrivals})")
    print(f"messages of {b.message_bytes / 1e3:g} kB, memory budget {b.memory_limit_bytes / 1e6:g} MB"
          f" (room for {b.memory_limit_bytes // b.message_bytes} messages)")
    print(f"latency target {LATENCY_TARGET_S:g} s; bursts: {BURST_RATE:g} msg/s for {BURST_S:g} s"
          f" at {', '.join(f'{t:g}' for t in BURST_TIMES)} s")
    for ch in challenges:
        offered = int(prepare(ch.scenario, make_strategy("drop_newest"), ch.seed).offered)
        print(f"{ch.name:>9}: {ch.about}\n{'':>11}producer's mean {mean_rate(ch):.0f} msg/s, "
              f"{offered:,} messages offered, seed {ch.seed}")


def print_ceilings(challenges=None, latency_target_s: float = LATENCY_TARGET_S) -> dict:
    """Print, per scenario, the most messages any policy can deliver in time (:func:`ceiling`),
    and return ``{name: Ceiling}``."""
    challenges = suite() if challenges is None else list(challenges)
    out = {ch.name: ceiling(ch, latency_target_s) for ch in challenges}
    for name, c in out.items():
        print(f"{name:>9}: at most {c.on_time_max:>5,} of {c.offered:>5,} in time "
              f"({c.offered - c.on_time_max:>3,} late or lost, whatever the policy): "
              f"ceiling {c.score:5.1f}")
    return out


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
    late: int
    offered: int
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
                 late=int(np.sum(lat > latency_target_s)), offered=int(s["offered"]),
                 throughput_per_s=float(s["throughput_per_s"]),
                 peak_memory_bytes=int(s["peak_memory_bytes"]), over_budget_s=over_s,
                 score=100.0 * on_time * (1.0 - over_s / sc.duration_s))


@dataclass(frozen=True)
class Ceiling:
    """The best any policy could do in one scenario (see :func:`ceiling`)."""

    scenario: str
    offered: int
    on_time_max: int

    @property
    def score(self) -> float:
        """The best score possible (0 to 100): no policy can score more in this scenario."""
        return 100.0 * self.on_time_max / max(1, self.offered)


def ceiling(challenge: Challenge, latency_target_s: float = LATENCY_TARGET_S,
            grid_s: float = WINDOW_S) -> Ceiling:
    """An upper bound on the messages any policy can deliver within the latency target.

    It depends on the scenario only: the arrivals, the consumer's speed over time and the
    service times are drawn from the challenge's seed before any policy acts (see
    :mod:`bpsim.engine`), so they are the same for every policy. A policy decides only which
    messages wait and which are thrown away.

    Derivation. Take the messages produced in a stretch of time ``[a, b)``. Each one that is on
    time is finished by ``b + T`` (``T``: the latency target), and after ``a``, when it was
    produced. So at most

        ``min(arrivals in [a, b), completions the consumer can make in [a, b + T])``

    of them are on time. None of them can have started service before ``a``, so each takes a
    *whole* service time inside ``[a, b + T]``: at most as many as fit in the work the consumer
    can do there (its speed over time, integrated). Service times are drawn in the order
    messages start service; since a policy may have started any number of messages before
    ``a`` (up to the arrivals so far, and one more than the consumer could have finished), the
    bound takes the luckiest run of consecutive service times from any such position. Cutting
    the run into stretches ``[a_0, a_1), [a_1, a_2), ...`` and adding the bounds gives a bound
    for the whole run, whichever cut is chosen; a dynamic programme picks the cut (on a grid of
    ``grid_s``) that gives the smallest. Memory is ignored, which can only make the bound
    larger, so it holds for every policy, within budget or not.

    It is generous: it assumes the consumer never works on a message that turns out late, and
    gets the luckiest service times. The best real policy scores less.

    Only a single consumer is supported.

    >>> c = ceiling(suite(duration_s=5)[0])      # no trouble in the first 5 s: no loss forced
    >>> c.on_time_max == c.offered
    True
    """
    sc = challenge.scenario
    if sc.max_consumers != 1:
        validate.bad("challenge", challenge.name, "a scenario with a single consumer (the "
                                                  "ceiling is derived for one)")
    validate.number("latency_target_s", latency_target_s, low=0, low_open=True, high=3600,
                    what="a time in seconds, such as 0.5")
    x = prepare(sc, make_strategy("drop_newest"), challenge.seed)
    n, dt = x.n_ticks, x.dt
    arrived = np.concatenate(([0], np.cumsum(x.arrivals)))          # arrivals before tick i
    # work the consumer can do in each tick, in mean service times
    work = np.concatenate(([0.0], np.cumsum(dt * x.speed * x.consumer_rate
                                            * (x.consumers > 0))))
    pool = x.pool if x.pool.size else np.ones(1)                     # deterministic: all 1
    reps = int(math.ceil((x.offered + 2) / pool.size)) + 1           # the engine wraps around
    drawn = np.concatenate(([0.0], np.cumsum(np.tile(pool, reps))))  # work of the first k
    lag = int(math.floor(latency_target_s / dt + 1e-9))
    step = max(1, int(round(grid_s / dt)))
    cuts = list(range(0, n, step)) + [n]

    def completions(u, v):
        """Most whole services in ticks u .. v - 1 + lag (for messages produced in u .. v - 1)."""
        budget = work[min(n, v + lag)] - work[u]
        done_by_u = int(np.searchsorted(drawn, work[u], side="right") - 1)
        starts = np.arange(0, min(int(arrived[u]), done_by_u + 1) + 1)   # services begun
        fit = np.searchsorted(drawn, drawn[starts] + budget, side="right") - 1 - starts
        return int(fit.max())

    best = [0] * len(cuts)
    for j in range(1, len(cuts)):
        best[j] = min(best[i] + min(int(arrived[cuts[j]] - arrived[cuts[i]]),
                                    completions(cuts[i], cuts[j])) for i in range(j))
    return Ceiling(challenge.name, int(x.offered), int(best[-1]))


class Scoreboard:
    """Every policy on every scenario: the scores, the runs, the ceilings, tables and a figure.

    Attributes
    ----------
    scores : list of Score
    results : dict
        ``(policy name, scenario name) -> Result``, for figures.
    ceilings : dict
        ``scenario name -> Ceiling``: the best any policy could do there (see :func:`ceiling`).
    """

    #: What :meth:`table` can show, and how each is printed.
    FORMATS = {"score": "{:.1f}", "gap": "{:.1f}", "on_time": "{:.1%}", "over_budget_s": "{:.1f}",
               "late": "{:,}", "lost": "{:,}", "offered": "{:,}", "on_target": "{:.0%}",
               "throughput_per_s": "{:.1f}", "peak_memory_bytes": "{:,.0f}"}

    def __init__(self, scores, results, challenges, latency_target_s, ceilings=None):
        self.scores = list(scores)
        self.results = dict(results)
        self.challenges = list(challenges)
        self.latency_target_s = latency_target_s
        self.ceilings = dict(ceilings) if ceilings is not None else {
            c.name: ceiling(c, latency_target_s) for c in self.challenges}

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

    def ceiling_total(self) -> float:
        """Mean of the scenarios' ceilings: no policy's total can be higher."""
        return float(np.mean([self.ceilings[n].score for n in self.scenarios]))

    def gap(self, policy: str, scenario: str | None = None) -> float:
        """Points between a policy's score and the ceiling (``None``: between the totals)."""
        if scenario is None:
            return self.ceiling_total() - self.total(policy)
        return self.ceilings[scenario].score - self.get(policy, scenario).score

    def ranking(self) -> list[str]:
        """Policy names, best total first."""
        return sorted(self.policies, key=self.total, reverse=True)

    def value(self, policy: str, scenario: str, metric: str):
        """One cell of :meth:`table`."""
        if metric == "gap":
            return self.gap(policy, scenario)
        return getattr(self.get(policy, scenario), metric)

    def table(self, metric: str = "score") -> str:
        """A text table: one row per policy (best first), one column per scenario.

        ``score`` and ``gap`` (points below the ceiling) add the mean over the scenarios, and
        ``score`` a first row with the ceiling, the best score possible.
        """
        if metric not in self.FORMATS:
            raise InputError(f"metric={metric!r} is not valid: use one of "
                             f"{', '.join(self.FORMATS)}.")
        fmt = self.FORMATS[metric]
        width = max(12, *(len(p) + 1 for p in self.policies))
        col = max(10, *(len(n) + 1 for n in self.scenarios))
        mean = metric in ("score", "gap")
        head = "policy".ljust(width) + "".join(n.rjust(col) for n in self.scenarios)
        head += "mean".rjust(8) if mean else ""
        lines = [head, "-" * len(head)]
        if metric == "score":
            lines.append("(ceiling)".ljust(width) + "".join(
                f"{self.ceilings[n].score:.1f}".rjust(col) for n in self.scenarios)
                + f"{self.ceiling_total():8.1f}")
        for p in self.ranking():
            row = p.ljust(width) + "".join(
                fmt.format(self.value(p, n, metric)).rjust(col) for n in self.scenarios)
            if mean:
                row += f"{self.total(p) if metric == 'score' else self.gap(p):8.1f}"
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
        The scenarios; ``None`` is :func:`suite` with its defaults (:func:`held_out` for the
        scenarios nobody tuned on).
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
    if duration_s is not None:
        challenges = [replace(ch, scenario=replace(ch.scenario, duration_s=duration_s))
                      for ch in challenges]
    names = [policy_name(p) for p in policies]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(f"two policies are called {dup!r}: give one another name (a function's "
                         "name, or the name attribute of a Policy).")
    scores, results = [], {}
    for policy in policies:
        for ch in challenges:
            r = run_policy(policy, ch)
            scores.append(score_run(r, ch, latency_target_s))
            results[(policy_name(policy), ch.name)] = r
    return Scoreboard(scores, results, challenges, latency_target_s)


# -- figures and the dashboard -------------------------------------------------------------------
def _thin(result, every_s=0.01):
    """Step between plotted ticks: one point per ``every_s`` is plenty for a 30 s run."""
    return max(1, int(round(every_s / result.scenario.dt_s)))


def _shade(ax, challenge, label=None):
    for k, (start, stop) in enumerate(challenge.trouble):
        ax.axvspan(start, stop, color=COLORS["memory"], alpha=0.15, lw=0,
                   label=label if k == 0 else None)


def fixed_on_time(capacity: int = 50, scenario: str = "slowdown",
                  latency_target_s: float = LATENCY_TARGET_S) -> float:
    """Share of the offered messages a fixed buffer delivers in time in one scenario (%)."""
    ch = {c.name: c for c in suite()}[scenario]
    return 100 * score_run(run_policy(FixedCapacity(capacity), ch), ch, latency_target_s).on_time


def fixed_both_ways(capacities=(5, 10, 25, 50, 99), latency_target_s=LATENCY_TARGET_S, fig=None):
    """Fixed buffers of several sizes on the surge and on the slowdown: wrong in both directions.

    Left: messages lost in the ``burst`` scenario (a small buffer throws away a surge it could
    have absorbed). Right: the share of the offered messages delivered in time in the
    ``slowdown`` scenario (a large buffer holds more work than a slowed consumer can finish in
    time), under the scenario's ceiling (:func:`ceiling`).
    """
    ch = {c.name: c for c in suite()}
    lost, on_time = [], []
    for c in capacities:
        r = run_policy(FixedCapacity(c), ch["burst"])
        lost.append(score_run(r, ch["burst"], latency_target_s).lost)
        r = run_policy(FixedCapacity(c), ch["slowdown"])
        on_time.append(100 * score_run(r, ch["slowdown"], latency_target_s).on_time)
    fig, (a, b) = new_figure(2, 1, (10, 3.6), fig)
    color = POLICY_COLORS["fixed"]
    a.plot(capacities, lost, "o-", color=color, label="fixed buffer")
    b.plot(capacities, on_time, "o-", color=color, label="fixed buffer")
    full = ch["burst"].scenario.consumer_rate * latency_target_s
    for ax in (a, b):
        ax.axvline(full, color=COLORS["theory"], ls="--", lw=1,
                   label=f"Little's law at full speed ({full:.0f})")
    best = ceiling(ch["slowdown"], latency_target_s).score
    b.axhline(best, color=COLORS["target"], lw=1.5, label=f"ceiling: best possible ({best:.0f} %)")
    label_axes(a, "Surge: a small buffer drops good traffic", "buffer capacity (messages)",
               "messages lost")
    label_axes(b, "Slowdown: a large buffer delivers late", "buffer capacity (messages)",
               "messages delivered in time (% of offered)")
    b.set_ylim(0, 100)
    a.legend()
    b.legend(loc="lower left")
    return fig


def plot_scoreboard(board, you=None, fig=None):
    """The scoreboard as a dot plot: one row per scenario and the mean, one colour per policy, and
    the ceiling of each row (the best score possible, :func:`ceiling`) as a bar.

    ``you`` names the learner's policy (drawn larger); by default any policy that is not a
    built-in.
    """
    rows = board.scenarios + ["mean"]
    fig, (ax,) = new_figure(1, 1, (8, 3.8), fig)
    ranking = board.ranking()
    tops = [board.ceilings[s].score for s in board.scenarios] + [board.ceiling_total()]
    ax.plot(tops, np.arange(len(rows)), "|", ms=22, mew=2.5, color=COLORS["target"],
            ls="none", label="ceiling: best possible")
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
    ax.legend(title="policy (mean)", loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


def capacity_vs_speed(board, scenario="slowdown", policies=("adaptive", "codel", "aimd"),
                      fig=None):
    """Capacity over time against the consumer speed the policy measured, one panel per policy.

    The dashed line is what Little's law asks for: measured speed x latency target.
    """
    ch = next(c for c in board.challenges if c.name == scenario)
    target = board.latency_target_s
    fig, axes = new_figure(1, len(policies) + 1, (9, 2.1 * (len(policies) + 1)), fig, sharex=True)
    for ax in axes[2:]:                 # the policies' panels compare: one scale for all
        ax.sharey(axes[1])
    top, sc = axes[0], ch.scenario
    true = sc.per_tick("speed") * sc.consumer_rate * sc.per_tick("consumers")
    for name in policies:
        tr = board.results[(name, scenario)].strategy.traced()
        top.plot(tr["time_s"], tr["service_rate_per_s"], color=policy_color(name), lw=0.8,
                 alpha=0.7, label=f"measured by {name}")
    top.plot(np.arange(sc.n_ticks) * sc.dt_s, true, color=COLORS["theory"], ls="--", lw=1.5,
             label="true mean speed")
    label_axes(top, f"Scenario '{scenario}': {ch.about}", "", "consumer speed (msg/s)")
    _shade(top, ch, "the trouble")
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
    for ax in axes[1:]:
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


@lru_cache(maxsize=64)
def _challenge(memory_budget_mb, slowdown):
    """The slowdown scenario for the sliders' values, remembered (a frame asks three times, and
    building the suite is a millisecond of checks)."""
    return suite(slowdown=slowdown, memory_budget_bytes=int(memory_budget_mb * 1e6))[0]


@lru_cache(maxsize=4)
def _fixed_run(capacity, memory_budget_mb, slowdown):
    """A fixed buffer on the slowdown scenario, the last few remembered: it does not depend on
    the policy chosen, so changing the policy costs one simulation, not two. (A run holds 5 MB;
    the dashboard remembers its frames itself.)"""
    return run_policy(FixedCapacity(capacity), _challenge(memory_budget_mb, slowdown))


def _run(policy, memory_budget_mb, slowdown):
    if isinstance(policy, FixedCapacity):
        return _fixed_run(policy.capacity, memory_budget_mb, slowdown)
    return run_policy(policy, _challenge(memory_budget_mb, slowdown))


def _score_lines(runs, ch, latency_target_s) -> str:
    lines = []
    for p, r in runs:
        s = score_run(r, ch, latency_target_s)
        lines.append(f"{policy_name(p):>10}: score {s.score:5.1f}, in time {s.on_time:5.1%}, over "
                     f"budget {s.over_budget_s:.1f} s, lost {s.lost:,}, "
                     f"peak memory {s.peak_memory_bytes / 1e6:.1f} MB")
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
        raise InputError(f"name={name!r} is not valid: use one of {', '.join(pols)}.")
    compare_policy(pols[name], latency_target_s, memory_budget_mb, slowdown)
    plt.show()


def policy_dashboard(extra=()):
    """Sliders for the latency target, the memory budget and the slowdown, and a policy menu.

    A :class:`bpsim.viz.dashboard.Dashboard`: a browser chart (:func:`policy_frame`) that follows
    the sliders while they move (the fixed comparison run is shared by all policies; the
    dashboard remembers the frames it made).
    """
    names = ["adaptive", "codel", "aimd", "fixed"] + [policy_name(p) for p in extra]

    @lru_cache(maxsize=4)   # one cache per widget: a redefined policy of yours is run afresh
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
