"""Notebook 04, the OpenAI outage of 11 December 2024, as a run of :mod:`bpsim.apiserver`.

Sources: OpenAI's postmortem (status.openai.com/incidents/ctrsv3lwd797) for what happened and
when; the Kubernetes documentation on API Priority and Fairness
(kubernetes.io/docs/concepts/cluster-administration/flow-control/) for seats, priority levels
and HTTP 429. The postmortem gives times and the mechanism, not sizes or rates: every number in
:class:`Assumptions` except the clock times and the ~20 minute DNS window is an assumption of
this model, chosen to be plausible, not a fact about OpenAI's clusters.

One large cluster is modelled, with three kinds of traffic sharing its API servers:

- ``telemetry``: the new agent on every node; each agent's requests cost seat time in
  proportion to the cluster's size (the postmortem says only that the cost *scaled with* the
  size; proportional is our assumption), so the total load grows like ``nodes**2``;
- ``discovery``: DNS-based service discovery refreshing its records through the control plane,
  behind a cache that keeps a record working for ~20 minutes after its last refresh;
- ``admin``: the operator's request to remove the bad service.

Times are seconds from 14:45 Pacific time (``clock()`` turns them into ``"HH:MM"``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MultipleLocator, NullFormatter

from .. import validate
from ..validate import InputError
from ..apiserver import (ApiServerModel, DnsCache, PriorityLevel, Removal, Switch, TrafficClass,
                         simulate_apiserver)
from ..viz import charts
from ..viz.dashboard import Dashboard, lighten, slider
from ..viz.figures import label_axes, new_figure
from ..viz.palette import CLASS_COLORS, COLORS

#: Model time zero, Pacific time on 11 Dec 2024 (hours).
START_HOUR = 14.75


#: The postmortem's timeline (Pacific time, 11 Dec 2024).
TIMELINE = (
    ("14:23", "change merged"),
    ("14:51", "rollout starts"),
    ("15:13", "alerts fire"),
    ("15:16", "impact begins"),
    ("15:20", "rollout complete"),
    ("15:27", "traffic shifts away"),
    ("15:40", "peak impact"),
    ("16:36", "first cluster recovered"),
    ("19:01", "ChatGPT, Sora recovered"),
    ("19:38", "API recovered"),
)

#: The recovery actions the postmortem lists, as switches of the model.
FIXES = ("scale_down", "block_admin_api", "scale_up", "fairness", "backoff")


def clock_hours(hhmm: str) -> float:
    h, mm = hhmm.split(":")
    return int(h) + int(mm) / 60


def at(hhmm: str) -> float:
    """Model seconds of a Pacific clock time, e.g. ``at("15:16")``."""
    return (clock_hours(hhmm) - START_HOUR) * 3600


def clock(t_s: float) -> str:
    """``"HH:MM"`` of a model time in seconds."""
    minutes = int(round((START_HOUR + t_s / 3600) * 60))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Assumptions:
    """Every number the model needs. Only ``dns_stale_s`` (the ~20 minute window) and the clock
    times come from the postmortem; the rest are modelling assumptions.

    Sizes: ``nodes`` (in the thousands, as OpenAI's "thousands of nodes"), ``staging_nodes``.
    Telemetry: ``per_node_rate_per_s`` requests per node per second, ``cost_per_node_s`` seat-
    seconds per request per node in the cluster, client ``telemetry_timeout_s``, retries.
    Server: ``api_servers`` x ``seats_per_server`` (600 is Kubernetes' default 400 + 200 in-flight
    limits summed), ``fifo_limit`` (requests the naive server will hold waiting).
    Discovery: ``dns_records`` refreshed every ``dns_refresh_s``, each costing ``dns_cost_s``,
    with ``dns_timeout_s``; dead records re-resolved every ``dns_reresolve_s``.
    Admin: from ``admin_from``, operators (and their scripts) send ``admin_rate_per_s`` delete
    requests a second, each costing ``admin_cost_s``; one that fails is retried after
    ``admin_retry_s``, and while a retry is pending no new delete is sent.
    Fixes: applied at ``fix_at``; scale down to ``scaled_nodes``, up to ``scaled_api_servers``.
    """
    nodes: int = 2500
    staging_nodes: int = 100
    per_node_rate_per_s: float = 0.5
    cost_per_node_s: float = 0.001
    telemetry_timeout_s: float = 60.0
    telemetry_retries: int = 3
    backoff_s: float = 5.0
    backoff_cap_s: float = 300.0
    api_servers: int = 3
    seats_per_server: int = 600
    fifo_limit: int = 100_000
    dns_records: int = 3000
    dns_refresh_s: float = 30.0
    dns_stale_s: float = 1200.0
    dns_reresolve_s: float = 1.0
    dns_cost_s: float = 0.1
    dns_timeout_s: float = 5.0
    admin_rate_per_s: float = 1.0
    admin_cost_s: float = 0.5
    admin_timeout_s: float = 60.0
    admin_retry_s: float = 10.0
    admin_from: str = "15:25"
    deploy_at: str = "14:55"
    fix_at: str = "15:50"
    scaled_nodes: int = 1000
    scaled_api_servers: int = 6
    duration_s: float = 2.0 * 3600
    dt_s: float = 2.0


#: Where each number of :class:`Assumptions` comes from; anything not listed is an assumption.
SOURCES = {
    "dns_stale_s": "postmortem: caches kept names working about 20 min",
    "seats_per_server": "Kubernetes default 400 + 200 (APF docs), not OpenAI's",
    "deploy_at": "assumed, inside the 14:51-15:20 rollout",
    "admin_from": "assumed, after the 15:13 alerts",
    "fix_at": "assumed; the postmortem gives no time for the fixes",
    "nodes": "assumed ('thousands of nodes' is public)",
    "duration_s": "model setting: 14:45 to 16:45",
    "dt_s": "model setting: the tick",
}


#: Assumptions the notebook asks the learner to work out before it shows them.
ASKED_LATER = ("scaled_api_servers",)


def print_assumptions(a: Assumptions = Assumptions()) -> None:
    """Every number of the model with where it comes from (but those in :data:`ASKED_LATER`)."""
    for name, value in a.__dict__.items():
        if name in ASKED_LATER:
            continue
        shown = f"{value:,}" if isinstance(value, (int, float)) else value
        print(f"{name:>20} = {shown!s:<9} {SOURCES.get(name, 'modelling assumption')}")


def seat_capacity(a: Assumptions = Assumptions(), api_servers: int | None = None) -> float:
    """Seat-seconds per second the API servers can give (= their seats)."""
    return (a.api_servers if api_servers is None else api_servers) * a.seats_per_server


def telemetry_cost_s(nodes, a: Assumptions = Assumptions()):
    """Seat-seconds one telemetry request costs in a cluster of ``nodes`` (assumed linear)."""
    return a.cost_per_node_s * np.asarray(nodes, dtype=float)


def telemetry_load(nodes, a: Assumptions = Assumptions()):
    """Seat-seconds per second all agents ask for: nodes x rate x cost(nodes), ~ nodes**2."""
    n = np.asarray(nodes, dtype=float)
    return n * a.per_node_rate_per_s * telemetry_cost_s(n, a)


def baseline_load(a: Assumptions = Assumptions()) -> float:
    """Seat-seconds per second of healthy discovery traffic."""
    return a.dns_records / a.dns_refresh_s * a.dns_cost_s


def tipping_nodes(a: Assumptions = Assumptions(), api_servers: int | None = None) -> float:
    """The cluster size at which telemetry plus baseline load reaches the capacity."""
    spare = seat_capacity(a, api_servers) - baseline_load(a)
    return float(np.sqrt(spare / (a.per_node_rate_per_s * a.cost_per_node_s)))


LEVELS = (PriorityLevel("workload-low", 0.6, 2000),
          PriorityLevel("workload-high", 0.3, 2000),
          PriorityLevel("exempt-like", 0.1, 50))


def incident_model(a: Assumptions = Assumptions(), *, fairness: bool = False,
                   retry: str = "immediate", fixes=(), removal: bool = True) -> ApiServerModel:
    """The cluster from ``a``: telemetry switched on at ``deploy_at``, admin from ``admin_from``.

    Parameters
    ----------
    fairness : bool
        APF-like priority levels from the start (telemetry in a low level, discovery in a high
        one, the operator in a small reserved one; shares and queue sizes are assumptions).
    retry : {"immediate", "backoff"}
        How telemetry agents retry from the start.
    fixes : iterable of str
        Any of :data:`FIXES`, switched on at ``fix_at``.
    removal : bool
        The operator's first successful delete stops new telemetry a minute later.
    """
    validate.choice("retry", retry, ("immediate", "backoff"))
    bad = [f for f in fixes if f not in FIXES]
    if bad:
        validate.bad("fixes", tuple(fixes), "any of " + ", ".join(repr(f) for f in FIXES))
    backoff = a.backoff_s if retry == "backoff" else 0.0
    classes = (
        TrafficClass("telemetry", 0.0, float(telemetry_cost_s(a.nodes, a)),
                     a.telemetry_timeout_s, level="workload-low", clients=a.nodes,
                     retries=a.telemetry_retries, backoff_s=backoff,
                     backoff_cap_s=a.backoff_cap_s),
        TrafficClass("discovery", 0.0, a.dns_cost_s, a.dns_timeout_s, level="workload-high"),
        TrafficClass("admin", 0.0, a.admin_cost_s, a.admin_timeout_s, level="exempt-like",
                     clients=1, retries=1000, backoff_s=a.admin_retry_s,
                     backoff_cap_s=a.admin_retry_s),
    )
    t_fix = at(a.fix_at)
    sw = [Switch(at(a.deploy_at), "rate_per_s", a.nodes * a.per_node_rate_per_s, "telemetry"),
          Switch(at(a.admin_from), "rate_per_s", a.admin_rate_per_s, "admin")]
    for f in fixes:
        if f == "scale_down":
            sw += [Switch(t_fix, "rate_per_s", a.scaled_nodes * a.per_node_rate_per_s,
                          "telemetry"),
                   Switch(t_fix, "cost_s", float(telemetry_cost_s(a.scaled_nodes, a)),
                          "telemetry"),
                   Switch(t_fix, "clients", a.scaled_nodes, "telemetry")]
        elif f == "block_admin_api":
            sw.append(Switch(t_fix, "blocked", True, "telemetry"))
        elif f == "scale_up":
            sw.append(Switch(t_fix, "seats", seat_capacity(a, a.scaled_api_servers)))
        elif f == "fairness":
            sw.append(Switch(t_fix, "fairness", True))
        elif f == "backoff":
            sw.append(Switch(t_fix, "backoff_s", a.backoff_s, "telemetry"))
    return ApiServerModel(
        classes=classes, seats=seat_capacity(a), fairness=fairness, levels=LEVELS,
        fifo_limit=a.fifo_limit, switches=tuple(sw),
        dns=DnsCache("discovery", a.dns_records, a.dns_refresh_s, a.dns_stale_s,
                     a.dns_reresolve_s),
        removal=Removal("admin", "telemetry", 60.0) if removal else None,
        duration_s=a.duration_s, dt_s=a.dt_s)


def run_incident(a: Assumptions = Assumptions(), rng=2024, **kwargs):
    """:func:`incident_model` run with a fixed seed."""
    return simulate_apiserver(incident_model(a, **kwargs), rng=rng)


# -- numbers a notebook prints -------------------------------------------------------------------
def resolving_fraction(r) -> np.ndarray:
    """Share of service records that still resolve, per tick."""
    return 1.0 - r.dns_dead / r.model.dns.records


def restored_at(r, threshold: float = 0.99) -> float | None:
    """First time (s) after the last record died at which >= ``threshold`` of them resolve
    again and stay so to the end; None if never."""
    ok = resolving_fraction(r) >= threshold
    if ok.all():
        return None
    bad = np.flatnonzero(~ok)
    last_bad = bad[-1]
    if last_bad == len(ok) - 1:
        return None
    return float(r.time_s[last_bad + 1])


def timeout_passed_at(r, cls: str, window_s: float = 10.0) -> float | None:
    """First time (s) the class's mean time in system exceeds its client timeout."""
    timeout = r.model.classes[r.model.index(cls)].timeout_s
    return r.first_time(np.nan_to_num(r.latency(cls, window_s)) > timeout)


def first_admin_success(r) -> float | None:
    return r.first_time(r.series("admin", "successes_tick") > 0)


def outcome(r) -> dict:
    """The few facts a reader wants from a run, rounded for printing."""
    res = resolving_fraction(r)
    dead_at = r.first_time(res < 0.5)
    back = restored_at(r)
    admin = first_admin_success(r)
    return {
        "names resolving at the end": f"{res[-1]:.0%}",
        "half the names dead at": clock(dead_at) if dead_at is not None else "never",
        "operator's delete succeeds at": clock(admin) if admin is not None else "never",
        "names resolving again at": (clock(back) if back is not None
                                     else ("never broke" if dead_at is None else "not by "
                                           + clock(r.time_s[-1]))),
    }


def print_outcome(r) -> None:
    for k, v in outcome(r).items():
        print(f"{k:>32}: {v}")


def print_load_check(a: Assumptions = Assumptions()) -> None:
    """Load against capacity for the staging and the production cluster, and the tipping size."""
    cap, other = seat_capacity(a), baseline_load(a)
    print(f"capacity: {a.api_servers} API servers x {a.seats_per_server} seats = {cap:,.0f} "
          "seat-seconds per second")
    for name, n in (("staging", a.staging_nodes), ("production", a.nodes)):
        tele = float(telemetry_load(n, a))
        print(f"{name:>10}: {n:>5,} nodes -> telemetry {tele:>5,.0f} + discovery {other:.0f} = "
              f"{tele + other:>5,.0f} seat-s/s = {(tele + other) / cap:>4.0%} of capacity")
    print(f"{'tips at':>10}: {tipping_nodes(a):,.0f} nodes")


def print_dns_numbers(r, a: Assumptions = Assumptions()) -> None:
    """When the cache stopped being refreshed, when it ran out, and the re-resolution load."""
    stalled, half = _cache_times(r, a)
    before = r.rate("discovery", "attempts", 60)[int(at(a.deploy_at) / a.dt_s) - 1]
    after = r.rate("discovery", "attempts", 600)[-1]
    print(f"last successful refresh:  {clock(stalled)}")
    print(f"half the names dead:      {clock(half)} ({(half - stalled) / 60:.0f} min later)")
    print(f"discovery requests/s:     {before:,.0f} before, {after:,.0f} after "
          f"(x{after / before:.0f}), = {after * a.dns_cost_s / seat_capacity(a):.0%} of capacity")


def print_admin_numbers(r) -> None:
    """The operator's attempts, and how many were answered before they gave up."""
    b = r.books("admin")
    lat = r.latency("admin", 600)
    start = min(w.at_s for w in r.model.switches if w.cls == "admin" and w.field == "rate_per_s")
    span = r.time_s[-1] - start
    print(f"delete attempts:         {b['attempts']:,} (about {b['attempts'] / span:.1f} a second)")
    print(f"answered in time:        {deletes_answered(r):,}")
    print(f"mean wait around 16:30:  {lat[int(at('16:30') / r.model.dt_s)]:.0f} s "
          "(10-minute mean of the time in system)")


def print_storm(runs: dict, last_s: float = 120.0) -> None:
    """Goodput and attempts per second over the last ``last_s`` of each retry-storm run."""
    for name, r in runs.items():
        ok = storm_answered_per_s(r, last_s)
        att = r.rate("clients", "attempts", last_s)[-1]
        print(f"{name:>20}: {ok:>5,.0f} answered/s, {att:>5,.0f} attempts/s in the last "
              f"{last_s:.0f} s")


# -- figures -------------------------------------------------------------------------------------
def _clock_axis(ax, max_ticks: int = 10):
    """hh:mm ticks on an axis in hours, at a round number of minutes (call after plotting)."""
    lo, hi = ax.get_xlim()
    span_min = (hi - lo) * 60
    step = next((m for m in (1, 2, 5, 10, 15, 30, 60) if span_min / m <= max_ticks), 120)
    ax.xaxis.set_major_locator(MultipleLocator(step / 60))

    def fmt(h, _):
        minutes = int(round(h * 60))
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    ax.xaxis.set_major_formatter(FuncFormatter(fmt))


def _plain_log(ax):
    """A log y axis labelled 2, 5, 10, 20, ... instead of powers of ten."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _hours(r):
    return START_HOUR + r.time_s / 3600


def timeline_figure(fig=None):
    """The postmortem's timeline on one clock axis."""
    heights = (1, 2, 3, 4, 5, 6, 7, 4, 2, 1)
    fig, (ax,) = new_figure(1, 1, (10, 3.6), fig)
    for k, ((hhmm, text), y) in enumerate(zip(TIMELINE, heights)):
        h = clock_hours(hhmm)
        ax.vlines(h, 0, y, color=COLORS["theory"], lw=0.8)
        ax.plot(h, y, "o", color=CLASS_COLORS["telemetry"] if k < 7 else CLASS_COLORS["admin"])
        ax.annotate(f"{hhmm} {text}", (h, y), xytext=(5, -3), textcoords="offset points",
                    fontsize=8)
    ax.axvspan(clock_hours("15:16"), clock_hours("19:38"), color=CLASS_COLORS["telemetry"],
               alpha=0.08, label="impact (about 4 h 22 min)")
    ax.set_ylim(0, 8)
    ax.set_xlim(14.2, 20.6)
    ax.set_yticks([])
    _clock_axis(ax)
    label_axes(ax, "11 December 2024, from OpenAI's postmortem", "Pacific time (hh:mm)", "")
    ax.legend(loc="upper right", fontsize=8)
    return fig


def load_figure(a: Assumptions = Assumptions(), max_nodes: int = 4000, fig=None):
    """Telemetry plus baseline load against cluster size, with the capacity line."""
    n = np.linspace(0, max_nodes, 401)
    fig, (ax,) = new_figure(1, 1, (7, 4), fig)
    ax.plot(n, telemetry_load(n, a) + baseline_load(a), color=CLASS_COLORS["telemetry"],
            label="load on the API servers (assumed ~ nodes$^2$)")
    ax.axhline(seat_capacity(a), color=COLORS["theory"], ls="--",
               label=f"capacity: {a.api_servers} API servers x {a.seats_per_server} seats")
    tip = tipping_nodes(a)
    ax.axvline(tip, color=COLORS["theory"], lw=0.8)
    ax.annotate(f"tips at ~{tip:,.0f} nodes", (tip, seat_capacity(a)), xytext=(6, -28),
                textcoords="offset points")
    for nodes, name, mk in ((a.staging_nodes, "staging", "o"), (a.nodes, "production", "s")):
        ax.plot(nodes, telemetry_load(nodes, a) + baseline_load(a), mk, color="black",
                label=f"{name}: {nodes:,} nodes (assumed)")
    label_axes(ax, "Why staging passed: the load grows with the square of the size",
               "cluster size (nodes)", "seat-seconds per second")
    ax.legend(fontsize=8)
    return fig


_MARKS = {"deploy_at": "telemetry switched on", "admin_from": "operator starts trying",
          "fix_at": "fix switched on"}
_MARK_STYLES = {"deploy_at": ":", "admin_from": "-.", "fix_at": "--"}


def _mark(ax, a, what=("deploy_at",), legend=True):
    """Grey lines at the model's assumed moments, one style each, labelled for the legend
    (``legend=False``: unlabelled, for a panel below one that names them)."""
    for key in what:
        ax.axvline(clock_hours(getattr(a, key)), color="#777777", lw=0.8, ls=_MARK_STYLES[key],
                   label=f"{getattr(a, key)} {_MARKS[key]} (assumed)" if legend else None)


def collapse_figure(r, a: Assumptions = Assumptions(), since: str = "14:53",
                    until: str = "15:05", fig=None):
    """The first minutes on the shared FIFO: requests waiting, time in system against each
    class's timeout, and the share of attempts answered in time, per class."""
    h = _hours(r)
    keep = (h >= clock_hours(since)) & (h <= clock_hours(until))
    fig, axes = new_figure(1, 3, (9, 8), fig, sharex=True)
    for c in r.model.classes:
        if r.series(c.name, "attempts")[keep][-1] == 0:
            continue                            # not active yet in this window
        col = CLASS_COLORS[c.name]
        q = r.series(c.name, "queued") + r.series(c.name, "queued_orphan")
        axes[0].plot(h[keep], q[keep], color=col, label=c.name)
        axes[1].plot(h[keep], r.latency(c.name, 10)[keep], color=col,
                     lw=3 if c.name == "telemetry" else 1.5)
        axes[1].axhline(c.timeout_s, color=col, ls="--", lw=0.9,
                        label=f"{c.name} timeout ({c.timeout_s:.0f} s)")
        axes[2].plot(h[keep], 100 * r.goodput_fraction(c.name, 10)[keep], color=col)
    _plain_log(axes[1])
    past = timeout_passed_at(r, "discovery")
    for k, ax in enumerate(axes):
        _mark(ax, a, legend=k == 0)           # the same lines in every panel, named once
        if past is not None:
            ax.axvline(START_HOUR + past / 3600, color=CLASS_COLORS["discovery"], lw=0.8,
                       label=f"{clock(past)} discovery past its timeout" if k == 0 else None)
    _clock_axis(axes[2])
    label_axes(axes[0], "One shared FIFO: telemetry's expensive API calls fill the queue", "",
               "requests waiting")
    label_axes(axes[1], "One queue, one wait: soon longer than every timeout", "",
               "time in system (s), 10-s mean")
    label_axes(axes[2], "Answered before the client gave up", "Pacific time (hh:mm)",
               "% of attempts")
    # one legend for the classes and the moments (the colours mean the same in every panel),
    # one for the timeouts; beside the panels, never on a line
    axes[0].legend(title="class, and moments", fontsize=8, loc="upper left",
                   bbox_to_anchor=(1.01, 1))
    axes[1].legend(title="dashed: client timeout", fontsize=8, loc="upper left",
                   bbox_to_anchor=(1.01, 1))
    return fig


def dns_figure(r, a: Assumptions = Assumptions(), fig=None):
    """Records that still resolve (top) and the discovery traffic (below), with the last refresh
    and the cache expiry marked.

    The model's cache lets every record expire at the same moment, ``dns_stale_s`` after the last
    refresh: a simplification, labelled as such on the figure. In the postmortem the cached
    records expired over the roughly 20 minutes that followed, not all at one moment.
    """
    h = _hours(r)
    fig, (ax1, ax2) = new_figure(1, 2, (9, 5), fig, sharex=True)
    ax1.plot(h, 100 * resolving_fraction(r), color=CLASS_COLORS["discovery"],
             label="service names that resolve")
    ax1.set_ylim(-3, 105)
    ax2.plot(h, r.rate("discovery", "attempts", 60), color=CLASS_COLORS["discovery"], lw=1,
             label="discovery requests to the API servers (1-min mean)")
    ok = r.series("discovery", "successes_tick") > 0
    stalled = r.first_time((r.time_s > at(a.deploy_at)) & ~ok)
    if stalled is not None:
        expiry = START_HOUR + (stalled + a.dns_stale_s) / 3600
        for k, ax in enumerate((ax1, ax2)):
            ax.axvline(START_HOUR + stalled / 3600, color="#777777", ls=":", lw=1,
                       label=f"{clock(stalled)} last successful refresh" if k == 0 else None)
            ax.axvline(expiry, color=COLORS["crash"], ls="--", lw=1,
                       label=(f"{clock(stalled + a.dns_stale_s)} cache expiry, "
                              f"+{a.dns_stale_s / 60:.0f} min" if k == 0 else None))
        ax1.annotate("model: all names expire at once\n(a simplification; in the postmortem\n"
                     "records ran out over ~20 min)", (expiry, 50), xytext=(6, 0),
                     textcoords="offset points", fontsize=8, va="center")
    _clock_axis(ax2)
    label_axes(ax1, "The DNS cache hides the failure...", "", "names that resolve (%)")
    label_axes(ax2, "...then re-resolution adds load", "Pacific time (hh:mm)",
               "requests per second")
    ax1.legend(loc="lower left", fontsize=8)
    ax2.legend(loc="upper left", fontsize=8)
    return fig


def admin_figure(r, a: Assumptions = Assumptions(), fig=None):
    """The operator's delete: attempts, and how long each would have had to wait."""
    h = _hours(r)
    fig, (ax,) = new_figure(1, 1, (9, 3.5), fig)
    ax.plot(h, r.latency("admin", 60), color=CLASS_COLORS["admin"],
            label="operator's delete: time in system (1-min mean)")
    ax.axhline(a.admin_timeout_s, color=CLASS_COLORS["admin"], ls="--",
               label=f"operator gives up after {a.admin_timeout_s:.0f} s")
    ax.set_ylim(0, None)
    _mark(ax, a, ("deploy_at", "admin_from"))
    _clock_axis(ax)
    label_axes(ax, "Locked out: the delete waits behind telemetry's expensive API calls",
               "Pacific time (hh:mm)", "time in system (s)")
    ax.legend(fontsize=8)
    return fig


def run_fixes(a: Assumptions = Assumptions(), rng=2024, base=None) -> dict:
    """For each fix: ``{fix: (run without the operator's delete, run with it)}``, plus
    ``"none"``. ``base``: the run without fixes, if already made with the same ``a`` and
    ``rng`` (its delete never succeeds, so it serves as both)."""
    if base is None:
        base = run_incident(a, rng=rng)
    if first_admin_success(base) is not None:
        raise InputError("base: the operator's delete succeeds in this run without fixes, so "
                         "it cannot stand for the run without the delete; pass base=None.")
    out = {"none": (base, base)}
    for f in FIXES:
        out[f] = tuple(run_incident(a, rng=rng, fixes=(f,), removal=rm) for rm in (False, True))
    return out


def _minutes_to_restore(r, a):
    back = restored_at(r)
    if back is None:
        return None
    return max(0.0, (back - at(a.fix_at)) / 60)


def fixes_figure(results: dict, a: Assumptions = Assumptions(), fig=None):
    """Per fix: minutes from the fix until names resolve again (alone, and once the operator's
    delete gets through), and what each class gets at the end when the fix acts alone."""
    names = list(results)
    y = np.arange(len(names))
    end = (results[names[0]][0].time_s[-1] - at(a.fix_at)) / 60
    fig, (ax1, ax2) = new_figure(2, 1, (11, 4.2), fig, sharey=True)
    for j, (label, col) in enumerate((("the fix alone", "#999999"),
                                      ("then the operator's delete", "#000000"))):
        for k, name in enumerate(names):
            m = _minutes_to_restore(results[name][j], a)
            off = -0.2 + 0.4 * j
            if m is None:
                ax1.barh(k + off, end, height=0.38, color="none", edgecolor=col, hatch="//")
            else:
                ax1.barh(k + off, max(m, 0.3), height=0.38, color=col)
                ax1.annotate(f"{m:.0f} min", (max(m, 0.3), k + off), xytext=(3, -3),
                             textcoords="offset points", fontsize=7)
    ax1.set_yticks(y, [n.replace("_", " ") for n in names])
    ax1.invert_yaxis()
    label_axes(ax1, f"Names resolving again after the fix at {a.fix_at}",
               "minutes after the fix", "")
    ax1.legend(handles=[Patch(color="#999999", label="the fix alone"),
                        Patch(color="#000000", label="then the operator's delete"),
                        Patch(facecolor="none", edgecolor="#777777", hatch="//",
                              label=f"not restored by {clock(a.duration_s)}")],
               fontsize=7, loc="lower right")
    width = 0.8 / len(CLASS_COLORS)
    for j, cls in enumerate(CLASS_COLORS):
        vals = [100 * np.nan_to_num(results[n][0].goodput_fraction(cls, 600)[-1]) for n in names]
        ys = y - 0.4 + width * (j + 0.5)
        ax2.barh(ys, vals, height=width, color=CLASS_COLORS[cls], label=cls)
        for n, v, yy in zip(names, vals, ys):   # a bar of length 0 is invisible: say so
            if v < 0.5:
                blocked = any(w.field == "blocked" and w.cls == cls
                              for w in results[n][0].model.switches)
                ax2.annotate(f"{cls}: 0 %" + (" (blocked at the network)" if blocked else ""),
                             (0, yy), xytext=(3, 0), textcoords="offset points", fontsize=7,
                             va="center", color=CLASS_COLORS[cls])
    ax2.set_xlim(0, 105)
    label_axes(ax2, f"The fix alone: answered in time, last 10 min to {clock(a.duration_s)}",
               "% of attempts", "")
    ax2.legend(fontsize=7, loc="lower right")
    return fig


def fixes_table(results: dict, a: Assumptions = Assumptions()) -> None:
    """Print, per fix, when names resolve again: alone, and with the operator's delete."""
    print(f"{'fix':>16}  {'alone':>12}  {'delete gets through':>19}  {'then resolving':>14}")
    for name, (alone, with_rm) in results.items():
        o1, o2 = outcome(alone), outcome(with_rm)
        print(f"{name:>16}  {o1['names resolving again at']:>12}  "
              f"{o2['operator' + chr(39) + 's delete succeeds at']:>19}  "
              f"{o2['names resolving again at']:>14}")


# -- retries: amplification and a metastable state ------------------------------------------------
def retry_storm_model(backoff_s: float = 0.0, retries: int = 3, duration_s: float = 600.0):
    """A generic server at 70% load whose capacity drops to 40% for one minute (the trigger).

    700 clients send 700 requests/s of 0.1 seat-seconds to 100 seats (1,000 requests/s), wait
    2 s, and retry ``retries`` times, at once or with a backoff starting at ``backoff_s``; the
    FIFO holds 5,000 requests (5 s of work). All numbers are illustrative.
    """
    c = TrafficClass("clients", rate_per_s=700, cost_s=0.1, timeout_s=2, clients=700,
                     retries=retries, backoff_s=backoff_s, backoff_cap_s=30)
    return ApiServerModel(classes=(c,), seats=100, fifo_limit=5000, duration_s=duration_s,
                          switches=(Switch(60, "seats", 40), Switch(120, "seats", 100)))


def retry_storm_figure(runs: dict, fig=None):
    """Goodput and attempts per second of :func:`retry_storm_model` runs, trigger shaded."""
    fig, (ax1, ax2) = new_figure(2, 1, (11, 3.8), fig, sharex=True)
    styles = (("#D55E00", "-"), ("#0072B2", "-"), ("#009E73", ":"), ("#000000", "-."))
    for (col, ls), (name, r) in zip(styles, runs.items()):
        ax1.plot(r.time_s, r.rate("clients", "succeeded", 10), color=col, ls=ls, label=name)
        ax2.plot(r.time_s, r.rate("clients", "attempts", 10), color=col, ls=ls, label=name)
    for ax in (ax1, ax2):
        ax.axvspan(60, 120, color="#999999", alpha=0.2, label="trigger: capacity 40%")
        ax.axhline(1000, color=COLORS["theory"], ls="--", lw=0.9, label="capacity (req/s)")
    label_axes(ax1, "Goodput: answered before the timeout", "time (s)", "requests per second")
    label_axes(ax2, "Attempts sent (new + retries)", "time (s)", "attempts per second")
    ax1.legend(fontsize=8, loc="center right")
    return fig


# -- the explorer --------------------------------------------------------------------------------
#: Tick of the dashboard's runs (s): the story's own 2 s, now that the compiled API-server model
#: runs the default setting in about 25 ms, so the dashboard shows the very run its still twin
#: (show_outage) draws.
PREVIEW_DT_S = 2.0


@lru_cache(maxsize=8)
def outage_run(nodes=2500, per_node_rate=0.5, api_servers=3, fairness=False,
                retry="immediate", a: Assumptions = Assumptions(), rng=2024):
    """``(assumptions, run)`` behind :func:`show_outage`, the last few remembered: a still twin
    and the cells around it share a run. (The dashboard remembers its own frames, a few hundred
    kB each, where a run holds megabytes.)

    Treat the result as read-only (it is shared by every call with the same arguments).
    """
    a = replace(a, nodes=int(nodes), per_node_rate_per_s=float(per_node_rate),
                api_servers=int(api_servers))
    return a, run_incident(a, rng=rng, fairness=bool(fairness), retry=retry)


def outcome_text(r) -> str:
    """:func:`print_outcome` as a string (without the last newline)."""
    return "\n".join(f"{k:>32}: {v}" for k, v in outcome(r).items())


def draw_outage(fig, r, a: Assumptions, fairness: bool, retry: str, light=False) -> None:
    """Names resolving, and time in system per class, of one run, into the empty ``fig``
    (``light``: fewer ticks, for a quick redraw)."""
    h = _hours(r)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(h, 100 * resolving_fraction(r), color=CLASS_COLORS["discovery"])
    ax1.set_ylim(-3, 105)
    for c in r.model.classes:
        ax2.plot(h, r.latency(c.name), color=CLASS_COLORS[c.name], label=c.name)
        ax2.axhline(c.timeout_s, color=CLASS_COLORS[c.name], ls="--", lw=0.8)
    _plain_log(ax2)
    for ax in (ax1, ax2):
        _clock_axis(ax, max_ticks=5 if light else 10)
    t1, t2 = _titles(a, fairness, retry)
    label_axes(ax1, t1, "Pacific time (hh:mm)", "service names that resolve (%)")
    label_axes(ax2, t2, "Pacific time (hh:mm)", "time in system (s); dashed: timeout")
    ax2.legend(fontsize=8)


def _titles(a: Assumptions, fairness: bool, retry: str):
    return (f"{a.nodes:,} nodes (tips at ~{tipping_nodes(a):,.0f})",
            f"{'fairness' if fairness else 'shared FIFO'}, {retry} retries")


def render_outage(fig, nodes, per_node_rate, api_servers, fairness, retry):
    """The explorer's redraw: a coarse-tick run (cached), drawn; returns the outcome lines.

    The first redraw draws everything; later ones only give the curves their new data and the
    axes their new titles and limits (building axes and ticks afresh is half a redraw's cost).
    """
    a, r = outage_run(nodes, per_node_rate, api_servers, fairness, retry,
                       replace(Assumptions(), dt_s=PREVIEW_DT_S))
    if getattr(fig, "_bpsim_outage", None) != tuple(fig.axes):
        fig.clear()
        draw_outage(fig, r, a, fairness, retry, light=True)
        lighten(fig)
        fig._bpsim_outage = tuple(fig.axes)
        return outcome_text(r)
    ax1, ax2 = fig.axes
    h = _hours(r)
    ax1.lines[0].set_data(h, 100 * resolving_fraction(r))
    curves = [ln for ln in ax2.lines if ln.get_label() in CLASS_COLORS]
    for line, c in zip(curves, r.model.classes):
        line.set_data(h, r.latency(c.name))
    ax2.relim()
    ax2.autoscale_view()
    for ax, title in zip((ax1, ax2), _titles(a, fairness, retry)):
        ax.set_title(title)
    return outcome_text(r)


def chart_outage(nodes, per_node_rate, api_servers, fairness, retry) -> charts.Frame:
    """The explorer's browser chart: the run :func:`show_outage` draws (story's tick, cached),
    as names resolving and time in system per class, with the outcome lines under it."""
    a, r = outage_run(nodes, per_node_rate, api_servers, fairness, retry,
                      replace(Assumptions(), dt_s=PREVIEW_DT_S))
    h = _hours(r)
    t1, t2 = _titles(a, fairness, retry)
    x_label = "Pacific time (hh:mm)"
    names = charts.Panel(t1, x_label, "service names that resolve (%)", xformat="clock",
                         ylim=(-3.0, 105.0))
    x, (y,) = charts.envelope(h, [100 * resolving_fraction(r)])
    names.line("names resolving", x, y, CLASS_COLORS["discovery"])
    lat = charts.Panel(t2, x_label, "time in system (s); dashed: timeout", yscale="log",
                       xformat="clock")
    classes = list(r.model.classes)
    x, ys = charts.envelope(h, [r.latency(c.name) for c in classes])
    for c, y in zip(classes, ys):
        lat.line(c.name, x, y, CLASS_COLORS[c.name])
    for c in classes:
        lat.hline(f"{c.name} timeout ({c.timeout_s:g} s)", c.timeout_s, CLASS_COLORS[c.name],
                  width=0.8, dash=[6, 4])
    return charts.Frame([names, lat], outcome_text(r), preformatted=True)


def show_outage(nodes=2500, per_node_rate=0.5, api_servers=3, fairness=False, retry="immediate",
            a: Assumptions = Assumptions(), rng=2024):
    """Run one variant at the story's tick, draw names resolving and time in system per class,
    and print the outcome (the static twin of :func:`outage_dashboard`)."""
    a, r = outage_run(nodes, per_node_rate, api_servers, fairness, retry, a, rng)
    fig = plt.figure(figsize=(11, 3.8), layout="constrained")
    draw_outage(fig, r, a, fairness, retry)
    plt.show()
    print_outcome(r)


def outage_dashboard(nodes=2500, per_node_rate=0.5, api_servers=3, fairness=False,
                     retry="immediate") -> Dashboard:
    """Sliders over :func:`show_outage`, as a :class:`bpsim.viz.dashboard.Dashboard` (needs
    ipywidgets and anywidget): the story's tick (:data:`PREVIEW_DT_S`), runs remembered, a
    browser chart (:func:`chart_outage`) that follows the sliders while they move."""
    import ipywidgets as w
    style = {"description_width": "150px"}
    controls = {
        # 50 nodes a step (71 of them): a pointer drag reaches a new value every few pixels, so
        # the chart follows it; every value of the story (multiples of 250) is still on it
        "nodes": slider(nodes, 500, 4000, 50, "nodes"),
        "per_node_rate": slider(per_node_rate, 0.1, 1.0, 0.1, "req/s/node", integer=False),
        "api_servers": slider(api_servers, 1, 10, 1, "API servers"),
        "fairness": w.Checkbox(value=fairness, description="priority & fairness", style=style),
        "retry": w.ToggleButtons(options=["immediate", "backoff"], value=retry,
                                 description="retries", style=style),
    }
    return Dashboard(controls, render_outage, chart_outage, figsize=(11, 3.8), preformatted=True,
                     margins=dict(left=0.07, right=0.985, bottom=0.15, top=0.91, wspace=0.22))


def servers_needed(a: Assumptions = Assumptions()) -> int:
    """API servers whose seats cover the production cluster's load (telemetry plus discovery)."""
    load = float(telemetry_load(a.nodes, a)) + baseline_load(a)
    return math.ceil(load / a.seats_per_server)


# -- answers the notebook checks a learner's guesses against -------------------------------------
def minutes_to_first_timeout(r, a: Assumptions = Assumptions(), cls: str = "discovery") -> float:
    """Minutes from telemetry's switch-on until ``cls``'s requests first outlast their timeout."""
    t = timeout_passed_at(r, cls)
    return float("nan") if t is None else round((t - at(a.deploy_at)) / 60, 1)


def _cache_times(r, a: Assumptions):
    """``(stalled, half)``: when refreshes stopped succeeding after the rollout, and when half the
    names no longer resolved (s)."""
    ok = r.series("discovery", "successes_tick") > 0
    stalled = r.first_time((r.time_s > at(a.deploy_at)) & ~ok)
    return stalled, r.first_time(resolving_fraction(r) < 0.5)


def minutes_cache_lasts(r, a: Assumptions = Assumptions()) -> float:
    """Minutes from the last successful DNS refresh until half the names no longer resolve."""
    stalled, half = _cache_times(r, a)
    return round((half - stalled) / 60, 1)


def deletes_answered(r) -> int:
    """How many of the operator's delete attempts were answered in time."""
    return int(r.books("admin")["succeeded"])


def storm_answered_per_s(r, last_s: float = 120.0) -> float:
    """Requests answered per second over the last ``last_s`` of a retry-storm run."""
    return round(float(r.rate("clients", "succeeded", last_s)[-1]), 0)


def print_storm_setup(m=None) -> None:
    """The retry-storm model's numbers, as the notebook states them."""
    m = retry_storm_model() if m is None else m
    c = m.classes[0]
    capacity = m.seats / c.cost_s
    low = next(w for w in m.switches if w.field == "seats")
    print(f"{c.rate_per_s:g} requests/s of {c.cost_s:g} seat-s to {m.seats:g} seats "
          f"({c.rate_per_s / capacity:.0%} load)")
    print(f"from {low.at_s:g} s to {m.switches[1].at_s:g} s only {low.value:g} seats "
          f"({1 - low.value / m.seats:.0%} of the capacity lost)")
    print(f"clients wait {c.timeout_s:g} s and retry up to {c.retries} times; the queue holds "
          f"{m.fifo_limit:,} requests ({m.fifo_limit / capacity:g} s of work)")


def queue_minutes_of_work(a: Assumptions = Assumptions(), fifo_limit: int = 50_000) -> float:
    """How long the API servers need to work through a full naive queue of ``fifo_limit``
    requests, at the collapse's mix (telemetry requests of the production cluster), in minutes."""
    cost = float(telemetry_cost_s(a.nodes, a))
    return round(fifo_limit * cost / seat_capacity(a) / 60, 1)
