"""What the browser views are made of: the vendored uPlot and each view's own JavaScript and CSS.

Both views, the dashboards' chart (:mod:`.charts`) and the message view (:mod:`.messages`), are
anywidget widgets whose page code is the vendored uPlot (``vendor/``, from the npm registry with
its licence: see ``vendor/README.md``) followed by the view's own ``static/<name>.js`` and
``static/<name>.css``. Everything ships inside the package: a classroom without internet draws
the same pages.

>>> js, css = page_assets("chart")
>>> "uPlot" in js and ".bpsim-chart" in css
True
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..validate import InputError

_HERE = Path(__file__).parent

#: The views that have page code (``static/<name>.js`` and ``static/<name>.css``).
VIEWS = ("chart", "messages")


@lru_cache(maxsize=None)
def page_assets(name: str) -> tuple[str, str]:
    """``(js, css)`` of the browser view ``name`` (one of :data:`VIEWS`): the vendored uPlot,
    then the view's own files. Read once."""
    if name not in VIEWS:
        raise InputError(f"name={name!r} is not valid: use one of {', '.join(VIEWS)}.")
    vendor, static = _HERE / "vendor", _HERE / "static"
    js = (vendor / "uplot.iife.min.js").read_text() + "\n" + (static / f"{name}.js").read_text()
    css = (vendor / "uplot.min.css").read_text() + "\n" + (static / f"{name}.css").read_text()
    return js, css
