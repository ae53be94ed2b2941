"""Notebook 02, the strategies: what each does with the same overload, and who pays.

:func:`describe` reads a run in one sentence (where its messages went, what it cost); the
strategy dashboard and its still twin follow the naming rule of :mod:`bpsim.viz.dashboard`.
"""
from __future__ import annotations

from ..engine import simulate
from ..strategies import STRATEGIES
from ..viz import figures
from ..viz import charts
from ..viz.dashboard import DT_S, SEED, Dashboard, dropdown, lighten, slider, still, wrap
from ..viz.palette import COLORS, strategy_color


def describe(result) -> str:
    """One sentence on where a run's messages went and what it cost (counts, latency, waiting)."""
    s = result.summary()
    if s["offered"] == 0:
        return (f"{s['strategy']}: the producer sent nothing in {result.scenario.duration_s:g} s, "
                "so there is nothing to deliver or lose (move the producer's slider up).")
    parts = [f"{s['strategy']}: {s['delivered']:,} of {s['offered']:,} messages delivered "
             f"({s['throughput_per_s']:.0f} msg/s)"]
    for key, what in (("dropped", "dropped"), ("shed", "refused with an error"),
                      ("sampled_out", "sampled out"), ("lost_in_crash", "lost in a crash")):
        if s[key]:
            parts.append(f"{s[key]:,} {what}")
    waiting = s["queue_end"] + s["in_service_end"]
    if waiting:
        parts.append(f"{waiting:,} still in the queue")
    if s["producer_backlog_end"]:
        parts.append(f"{s['producer_backlog_end']:,} still held by the producer")
    text = ", ".join(parts) + "."
    if s["latency_p99_s"] is not None:
        text += f" Latency p50 {s['latency_p50_s']:.2f} s, p99 {s['latency_p99_s']:.2f} s."
    wait = s["producer_wait_p99_s"]
    if wait:
        text += (f" 99 % of the messages handed over had waited at most {wait:.2f} s in the "
                 "producer.")
    return wrap(text)  # printed lines stay under 100 characters


def strategy_run(strategy="drop_newest", producer_rate=1000, consumer_rate=100, capacity=500,
                 consumers=1, sample_every=10, duration_s=30.0):
    """The run of :func:`strategy_dashboard` and :func:`show_strategy` (1 ms tick, fixed seed).

    ``sample_every`` is passed only to a strategy that takes it (``sample``).
    """
    own = {"sample_every": sample_every} if strategy == "sample" else {}
    return simulate(strategy=strategy, producer_rate=producer_rate, consumer_rate=consumer_rate,
                    capacity=capacity, consumers=consumers, duration_s=duration_s,
                    dt_s=DT_S, rng=SEED, **own)


def render_strategy(fig, strategy, producer_rate, consumer_rate, capacity, consumers,
                    sample_every):
    """Draw :func:`strategy_run`'s run into ``fig``; returns :func:`describe`'s sentence."""
    r = strategy_run(strategy, producer_rate, consumer_rate, capacity, consumers, sample_every)
    figures.plot_strategy(r, fig=fig)
    lighten(fig)
    return describe(r)


def chart_strategy(strategy, producer_rate, consumer_rate, capacity, consumers,
                   sample_every) -> charts.Frame:
    """:func:`strategy_run` as the dashboard's browser chart: what
    :func:`bpsim.viz.figures.plot_strategy` draws, and :func:`describe` under it."""
    r = strategy_run(strategy, producer_rate, consumer_rate, capacity, consumers, sample_every)
    return charts.Frame(strategy_panels(r), describe(r))


