"""Notebook 01, the scenario: 1,000 msg/s into 100 msg/s, an unbounded queue, and the crash.

The run behind the dashboard (:func:`crash_run`), the sentence that reads it (:func:`crash_sentence`)
and the dashboard with its still twin (naming rule: :mod:`bpsim.viz.dashboard`).
"""
from __future__ import annotations

import math

from .. import theory
from ..engine import simulate
from ..viz import figures
from ..viz import charts
from ..viz.dashboard import DT_S, SEED, Dashboard, lighten, slider, still, ticks, wrap
from ..viz.palette import COLORS, strategy_color


def crash_run(producer_rate=1000, consumer_rate=100, memory_limit_mb=100, message_bytes=1000):
    """The run of :func:`crash_dashboard` and :func:`show_crash`: an unbounded queue, long
    enough to crash.

    It lasts a quarter longer than the closed-form time to crash (10 s at least, 300 s at most;
    60 s when the consumer keeps up; a whole number of ticks), at the series' 1 ms tick
    (:data:`bpsim.viz.dashboard.DT_S`): one tick's arrivals stay far under the messages the
    memory holds, so the crash comes when the closed form says.
    """
    memory = int(round(memory_limit_mb * 1e6))
    t_crash = theory.time_to_exhaust_memory_s(producer_rate, consumer_rate, memory, message_bytes)
    duration = min(300.0, max(10.0, 1.25 * t_crash)) if math.isfinite(t_crash) else 60.0
    return simulate(strategy="unbounded", producer_rate=producer_rate,
                    consumer_rate=consumer_rate, memory_limit_bytes=memory,
                    message_bytes=message_bytes, duration_s=ticks(duration), dt_s=DT_S, rng=SEED)


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


def chart_crash(producer_rate, consumer_rate, memory_limit_mb, message_bytes) -> charts.Frame:
    """:func:`crash_run` as the dashboard's browser chart: what
    :func:`bpsim.viz.figures.plot_queue_and_memory` draws, and :func:`crash_sentence` under it."""
    r = crash_run(producer_rate, consumer_rate, memory_limit_mb, message_bytes)
    return charts.Frame(queue_and_memory_panels(r), crash_sentence(r))


def queue_and_memory_panels(result) -> list:
    """Queue depth and memory over time, with the closed form, the limit and the crashes."""
    from ..theory import queue_growth_per_s, time_to_exhaust_memory_s
    sc = result.scenario
    name = result.strategy.name
    color = strategy_color(name)
    queue = result.queue_depth   # a copy out of the run's log (0.7 ms at 111 s): read it once
    t, (depth, mem) = charts.envelope(result.time_s, [queue, result.memory_bytes / 1e6])
    q = charts.Panel("Messages waiting in the queue", "Time (s)", "Queue depth (messages)")
    q.line(f"simulated ({name})", t, depth, color)
    mu = sc.consumer_rate * sc.consumers
    t_crash = time_to_exhaust_memory_s(sc.producer_rate, mu, sc.memory_limit_bytes,
                                       sc.message_bytes)
    growth = queue_growth_per_s(sc.producer_rate, mu)
    if not result.strategy.bounded and growth > 0:
        t_end = min(t_crash, sc.duration_s)
        q.line(f"closed form: +{growth:,.0f} msg/s", [0, t_end], [0, growth * t_end],
               COLORS["theory"], width=1.5, dash=[2, 4])
    crashes = list(result.crash_times_s)
    label = _crash_label(crashes)
    if crashes:
        k = [max(0, min(len(queue) - 1, int(round(c / sc.dt_s)) - 1)) for c in crashes]
        q.line(label, crashes, queue[k], COLORS["crash"], kind="marker", size=12)
    top = float(depth.max()) if len(depth) else 0.0
    q.xlim = (0.0, sc.duration_s)
    q.ylim = (-0.03 * top, 1.45 * top if top > 0 else 1.0)
    limit = sc.memory_limit_bytes / 1e6
    m = charts.Panel("Server memory for messages", "Time (s)", "Memory (MB)",
                     xlim=(0.0, sc.duration_s), ylim=(0.0, limit * 1.45))
    m.line("memory used", t, mem, color)
    m.hline(f"memory limit ({limit:g} MB)", limit, COLORS["limit"], width=1)
    if not result.strategy.bounded and math.isfinite(t_crash) and t_crash <= sc.duration_s:
        m.vline(f"closed form: {t_crash:.1f} s", t_crash, COLORS["theory"], 0.0, limit * 1.45,
                width=1.5, dash=[2, 4])
    if crashes:
        m.line(label, crashes, [limit] * len(crashes), COLORS["crash"], kind="marker", size=12)
    return [q, m]


def _crash_label(times) -> str:
    if not times:
        return ""
    if len(times) > 1:
        return f"{len(times)} crashes, first at {times[0]:.1f} s"
    return f"crash at {times[0]:.1f} s"


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
    return Dashboard(controls, render_crash, chart_crash)


# -- the crash, message by message (the message view, bpsim.viz.messages) -----------------------
#: The scenario shrunk so that every message is a dot and the crash comes within half a minute of
#: real time: the course's ten-to-one ratio of rates at a fiftieth of its speed (20 msg/s into
#: 2 msg/s) and memory for 400 messages of 1,000 bytes. The closed form: 400 / 18 = 22.2 s.
WATCH = dict(producer_rate=20, consumer_rate=2, memory_limit_bytes=400_000)
#: Simulated seconds of the still twin: the crash, the 5 s restart, and the queue climbing again.
WATCH_SECONDS = 30.0


def watch_crash():
    """The live message view of :data:`WATCH`, in real time: the memory bar fills, then the crash."""
    from ..viz.messages import messages_dashboard
    return messages_dashboard(strategy="unbounded", speed=1.0, **WATCH)


def watch_crash_run():
    """:data:`WATCH` as one :func:`bpsim.simulate` run of :data:`WATCH_SECONDS`, on the view's
    seed: the same run the view plays (it has no bursts), to read the crash from."""
    from ..viz.messages import SEED as VIEW_SEED
    return simulate(strategy="unbounded", duration_s=WATCH_SECONDS, rng=VIEW_SEED, **WATCH)


def show_watch_crash():
    """The still twin of :func:`watch_crash`: the view after :data:`WATCH_SECONDS`, its counts,
    and when the crash came beside the closed form."""
    from ..viz.messages import show_messages
    show_messages(strategy="unbounded", seconds=WATCH_SECONDS, bursts=(), **WATCH)
    print(crash_sentence(watch_crash_run()))
