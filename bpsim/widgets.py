"""Dashboards: move a slider, the simulator runs again, the figure and a sentence follow.

A dashboard is a few controls, one figure and one computed sentence. Every change of a control
reruns a short *preview* simulation and redraws. To feel instant, a redraw (simulate and draw)
must take well under 150 ms on a small machine, so the previews are light on purpose:

* a coarse tick, so that a run has at most :data:`PREVIEW_TICKS` ticks (the counts per second
  are the same; only the timing inside a tick is blurred);
* one figure made once, outside pyplot, with a fixed layout and four or five ticks per axis
  (text is the costliest thing to draw), redrawn in place and sent as a small PNG into an
  ``Output`` widget with ``clear_output(wait=True)`` (the old picture stays until the new one
  is there: no flicker);
* sliders that report on release (``continuous_update=False``), so a drag costs one redraw,
  not thirty queued ones.

``Dashboard.last_redraw_s`` holds the time the last redraw took (s).

Every dashboard function has a *static* form for notebooks checked by nbval: the same function
with ``static=True`` runs once with the values given, draws the same figure with pyplot and
prints the same sentence, so the text is compared even though widgets are not.

>>> from bpsim import widgets
>>> print(widgets.crash_dashboard(static=True, producer_rate=1000, consumer_rate=100,
...                               memory_limit_mb=9, message_bytes=1000, show=False))
The server crashes after 10.0 s (closed form: 10.0 s). The 9,001 messages it held or was taking in
at that moment were all lost; 2,500 more arrived while it restarted and were lost too.
"""
from __future__ import annotations

import html
import io
import math
import textwrap
import time

import numpy as np

from . import plots, theory
from .engine import simulate
from .strategies import STRATEGIES

#: Most ticks in a preview run (see the module docstring).
PREVIEW_TICKS = 3000
#: Resolution of the dashboards' PNGs (dots per inch).
PREVIEW_DPI = 72
#: Margins of the dashboards' figures (fractions of the figure).
PREVIEW_MARGINS = dict(left=0.085, right=0.985, bottom=0.165, top=0.91, wspace=0.25)
#: Seed of every dashboard run: the same settings always draw the same picture.
SEED = 2024


def preview_dt(duration_s: float, max_ticks: int = PREVIEW_TICKS) -> float:
    """A tick (s) that keeps a run of ``duration_s`` under ``max_ticks`` ticks, and never under 1 ms.

    >>> preview_dt(30), preview_dt(1)
    (0.01, 0.001)
    """
    return max(0.001, duration_s / max_ticks)


def _light(fig) -> None:
    """Fewer ticks: drawing text is most of a redraw's cost (about 30 ms saved).

    Linear axes get four or five labelled ticks; log axes lose their unlabelled minor ticks
    (each tick is a few objects to build and draw, labelled or not).
    """
    from matplotlib.ticker import NullLocator
    for ax in fig.axes:
        for axis in ("x", "y"):
            try:
                ax.locator_params(axis=axis, nbins=4)
            except TypeError:  # a log axis places its own ticks (no ``nbins``)
                getattr(ax, f"{axis}axis").set_minor_locator(NullLocator())


def _wrap(text: str) -> str:
    return "\n".join(textwrap.wrap(text, width=98))


