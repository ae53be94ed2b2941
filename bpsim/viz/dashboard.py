"""Dashboards: drag a slider, the simulator runs again, the chart and a sentence follow it.

A :class:`Dashboard` is a few controls (:func:`slider`, :func:`dropdown`), one browser chart
(:class:`bpsim.viz.charts.Chart`) and one computed sentence under it. It is built from two
functions of the same values:

* ``chart(**values) -> Frame``: runs the simulation and returns what to show (a
  :class:`~bpsim.viz.charts.Frame`: panels of series, and the sentence as its caption);
* ``render(fig, **values) -> str``: draws the same run into a matplotlib figure and returns the
  same sentence: the *still* picture (:func:`still`, and :attr:`Dashboard.figure`).

The way of a slider value, while it is dragged: the slider's model in the page changes and syncs
to the kernel (ipywidgets sends one message per kernel round trip, always the newest value; the
kernel's side only files it, so the round trip is short); :meth:`Dashboard.request` files the
values as *the* pending ones and wakes the dashboard's worker thread; the worker takes the newest
pending values (older ones are dropped, never queued), calls ``chart(**values)`` and sends the
frame as one widget message; the page draws the newest frame it has at its next animation frame.
Values already drawn are not drawn twice. So the chart follows the drag at the pace the
simulation allows, and the last value always wins.

A dashboard remembers the frames it made: a setting seen before is sent again without running
again. (The dashboards of a kernel share :data:`REMEMBER_BYTES`, the most recently used frames
kept: a dashboard cell run again leaves its old frames to age out.) And while a page shows the
dashboard and nothing has been asked for a moment (:data:`QUIET_S`: not during a drag, whose
values come every few tens of milliseconds and whose page needs the cores), the worker works out
the settings next to the current one along each slider, nearest first (:data:`AHEAD` of them; a
value from the page is taken as soon as the run in hand ends): a drag that starts from where the
learner stopped finds its first steps made.
The page says it shows the chart with one message as it draws it (so nothing is worked out ahead
in nbval, plain Python or a notebook nobody looks at). ``chart`` must be a function of the values
alone for this; every course dashboard is. (The series' Jupyter settings,
``jupyter-config/`` as ``tasks.py lab`` uses them, send each message at once: with Jupyter
Server's default a frame could wait up to 40 ms for the browser's TCP acknowledgement.)

Every run is the same simulation as the still figure (the 1 ms tick unless a notebook says
otherwise): what a learner explores is what the static figures show.

A float slider's value is taken without the noise in its last digits (:func:`without_noise`):
the page's own arithmetic sends ``0.8999999999999999`` for the 0.90 its readout shows, and a run
of 0.8999999999999999 is not the still figure's run of 0.9 (notebook 05's fixed buffer for that
latency target has ``int(100 * 0.8999999999999999) = 89`` slots, not 90).

``Dashboard.last_redraw_s`` holds the time the last update took in the kernel (simulation,
frame, sending; s).

The naming rule
---------------
Every dashboard of the series is four functions in its notebook's module of :mod:`bpsim.course`:
``render_X(fig, **values)`` draws the still figure and returns the sentence; ``chart_X(**values)``
returns the browser frame with the same sentence; ``X_dashboard(**values)`` returns the live
:class:`Dashboard`; ``show_X(**values)`` is its *still* twin (:func:`still`): the figure drawn once
with pyplot and the sentence printed, for notebooks checked by nbval, read on GitHub or exported,
where widgets cannot run.

>>> from bpsim.course import the_scenario
>>> print(the_scenario.show_crash(producer_rate=1000, consumer_rate=100, memory_limit_mb=9,
...                               message_bytes=1000, show=False))
The server crashes after 10.0 s (closed form: 10.0 s). The 9,001 messages it held or was taking in
at that moment were all lost; 2,500 more arrived while it restarted and were lost too.
"""
from __future__ import annotations

import collections
import itertools
import math
import textwrap
import threading
import time
import traceback

import numpy as np

from ..validate import InputError


