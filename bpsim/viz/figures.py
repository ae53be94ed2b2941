"""Figures of runs: every axis labelled with units, one colour per strategy (:mod:`.palette`).

The one convention of every figure in bpsim: a function takes ``fig=`` (a Figure to draw into,
cleared first) or ``ax=`` (one Axes, for a figure of one panel), and returns the Figure. Every
figure helper returns its ``Figure`` and leaves showing it to the caller: a notebook shows it when
the cell ends. Assign the result (``fig = figures.plot_strategy(r)``) so that the figure is shown
once and its repr not at all; a trailing ``;`` does that in JupyterLab but is ignored when nbval
runs the cells, which then see one output more than was saved.

Each helper takes an optional ``fig``: a ``matplotlib.figure.Figure`` to draw into, cleared first.
The dashboards (:mod:`bpsim.viz.dashboard`) pass their own figure, outside pyplot, so a redraw neither
piles up figures nor shows them twice. Without ``fig`` a new pyplot figure is made.

Long runs have hundreds of thousands of ticks; lines are thinned to a few thousand points before
drawing, which looks the same and draws many times faster.

>>> import bpsim
>>> from bpsim.viz import figures
>>> r = bpsim.simulate(strategy="drop_newest", duration_s=5, dt_s=0.01, rng=1)
>>> fig = figures.plot_strategy(r)
>>> [ax.get_ylabel() for ax in fig.axes]
['Messages waiting (count)', 'Latency (s)', 'Messages offered so far (count)']
>>> import matplotlib.pyplot as plt
>>> plt.close(fig)
"""
from __future__ import annotations

import math

import numpy as np

from .palette import COLORS, OUTCOMES, STRATEGY_COLORS, VARIANT_COLORS, strategy_color

#: Most points drawn per line.
MAX_POINTS = 2500


