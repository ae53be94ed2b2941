"""Browser charts for the dashboards: drawn in the page by uPlot, from data the kernel sends.

A dashboard's live picture is a :class:`Frame`: panels (one chart each) of :class:`Series`, with
titles, labelled axes (units in the labels), a legend and the series' palette colours, plus the
sentence under it. :class:`Chart` (an ``anywidget`` widget) sends a frame to the page as numbers
(one binary buffer) and a small description; uPlot, vendored from the npm registry with its
licence (``vendor/``, handed to the page by :mod:`.assets`), draws it. No PNG is made, no figure
drawn in the kernel: a redraw costs the simulation and a few milliseconds.

Lines are sent at the resolution of the screen, not thinned by skipping ticks:
:func:`envelope` keeps each bucket's lowest and highest value (a run of 300,000 ticks becomes
2 x :data:`BUCKETS` points drawing the same picture, peaks included). Scatter series keep one point
per occupied screen cell (:func:`scatter_cells`).

Matplotlib still draws the static figures (the still twins, print): see :mod:`.dashboard`.

>>> import numpy as np
>>> t = np.arange(10_000) * 0.001
>>> x, (y,) = envelope(t, [np.sin(t * 50)], buckets=100)
>>> len(x) <= 200, float(y.max()) == float(np.sin(t * 50).max())
(True, True)
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

#: Buckets (about screen columns) a line keeps across its x range; each keeps its min and max.
BUCKETS = 900
#: Screen cells a scatter series keeps at most one point of (columns x rows).
CELLS = (900, 300)
#: Height of one chart (CSS pixels) and the font size of its text: readable on a 1024-pixel
#: projector, two charts side by side.
HEIGHT_PX = 300
FONT_PX = 14

#: Numbers at the start of a payload before its points: the frame's serial number. The page's
#: widget model compares a new buffer with the one it holds byte by byte (lodash's ``isEqual``,
#: one call a byte) until the first difference; frames of one dashboard share their first
#: thousands of bytes (the time axis), so without a serial up front that comparison alone took
#: 20 ms of the page's main thread per redraw of notebook 07's chart.
HEADER = 1


# -- what a chart shows -------------------------------------------------------------------------
@dataclasses.dataclass
class Series:
    """One series: a line (``kind="line"``), dots (``"points"``) or big markers (``"marker"``).

    ``dash`` is a dash pattern in pixels (``[6, 4]``); ``size`` the dot diameter (pixels).
    """
    label: str
    x: np.ndarray
    y: np.ndarray
    color: str
    width: float = 1.8
    dash: list | None = None
    kind: str = "line"
    size: float = 4.0


@dataclasses.dataclass
class Panel:
    """One chart: a title, labelled axes, its series and its scales.

    ``yscale`` is ``"linear"``, ``"log"`` or ``"asinh"`` (matplotlib's symlog, linear below
    ``linthresh``); ``xformat="clock"`` shows x (hours) as hh:mm. ``xlim``/``ylim`` fix a range.
    """
    title: str
    xlabel: str
    ylabel: str
    series: list = dataclasses.field(default_factory=list)
    yscale: str = "linear"
    linthresh: float = 1.0
    xformat: str | None = None
    xlim: tuple | None = None
    ylim: tuple | None = None

    def line(self, label, x, y, color, **kw) -> "Panel":
        """A series (a line unless ``kind`` says otherwise). A line of more points than the
        screen has columns (x in order) is sent as its :func:`envelope`: the same picture,
        whatever the caller passed."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        if (kw.get("kind", "line") == "line" and len(x) > 2 * BUCKETS and len(x) == len(y)
                and np.isfinite(x).all() and np.all(np.diff(x) >= 0)):
            x, (y,) = envelope(x, [y])
        self.series.append(Series(label, x, y, color, **kw))
        return self

    def hline(self, label, y, color, **kw) -> "Panel":
        """A horizontal line across the panel's x range (drawn from the other series' ends)."""
        self.series.append(Series(label, np.array([math.nan, math.nan]), np.array([y, y], float),
                                  color, **kw))
        return self

    def span(self, label, start, stop, color, top, **kw) -> "Panel":
        """A shaded stretch of x from ``start`` to ``stop`` (filled from the axis up to ``top``)."""
        self.series.append(Series(label, np.array([start, stop], float),
                                  np.array([top, top], float), color, width=0, kind="span", **kw))
        return self

    def vline(self, label, x, color, lo=0.0, hi=1.0, **kw) -> "Panel":
        """A vertical line at ``x`` from ``lo`` to ``hi`` (y units)."""
        self.series.append(Series(label, np.array([x, np.nextafter(x, math.inf)]),
                                  np.array([lo, hi], float), color, **kw))
        return self