#: Resolution of a dashboard's still figure (:attr:`Dashboard.figure`; dots per inch).
PREVIEW_DPI = 72
#: Margins of the dashboards' still figures (fractions of the figure).
PREVIEW_MARGINS = dict(left=0.085, right=0.985, bottom=0.165, top=0.91, wspace=0.25)
#: Seed of every dashboard run: the same settings always draw the same picture.
SEED = 2024
#: The tick of the dashboards' runs (s), the same as the static figures'.
DT_S = 0.001
#: Bytes of frames the dashboards of a kernel remember together, the most recently used kept (a
#: frame is 50-200 kB: some 300-1,300 frames).
REMEMBER_BYTES = 64_000_000
#: Settings a dashboard works out ahead while a page shows it and nothing is asked (0: none;
#: on a server shared by a class, fewer spares its cores).
AHEAD = 64
#: How long nothing must be asked before a dashboard works ahead (s).
QUIET_S = 0.25
#: How long a dashboard's worker thread waits with nothing to do before it ends (s).
_IDLE_S = 60.0


def ticks(duration_s: float, dt_s: float = DT_S) -> float:
    """``duration_s`` rounded to a whole number of ticks of ``dt_s`` (what the engine accepts).

    >>> ticks(138.88888), ticks(10)
    (138.889, 10.0)
    """
    return round(round(duration_s / dt_s) * dt_s, 9)


def lighten(fig) -> None:
    """Fewer ticks on a still figure: four or five labelled ticks on linear axes, no unlabelled
    minor ticks on log axes."""
    from matplotlib.ticker import NullLocator
    for ax in fig.axes:
        for axis in ("x", "y"):
            try:
                ax.locator_params(axis=axis, nbins=4)
            except TypeError:  # a log axis places its own ticks (no ``nbins``)
                getattr(ax, f"{axis}axis").set_minor_locator(NullLocator())


def wrap(text: str) -> str:
    return "\n".join(textwrap.wrap(text, width=98))


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


#: Cells the kernel is running now (work ahead waits for them: it would slow them down).
_cells = {"running": 0, "watched": False}


def _watch_cells() -> None:
    """Count the cells the kernel runs (IPython's ``pre_run_cell`` / ``post_run_cell``)."""
    if _cells["watched"]:
        return
    from IPython import get_ipython
    events = get_ipython().events
    events.register("pre_run_cell", lambda *_: _cells.__setitem__("running", 1))
    events.register("post_run_cell", lambda *_: _cells.__setitem__("running", 0))
    _cells["watched"] = True