def label_axes(ax, title: str, xlabel: str, ylabel: str) -> None:
    """Title and labelled axes (units in the labels), the way every figure here has them."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)


# -- small pieces ------------------------------------------------------------------------------
def new_figure(ncols: int = 1, nrows: int = 1, figsize=(10, 3.6), fig=None, **subplots):
    """A figure with ``nrows x ncols`` axes: ``fig`` cleared and reused, or a new pyplot figure.

    Returns ``(fig, axes)`` with ``axes`` a flat list. ``subplots`` go to ``Figure.subplots``
    (``sharex=True``...). Every figure function in bpsim starts here, which is how each of them
    takes ``fig=`` and returns the Figure.
    """
    if fig is None:
        import matplotlib.pyplot as plt
        fig = plt.figure(figsize=figsize, layout="constrained")
    else:
        fig.clear()
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplots)
    return fig, list(axes.ravel())


def thin(*arrays, max_points: int = MAX_POINTS):
    """Every k-th element of each array, so that at most about ``max_points`` remain."""
    n = len(arrays[0])
    step = max(1, math.ceil(n / max_points))
    out = tuple(np.asarray(a)[::step] for a in arrays)
    return out if len(out) > 1 else out[0]


def _name(result) -> str:
    return result.strategy.name


def _mark_crashes(ax, result, y=None):
    """A vertical dashed line at each crash, or an X at height ``y`` (an array per tick)."""
    for i, t in enumerate(result.crash_times_s):
        label = _crash_label(result) if i == 0 else None
        if y is None:
            ax.axvline(t, color=COLORS["crash"], lw=1.2, ls="--", label=label)
        else:
            k = max(0, min(len(y) - 1, int(round(t / result.scenario.dt_s)) - 1))
            ax.plot([t], [y[k]], marker="X", ms=11, ls="none", color=COLORS["crash"],
                    mec="black", mew=0.5, label=label)


def _crash_label(result) -> str:
    """``crash at 111.1 s``, or ``3 crashes, first at 0.2 s`` when the server died again."""
    times = result.crash_times_s
    if len(times) > 1:
        return f"{len(times)} crashes, first at {times[0]:.1f} s"
    return f"crash at {times[0]:.1f} s"


def _legend(ax, **kwargs):
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize="small", **kwargs)


# -- one run -----------------------------------------------------------------------------------
def plot_queue_and_memory(result, fig=None, theory: bool = True):
    """Queue depth and server memory over time, with the memory limit and the crash marked.

    Parameters
    ----------
    result : bpsim.Result
    fig : matplotlib.figure.Figure, optional
        Figure to draw into (cleared first).
    theory : bool
        Draw the closed forms too: the queue growing by ``lambda - mu`` per second, and the time
        at which that fills the memory (see :mod:`bpsim.theory`).
    """
    from ..theory import queue_growth_per_s, time_to_exhaust_memory_s
    sc = result.scenario
    fig, (ax_q, ax_m) = new_figure(2, fig=fig)
    color = strategy_color(_name(result))
    t, depth, mem = thin(result.time_s, result.queue_depth, result.memory_bytes)
    ax_q.plot(t, depth, color=color, lw=1.8, label=f"simulated ({_name(result)})")
    mu = sc.consumer_rate * sc.consumers
    t_crash = time_to_exhaust_memory_s(sc.producer_rate, mu, sc.memory_limit_bytes,
                                       sc.message_bytes)
    if theory and not result.strategy.bounded and queue_growth_per_s(sc.producer_rate, mu) > 0:
        t_end = min(t_crash, sc.duration_s)
        growth = queue_growth_per_s(sc.producer_rate, mu)
        ax_q.plot([0, t_end], [0, growth * t_end], color=COLORS["theory"], ls=":", lw=1.5,
                  label=f"closed form: +{growth:,.0f} msg/s")
    _mark_crashes(ax_q, result, y=result.queue_depth)
    label_axes(ax_q, "Messages waiting in the queue", "Time (s)", "Queue depth (messages)")
    top = float(np.max(depth)) if len(depth) else 0.0
    # Room above the data for the legend: an early crash would sit under it otherwise.
    ax_q.set_ylim(-0.03 * top, 1.45 * top if top > 0 else 1.0)
    _legend(ax_q, loc="upper left")

    ax_m.plot(t, mem / 1e6, color=color, lw=1.8, label="memory used")
    ax_m.axhline(sc.memory_limit_bytes / 1e6, color=COLORS["limit"], lw=1, ls="-", alpha=0.6,
                 label=f"memory limit ({sc.memory_limit_bytes / 1e6:g} MB)")
    if theory and not result.strategy.bounded and math.isfinite(t_crash) \
            and t_crash <= sc.duration_s:
        ax_m.axvline(t_crash, color=COLORS["theory"], ls=":", lw=1.5,
                     label=f"closed form: {t_crash:.1f} s")
    for i, t_c in enumerate(result.crash_times_s):
        ax_m.plot([t_c], [sc.memory_limit_bytes / 1e6], marker="X", ms=11, ls="none",
                  color=COLORS["crash"], mec="black", mew=0.5,
                  label=_crash_label(result) if i == 0 else None)
    label_axes(ax_m, "Server memory for messages", "Time (s)", "Memory (MB)")
    ax_m.set_ylim(0, sc.memory_limit_bytes / 1e6 * 1.45)
    _legend(ax_m, loc="upper left")
    return fig


def plot_latency(result, ax=None, top_s=None):
    """End-to-end latency of every delivered message against the time it was delivered.

    Parameters
    ----------
    result : bpsim.Result
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure otherwise.
    top_s : float, optional
        The top of the latency axis (s): give figures that are compared the same one.
    """
    if ax is None:
        fig, (ax,) = new_figure(1, figsize=(6, 3.6))
    t, lat = thin(result.delivery_time_s, result.latency_s)
    ax.plot(t, lat, ".", ms=2.5, color=strategy_color(_name(result)), label=_name(result))
    _mark_crashes(ax, result)
    timeout = getattr(result.scenario, "client_timeout_s", None)
    if timeout is not None:
        ax.axhline(timeout, color=COLORS["limit"], ls="--", lw=1.2,
                   label=f"client timeout ({timeout:g} s): served later is wasted")
    what = "delivered" if timeout is None else "served"
    label_axes(ax, f"Latency of {what} messages ({_name(result)})", "Delivery time (s)",
               "Latency (s)")
    top = float(np.max(lat)) if len(lat) else 1.0
    if top_s is not None:
        ax.set_ylim(0, top_s)
    else:
        ax.set_ylim(0, 1.3 * top if top > 0 else 1.0)  # room for the legend above the data
    ax.set_xlim(0, result.scenario.duration_s)
    _legend(ax, loc="upper left", markerscale=3)
    return ax.figure


def plot_outcomes(result, ax=None):
    """Where the messages went, over time: every offered message so far, stacked by its fate.

    The bands (delivered, dropped, shed, sampled out, lost in a crash, still waiting in the
    buffer, in service or in the producer) add up to the messages offered so far, at every
    moment: the accounting identity, drawn. Greys and hatches, as in :func:`plot_comparison`.
    """
    if ax is None:
        fig, (ax,) = new_figure(1, figsize=(6, 3.6))
    waiting = result.queue_depth + result.in_service + result.producer_backlog
    bands = {"delivered": np.cumsum(result.delivered), "dropped": np.cumsum(result.dropped),
             "timed_out": np.cumsum(result.timed_out), "expired": np.cumsum(result.expired),
             "shed": np.cumsum(result.shed), "sampled_out": np.cumsum(result.sampled_out),
             "lost_in_crash": np.cumsum(result.lost), "waiting": waiting}
    t = thin(result.time_s)
    below = np.zeros(len(t))
    for key, text, color, hatch in OUTCOMES:
        y = thin(bands[key])
        if not np.any(y):
            continue
        ax.fill_between(t, below, below + y, color=color, hatch=hatch, edgecolor="black",
                        lw=0.3, label=text)
        below = below + y
    ax.set_xlim(0, result.scenario.duration_s)
    ax.set_ylim(0, 1.3 * max(float(below.max()), 1.0))  # room for the legend
    label_axes(ax, f"Where the messages went ({_name(result)})", "Time (s)",
               "Messages offered so far (count)")
    _legend(ax, loc="upper left", ncol=2)
    return ax.figure


def plot_strategy(result, fig=None, latency_top_s=None):
    """One strategy at work: queue depth (with the capacity), latency, and where the messages
    went, over time. ``latency_top_s`` fixes the latency axis (s) for figures that are compared.
    """
    fig, (ax_q, ax_l, ax_o) = new_figure(3, fig=fig, figsize=(14, 3.8))
    name = _name(result)
    t, depth, cap = thin(result.time_s, result.queue_depth, result.capacity)
    ax_q.plot(t, depth, color=strategy_color(name), lw=1.8, label=f"queue depth ({name})")
    if result.strategy.bounded:
        ax_q.plot(t, cap, color=COLORS["theory"], ls=":", lw=1.5, label="capacity")
    if np.any(result.producer_backlog):
        t2, held = thin(result.time_s, result.producer_backlog)
        ax_q.plot(t2, held, color=strategy_color(name), ls="--", lw=1.2,
                  label="held by the producer")
    _mark_crashes(ax_q, result, y=result.queue_depth)
    ax_q.set_xlim(0, result.scenario.duration_s)
    buffer_top = max(float(np.max(depth)),
                     float(np.nanmax(cap)) if result.strategy.bounded else 0.0)
    top = max(buffer_top, float(np.max(result.producer_backlog)))
    if top > 10 * max(buffer_top, 1.0):
        # The producer holds far more than the buffer (block under overload): on a linear axis
        # the buffer would be a flat line at the bottom, so both go on a log scale.
        ax_q.set_yscale("symlog", linthresh=10)
        ax_q.set_ylim(0, 3 * top)
        ylabel = "Messages waiting (count, log scale)"
    else:
        ax_q.set_ylim(-0.02 * top, 1.3 * top if top > 0 else 1.0)
        ylabel = "Messages waiting (count)"
    label_axes(ax_q, f"Queue depth ({name})", "Time (s)", ylabel)
    _legend(ax_q, loc="upper left")
    plot_latency(result, ax=ax_l, top_s=latency_top_s)
    plot_outcomes(result, ax=ax_o)
    return fig


# -- several runs ------------------------------------------------------------------------------
def _styles(results):
    """Colour by strategy; a new line style each time a strategy comes back."""
    seen = {}
    styles = ("-", "--", "-.", ":")
    out = []
    for r in results.values():
        k = seen.get(_name(r), 0)
        seen[_name(r)] = k + 1
        out.append((strategy_color(_name(r)), styles[k % len(styles)]))
    return out


def plot_queue_depths(results: dict, ax=None, title="Queue depth over time", log=False,
                      events=(), legend_below=False):
    """Queue depth of several runs on one axes, coloured by strategy.

    Parameters
    ----------
    results : dict
        ``{label: Result}``; the label goes in the legend.
    ax : matplotlib.axes.Axes, optional
    title : str
    log : bool
        Symmetric-log y axis (for runs whose depths differ by orders of magnitude).
    events : sequence of (time_s, label)
        Moments to mark with a thin vertical line (a scale-out, a burst).
    legend_below : bool
        Put the legend under the axes (for many lines).
    """
    if ax is None:
        fig, (ax,) = new_figure(1, figsize=(7, 3.6))
    for (label, r), (color, ls) in zip(results.items(), _styles(results)):
        t, depth = thin(r.time_s, r.queue_depth)
        ax.plot(t, depth, color=color, ls=ls, lw=1.8, label=label)
        for t_c in r.crash_times_s[:1]:
            ax.plot([t_c], [r.summary()["max_queue_depth"]], marker="X", ms=9, color=color,
                    ls="none")
    for t_e, text in events:
        ax.axvline(t_e, color=COLORS["theory"], lw=1, ls=":")
        ax.annotate(text, (t_e, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                    textcoords="offset points", fontsize="small", color=COLORS["theory"])
    if log:
        ax.set_yscale("symlog", linthresh=10)
        ylabel = "Queue depth (messages, log scale)"
    else:
        ylabel = "Queue depth (messages)"
    label_axes(ax, title, "Time (s)", ylabel)
    if legend_below:
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
    else:
        _legend(ax, loc="upper left")
    return ax.figure


def _outcomes(summary):
    s = dict(summary)
    s["waiting"] = s["queue_end"] + s["in_service_end"] + s["producer_backlog_end"]
    return s


def plot_comparison(results: dict, fig=None):
    """All strategies side by side under the same load.

    Three panels: queue depth over time (log scale), latency percentiles of the delivered
    messages, and where every offered message ended up.

    Parameters
    ----------
    results : dict
        ``{label: Result}``, all run on the same scenario.
    fig : matplotlib.figure.Figure, optional
    """
    if fig is None:
        import matplotlib.pyplot as plt
        fig = plt.figure(figsize=(13, 4.2), layout="constrained")
    fig.clear()
    ax_q, ax_l, ax_o = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.3, 1, 1]})
    plot_queue_depths(results, ax=ax_q, title="Queue depth", log=True, legend_below=True)
    labels = list(results)
    summaries = [r.summary() for r in results.values()]  # each one sorts the latencies: once
    y = np.arange(len(labels))
    markers = (("latency_p50_s", "o", "p50"), ("latency_p95_s", "s", "p95"),
               ("latency_p99_s", "^", "p99"))
    for key, marker, text in markers:
        for i, (r, s) in enumerate(zip(results.values(), summaries)):
            v = s[key]
            if v is not None:
                ax_l.plot([v], [i], marker=marker, ms=7, ls="none",
                          color=strategy_color(_name(r)), mec="black", mew=0.5)
        ax_l.plot([], [], marker=marker, ls="none", color="#888888", mec="black", mew=0.5,
                  label=text)
    ax_l.set_xscale("log")
    ax_l.set_yticks(y, labels)
    ax_l.invert_yaxis()
    label_axes(ax_l, "Latency of delivered messages", "Latency (s, log scale)", "Strategy (name)")
    _legend(ax_l, loc="lower right")

    left = np.zeros(len(labels))
    for key, text, color, hatch in OUTCOMES:
        counts = np.array([_outcomes(s)[key] for s in summaries], dtype=float)
        offered = np.array([s["offered"] for s in summaries], dtype=float)
        share = 100 * counts / np.maximum(offered, 1)
        if not share.any():
            continue
        ax_o.barh(y, share, left=left, color=color, hatch=hatch, edgecolor="black", lw=0.5,
                  label=text)
        left += share
    ax_o.set_yticks(y, labels)
    ax_o.invert_yaxis()
    ax_o.set_xlim(0, 100)
    label_axes(ax_o, "Where the offered messages went", "Share of offered messages (%)",
               "Strategy (name)")
    ax_o.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
    for ax in (ax_l, ax_o):
        for tick, r in zip(ax.get_yticklabels(), results.values()):
            tick.set_color(strategy_color(_name(r)))
    return fig


def plot_scale_out(results: dict, events=(), fig=None):
    """Adding consumers that take time to start: the server's queue and the producer's backlog.

    Parameters
    ----------
    results : dict
        ``{label: Result}``, the same scale-out run with different strategies.
    events : sequence of (time_s, label)
        Moments to mark on both panels (when consumers were ordered, when they were ready).
    fig : matplotlib.figure.Figure, optional
    """
    fig, (ax_q, ax_b) = new_figure(2, fig=fig)
    plot_queue_depths(results, ax=ax_q, title="Messages in the server's queue", events=events)
    first = next(iter(results.values())).scenario
    limit = first.max_messages_in_memory
    ax_q.axhline(limit, color=COLORS["limit"], lw=1, alpha=0.6,
                 label=f"memory limit ({limit:,} messages)")
    ax_q.set_ylim(top=1.3 * max(limit, max(r.summary()["max_queue_depth"] for r in results.values())))
    _legend(ax_q, loc="center right")
    for (label, r), (color, ls) in zip(results.items(), _styles(results)):
        t, held = thin(r.time_s, r.producer_backlog)
        ax_b.plot(t, held, color=color, ls=ls, lw=1.8, label=label)
    for t_e, _ in events:
        ax_b.axvline(t_e, color=COLORS["theory"], lw=1, ls=":")
    label_axes(ax_b, "Messages held by the producer", "Time (s)", "Producer backlog (messages)")
    _legend(ax_b, loc="upper right")
    return fig


def plot_producer_wait(results: dict, fig=None):
    """What the producer pays: messages it holds, how the wait grows, and how long each waited.

    Left, the producer's backlog over time. Middle, how long the messages handed over at each
    moment had waited in the producer, with the line the closed form predicts for a blocked
    producer, ``(1 - mu/lambda) x t``. Right, a cumulative
    distribution: at ``x`` seconds on the axis, the share of admitted messages that waited at most
    ``x`` before the server took them (a line at 100 % from 0 means nobody waited).

    Parameters
    ----------
    results : dict
        ``{label: Result}``, typically the same scenario with and without backpressure.
    fig : matplotlib.figure.Figure, optional
    """
    fig, (ax_b, ax_g, ax_w) = new_figure(3, fig=fig, figsize=(14, 3.8))
    for (label, r), (color, ls) in zip(results.items(), _styles(results)):
        t, held = thin(r.time_s, r.producer_backlog)
        ax_b.plot(t, held, color=color, ls=ls, lw=1.8, label=label)
        tg, wait_now = thin(*_hand_over_wait(r))
        ax_g.plot(tg, wait_now, color=color, ls=ls, lw=1.8, label=label)
        wait, count = r.producer_wait_s
        if count.sum():
            share = np.concatenate([[0.0], 100 * np.cumsum(count) / count.sum()])
            edges = np.concatenate([[0.0], wait])
            ax_w.step(edges, share, where="post", color=color, ls=ls, lw=1.8, label=label)
    sc = next(iter(results.values())).scenario
    lam, mu = sc.producer_rate, sc.consumer_rate * sc.consumers
    if lam > mu:
        end = sc.duration_s
        ax_g.plot([0, end], [0, (1 - mu / lam) * end], color=COLORS["theory"], ls="--", lw=1.2,
                  label=f"closed form: {1 - mu / lam:.2g} s more per second")
    label_axes(ax_b, "Messages held by the producer", "Time (s)", "Producer backlog (messages)")
    label_axes(ax_g, "The wait grows with time", "Time of hand-over (s)",
               "Wait of the messages handed over (s)")
    label_axes(ax_w, "How long the producer waited", "Wait before hand-over, x (s)",
               "Admitted messages waiting at most x (%)")
    ax_w.set_ylim(0, 105)
    ax_w.set_xlim(left=-0.5)
    _legend(ax_b, loc="upper left")
    _legend(ax_g, loc="upper left", markerscale=4)
    _legend(ax_w, loc="lower right")
    return fig


def _hand_over_wait(result):
    """``(time_s, wait_s)``: how long the messages handed over in each tick had waited (s).

    The producer hands its messages over oldest first, so by the end of a tick in which ``A``
    messages have been admitted in all, the last one handed over is the ``A``-th message
    generated: it waited from its tick of creation to now. Exact when every offered message is
    eventually admitted in order (block); a run whose producer never held anything waited 0.
    """
    t = result.time_s
    if not np.any(result.producer_backlog):
        return t, np.zeros(len(t))
    offered = np.cumsum(result.offered)
    admitted = np.cumsum(result.admitted)
    created = np.searchsorted(offered, np.maximum(admitted, 1), side="left")  # tick index
    tick = np.arange(len(t))
    wait = np.where(admitted > 0, (tick - created) * result.scenario.dt_s, 0.0)
    # between two hand-overs the last wait holds (nothing was handed over to change it)
    handed = np.flatnonzero(result.admitted > 0)
    if handed.size:
        last = np.maximum.accumulate(np.where(result.admitted > 0, tick, 0))
        wait = wait[last]
    return t, np.maximum(wait, 0.0)


def plot_littles_law(checks: dict, ax=None):
    """Little's law on simulated runs: measured messages in the system against throughput x time.

    Parameters
    ----------
    checks : dict
        ``{label: (strategy_name, check)}`` with ``check`` from
        :func:`bpsim.theory.littles_law_check`.
    ax : matplotlib.axes.Axes, optional
    """
    if ax is None:
        fig, (ax,) = new_figure(1, figsize=(6, 4.2))
    seen = set()
    xs = []
    for label, (name, c) in checks.items():
        ax.plot([c["L_predicted"]], [c["L_measured"]], "o", ms=8, mec="black", mew=0.5,
                color=strategy_color(name), label=name if name not in seen else None)
        ax.annotate(label, (c["L_predicted"], c["L_measured"]), xytext=(6, -3),
                    textcoords="offset points", fontsize="x-small")
        seen.add(name)
        xs += [c["L_predicted"], c["L_measured"]]
    lo, hi = min(xs) / 2, max(xs) * 2
    ax.plot([lo, hi], [lo, hi], color=COLORS["theory"], ls=":", lw=1.5, label="L = throughput x W")
    ax.set_xscale("log")
    ax.set_yscale("log")
    label_axes(ax, "Little's law on simulated runs", "Throughput x mean latency (messages)",
               "Mean messages in the system (messages)")
    _legend(ax, loc="upper left")
    return ax.figure


# -- tables ------------------------------------------------------------------------------------
#: Columns of :func:`summary_table`: (summary key, header, format).
TABLE_COLUMNS = (
    ("offered", "offered", "{:,}"), ("delivered", "delivered", "{:,}"),
    ("dropped", "dropped", "{:,}"), ("shed", "shed", "{:,}"),
    ("sampled_out", "sampled out", "{:,}"), ("lost_in_crash", "lost (crash)", "{:,}"),
    ("max_queue_depth", "max queue", "{:,}"), ("latency_p99_s", "p99 latency s", "{:.2f}"),
    ("producer_wait_p99_s", "p99 prod. wait s", "{:.2f}"),
)


#: The widest line a table prints (characters): wider wraps in a 1280-pixel JupyterLab.
MAX_LINE = 100


def summary_table(results: dict, columns=TABLE_COLUMNS, max_line: int = MAX_LINE) -> str:
    """A plain-text table of the summaries of several runs, one row per run.

    Numbers are rounded so that the table prints the same on every machine. A column in which
    every run has 0 (nothing shed, say) is left out. A table wider than ``max_line`` characters
    is printed turned, one column per run.

    >>> import bpsim
    >>> r = bpsim.simulate(strategy="drop_newest", duration_s=5, dt_s=0.01, rng=1)
    >>> print(summary_table({"drop_newest": r}, columns=TABLE_COLUMNS[:3]))
    run          offered  delivered  dropped
    drop_newest    5,000        500    4,000
    """
    def fmt(value, spec):
        return "-" if value is None else spec.format(value)
    summaries = {str(label): r.summary() for label, r in results.items()}
    kept = [c for c in columns if any(s[c[0]] not in (0, None) for s in summaries.values())]
    rows = [["run"] + [head for _, head, _ in kept]]
    for label, s in summaries.items():
        rows.append([label] + [fmt(s[key], spec) for key, _, spec in kept])
    text = _layout(rows)
    if max(len(line) for line in text.splitlines()) > max_line:
        text = _layout([list(col) for col in zip(*rows)])
    return text


def _layout(rows) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


#: The three ways a system gives way, as the stability map draws them: (column, title, unit).
GIVES_WAY = (("lost_share", "Messages lost", "% of offered"),
             ("latency_p99_s", "Latency p99", "s"),
             ("peak_memory_mb", "Peak memory", "MB"))


def plot_stability_map(table, strategies=None, rows="capacity", cols="producer_rate",
                       fig=None):
    """What gives way, and where: a heatmap per strategy and per kind of failure.

    One row of panels per strategy; the columns are the share of messages lost (dropped, shed,
    sampled out or lost in a crash), the p99 latency of those delivered (log colour scale) and the
    peak memory, each over the two swept parameters (a :class:`bpsim.sweeps.Table` from
    :func:`bpsim.sweep` over ``rows``, ``cols`` and ``strategy``). Every panel of a column shares
    one colour scale, so strategies compare at a glance.

    Returns the Figure.
    """
    from matplotlib.colors import LogNorm, Normalize

    names = list(dict.fromkeys(table.columns["strategy"])) if strategies is None else strategies
    lost = sum(table.columns[k] for k in ("dropped", "shed", "sampled_out", "lost_in_crash"))
    table.columns["lost_share"] = 100 * lost / np.maximum(table.columns["offered"], 1)
    table.columns["peak_memory_mb"] = table.columns["peak_memory_bytes"] / 1e6
    fig, axes = new_figure(len(GIVES_WAY), len(names), (12, 2.3 * len(names) + 0.6), fig,
                           sharex=True, sharey=True)
    axes = np.array(axes).reshape(len(names), len(GIVES_WAY))
    for j, (key, title, unit) in enumerate(GIVES_WAY):
        values = table.columns[key]
        finite = values[np.isfinite(values) & (values > 0)]
        if key == "latency_p99_s" and finite.size:
            norm = LogNorm(vmin=max(finite.min(), 1e-3), vmax=max(finite.max(), 2e-3))
        else:
            norm = Normalize(vmin=0, vmax=max(float(np.nanmax(values)), 1e-9))
        for i, name in enumerate(names):
            r_vals, c_vals, grid = table.where(strategy=name).pivot(rows, cols, key)
            ax = axes[i, j]
            # one cell per swept value, evenly spaced whatever the values' spacing
            mesh = ax.imshow(grid, origin="lower", aspect="auto", norm=norm, cmap="viridis")
            ax.set_xticks(range(len(c_vals)), [f"{v:g}" for v in c_vals], rotation=45)
            ax.set_yticks(range(len(r_vals)), [f"{v:g}" for v in r_vals])
            ax.set_title(f"{title}: {name}", color=strategy_color(name), fontsize="medium")
            ax.set_xlabel(f"{cols.replace('_', ' ')} (msg/s)" if i == len(names) - 1 else "")
            ax.set_ylabel(f"{rows} (messages)" if j == 0 else "")
        fig.colorbar(mesh, ax=list(axes[:, j]), label=f"{title} ({unit})", shrink=0.6,
                     location="bottom", pad=0.02)
    fig.suptitle("Where each strategy gives way: loss, latency and memory over load x capacity")
    return fig


def plot_palette(fig=None):
    """The series' colours as swatches: one per strategy, then the outcomes' greys and hatches.

    Returns the Figure.
    """
    fig, (ax_s, ax_o) = new_figure(2, fig=fig, figsize=(10, 2.6))
    for i, (name, color) in enumerate(STRATEGY_COLORS.items()):
        ax_s.barh(i, 1, color=color, edgecolor="black", lw=0.5)
        ax_s.text(1.05, i, name, va="center")
    for i, (_, text, color, hatch) in enumerate(OUTCOMES):
        ax_o.barh(i, 1, color=color, hatch=hatch, edgecolor="black", lw=0.5)
        ax_o.text(1.05, i, text, va="center")
    for ax, title in ((ax_s, "One colour per strategy, in every notebook"),
                      (ax_o, "Where messages went: greys and hatches")):
        ax.set_xlim(0, 2.2)
        ax.invert_yaxis()
        ax.set_axis_off()
        ax.set_title(title)
    return fig


def throughput_and_goodput(result, window_s: float = 2.0):
    """``(time_s, throughput, goodput)``: messages served per second (in time or too late) and
    delivered in time per second (msg/s), each averaged over a trailing window of ``window_s``."""
    t, thr = _per_second(result, result.delivered + result.timed_out, window_s)
    _, good = _per_second(result, result.delivered, window_s)
    return t, thr, good


def _per_second(result, counts, window_s):
    """A count per tick (or bin) as a rate (msg/s), averaged over a trailing window of window_s."""
    step = float(np.median(np.diff(result.time_s))) if len(result.time_s) > 1 else 1.0
    k = max(1, int(round(window_s / step)))
    c = np.cumsum(np.concatenate([[0.0], np.asarray(counts, dtype=float)]))
    out = (c[k:] - c[:-k]) / (k * step)
    return result.time_s[k - 1:], out


def plot_goodput(results: dict, fig=None, window_s: float = 2.0, shade=(), ncols: int = 4):
    """Throughput against goodput over time: one panel per run, the same axes for all.

    In each panel the grey line is the *throughput* (messages the consumers finished per second,
    useful or not: served in time plus served after their client had left) and the coloured one
    the *goodput* (only those delivered while their client still waited); the gap between them is
    wasted work. Both are averaged over a trailing window of ``window_s`` seconds. ``shade`` is
    ``(start_s, stop_s)`` spans to shade (a burst).

    Returns the Figure.
    """
    n = len(results)
    cols = min(ncols, n)
    rows = -(-n // cols)
    fig, axes = new_figure(cols, rows, (3.4 * cols + 0.6, 2.8 * rows + 0.4), fig, sharex=True,
                           sharey=True)
    for ax, (label, r), color in zip(axes, results.items(), VARIANT_COLORS):
        t, thr, good = throughput_and_goodput(r, window_s)
        ax.plot(t, thr, color=COLORS["memory"], lw=1.4, label="throughput")
        ax.plot(t, good, color=color, lw=1.6, label="goodput")
        for start, stop in shade:
            ax.axvspan(start, stop, color=COLORS["memory"], alpha=0.2, lw=0)
        ax.set_xlim(0, r.scenario.duration_s)
        ax.set_ylim(0, 1.35 * max(1.0, float(np.max(thr)) if len(thr) else 1.0))
        s = r.summary()
        label_axes(ax, f"{label}\ngoodput {s['goodput_per_s']:.0f} of {s['throughput_per_s']:.0f}"
                       " msg/s", "Time (s)", "msg/s")
        _legend(ax, loc="upper right", ncol=2)
    for ax in axes[n:]:
        ax.set_axis_off()
    fig.suptitle(f"Throughput (grey) against goodput (colour), {window_s:g} s averages; "
                 "shaded: the burst")
    return fig
