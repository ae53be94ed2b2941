"""Notebook 07, clients that give up: timeouts, goodput, LIFO and dropping work nobody waits for.

The set-up (:data:`SETUP`): a consumer that manages 100 msg/s, a producer at 90 msg/s (a healthy
90 % load), Poisson arrivals and exponential service, a buffer of 500 and clients that wait
:data:`TIMEOUT_S` = 1 s for an answer before they give up. :data:`BURST` sends 300 msg/s for five
seconds, from 10 s to 15 s. The fixes compared in :func:`fixes`, and the client-side throttle
(:class:`ClientThrottle`) of Google's SRE book, all run on this same traffic (one seed).

>>> s = clients_run(burst=False).summary()
>>> s["timed_out"], s["delivered"] + s["queue_end"] + s["in_service_end"] == s["offered"]
(0, True)
"""
from __future__ import annotations

from collections import deque

import numpy as np

from .. import validate
from ..engine import simulate
from ..policies import CoDel, PolicyStrategy
from ..strategies import ControlledCapacity
from ..viz import charts, figures
from ..viz.dashboard import Dashboard, dropdown, lighten, slider, still, wrap
from ..viz.palette import COLORS, VARIANT_COLORS

#: How long a client waits for its answer (s).
TIMEOUT_S = 1.0
#: The traffic and the server of every run here (rates in msg/s, capacity in messages, s).
SETUP = dict(producer_rate=90.0, consumer_rate=100.0, capacity=500, duration_s=60.0,
             arrivals="poisson", service="exponential")
#: The burst: 300 msg/s from 10 s to 15 s, then back to 90 msg/s.
BURST = ((10.0, 300.0), (15.0, 90.0))
#: The burst's span, for shading figures.
BURST_SPAN = ((10.0, 15.0),)
#: The seed of every run in notebook 07: every variant meets the same arrivals.
SEED = 7


def print_setup() -> None:
    """The set-up and the burst, as the notebook states them (rates in msg/s, times in s)."""
    sc = SETUP
    print(f"producer {sc['producer_rate']:g} msg/s ({sc['arrivals']} arrivals), consumer "
          f"{sc['consumer_rate']:g} msg/s ({sc['service']} service), {sc['capacity']} slots, "
          f"{sc['duration_s']:g} s")
    print(f"clients give up after {TIMEOUT_S:g} s; the burst: {BURST[0][1]:g} msg/s from "
          f"{BURST[0][0]:g} s to {BURST[1][0]:g} s, then {BURST[1][1]:g} msg/s again")


def clients_run(strategy="drop_newest", *, order="fifo", capacity=None,
                client_timeout_s=TIMEOUT_S, drop_expired=False, producer_rate=None, burst=True,
                **kwargs):
    """One run of the set-up with clients that give up (see the module docstring).

    ``capacity`` and ``producer_rate`` default to :data:`SETUP`'s; ``burst`` adds :data:`BURST`
    (scaled to ``producer_rate``: the burst is 300/90 times the base rate).
    """
    sc = dict(SETUP)
    if capacity is not None:
        sc["capacity"] = capacity
    if producer_rate is not None:
        sc["producer_rate"] = float(producer_rate)
    if burst:
        scale = sc["producer_rate"] / SETUP["producer_rate"]
        sc["rate_schedule"] = tuple((t, r * scale) for t, r in BURST)
    sc.update(kwargs)
    return simulate(strategy=strategy, order=order, client_timeout_s=client_timeout_s,
                    drop_expired=drop_expired, rng=SEED, **sc)


