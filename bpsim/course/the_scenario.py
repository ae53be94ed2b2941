"""Notebook 01, the scenario: 1,000 msg/s into 100 msg/s, an unbounded queue, and the crash.

The run behind the dashboard (:func:`crash_run`), the sentence that reads it (:func:`crash_sentence`)
and the dashboard with its still twin (naming rule: :mod:`bpsim.viz.dashboard`).
"""
from __future__ import annotations

import math

from .. import theory
from ..engine import simulate
from ..viz import figures
from ..viz.dashboard import SEED, Dashboard, lighten, preview_dt, slider, still, wrap


def crash_run(producer_rate=1000, consumer_rate=100, memory_limit_mb=100, message_bytes=1000):
    """The preview run of :func:`crash_dashboard`: an unbounded queue, long enough to crash.

    It lasts a quarter longer than the closed-form time to crash (10 s at least, 300 s at most;
    60 s when the consumer keeps up), with a tick from :func:`preview_dt`, made finer if needed so
    that one tick's arrivals stay under 2 % of the messages the memory holds: arrivals are admitted
    before the consumer serves within a tick, so a coarse tick would crash the server early.
    """
    memory = int(round(memory_limit_mb * 1e6))
    t_crash = theory.time_to_exhaust_memory_s(producer_rate, consumer_rate, memory, message_bytes)
    duration = min(300.0, max(10.0, 1.25 * t_crash)) if math.isfinite(t_crash) else 60.0
    dt = preview_dt(duration)
    if producer_rate > 0:
        dt = min(dt, max(0.001, 0.02 * (memory // message_bytes) / producer_rate))
    return simulate(strategy="unbounded", producer_rate=producer_rate,
                    consumer_rate=consumer_rate, memory_limit_bytes=memory,
                    message_bytes=message_bytes, duration_s=duration, dt_s=dt, rng=SEED)


def crash_sentence(result) -> str:
    """One sentence on an unbounded run: when it crashed (beside the closed form), what it lost.

    Wrapped so that no printed line is over 100 characters.
    """
    return wrap(_crash_sentence(result))


def _crash_sentence(result) -> str:
    sc, s = result.scenario, result.summary()
    t_crash = theory.time_to_exhaust_memory_s(sc.producer_rate, sc.consumer_rate * sc.consumers,
                                              sc.memory_limit_bytes, sc.message_bytes)
    if not s["crashed"]:
        if math.isfinite(t_crash):
            return (f"No crash within {sc.duration_s:g} s: the queue reached "
                    f"{s['max_queue_depth']:,} messages (closed form: the memory fills after "
                    f"{t_crash:.1f} s).")
        if sc.producer_rate == 0:
            return (f"The producer sends nothing, so the queue stays empty for all "
                    f"{sc.duration_s:g} s and the server never crashes.")
        depth = s["max_queue_depth"]
        return (f"The consumer keeps up: the queue never grew past {depth:,} "
                f"message{'' if depth == 1 else 's'} in {sc.duration_s:g} s, and the server "
                f"never crashes.")
    at_crash = s["lost_in_crash"] - s["lost_while_down"]
    if s["crashes"] > 1:
        again = s["crashes"] - 1
        more = "once more" if again == 1 else f"{again} more times"
        return (f"The server crashes after {s['crash_time_s']:.1f} s (closed form: "
                f"{t_crash:.1f} s), and {more} after restarting empty: {at_crash:,} "
                f"messages were lost in the crashes and "
                f"{s['lost_while_down']:,} more while it was down.")
    text = (f"The server crashes after {s['crash_time_s']:.1f} s (closed form: {t_crash:.1f} s). "
            f"The {at_crash:,} messages it held or was taking in at that moment were all lost")
    if s["lost_while_down"]:
        text += (f"; {s['lost_while_down']:,} more arrived while it restarted and were lost too.")
    else:
        text += "."
    return text


def render_crash(fig, producer_rate, consumer_rate, memory_limit_mb, message_bytes):
    r = crash_run(producer_rate, consumer_rate, memory_limit_mb, message_bytes)
    figures.plot_queue_and_memory(r, fig=fig)
    lighten(fig)
    return crash_sentence(r)


def show_crash(producer_rate=1000, consumer_rate=100, memory_limit_mb=100, message_bytes=1000,
               *, show=True):
    """The still twin of :func:`crash_dashboard`: its figure once, its sentence printed.

    With ``show=False`` nothing is drawn and the sentence is returned.
    """
    values = dict(producer_rate=producer_rate, consumer_rate=consumer_rate,
                  memory_limit_mb=memory_limit_mb, message_bytes=message_bytes)
    return still(render_crash, values, (10, 3.6), show)


def crash_dashboard(producer_rate=1000, consumer_rate=100, memory_limit_mb=100,
                    message_bytes=1000) -> Dashboard:
    """Notebook 01's dashboard: an unbounded queue, its memory, and when it dies.

    Parameters
    ----------
    producer_rate, consumer_rate : int
        Starting values of the sliders (msg/s).
    memory_limit_mb : int
        Memory for messages (MB).
    message_bytes : int
        Memory one message costs (bytes).
    """
    controls = {
        "producer_rate": slider(producer_rate, 0, 5000, 50, "producer (msg/s)"),
        "consumer_rate": slider(consumer_rate, 10, 2000, 10, "consumer (msg/s)"),
        "memory_limit_mb": slider(memory_limit_mb, 10, 500, 10, "memory limit (MB)"),
        "message_bytes": slider(message_bytes, 100, 10_000, 100, "message size (bytes)"),
    }
    return Dashboard(controls, render_crash)
