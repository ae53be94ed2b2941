"""Dashboards: move a slider, the simulator runs again, the figure and a sentence follow.

A :class:`Dashboard` is a few controls (:func:`slider`, :func:`dropdown`), one figure and one
computed sentence. It is built from a *render* function, ``render(fig, **values) -> str``, which
draws into ``fig`` and returns the sentence; every change of a control calls it again. The way of
a slider value: the control's ``value`` -> :meth:`Dashboard.update` -> ``render(fig, **values)``
(which runs the simulation and draws) -> a PNG in the dashboard's ``Output`` and the sentence in
its ``HTML``.

To feel instant, a redraw (simulate and draw) must take well under 150 ms on a small machine, so
the previews are light on purpose:

* a coarse tick, so that a run has at most :data:`PREVIEW_TICKS` ticks (the counts per second
  are the same; only the timing inside a tick is blurred);
* one figure made once, outside pyplot, with a fixed layout and four or five ticks per axis
  (:func:`lighten`: text is the costliest thing to draw), redrawn in place and sent as a small
  PNG into an ``Output`` widget with ``clear_output(wait=True)`` (no flicker);
* sliders that report on release (``continuous_update=False``), so a drag costs one redraw,
  not thirty queued ones.

``Dashboard.last_redraw_s`` holds the time the last redraw took (s).

The naming rule
---------------
Every dashboard of the series is three functions in its notebook's module of :mod:`bpsim.course`:
``render_X(fig, **values)`` draws and returns the sentence; ``X_dashboard(**values)`` returns the
live :class:`Dashboard`; ``show_X(**values)`` is its *still* twin (:func:`still`): the same figure
drawn once with pyplot and the same sentence printed, for notebooks checked by nbval, read on
GitHub or exported, where widgets cannot run.

>>> from bpsim.course import the_scenario
>>> print(the_scenario.show_crash(producer_rate=1000, consumer_rate=100, memory_limit_mb=9,
...                               message_bytes=1000, show=False))
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


def lighten(fig) -> None:
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


def wrap(text: str) -> str:
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


def still(render, values: dict, figsize=(10, 3.6), show: bool = True):
    """The static twin of a dashboard: ``render`` once, into a pyplot figure, and its sentence.

    For notebooks read where widgets cannot run (strict nbval, a notebook on GitHub, an export):
    the same figure and the same sentence as the dashboard with these ``values``. The sentence is
    printed; with ``show=False`` nothing is drawn and the sentence is returned instead.
    """
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=figsize, layout="constrained")
    text = render(fig, **values)
    if not show:
        plt.close(fig)
        return wrap(text)
    print(wrap(text))
    return None


# -- controls ------------------------------------------------------------------------------------
def slider(value, lo, hi, step, description, integer=True):
    """A slider for a dashboard: labelled, full width, reporting on release."""
    import ipywidgets as w
    cls = w.IntSlider if integer else w.FloatSlider
    return cls(value=value, min=lo, max=hi, step=step, description=description,
               continuous_update=False, style={"description_width": "170px"},
               layout=w.Layout(width="98%"))


def dropdown(value, options, description):
    """A menu for a dashboard, labelled like the sliders."""
    import ipywidgets as w
    return w.Dropdown(value=value, options=list(options), description=description,
                      style={"description_width": "170px"}, layout=w.Layout(width="98%"))


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