@dataclasses.dataclass
class Frame:
    """What a dashboard shows: panels side by side (``columns`` of them a row) and a sentence."""
    panels: list
    caption: str = ""
    columns: int = 2
    preformatted: bool = False
    height: int = HEIGHT_PX

    def payload(self, serial: int = 0) -> tuple[dict, bytes]:
        """``(spec, data)``: the description the page reads and every number, as float64 bytes.

        Each panel's series are put on one shared x (their union, sorted); a series has NaN
        where it has no point (the page draws across such gaps). The first number,
        ``data[0]``, is no point but the frame's ``serial`` number (:meth:`Chart.show` numbers
        its frames): see :data:`HEADER`.
        """
        return self.pack().payload(serial)

    def pack(self) -> "Packed":
        """The frame as the page takes it (see :meth:`payload`), its serial number left open."""
        chunks, spec_panels, offset = [np.zeros(HEADER)], [], HEADER

        def put(a):
            nonlocal offset
            a = np.ascontiguousarray(a, dtype=np.float64)
            chunks.append(a)
            offset += len(a)
            return [offset - len(a), len(a)]

        for p in self.panels:
            own = [_distinct(s.x) for s in p.series]
            finite = [sx for sx in own if np.isfinite(sx).any()]
            x = np.unique(np.concatenate(finite)) if finite else np.array([0.0, 1.0])
            lo, hi = p.xlim if p.xlim else (x[0], x[-1])
            # an hline (x all NaN) runs from one end of the panel to the other
            own = [sx if np.isfinite(sx).any() else np.array([lo, hi], float) for sx in own]
            x = np.unique(np.concatenate([x] + own))
            cols = [(s, sx) for s, sx in zip(p.series, own)]
            ys = []
            for s, sx in cols:
                y = np.full(len(x), np.nan)
                y[np.searchsorted(x, sx)] = s.y
                if p.yscale == "log":
                    y[~(y > 0)] = np.nan   # a log axis has no place for zero
                ys.append(y)
            entry = {k: getattr(p, k) for k in ("title", "xlabel", "ylabel", "yscale", "linthresh",
                                                 "xformat")}
            entry["xlim"] = list(map(float, p.xlim)) if p.xlim else None
            entry["ylim"] = list(map(float, p.ylim)) if p.ylim else None
            entry["x"] = put(x)
            entry["series"] = [dict(label=s.label, color=s.color, width=s.width, dash=s.dash,
                                    kind=s.kind, size=s.size, y=put(y))
                               for (s, _), y in zip(cols, ys)]
            spec_panels.append(entry)
        spec = {"panels": spec_panels, "columns": self.columns, "height": self.height,
                "font_px": FONT_PX}
        numbers = np.concatenate(chunks)
        numbers.setflags(write=False)   # kept and sent again: never changed in place
        return Packed(spec, numbers, self.caption, self.preformatted)


@dataclasses.dataclass(frozen=True)
class Packed:
    """A :class:`Frame` ready for the page (:meth:`Frame.pack`): kept, it is sent again without
    being made again (a dashboard remembers the frames of the settings it drew).

    ``numbers`` are every number of the frame (float64) after :data:`HEADER` slots for its serial
    number; ``spec`` says where each series lies in them.
    """
    spec: dict
    numbers: np.ndarray
    caption: str = ""
    preformatted: bool = False

    def payload(self, serial: int = 0) -> tuple[dict, bytes]:
        """``(spec, data)`` with ``serial`` in the first slot (see :meth:`Frame.payload`)."""
        data = self.numbers.copy()
        data[:HEADER] = serial
        return self.spec, data.tobytes()


def _distinct(x):
    """``x`` (sorted) with repeated values nudged apart by 0.1 microunit each: one chart x holds
    one point per series, and dots delivered in the same tick must all be drawn."""
    x = np.asarray(x, float)
    if len(x) < 2 or not np.isfinite(x).all() or np.all(np.diff(x) > 0):
        return x
    n = len(x)
    first = np.where(np.r_[True, np.diff(x) > 0], np.arange(n), 0)
    return x + (np.arange(n) - np.maximum.accumulate(first)) * 1e-7