class ClientThrottle(ControlledCapacity):
    """Client-side adaptive throttling, as in Google's SRE book (chapter "Handling Overload").

    Each client remembers, over the last ``window_s`` seconds, how many requests it made and how
    many the server *accepted* (here: answered in time). When requests outnumber ``k`` times the
    accepts, it refuses a share of new requests itself, before they reach the server, with
    probability ``max(0, (requests - k * accepts) / (requests + 1))``. The book uses ``k = 2``.

    In this model the clients' refusals are made by a running tally rather than at random (of
    every batch, the share ``1 - p`` is sent, carried over from batch to batch, so a run stays
    deterministic); a refused request counts as ``shed`` (refused, and the client knows: it
    refused it itself), with no retry. The probability is updated every ``control_interval_s``.
    The server behind it is a plain bounded buffer that drops what does not fit. It has no
    compiled rule (the share changes during the run), so it runs on the reference engine.

    Parameters
    ----------
    k : float
        How many times more requests than accepts a client tolerates before throttling.
    window_s : float
        The window the counts are kept over (s).
    control_interval_s : float
        How often the refusal probability is updated (s).
    """

    name = "client_throttle"

    def __init__(self, k: float = 2.0, window_s: float = 2.0, control_interval_s: float = 0.1):
        self.k = validate.number("k", k, low=1, high=100, what="a multiplier, such as 2")
        self.window_s = validate.number("window_s", window_s, low=0, low_open=True, high=3600,
                                        what="a time in seconds")
        self.control_interval_s = validate.number("control_interval_s", control_interval_s,
                                                  low=0, low_open=True, high=60,
                                                  what="a time in seconds")
        self.p = 0.0
        self._credit = 0.0
        self._counts = deque()

    def start(self, obs) -> int:
        self.p, self._credit = 0.0, 0.0
        self._counts = deque()
        return obs.capacity

    def control(self, obs) -> int:
        self._counts.append((obs.arrived, obs.delivered))
        keep = max(1, int(round(self.window_s / obs.interval_s)))
        while len(self._counts) > keep:
            self._counts.popleft()
        requests = sum(a for a, _ in self._counts)
        accepts = sum(d for _, d in self._counts)
        self.p = max(0.0, (requests - self.k * accepts) / (requests + 1))
        return obs.capacity

    def admit(self, q, gen, n, attempt):
        self._credit += n * (1.0 - self.p)
        sent = min(n, int(self._credit))
        self._credit -= sent
        q.reject(gen, n - sent, attempt)  # refused by the client itself, never sent
        k = min(sent, q.room())
        q.enqueue(gen, k)
        q.drop(sent - k)

    def rule(self):
        return None  # N changes between control steps: the reference engine runs it

    def params(self):
        return {"k": self.k, "window_s": self.window_s}


def outage_s(result, window_s: float = 2.0) -> float:
    """Seconds during which goodput (a ``window_s`` average) was below half the producer's rate.

    >>> outage_s(clients_run(burst=False))
    0.0
    """
    t, _, good = figures.throughput_and_goodput(result, window_s)
    step = float(t[1] - t[0]) if len(t) > 1 else 0.0
    return float(round(np.count_nonzero(good < 0.5 * result.scenario.producer_rate) * step, 1))


def fixes() -> dict:
    """Every fix of notebook 07 on the same burst, with the plain FIFO server first.

    Returns ``{label: Result}``.
    """
    fit = int(TIMEOUT_S * SETUP["consumer_rate"])  # what the consumer can serve within a timeout
    return {
        "FIFO, 500 slots": clients_run(),
        f"FIFO, {fit} slots": clients_run(capacity=fit),
        "LIFO": clients_run(order="lifo"),
        "adaptive LIFO": clients_run(order="adaptive_lifo"),
        "drop expired": clients_run(drop_expired=True),
        "CoDel": clients_run(PolicyStrategy(CoDel())),
        "client throttle (K = 2)": clients_run(ClientThrottle(k=2.0)),
    }


def clients_sentence(result) -> str:
    """One sentence on a run with clients that give up: goodput, throughput, the waste."""
    s = result.summary()
    served = s["delivered"] + s["timed_out"]
    text = (f"Of {s['offered']:,} messages offered, {s['delivered']:,} were delivered in time "
            f"(goodput {s['goodput_per_s']:.0f} msg/s) and {s['timed_out']:,} were served after "
            f"their client had given up (throughput {s['throughput_per_s']:.0f} msg/s, "
            f"{100 * s['wasted_work_share']:.0f} % of the consumer's busy time wasted)")
    others = [(s["expired"], "discarded unserved because their client had left"),
              (s["dropped"], "dropped at a full buffer"),
              (s["shed"], "refused by the client itself")]
    extra = [f"{n:,} {what}" for n, what in others if n]
    text += (", " + ", ".join(extra) if extra else "") + "."
    if served == 0:
        text = f"Of {s['offered']:,} messages offered, none was served."
    return wrap(text)


