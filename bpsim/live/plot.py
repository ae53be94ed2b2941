"""Figures of live runs, in the series' palette (:mod:`bpsim.plots`).

A live run is drawn in its strategy's colour: ``drop_newest`` (orange) without backpressure,
``block`` (blue) with it, as solid lines; bpsim's prediction for the same parameters is the same
colour, dashed. Every helper returns its ``Figure``.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..plots import COLORS, label_axes, strategy_color

WINDOW_S = 0.5


def _rate(t, cumulative, window=WINDOW_S):
    """Messages per second over consecutive windows of ``window`` s: (window ends, rates)."""
    t = np.asarray(t, float)
    cumulative = np.asarray(cumulative, float)
    if t.size < 2:
        return np.array([]), np.array([])
    edges = np.arange(t[0], t[-1] + 1e-9, window)
    counts = np.interp(edges, t, cumulative)
    return edges[1:], np.diff(counts) / window


def live_run_figure(snapshots, title="Live consumer"):
    """Buffer depth, cumulative counts and throughput from a list of stats snapshots."""
    t = np.array([s["t"] for s in snapshots], float)
    cap = snapshots[-1]["capacity"]
    color = strategy_color("block" if snapshots[-1]["backpressure"] else "drop_newest")
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True, constrained_layout=True)
    axes[0].plot(t, [s["buffered"] for s in snapshots], color=color, label="buffer depth")
    axes[0].axhline(cap, color=COLORS["limit"], ls=":", label=f"capacity ({cap})")
    label_axes(axes[0], title, "", "messages in buffer")
    axes[0].legend(loc="upper left")
    axes[1].plot(t, [s["processed"] for s in snapshots], color=COLORS["consumer"], label="processed")
    axes[1].plot(t, [s["dropped"] for s in snapshots], color=COLORS["limit"], label="dropped")
    axes[1].plot(t, [s["received"] for s in snapshots], color=COLORS["producer"], label="received")
    label_axes(axes[1], "", "", "messages (cumulative)")
    axes[1].legend(loc="upper left")
    te, rate = _rate(t, [s["processed"] for s in snapshots])
    axes[2].step(te, rate, where="post", color=color, label="throughput")
    axes[2].axhline(1 / snapshots[-1]["service_time"], color=COLORS["theory"], ls="--",
                    label="service rate")
    label_axes(axes[2], "", "time since the consumer started (s)", "processed (msg/s)")
    axes[2].legend(loc="lower right")
    return fig


def compare_figure(runs, sims, title="Live run beside bpsim's prediction"):
    """Buffer depth, throughput and drops of live runs (solid) and simulations (dashed).

    ``runs`` are :class:`bpsim.live.harness.LiveRun` and ``sims`` the matching
    :class:`bpsim.Result` (:func:`bpsim.live.harness.simulate_like`).
    """
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    for run, sim in zip(runs, sims):
        bp = run.params["backpressure"]
        color = strategy_color("block" if bp else "drop_newest")
        name = "backpressure" if bp else "no backpressure"
        tr, end = run.trace, run.params["duration"]
        keep = (tr["t"] >= 0) & (tr["t"] <= end)
        t = tr["t"][keep]
        axes[0].plot(t, tr["buffered"][keep], color=color, label=f"{name}: live")
        axes[0].plot(sim.time_s, sim.queue_depth, color=color, ls="--", label=f"{name}: bpsim")
        te, rate = _rate(t, tr["processed"][keep])
        axes[1].step(te, rate, where="post", color=color, label=f"{name}: live")
        se, srate = _rate(sim.time_s, np.cumsum(sim.delivered))
        axes[1].step(se, srate, where="post", color=color, ls="--", label=f"{name}: bpsim")
        axes[2].plot(t, tr["dropped"][keep], color=color, label=f"{name}: live")
        axes[2].plot(sim.time_s, np.cumsum(sim.dropped), color=color, ls="--",
                     label=f"{name}: bpsim")
    cap = runs[0].params["capacity"]
    axes[0].axhline(cap, color=COLORS["limit"], ls=":", lw=1, label=f"capacity ({cap})")
    label_axes(axes[0], "Buffer depth", "time since the first message (s)", "messages in buffer")
    label_axes(axes[1], f"Throughput ({WINDOW_S:g} s windows)", "time since the first message (s)",
               "processed (msg/s)")
    label_axes(axes[2], "Dropped", "time since the first message (s)", "messages (cumulative)")
    axes[1].set_ylim(bottom=0)
    axes[0].legend(fontsize=8, loc="lower right")
    axes[2].legend(fontsize=8, loc="upper left")
    fig.suptitle(title)
    return fig


def hidden_buffers_figure(rows, service_rate, title="Hidden buffers before the producer feels it"):
    """Horizontal bars: messages held by each hidden buffer, one row per configuration.

    ``rows`` maps a label to :func:`bpsim.live.buffers.hidden_messages` output. The x axis is
    logarithmic (the defaults hold hundreds of times more than the shrunk buffers); each bar is
    annotated with how long the consumer needs to work through that many messages.
    """
    parts = [("kernel", "kernel socket buffers", COLORS["memory"]),
             ("asyncio_write_buffer", "asyncio write buffer", COLORS["producer"]),
             ("consumer_read", "consumer's last read", COLORS["consumer"])]
    fig, ax = plt.subplots(figsize=(9, 2.8), constrained_layout=True)
    labels = list(rows)
    for i, label in enumerate(labels):
        left = 0.5
        for key, name, color in parts:
            n = rows[label][key]
            if n:
                ax.barh(i, n, left=left, color=color, label=name if i == 0 or not ax.containers
                        else None)
                left += n
        total = rows[label]["total"]
        ax.text(left * 1.1, i, f"{total:,} messages = {total / service_rate:,.1f} s of work",
                va="center", fontsize=9)
    ax.set_xscale("log")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlim(0.5, max(r["total"] for r in rows.values()) * 40)
    handles, names = ax.get_legend_handles_labels()
    uniq = dict(zip(names, handles))
    ax.legend(uniq.values(), uniq.keys(), fontsize=8, loc="lower right")
    label_axes(ax, title, "messages held (log scale)", "")
    ax.grid(True, axis="x", alpha=0.3)
    return fig
