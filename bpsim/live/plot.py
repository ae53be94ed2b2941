"""Figures of live runs, in the series' palette (:mod:`bpsim.plots`).

A live run is drawn in its strategy's colour: ``drop_newest`` (orange) without backpressure,
``block`` (blue) with it, as solid lines; bpsim's prediction for the same parameters is the same
colour, dashed. Every helper returns its ``Figure``.
"""
from __future__ import annotations

import numpy as np

from ..viz.figures import label_axes, new_figure
from ..viz.palette import COLORS, strategy_color

WINDOW_S = 0.5


def _rate(t, cumulative, window=WINDOW_S, start=None, stop=None):
    """Messages per second over consecutive windows of ``window`` s: (rates, window edges)."""
    t = np.asarray(t, float)
    cumulative = np.asarray(cumulative, float)
    if t.size < 2:
        return np.array([]), np.array([0.0])
    edges = np.arange(t[0] if start is None else start,
                      (t[-1] if stop is None else stop) + 1e-9, window)
    counts = np.interp(edges, t, cumulative)
    return np.diff(counts) / window, edges


def live_run_figure(snapshots, title="Live consumer", fig=None):
    """Buffer depth, cumulative counts and throughput from a list of stats snapshots."""
    t = np.array([s["t"] for s in snapshots], float)
    cap = snapshots[-1]["capacity"]
    color = strategy_color("block" if snapshots[-1]["backpressure"] else "drop_newest")
    fig, axes = new_figure(1, 3, (8, 7), fig, sharex=True)
    axes[0].plot(t, [s["buffered"] for s in snapshots], color=color, label="buffer depth")
    axes[0].axhline(cap, color=COLORS["limit"], ls=":", label=f"capacity ({cap})")
    label_axes(axes[0], title, "", "messages in buffer")
    axes[0].legend(loc="upper left")
    axes[1].plot(t, [s["processed"] for s in snapshots], color=COLORS["target"], label="processed")
    axes[1].plot(t, [s["dropped"] for s in snapshots], color=COLORS["limit"], label="dropped")
    axes[1].plot(t, [s["received"] for s in snapshots], color=COLORS["producer"], label="received")
    label_axes(axes[1], "", "", "messages (cumulative)")
    axes[1].legend(loc="upper left")
    axes[2].stairs(*_rate(t, [s["processed"] for s in snapshots]), baseline=None, color=color,
                   label="throughput")
    axes[2].axhline(1 / snapshots[-1]["service_time"], color=COLORS["theory"], ls="--",
                    label="service rate")
    label_axes(axes[2], "", "time since the consumer started (s)", "processed (msg/s)")
    axes[2].set_ylim(bottom=0)
    axes[2].legend(loc="lower right")
    return fig


def compare_figure(runs, sims, title="Live runs (solid) beside bpsim's prediction (dashed)",
                   fig=None):
    """Buffer depth, arrivals, throughput and drops of live runs and their simulations.

    ``runs`` are :class:`bpsim.live.harness.LiveRun` and ``sims`` the matching
    :class:`bpsim.Result` (:func:`bpsim.live.harness.simulate_like`). Arrivals are what the live
    consumer read from its sockets, and what bpsim offered (``drop_newest``) or admitted (``block``).
    """
    fig, axes = new_figure(2, 2, (12, 7), fig)
    axes = np.array(axes).reshape(2, 2)
    (depth, send), (done, drops) = axes
    xlabel = "time since the first message (s)"
    for run, sim in zip(runs, sims):
        bp = run.params["backpressure"]
        color = strategy_color("block" if bp else "drop_newest")
        name = "backpressure" if bp else "no backpressure"
        tr, end = run.trace, run.params["duration"]
        keep = (tr["t"] >= 0) & (tr["t"] <= end)
        t = tr["t"][keep]
        live = dict(color=color, label=f"{name}: live")
        model = dict(color=color, ls="--", label=f"{name}: bpsim")
        depth.plot(t, tr["buffered"][keep], **live)
        # bpsim's depth sampled like the live trace (every 50 ms), not every 1 ms tick.
        ts = np.arange(0, end + 1e-9, 0.05)
        depth.plot(ts, sim.queue_depth[np.minimum((ts / sim.scenario.dt_s).astype(int),
                                                  sim.queue_depth.size - 1)], **model)
        arrived = np.cumsum(sim.admitted if bp else sim.offered)
        win = dict(start=0.0, stop=end)
        send.stairs(*_rate(t, tr["received"][keep], **win), baseline=None, lw=1.5, **live)
        send.stairs(*_rate(sim.time_s, arrived, **win), baseline=None, lw=1.5, **model)
        done.stairs(*_rate(t, tr["processed"][keep], **win), baseline=None, lw=1.5, **live)
        done.stairs(*_rate(sim.time_s, np.cumsum(sim.delivered), **win), baseline=None, lw=1.5,
                    **model)
        drops.plot(t, tr["dropped"][keep], **live)
        drops.plot(sim.time_s, np.cumsum(sim.dropped), **model)
    cap = runs[0].params["capacity"]
    depth.axhline(cap, color=COLORS["limit"], ls=":", lw=1, label=f"capacity ({cap})")
    label_axes(depth, "Buffer depth", xlabel, "messages in buffer")
    label_axes(send, f"Arriving at the consumer ({WINDOW_S:g} s windows)", xlabel,
               "read (live) or admitted (bpsim), msg/s")
    label_axes(done, f"Throughput ({WINDOW_S:g} s windows)", xlabel, "processed (msg/s)")
    label_axes(drops, "Dropped", xlabel, "messages (cumulative)")
    for ax in (send, done):
        ax.set_ylim(bottom=0)
    depth.legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    return fig


def hidden_buffers_figure(rows, service_rate, title="Hidden buffers: messages held before the "
                                                    "producer feels any pressure", fig=None):
    """Grouped horizontal bars: messages each hidden buffer holds, one group per configuration.

    ``rows`` maps a label to :func:`bpsim.live.buffers.hidden_messages` output. The x axis is
    logarithmic (the defaults hold hundreds of times more than the shrunk buffers); each group's
    label says how long the consumer (``service_rate`` msg/s) needs to work through them all.
    """
    parts = [("kernel", "kernel socket buffers", COLORS["memory"]),
             ("asyncio_write_buffer", "asyncio write buffer", COLORS["producer"]),
             ("consumer_read", "consumer's last read", COLORS["consumer"])]
    fig, (ax,) = new_figure(1, 1, (10, 3.6), fig)
    labels = list(rows)
    height = 0.25
    for i, label in enumerate(labels):
        for j, (key, name, color) in enumerate(parts):
            y = i + (j - 1) * height
            n = rows[label][key]
            ax.barh(y, max(n, 0), height=height * 0.9, color=color, label=name if i == 0 else None,
                    left=0)
            ax.text(max(n, 1) * 1.15, y, f"{n:,}", va="center", fontsize=8)
    # Two decimals: a service time in hundredths of a second never leaves a half to round, so
    # the label matches a printout of total x service time (0.85 s, not 0.8 here and 0.9 there).
    ticks = [f"{label}\n{rows[label]['total']:,} messages\n"
             f"= {rows[label]['total'] / service_rate:,.2f} s of work" for label in labels]
    ax.set_xscale("log")
    ax.set_xlim(0.8, max(r["total"] for r in rows.values()) * 5)
    ax.set_yticks(range(len(labels)), ticks)
    ax.legend(fontsize=8, loc="upper right")
    label_axes(ax, title, "messages held (log scale)", "")
    ax.grid(True, axis="x", alpha=0.3)
    return fig