def fixes_table(results: dict) -> str:
    """One line per run: goodput, throughput, wasted share, in-time p99 (under 100 characters)."""
    lines = [f"{'':<24}{'goodput':>9}{'throughput':>12}{'wasted':>8}{'in-time p99':>13}"
             f"{'timed out':>11}{'expired':>9}",
             f"{'':<24}{'msg/s':>9}{'msg/s':>12}{'%':>8}{'s':>13}{'msgs':>11}{'msgs':>9}"]
    for label, r in results.items():
        s = r.summary()
        p99 = s["in_time_latency_p99_s"]
        lines.append(f"{label:<24}{s['goodput_per_s']:>9.1f}{s['throughput_per_s']:>12.1f}"
                     f"{100 * s['wasted_work_share']:>8.0f}"
                     f"{'-' if p99 is None else f'{p99:.2f}':>13}{s['timed_out']:>11,}"
                     f"{s['expired']:>9,}")
    return "\n".join(lines)


# -- the dashboard ---------------------------------------------------------------------------------
def render_clients(fig, producer_rate, client_timeout_s, capacity, order):
    """Throughput against goodput, and the queue, for one setting (the burst included); returns
    the sentence."""
    r = clients_run(order=order, capacity=capacity, client_timeout_s=client_timeout_s,
                    producer_rate=producer_rate)
    fig, (ax_g, ax_q) = figures.new_figure(2, fig=fig, figsize=(13, 3.8))
    t, thr, good = figures.throughput_and_goodput(r, 2.0)
    for ax in (ax_g, ax_q):
        for start, stop in BURST_SPAN:
            ax.axvspan(start, stop, color=COLORS["memory"], alpha=0.2, lw=0, label="the burst")
        ax.set_xlim(0, r.scenario.duration_s)
    ax_g.plot(t, thr, color=COLORS["memory"], lw=1.4, label="throughput")
    ax_g.plot(t, good, color=VARIANT_COLORS[0], lw=1.6, label="goodput")
    ax_g.set_ylim(0, 1.35 * max(1.0, float(np.max(thr)) if len(thr) else 1.0))
    figures.label_axes(ax_g, f"{order}, {capacity} slots: throughput against goodput",
                       "Time (s)", "msg/s (2 s averages)")
    ax_q.plot(r.time_s, r.queue_depth, color=VARIANT_COLORS[0], lw=1.4, label="queue depth")
    ax_q.axhline(capacity, color=COLORS["theory"], ls=":", lw=1.5, label="capacity")
    ax_q.axhline(client_timeout_s * r.scenario.consumer_rate, color=COLORS["limit"], ls="--",
                 lw=1.2, label="one timeout's worth of work")
    ax_q.set_ylim(0, 1.3 * max(capacity, 1))
    figures.label_axes(ax_q, "The queue", "Time (s)", "Messages waiting (count)")
    for ax in (ax_g, ax_q):
        ax.legend(fontsize="small", loc="upper right")
    lighten(fig)
    return clients_sentence(r)


def chart_clients(producer_rate, client_timeout_s, capacity, order) -> charts.Frame:
    """The dashboard's browser chart: what :func:`render_clients` draws, and the same sentence."""
    r = clients_run(order=order, capacity=capacity, client_timeout_s=client_timeout_s,
                    producer_rate=producer_rate)
    t, thr, good = figures.throughput_and_goodput(r, 2.0)
    top = 1.35 * max(1.0, float(np.max(thr)) if len(thr) else 1.0)
    g = charts.Panel(f"{order}, {capacity} slots: throughput against goodput", "Time (s)",
                     "msg/s (2 s averages)", xlim=(0.0, r.scenario.duration_s), ylim=(0.0, top))
    q = charts.Panel("The queue", "Time (s)", "Messages waiting (count)",
                     xlim=(0.0, r.scenario.duration_s), ylim=(0.0, 1.3 * max(capacity, 1)))
    for panel, height in ((g, top), (q, 1.3 * max(capacity, 1))):
        for start, stop in BURST_SPAN:
            panel.span("the burst", start, stop, COLORS["memory"], height)
    g.line("throughput", t, thr, COLORS["memory"], width=1.4)
    g.line("goodput", t, good, VARIANT_COLORS[0], width=1.6)
    tq, (depth,) = charts.envelope(r.time_s, [r.queue_depth])
    q.line("queue depth", tq, depth, VARIANT_COLORS[0], width=1.4)
    q.hline("capacity", float(capacity), COLORS["theory"], width=1.5, dash=[2, 4])
    q.hline("one timeout's worth of work", client_timeout_s * r.scenario.consumer_rate,
            COLORS["limit"], width=1.2, dash=[6, 4])
    return charts.Frame([g, q], clients_sentence(r), columns=2)