class Dashboard:
    """Controls, a figure and a sentence, redrawn whenever a control changes.

    Parameters
    ----------
    controls : dict
        ``{name: ipywidgets control}``; the names are the keyword arguments of ``render``.
    render : callable
        ``render(fig, **values) -> str`` draws into ``fig`` (a Figure outside pyplot) and returns
        the sentence to show under the controls.
    figsize : tuple of float
        Figure size (inches).
    margins : dict or None
        Fixed margins of the figure (fractions, as for ``subplots_adjust``), over
        :data:`PREVIEW_MARGINS`: a figure with legends outside its axes needs a wider right one.
    preformatted : bool
        Show the text as it is, lines and spaces kept (a small table), instead of as a sentence.

    Attributes
    ----------
    widget : ipywidgets.VBox
        What the notebook displays (a ``Dashboard`` displays as its widget).
    figure : matplotlib.figure.Figure
    text : ipywidgets.HTML
    last_redraw_s : float
        Time the last redraw took, simulation plus drawing (s).
    """

    def __init__(self, controls: dict, render, figsize=(10, 3.6), margins=None,
                 preformatted=False):
        import ipywidgets as w
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure, SubplotParams

        self.controls = dict(controls)
        self._render = render
        self.margins = {**PREVIEW_MARGINS, **(margins or {})}
        self._preformatted = preformatted
        # A fixed layout: the automatic ("constrained") one doubles the time a redraw takes.
        self.figure = Figure(figsize=figsize, dpi=PREVIEW_DPI,
                             subplotpars=SubplotParams(**self.margins))
        FigureCanvasAgg(self.figure)
        self.text = w.HTML()
        self.output = w.Output(layout=w.Layout(min_height=f"{int(figsize[1] * PREVIEW_DPI)}px"))
        boxes = w.GridBox(list(self.controls.values()),
                          layout=w.Layout(grid_template_columns="repeat(2, 48%)"))
        self.widget = w.VBox([boxes, self.text, self.output])
        self.last_redraw_s = math.nan
        self.last_text = ""
        self._quiet = False
        for c in self.controls.values():
            c.observe(self._changed, names="value")
        self.update()

    def values(self) -> dict:
        """The current value of every control."""
        return {name: c.value for name, c in self.controls.items()}

    def update(self, **values) -> str:
        """Set some controls (one redraw for all of them), redraw, and return the sentence."""
        unknown = set(values) - set(self.controls)
        if unknown:
            name = sorted(unknown)[0]
            raise ValueError(f"{name}={values[name]!r} is not a control of this dashboard: use "
                             f"one of {', '.join(self.controls)}.")
        self._quiet = True
        try:
            for name, v in values.items():
                self.controls[name].value = v
        finally:
            self._quiet = False
        import matplotlib
        start = time.perf_counter()
        # A title at a fixed height: by default matplotlib measures every tick label to see
        # whether the title must move up, at each draw (about a quarter of a redraw).
        with matplotlib.rc_context({"axes.titley": 1.0}):
            text = self._render(self.figure, **self.values())
            self.figure.subplots_adjust(**self.margins)  # clearing the figure forgets them
            png = io.BytesIO()
            self.figure.savefig(png, format="png", dpi=PREVIEW_DPI,
                                pil_kwargs={"compress_level": 1})
        self.last_redraw_s = time.perf_counter() - start
        self.last_text = text
        if self._preformatted:
            self.text.value = f"<pre style='margin:0.3em 0'>{html.escape(text)}</pre>"
        else:
            self.text.value = f"<p style='font-size:110%'>{html.escape(text)}</p>"
        self._show(png.getvalue())
        return text

    def _changed(self, change):
        if not self._quiet:
            self.update()

    def _show(self, png: bytes):
        from IPython import get_ipython
        if get_ipython() is None:  # plain Python (tests): nothing to show
            return
        from IPython.display import Image, display
        with self.output:
            self.output.clear_output(wait=True)
            display(Image(data=png, format="png"))

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


def _static(render, figsize, show, values):
    """Run ``render`` once into a pyplot figure and print (or return) its sentence."""
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=figsize, layout="constrained")
    text = render(fig, **values)
    if not show:
        plt.close(fig)
        return _wrap(text)
    print(_wrap(text))
    return None


# -- controls ------------------------------------------------------------------------------------
def _slider(value, lo, hi, step, description, integer=True):
    import ipywidgets as w
    cls = w.IntSlider if integer else w.FloatSlider
    return cls(value=value, min=lo, max=hi, step=step, description=description,
               continuous_update=False, style={"description_width": "170px"},
               layout=w.Layout(width="98%"))


def _dropdown(value, options, description):
    import ipywidgets as w
    return w.Dropdown(value=value, options=list(options), description=description,
                      style={"description_width": "170px"}, layout=w.Layout(width="98%"))


# -- notebook 01: the queue that grows until the server dies -------------------------------------
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
    """One sentence on an unbounded run: when it crashed (beside the closed form), what it lost."""
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


def _render_crash(fig, producer_rate, consumer_rate, memory_limit_mb, message_bytes):
    r = crash_run(producer_rate, consumer_rate, memory_limit_mb, message_bytes)
    plots.plot_queue_and_memory(r, fig=fig)
    _light(fig)
    return crash_sentence(r)


def crash_dashboard(producer_rate=1000, consumer_rate=100, memory_limit_mb=100,
                    message_bytes=1000, *, static=False, show=True):
    """Notebook 01's dashboard: an unbounded queue, its memory, and when it dies.

    Parameters
    ----------
    producer_rate, consumer_rate : int
        Starting values of the sliders (msg/s).
    memory_limit_mb : int
        Memory for messages (MB).
    message_bytes : int
        Memory one message costs (bytes).
    static : bool
        ``False`` returns a :class:`Dashboard`; ``True`` draws the figure once and prints the
        sentence (the nbval twin of the dashboard).
    show : bool
        With ``static=True``: ``False`` returns the sentence instead of printing it and draws
        nothing.
    """
    values = dict(producer_rate=producer_rate, consumer_rate=consumer_rate,
                  memory_limit_mb=memory_limit_mb, message_bytes=message_bytes)
    if static:
        return _static(_render_crash, (10, 3.6), show, values)
    controls = {
        "producer_rate": _slider(producer_rate, 0, 5000, 50, "producer (msg/s)"),
        "consumer_rate": _slider(consumer_rate, 10, 2000, 10, "consumer (msg/s)"),
        "memory_limit_mb": _slider(memory_limit_mb, 10, 500, 10, "memory limit (MB)"),
        "message_bytes": _slider(message_bytes, 100, 10_000, 100, "message size (bytes)"),
    }
    return Dashboard(controls, _render_crash)


# -- notebook 02: the strategies -----------------------------------------------------------------
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
        text += f" The producer waited up to {wait:.2f} s (p99) to hand a message over."
    return text