def checksum(data: bytes) -> float:
    """The sum of every finite number of a payload (its serial number left out): what the page
    reports it drew."""
    a = np.frombuffer(data, dtype=np.float64)[HEADER:]
    return float(np.sum(a[np.isfinite(a)]))


# -- screen-resolution reduction -----------------------------------------------------------------
def envelope(x, ys, buckets: int = BUCKETS):
    """Lines at screen resolution: each of ``buckets`` equal runs of points keeps its min and max.

    Returns ``(x, [y, ...])`` with the two points of a bucket at the bucket's first x and, in
    the order they happened, its extremes: drawn at one pixel per bucket this is the same
    picture as every point, spikes and crashes included. Short inputs are returned as they are.
    """
    x = np.asarray(x, float)
    ys = [np.asarray(y, float) for y in ys]
    n = len(x)
    if n <= 2 * buckets:
        return x, ys
    k = n // buckets
    m = (n // k) * k
    starts = x[:m:k]
    xs = np.empty(2 * len(starts))
    xs[0::2] = starts
    # the second point of a bucket sits at its last x, so a line keeps its slope
    xs[1::2] = x[k - 1:m:k]
    out = []
    for y in ys:
        b = y[:m].reshape(-1, k)
        i_lo, i_hi = b.argmin(1), b.argmax(1)
        lo, hi = b[np.arange(len(b)), i_lo], b[np.arange(len(b)), i_hi]
        first = np.where(i_lo <= i_hi, lo, hi)
        second = np.where(i_lo <= i_hi, hi, lo)
        o = np.empty(2 * len(b))
        o[0::2], o[1::2] = first, second
        out.append(o)
    if m < n:   # the tail that did not fill a bucket, point by point
        xs = np.concatenate([xs, x[m:]])
        out = [np.concatenate([o, y[m:]]) for o, y in zip(out, ys)]
    return xs, out


def scatter_cells(x, y, xlim, ylim, log_y: bool = False, cells=CELLS):
    """Dots at screen resolution: at most one point per cell of a ``cells`` grid over the ranges.

    The first point falling in each cell is kept (in time order); the picture of thousands of
    overlapping dots is unchanged.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) <= cells[0]:
        return x, y
    yy = np.log10(np.maximum(y, 1e-12)) if log_y else y
    y0, y1 = (np.log10(max(ylim[0], 1e-12)), np.log10(max(ylim[1], 1e-12))) if log_y else ylim
    cx = np.clip(((x - xlim[0]) / max(xlim[1] - xlim[0], 1e-12) * cells[0]).astype(np.int64),
                 0, cells[0] - 1)
    cy = np.clip(((yy - y0) / max(y1 - y0, 1e-12) * cells[1]).astype(np.int64), 0, cells[1] - 1)
    _, keep = np.unique(cx * cells[1] + cy, return_index=True)
    keep.sort()
    return x[keep], y[keep]


# -- the widget ----------------------------------------------------------------------------------
def _chart_class():
    """The widget class, made on first use (anywidget and traitlets load only then)."""
    global _Chart
    if _Chart is not None:
        return _Chart
    import anywidget
    import traitlets

    from .assets import page_assets
    js, css = page_assets("chart")

    class Chart(anywidget.AnyWidget):
        """A frame drawn in the page by uPlot (see the module docstring)."""
        _esm = js
        _css = css
        spec = traitlets.Dict().tag(sync=True)
        data = traitlets.Bytes().tag(sync=True)
        caption = traitlets.Unicode("").tag(sync=True)
        preformatted = traitlets.Bool(False).tag(sync=True)
        #: The values the frame was made from (the page shows them as ``data-values``).
        drawn = traitlets.Dict().tag(sync=True)

        def show(self, frame, values: dict | None = None) -> None:
            """Draw ``frame`` (a :class:`Frame` or its :class:`Packed` form), made from
            ``values``."""
            self._serial = getattr(self, "_serial", 0) + 1
            packed = frame if isinstance(frame, Packed) else frame.pack()
            spec, data = packed.payload(self._serial)
            with self.hold_sync():
                if spec != self.spec:
                    self.spec = spec
                self.data = data
                self.caption = packed.caption
                self.preformatted = packed.preformatted
                self.drawn = dict(values or {})

    _Chart = Chart
    return Chart


_Chart = None


def Chart(**kwargs):
    """A new chart widget (an ``anywidget.AnyWidget``); ``Chart().show(frame)`` draws a frame."""
    return _chart_class()(**kwargs)