def show_clients(producer_rate=90, client_timeout_s=TIMEOUT_S, capacity=500, order="fifo", *,
                 show=True):
    """The still twin of :func:`clients_dashboard`."""
    values = dict(producer_rate=producer_rate, client_timeout_s=client_timeout_s,
                  capacity=capacity, order=order)
    return still(render_clients, values, (13, 3.8), show)


def clients_dashboard(producer_rate=90, client_timeout_s=TIMEOUT_S, capacity=500,
                      order="fifo") -> Dashboard:
    """Notebook 07's dashboard: the burst, with sliders for the rate, the clients' timeout, the
    capacity and the order in which waiting messages are served."""
    controls = {
        "producer_rate": slider(producer_rate, 10, 200, 5, "producer (msg/s)"),
        "client_timeout_s": slider(client_timeout_s, 0.1, 5.0, 0.1, "client timeout (s)",
                                   integer=False),
        "capacity": slider(capacity, 10, 2000, 10, "capacity (messages)"),
        "order": dropdown(order, ("fifo", "lifo", "adaptive_lifo"), "order"),
    }
    return Dashboard(controls, render_clients, chart_clients, figsize=(13, 3.8))


# -- the dead being served, message by message (the message view, bpsim.viz.messages) -------------
#: A tenth of the set-up, regular instead of random so that it can be worked out by hand: a
#: consumer of 10 msg/s, a producer at 8 msg/s, 100 slots (ten times what the consumer serves in
#: one timeout), clients that wait :data:`TIMEOUT_S`.
WATCH = dict(producer_rate=8.0, consumer_rate=10.0, capacity=100, client_timeout_s=TIMEOUT_S)
#: The burst of the still twin, ``(time_s, messages)``, and its simulated seconds.
WATCH_BURSTS = ((5.0, 50),)
WATCH_SECONDS = 30.0


def watch_dashboard(compare=None):
    """The live message view of :data:`WATCH` in real time, FIFO; its burst button sends 50.

    ``compare`` adds a second lane on the same traffic, as for
    :class:`bpsim.viz.messages.MessageView` (``{"order": "lifo"}``: LIFO beside FIFO).
    """
    from ..viz.messages import messages_dashboard
    return messages_dashboard(strategy="drop_newest", compare=compare, speed=1.0, burst=50,
                              **WATCH)


def show_watch(compare=None):
    """The still twin of :func:`watch_dashboard` (with the same ``compare``), with the burst of
    :data:`WATCH_BURSTS`."""
    from ..viz.messages import show_messages
    show_messages(strategy="drop_newest", compare=compare, seconds=WATCH_SECONDS,
                  bursts=WATCH_BURSTS, **WATCH)


def watch_totals(**changes) -> dict:
    """The still twin's totals (offered, delivered, timed_out: served too late, ...), played as
    it plays them; ``changes`` override :data:`WATCH` (``capacity=10``, ``order="lifo"``: what
    the twin's second lane plays with ``compare={"order": "lifo"}``)."""
    from ..viz.messages import MessageView
    view = MessageView(strategy="drop_newest", speed=1.0, **{**WATCH, **changes})
    view.play_for(WATCH_SECONDS, bursts=WATCH_BURSTS)
    return dict(view.lanes[0].last["tot"])