def strategy_panels(result) -> list:
    """Queue depth (with the capacity, and what the producer holds), and every latency."""
    import numpy as np
    sc, name = result.scenario, result.strategy.name
    color = strategy_color(name)
    held = np.asarray(result.producer_backlog, float)
    t, (depth, cap, held_e) = charts.envelope(result.time_s, [result.queue_depth,
                                                              result.capacity, held])
    q = charts.Panel(f"Queue depth ({name})", "Time (s)", "Messages waiting (count)",
                     xlim=(0.0, sc.duration_s))
    q.line(f"queue depth ({name})", t, depth, color)
    if result.strategy.bounded:
        q.line("capacity", t, cap, COLORS["theory"], width=1.5, dash=[2, 4])
    if np.any(held):
        q.line("held by the producer", t, held_e, color, width=1.2, dash=[8, 5])
    crashes = list(result.crash_times_s)
    if crashes:
        k = [max(0, min(len(result.queue_depth) - 1, int(round(c / sc.dt_s)) - 1))
             for c in crashes]
        q.line(_crash_label(crashes), crashes, result.queue_depth[k], COLORS["crash"],
               kind="marker", size=12)
    buffer_top = max(float(np.max(depth)), float(np.nanmax(cap)) if result.strategy.bounded
                     else 0.0)
    top = max(buffer_top, float(np.max(held)))
    if top > 10 * max(buffer_top, 1.0):   # as plot_strategy: the producer holds far more
        q.yscale, q.linthresh, q.ylim = "asinh", 10.0, (0.0, 3 * top)
        q.ylabel = "Messages waiting (count, log scale)"
    else:
        q.ylim = (-0.02 * top, 1.3 * top if top > 0 else 1.0)
    lat = charts.Panel(f"Latency of delivered messages ({name})", "Delivery time (s)",
                       "Latency (s)", xlim=(0.0, sc.duration_s))
    lt, ll = result.delivery_time_s, result.latency_s
    ltop = float(np.max(ll)) if len(ll) else 1.0
    lat.ylim = (0.0, 1.3 * ltop if ltop > 0 else 1.0)
    lx, ly = charts.scatter_cells(lt, ll, lat.xlim, lat.ylim)
    lat.line(name, lx, ly, color, kind="points", size=3)
    for c in crashes:
        lat.vline(_crash_label(crashes) if c == crashes[0] else "", c, COLORS["crash"], 0.0,
                  lat.ylim[1], width=1.2, dash=[6, 4])
    return [q, lat]


def _crash_label(times) -> str:
    if len(times) > 1:
        return f"{len(times)} crashes, first at {times[0]:.1f} s"
    return f"crash at {times[0]:.1f} s"


def show_strategy(strategy="drop_newest", producer_rate=1000, consumer_rate=100, capacity=500,
                  consumers=1, sample_every=10, *, show=True):
    """The still twin of :func:`strategy_dashboard`."""
    values = dict(strategy=strategy, producer_rate=producer_rate, consumer_rate=consumer_rate,
                  capacity=capacity, consumers=consumers, sample_every=sample_every)
    return still(render_strategy, values, (10, 3.6), show)


def strategy_dashboard(strategy="drop_newest", producer_rate=1000, consumer_rate=100,
                       capacity=500, consumers=1, sample_every=10) -> Dashboard:
    """Notebook 02's dashboard: pick a strategy and a load; queue depth and latency follow.

    Parameters
    ----------
    strategy : str
        A name from ``bpsim.STRATEGIES``.
    producer_rate, consumer_rate : int
        Starting values (msg/s); ``consumer_rate`` is per consumer.
    capacity : int
        Buffer slots (messages).
    consumers : int
        Parallel consumers.
    sample_every : int
        N of "keep 1 in N" (``sample`` only).
    """
    controls = {
        "strategy": dropdown(strategy, STRATEGIES, "strategy"),
        "producer_rate": slider(producer_rate, 0, 5000, 50, "producer (msg/s)"),
        "consumer_rate": slider(consumer_rate, 10, 2000, 10, "each consumer (msg/s)"),
        "capacity": slider(capacity, 10, 5000, 10, "capacity (messages)"),
        "consumers": slider(consumers, 1, 20, 1, "consumers (workers)"),
        "sample_every": slider(sample_every, 1, 50, 1, "sample: keep 1 in N"),
    }
    return Dashboard(controls, render_strategy, chart_strategy)


# -- two lanes of the message view (bpsim.viz.messages): the same traffic, two strategies ---------
#: A load small enough to watch message by message: 150 msg/s into 100 msg/s and 20 slots.
LANES = dict(producer_rate=150, consumer_rate=100, capacity=20)
#: The two strategies side by side, and the simulated seconds of the still twin.
LANE_STRATEGIES = ("drop_newest", "block")
LANES_SECONDS = 10.0


def lanes_dashboard():
    """The live message view with two lanes: :data:`LANES` into drop newest and block."""
    from ..viz.messages import messages_dashboard
    first, second = LANE_STRATEGIES
    return messages_dashboard(strategy=first, compare=second, **LANES)


def show_lanes():
    """The still twin of :func:`lanes_dashboard`: both lanes after :data:`LANES_SECONDS`."""
    from ..viz.messages import show_messages
    first, second = LANE_STRATEGIES
    show_messages(strategy=first, compare=second, seconds=LANES_SECONDS, bursts=(), **LANES)


def lanes_counts() -> dict:
    """What the two lanes did with the surplus after :data:`LANES_SECONDS`: ``dropped`` (drop
    newest) and ``held`` (the messages block's producer still holds). The view's runs have no
    bursts, so these are :func:`bpsim.simulate` runs on the view's seed."""
    from ..viz.messages import SEED as VIEW_SEED
    runs = {name: simulate(strategy=name, duration_s=LANES_SECONDS, rng=VIEW_SEED, **LANES)
            .summary() for name in LANE_STRATEGIES}
    return {"dropped": runs["drop_newest"]["dropped"],
            "held": runs["block"]["producer_backlog_end"]}
