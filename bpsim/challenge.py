"""The adaptive-backpressure challenge: a suite of scenarios, a scorer and a scoreboard.

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

import numpy as np

from .engine import simulate
from .policies import AIMD, CoDel, FixedCapacity, PolicyStrategy, ReferenceAdaptive, policy_name
from .scenario import Scenario

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
    memory_budget : int, tuple or None
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
    memory_budget: object = None
    seed: int = 1
    trouble: tuple = ()

    def budget_per_tick(self) -> np.ndarray:
        """The memory budget in force at every tick (bytes)."""
        sc = self.scenario
        t = np.arange(sc.n_ticks) * sc.dt_s
        out = np.full(sc.n_ticks, float(sc.memory_limit_bytes))
        b = self.memory_budget
        if isinstance(b, (int, float)):
            out[:] = b
        elif b:
            for start, value in b:
                out[t >= start - 1e-9] = value
        return out


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
    if not (isinstance(slowdown, (int, float)) and 0 <= slowdown <= 1):
        raise ValueError(f"slowdown={slowdown!r} is not valid: use the consumer's speed during the "
                         "slowdown as a fraction of full speed, from 0 to 1 (0.25 is a quarter).")
    if not (isinstance(memory_budget_bytes, (int, float))
            and memory_budget_bytes >= 10 * BASE.message_bytes):
        raise ValueError(f"memory_budget_bytes={memory_budget_bytes!r} is not valid: use at least "
                         f"{10 * BASE.message_bytes:,} bytes (room for 10 messages).")
    budget = int(memory_budget_bytes)
    base = BASE.with_(memory_limit_bytes=max(budget, BASE.memory_limit_bytes),
                      duration_s=duration_s or BASE.duration_s)
    end = base.duration_s
    spikes = _steps(base.producer_rate, [(t, t + BURST_S, BURST_RATE) for t in BURST_TIMES])
    surge = _steps(base.producer_rate, [(t, t + BURST_S, BURST_RATE) for t in BURST_TIMES]
                   + [(10, 12, SURGE_RATE)])
    step = tuple((t, r) for t, r in spikes if t < 10) + ((10, STEP_RATE),)
    return [
        Challenge("slowdown", f"the consumer slows to {slowdown:g}x for 10 s, then recovers",
                  base.with_(rate_schedule=spikes, speed_schedule=((10, slowdown), (20, 1.0))),
                  budget, seed=11, trouble=((10, 20),)),
        Challenge("burst", f"a surge to {SURGE_RATE:g} msg/s for 2 s",
                  base.with_(rate_schedule=surge), budget, seed=12, trouble=((10, 12),)),
        Challenge("memory", "the memory budget shrinks to a fifth at 10 s",
                  base.with_(rate_schedule=spikes), ((0, budget), (10, budget // 5)), seed=13,
                  trouble=((10, end),)),
        Challenge("load_step", f"the producer steps up to {STEP_RATE:g} msg/s at 10 s",
                  base.with_(rate_schedule=step), budget, seed=14, trouble=((10, end),)),
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
            ReferenceAdaptive(latency_target_s=latency_target_s),
            CoDel(target_s=latency_target_s / 10),
            AIMD(latency_target_s=latency_target_s)]


def run_policy(policy, challenge: Challenge, *, control_interval_s: float = 0.1,
               duration_s: float | None = None):
    """Run one policy on one scenario of the suite; returns the :class:`bpsim.Result`."""
    sc = challenge.scenario
    if duration_s is not None:
        sc = sc.with_(duration_s=duration_s)
    strategy = PolicyStrategy(policy, control_interval_s=control_interval_s,
                              memory_budget=challenge.memory_budget)
    return simulate(sc, strategy=strategy, rng=challenge.seed)


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
    if not (isinstance(latency_target_s, (int, float)) and latency_target_s > 0):
        raise ValueError(f"latency_target_s={latency_target_s!r} is not valid: use a time in "
                         "seconds above 0, such as 0.5.")
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