class _Frames:
    """The frames the dashboards of a kernel remember, by ``(dashboard, values)``, within
    :data:`REMEMBER_BYTES`: the least recently used go first. Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._frames = collections.OrderedDict()
        self.bytes = 0

    def get(self, key):
        with self._lock:
            packed = self._frames.get(key)
            if packed is not None:
                self._frames.move_to_end(key)
            return packed

    def put(self, key, packed) -> None:
        with self._lock:
            if key in self._frames:
                return
            self._frames[key] = packed
            self.bytes += packed.numbers.nbytes
            while self.bytes > REMEMBER_BYTES and len(self._frames) > 1:
                _, old = self._frames.popitem(last=False)
                self.bytes -= old.numbers.nbytes

    def forget(self, owner) -> None:
        with self._lock:
            for key in [k for k in self._frames if k[0] == owner]:
                self.bytes -= self._frames.pop(key).numbers.nbytes


_frames = _Frames()
_dashboards = itertools.count()


class Dashboard:
    """Controls, a browser chart and a sentence that follow the controls while they move.

    Parameters
    ----------
    controls : dict
        ``{name: ipywidgets control}``; the names are the keyword arguments of ``chart`` and
        ``render``.
    render : callable
        ``render(fig, **values) -> str`` draws the still figure into ``fig`` (a Figure outside
        pyplot) and returns the sentence (used by :attr:`figure`; the still twin uses it too).
    chart : callable
        ``chart(**values) -> bpsim.viz.charts.Frame``: the same run as panels of series, its
        caption the same sentence as ``render`` returns.
    figsize : tuple of float
        Size of the still figure (inches).
    margins : dict or None
        Fixed margins of the still figure (fractions, as for ``subplots_adjust``), over
        :data:`PREVIEW_MARGINS`.
    preformatted : bool
        Show the text as it is, lines and spaces kept (a small table), instead of as a sentence.
    ahead : int or None
        Settings worked out ahead while a page shows the dashboard and nothing is asked (see the
        module docstring); ``None`` is :data:`AHEAD`.

    ``chart`` must be a function of the values alone: the dashboard remembers its frames.

    Attributes
    ----------
    widget : ipywidgets.VBox
        What the notebook displays (a ``Dashboard`` displays as its widget).
    chart : bpsim.viz.charts.Chart
        The browser chart (the sentence is its caption).
    last_text : str
        The sentence of the last update; ``last_values`` the values it was made from.
    last_redraw_s : float
        Time the last update took in the kernel: simulation, frame, sending (s); a remembered
        frame is only sent.
    made : int
        How many frames ``chart`` was asked for (remembered ones are not made again).
    """

    def __init__(self, controls: dict, render, chart, figsize=(10, 3.6), margins=None,
                 preformatted=False, ahead=None):
        import ipywidgets as w
        from . import charts

        self.controls = dict(controls)
        self._render = render
        self._chart = chart
        self.figsize = figsize
        self.margins = {**PREVIEW_MARGINS, **(margins or {})}
        self._preformatted = preformatted
        self.chart = charts.Chart()
        # two columns of controls where there is room for usable sliders, one on a projector
        boxes = w.GridBox(list(self.controls.values()), layout=w.Layout(
            grid_template_columns="repeat(auto-fill, minmax(440px, 1fr))"))
        self.widget = w.VBox([boxes, self.chart])
        self.last_redraw_s = math.nan
        self.last_text = ""
        self.last_values = None
        self.last_error = None
        self.updates = 0
        self._figure = None
        self._figure_values = None
        self._lock = threading.Lock()          # one update at a time
        self._wake = threading.Condition()
        self._pending = None                   # the newest values not drawn yet
        self._worker = None
        self._quiet = False
        self._number = next(_dashboards)        # its frames' share of the kernel's memory
        self.made = 0
        self.ahead = AHEAD if ahead is None else int(ahead)
        self._next = iter(())                   # the settings to work out ahead, nearest first
        self._ahead_done = True                 # ... all of them worked out
        self._watched = False                   # a page shows the chart
        self._asked_at = -math.inf              # when a value last came (time.monotonic, s)
        for c in self.controls.values():
            c.observe(self._changed, names="value")
        self.chart.on_msg(self._from_page)
        self.update()

    def values(self) -> dict:
        """The current value of every control (a float without noise: :func:`without_noise`)."""
        return {name: without_noise(c.value) for name, c in self.controls.items()}

    # -- drawing -------------------------------------------------------------------------------
    def update(self, **values) -> str:
        """Set some controls (one update for all of them), draw, and return the sentence."""
        unknown = set(values) - set(self.controls)
        if unknown:
            name = sorted(unknown)[0]
            raise InputError(f"{name}={values[name]!r} is not a control of this dashboard: use "
                             f"one of {', '.join(self.controls)}.")
        self._quiet = True
        try:
            for name, v in values.items():
                self.controls[name].value = v
        finally:
            self._quiet = False
        text = self._draw(self.values())
        if self._watched and self.ahead > 0 and _in_kernel():
            self._start_worker()    # work ahead around the new setting (once the cell ends)
        return text

    def _draw(self, values: dict) -> str:
        with self._lock:
            start = time.perf_counter()
            packed = self._packed(values)
            self.chart.show(packed, values)
            self.last_redraw_s = time.perf_counter() - start
            self.last_text = packed.caption
            self.last_values = dict(values)
            self.last_error = None
            self.updates += 1
            self._next, self._ahead_done = self._around(values), False
            return packed.caption

    def forget(self) -> None:
        """Forget every frame remembered: each setting is made anew when next drawn (or worked
        out ahead)."""
        _frames.forget(self._number)

    def _key(self, values: dict):
        """The key of ``values`` among the remembered frames; None if they cannot be one (a
        menu of lists: such settings are made each time)."""
        key = (self._number, tuple(values[name] for name in self.controls))
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def _packed(self, values: dict):
        """The frame of ``values``, remembered or made (call with the lock held)."""
        key = self._key(values)
        packed = None if key is None else _frames.get(key)
        if packed is not None:
            return packed
        frame = self._chart(**values)
        frame.preformatted = self._preformatted
        packed = frame.pack()
        self.made += 1
        if key is not None:
            _frames.put(key, packed)
        return packed

    def _around(self, values: dict):
        """The settings next to ``values`` along each slider, nearest first: one step right
        and left on every slider, then two, ... (at most :attr:`ahead`, none remembered: those
        are kept longer instead)."""
        grids = {name: slider_values(c) for name, c in self.controls.items()}
        grids = {name: g for name, g in grids.items() if g}
        at = {name: int(np.argmin([abs(v - values[name]) for v in g]))
              for name, g in grids.items()}
        reach = max((len(g) for g in grids.values()), default=0)
        given = 0
        for d in range(1, reach):
            for name, g in grids.items():
                for j in (at[name] + d, at[name] - d):
                    if given >= self.ahead:
                        return
                    if 0 <= j < len(g):
                        near = {**values, name: g[j]}
                        key = self._key(near)
                        # (a remembered one is refreshed by the look: a near setting kept)
                        if key is not None and _frames.get(key) is None:
                            given += 1
                            yield near

    def work_ahead(self, n: int = 1) -> int:
        """Work out up to ``n`` of the settings next to the last drawn one (see the module
        docstring); returns how many were tried (a setting whose chart fails counts: it is
        shown, with its error, if the learner moves there). The worker calls it one at a time
        while nothing is asked, so that a value from the page waits for one run at most."""
        done = 0
        while done < n:
            with self._lock:
                try:
                    near = next(self._next, None)
                    if near is None:
                        self._ahead_done = True
                        break
                    done += 1
                    self._packed(near)
                except Exception:
                    continue
        return done

    @property
    def figure(self):
        """The still figure of the values last drawn (matplotlib, made on first look)."""
        if self._figure is None or self._figure_values != self.last_values:
            import matplotlib
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure, SubplotParams
            fig = self._figure or Figure(figsize=self.figsize, dpi=PREVIEW_DPI,
                                         subplotpars=SubplotParams(**self.margins))
            if self._figure is None:
                FigureCanvasAgg(fig)
            fig.clear()
            with matplotlib.rc_context({"axes.titley": 1.0}):
                self._render(fig, **self.last_values)
            fig.subplots_adjust(**self.margins)
            self._figure, self._figure_values = fig, dict(self.last_values)
        return self._figure

    @property
    def text(self) -> str:
        """The sentence under the chart, as the page shows it."""
        return self.chart.caption

    # -- following the controls ----------------------------------------------------------------
    def request(self, values: dict) -> None:
        """Make ``values`` the ones to draw next (replacing any not drawn yet).

        In a kernel a worker thread draws them, so that the kernel keeps reading the newest
        values while it simulates; elsewhere (tests, plain Python) they are drawn at once.
        """
        values = {**self.values(), **{k: v for k, v in values.items() if k in self.controls}}
        if not _in_kernel():
            self._draw(values)
            return
        with self._wake:
            self._pending = values
            self._asked_at = time.monotonic()
        self._start_worker()

    def _from_page(self, _widget, content, _buffers):
        if isinstance(content, dict) and content.get("event") == "shown" and not self._watched:
            self._watched = True
            if _in_kernel() and self.ahead > 0:
                _watch_cells()
                self._start_worker()

    def _start_worker(self):
        with self._wake:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._follow, daemon=True,
                                                name="bpsim-dashboard")
                self._worker.start()
            self._wake.notify()

    def _idle_wait(self) -> float:
        """With nothing asked: how long to wait before working ahead (0: now; :data:`_IDLE_S`:
        nothing to work out, so wait for the page, and end the thread if nothing comes)."""
        if not self._watched or self.ahead <= 0 or self._ahead_done:
            return _IDLE_S
        if _cells["running"]:
            return 0.2                          # a cell runs: wait for it to end
        return max(0.0, QUIET_S - (time.monotonic() - self._asked_at))   # a drag may go on

    def _follow(self):
        while True:
            with self._wake:
                while self._pending is None:
                    wait_s = self._idle_wait()
                    if wait_s == 0:
                        break                   # nothing asked: work one setting out ahead
                    if (not self._wake.wait(timeout=wait_s) and wait_s == _IDLE_S
                            and self._pending is None):
                        self._worker = None     # idle for a minute: the thread ends
                        return
                values, self._pending = self._pending, None
            if values is None:
                self.work_ahead(1)
                continue
            if values == self.last_values:
                continue                        # already on the page
            try:
                self._draw(values)
            except Exception as err:            # show it where the learner looks
                self.last_error = err
                with self._lock:
                    self.last_values = None     # (moving back to the last picture redraws it)
                    # (a value refused is its message alone; anything else shows where)
                    where = "" if isinstance(err, InputError) else traceback.format_exc(limit=3)
                    self.chart.caption = ("This setting could not be drawn: "
                                          f"{type(err).__name__}: {err}\n" + where)

    def _changed(self, change):
        if not self._quiet:
            self.request({})

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


def without_noise(value):
    """A float without the noise in its last digits that the page's arithmetic adds: rounded to
    12 significant digits (``0.1 + 0.7 -> 0.8``, ``0.75`` stays). Other values as they are.

    >>> without_noise(0.1 + 0.7), without_noise(10.000000000000002), without_noise(0.75)
    (0.8, 10.0, 0.75)
    """
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.12g}")
    return value


# -- controls ------------------------------------------------------------------------------------
def slider(value, lo, hi, step, description, integer=True):
    """A slider for a dashboard: labelled, full width, reporting while it is dragged."""
    import ipywidgets as w
    cls = w.IntSlider if integer else w.FloatSlider
    control = cls(value=value, min=lo, max=hi, step=step, description=description,
                  continuous_update=True, style={"description_width": "170px"},
                  layout=w.Layout(width="98%"))
    _no_echo(control)
    return control


def slider_values(control) -> list:
    """Every value a slider (``IntSlider``, ``FloatSlider``) can take, in order, as
    :meth:`Dashboard.values` reads them (a float without noise); none for other controls.

    >>> slider_values(slider(0.3, 0.1, 0.5, 0.1, "k", integer=False))
    [0.1, 0.2, 0.3, 0.4, 0.5]
    >>> slider_values(slider(4, 0, 11, 2, "n"))
    [0, 2, 4, 6, 8, 10]
    """
    import ipywidgets as w
    if type(control) not in (w.IntSlider, w.FloatSlider) or not control.step > 0:
        return []
    n = int(math.floor((control.max - control.min) / control.step + 1e-9))
    if isinstance(control, w.IntSlider):
        return [control.min + k * control.step for k in range(n + 1)]
    return [without_noise(control.min + k * control.step) for k in range(n + 1)]


def _no_echo(control) -> None:
    """The kernel does not echo a dragged value back to the page (this control only).

    ipywidgets answers every value the page sends with an ``echo_update`` message carrying the
    same value: one more message per step of a drag for the page to take in (JupyterLab's cost
    is per message, not per byte), and the page already has the value. Only the page moves a
    dashboard's slider, so nobody needs the echo; values the kernel sets still go to the page.
    (Per instance, through traitlets' ``_<trait>_metadata``: other sliders keep their echo.)
    """
    control._value_metadata = {"echo_update": False}


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
            dashboard.forget()              # each repeat makes its frame
            start = time.perf_counter()
            dashboard.update(**change)
            times.append(time.perf_counter() - start)
        out.append(float(np.median(times)))
    return np.array(out)
