"""Notebook 02, the strategies: what each does with the same overload, and who pays.

:func:`describe` reads a run in one sentence (where its messages went, what it cost); the
strategy dashboard and its still twin follow the naming rule of :mod:`bpsim.viz.dashboard`.
"""
from __future__ import annotations

from ..engine import simulate
from ..strategies import STRATEGIES
from ..viz import figures
from ..viz.dashboard import SEED, Dashboard, dropdown, lighten, preview_dt, slider, still, wrap


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
    """The preview run of :func:`strategy_dashboard` (coarse tick, fixed seed).

    ``sample_every`` is passed only to a strategy that takes it (``sample``).
    """
    own = {"sample_every": sample_every} if strategy == "sample" else {}
    return simulate(strategy=strategy, producer_rate=producer_rate, consumer_rate=consumer_rate,
                    capacity=capacity, consumers=consumers, duration_s=duration_s,
                    dt_s=preview_dt(duration_s), rng=SEED, **own)


def render_strategy(fig, strategy, producer_rate, consumer_rate, capacity, consumers,
                    sample_every):
    """Draw :func:`strategy_run`'s run into ``fig``; returns :func:`describe`'s sentence."""
    r = strategy_run(strategy, producer_rate, consumer_rate, capacity, consumers, sample_every)
    figures.plot_strategy(r, fig=fig)
    lighten(fig)
    return describe(r)


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
    return Dashboard(controls, render_strategy)