def strategy_run(strategy="drop_newest", producer_rate=1000, consumer_rate=100, capacity=500,
                 consumers=1, sample_every=10, duration_s=30.0):
    """The preview run of :func:`strategy_dashboard` (coarse tick, fixed seed)."""
    return simulate(strategy=strategy, producer_rate=producer_rate, consumer_rate=consumer_rate,
                    capacity=capacity, consumers=consumers, sample_every=sample_every,
                    duration_s=duration_s, dt_s=preview_dt(duration_s), rng=SEED)


def _render_strategy(fig, strategy, producer_rate, consumer_rate, capacity, consumers,
                     sample_every):
    r = strategy_run(strategy, producer_rate, consumer_rate, capacity, consumers, sample_every)
    plots.plot_strategy(r, fig=fig)
    _light(fig)
    return describe(r)


def strategy_dashboard(strategy="drop_newest", producer_rate=1000, consumer_rate=100,
                       capacity=500, consumers=1, sample_every=10, *, static=False, show=True):
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
    static, show : bool
        As in :func:`crash_dashboard`.
    """
    values = dict(strategy=strategy, producer_rate=producer_rate, consumer_rate=consumer_rate,
                  capacity=capacity, consumers=consumers, sample_every=sample_every)
    if static:
        return _static(_render_strategy, (10, 3.6), show, values)
    controls = {
        "strategy": _dropdown(strategy, STRATEGIES, "strategy"),
        "producer_rate": _slider(producer_rate, 0, 5000, 50, "producer (msg/s)"),
        "consumer_rate": _slider(consumer_rate, 10, 2000, 10, "each consumer (msg/s)"),
        "capacity": _slider(capacity, 10, 5000, 10, "capacity (messages)"),
        "consumers": _slider(consumers, 1, 20, 1, "consumers (workers)"),
        "sample_every": _slider(sample_every, 1, 50, 1, "sample: keep 1 in N"),
    }
    return Dashboard(controls, _render_strategy)


# -- notebook 03: the learner's prediction -------------------------------------------------------
def check_prediction(prediction, actual: int, what: str = "messages dropped") -> None:
    """Compare a learner's estimate with the simulated number, kindly, and print the verdict.

    Parameters
    ----------
    prediction : int, float or None
        What the learner typed (``None``: not yet).
    actual : int
        What the simulation counted.
    what : str
        What is being counted, for the sentence.
    """
    if prediction is None:
        print(f"No prediction yet: type a number in the cell above and run both cells again. "
              f"(The simulation counted {actual:,} {what}.)")
        return
    note = ""
    if _looks_like_thousands(prediction):
        # ``my_prediction = 2,650`` is the tuple (2, 650) in Python: read it as the learner meant.
        digits = str(prediction[0]) + "".join(f"{part:03d}" for part in prediction[1:])
        note = (f" (Python reads {', '.join(map(str, prediction))} as {len(prediction)} "
                f"separate numbers; I took it as {int(digits):,}. Next time write {digits} or "
                f"{int(digits):_}.)")
        prediction = int(digits)
    if isinstance(prediction, bool):
        print(f"{prediction!r} is not a count: type a number of messages, like 1500.")
        return
    try:
        guess = float(prediction)
    except (TypeError, ValueError):
        print(f"I could not read {prediction!r} as a number: type digits only, without quotes "
              f"or commas, like 1500.")
        return
    if not math.isfinite(guess) or guess < 0:
        print(f"{prediction!r} is not a count: type a number of messages, 0 or more, like 1500.")
        return
    error = abs(guess - actual) / max(actual, 1)
    if error <= 0.05:
        verdict = "Spot on: within 5 %."
    elif error <= 0.25:
        verdict = "Close: within 25 %. The explanation below shows where the rest comes from."
    else:
        verdict = ("Not quite, and that is what predictions are for: the explanation below "
                   "shows where the difference comes from.")
    print(f"You predicted {guess:,.0f}; the simulation counted {actual:,} {what}. "
          f"{verdict}{note}")


def _looks_like_thousands(value) -> bool:
    """True for a tuple such as ``(2, 650)``: a number typed with a thousands comma.

    Python reads ``2,650`` as ``(2, 650)`` and ``1,000`` as ``(1, 0)``; a group with a leading
    zero (``2,065``) is already a SyntaxError, so later groups are 0 or 100 to 999.
    """
    return (isinstance(value, tuple) and len(value) >= 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            and value[0] > 0 and all(v == 0 or 100 <= v <= 999 for v in value[1:]))


def redraw_times(dashboard: Dashboard, changes, repeat: int = 3) -> np.ndarray:
    """Time (s) from a value change to the redrawn figure, for each change in ``changes``.

    ``changes`` is a list of ``{control: value}`` dicts applied in turn; each is timed
    ``repeat`` times and the median kept. For benchmarks, not tests.
    """
    out = []
    for change in changes:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            dashboard.update(**change)
            times.append(time.perf_counter() - start)
        out.append(float(np.median(times)))
    return np.array(out)
