"""Dragging a slider: the browser chart follows it while it moves, and ends on the right picture.

For each notebook with a dashboard (01, 02, 04, 05, 07): run it in JupyterLab, drag the
dashboard's first slider with the pointer (mouse moves at 60 a second from the page's own timer),
and check that the chart was redrawn during the drag (not only at the end), mostly in place (new
uPlot objects only when the chart's shape changes, not on every step), that the final chart shows the
slider's final value, and that the final chart and sentence are those of a fresh run with the
same values in this process: the still twin's sentence (``show_X``) and the checksum of the
numbers of ``chart_X`` (what the page reports it drew). No times are asserted.
"""
from __future__ import annotations

import contextlib
import io
import json
import time

import pytest

import labharness as H

pytestmark = pytest.mark.browser

DASHBOARDS = {
    "notebooks/01-the-scenario.ipynb": ("the_scenario", "show_crash", "chart_crash"),
    "notebooks/02-strategies.ipynb": ("strategies", "show_strategy", "chart_strategy"),
    "notebooks/04-openai-outage.ipynb": ("openai_outage", "show_outage", "chart_outage"),
    "notebooks/05-adaptive-challenge.ipynb": ("adaptive_challenge", "show_policy", None),
    "notebooks/07-clients-that-give-up.ipynb": ("clients_that_give_up", "show_clients",
                                                "chart_clients"),
}

_BUILDS_JS = """([sel, i]) => +document.querySelector(sel).querySelectorAll('.jp-Cell')[i]
    .querySelector('.bpsim-chart').dataset.builds"""


def _fresh(module: str, show: str, chart: str | None, values: dict):
    """The still twin's sentence and the chart's checksum for ``values``, run here."""
    import importlib

    import matplotlib
    matplotlib.use("Agg")
    from bpsim.viz import charts
    mod = importlib.import_module(f"bpsim.course.{module}")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        text = getattr(mod, show)(**values)
    text = out.getvalue().rstrip("\n") if text is None else text
    if chart is None:   # 05 builds its chart inside the dashboard (your policies are in it)
        d = mod.policy_dashboard()
        d.update(**values)
        frame_sum = charts.checksum(d.chart.data)
    else:
        frame_sum = charts.checksum(getattr(mod, chart)(**values).payload()[1])
    return text, frame_sum


@pytest.mark.parametrize("board", list(DASHBOARDS))
def test_dragging_a_slider_redraws_during_the_drag_and_ends_on_a_fresh_run(page, lab, board):
    notebook = board
    H.open_notebook(page, lab, notebook)
    H.run_all(page)
    boards = [b for b in H.dashboards(page) if b["sliders"]]
    assert boards, f"{notebook}: no slider dashboard"
    cell = boards[0]["cell"]
    root = page.locator(H.NOTEBOOK).locator(".jp-Cell").nth(cell)
    assert root.locator(".bpsim-chart").count() == 1, f"{notebook}: no browser chart"
    control = next(c for c in H.controls(page, cell) if c["kind"] == "slider")
    handle = root.locator(H.SLIDER).nth(control["index"])
    handle.scroll_into_view_if_needed()
    track = handle.locator("xpath=ancestor::div[contains(@class,'noUi-target')][1]").bounding_box()
    lo, hi = float(control["min"]), float(control["max"])
    frac = (float(control["now"]) - lo) / max(hi - lo, 1e-12)
    x1 = track["x"] + track["width"] * (0.15 if frac > 0.5 else 0.85)
    builds = page.evaluate(_BUILDS_JS, [H.NOTEBOOK, cell])
    page.evaluate(H.WATCH_JS, [cell, control["index"]])
    page.evaluate(H.DRAG_JS, [cell, control["index"], x1, 90, 16])
    page.wait_for_function("window.__bpsimHeld === true", timeout=60_000)
    readout = handle.locator("xpath=ancestor::div[contains(@class,'widget-slider')][1]").locator(
        ".widget-readout")
    final = float(readout.inner_text().strip().replace(",", ""))
    assert final != float(control["now"]), "the drag did not move the slider"
    # wait for the chart to show the final value (and the kernel to be done)
    page.wait_for_function(
        """([sel, i, v]) => {
            const c = document.querySelector(sel).querySelectorAll('.jp-Cell')[i]
                .querySelector('.bpsim-chart');
            if (!c || !c.dataset.values) return false;
            return Object.values(JSON.parse(c.dataset.values)).some(x => Math.abs(x - v) < 1e-9);
        }""", arg=[H.NOTEBOOK, cell, final], timeout=H.REDRAW_TIMEOUT_MS)
    page.wait_for_selector(H.IDLE, timeout=H.REDRAW_TIMEOUT_MS)
    time.sleep(0.5)
    watch = page.evaluate("window.__bpsimDrag")
    during = [f for f in watch["frames"] if watch["t0"] <= f[0] <= watch["last"]]
    assert len(during) >= 2, f"{notebook}: the chart was not redrawn during the drag ({during})"
    rebuilt = page.evaluate(_BUILDS_JS, [H.NOTEBOOK, cell]) - builds
    assert rebuilt <= len(during) // 2, (
        f"{notebook}: the charts were made anew {rebuilt} times in {len(during)} redraws "
        "(a redraw should update them in place)")
    shown = page.evaluate(
        """([sel, i]) => {
            const c = document.querySelector(sel).querySelectorAll('.jp-Cell')[i]
                .querySelector('.bpsim-chart');
            return {values: JSON.parse(c.dataset.values), checksum: +c.dataset.checksum,
                    caption: c.querySelector('.bpsim-caption').textContent};
        }""", [H.NOTEBOOK, cell])
    # the value drawn is the one the readout shows, not the page's float arithmetic's
    assert final in shown["values"].values(), (
        f"{notebook}: the chart drew {shown['values']}, the slider shows {final}")
    module, show, chart = DASHBOARDS[notebook]
    text, frame_sum = _fresh(module, show, chart, shown["values"])
    assert " ".join(shown["caption"].split()) == " ".join(text.split()), (
        f"{notebook}: the final sentence is not the still twin's for {shown['values']}")
    assert shown["checksum"] == pytest.approx(frame_sum, rel=1e-9, abs=1e-9), (
        f"{notebook}: the final chart is not a fresh run's for {json.dumps(shown['values'])}")


def test_the_kernels_messages_are_sent_without_nagles_delay(page, lab):
    # The series' server settings (jupyter-config/, as `tasks.py lab` uses them) give the kernel
    # websocket TCP_NODELAY: without it a frame that ends in a part-filled packet waited for the
    # browser's delayed acknowledgement (up to 40 ms) once per slider value. The server logs the
    # socket option it reads back once a notebook's kernel connects.
    H.open_notebook(page, lab, "fixtures/chart_dashboard.ipynb")
    H.run_all(page)
    log = lab.log.read_text(errors="replace")
    assert "bpsim: kernel websocket TCP_NODELAY=1" in log, log[-3000:]
    assert "bpsim: kernel websocket TCP_NODELAY=0" not in log


def test_the_kernels_status_is_shown_in_the_status_bar(page, lab):
    # The series' JupyterLab default (jupyter-config/labconfig): in the notebook's toolbar each
    # change of the kernel's status made the toolbar ask where its items are, a layout of the page,
    # twice per value of a dragged slider
    H.open_notebook(page, lab, "fixtures/chart_dashboard.ipynb")
    where = page.evaluate("""() => [...document.querySelectorAll('.jp-Notebook-ExecutionIndicator')]
        .map(e => e.closest('#jp-main-statusbar') ? 'status bar'
                  : e.closest('.jp-NotebookPanel-toolbar') ? 'toolbar' : 'elsewhere')""")
    assert where == ["status bar"], where


def test_a_shown_dashboard_works_out_the_settings_next_to_its_own(page, lab):
    # Once the page shows a dashboard's chart (its view says so in one message), the kernel makes
    # the frames next to the current setting along each slider while nothing is asked: after
    # Run All the counting cell says 1 frame made (the first picture); run again once the kernel
    # has had a moment, AHEAD more. A step of a slider then costs no new frame, and the page
    # draws the step's own values.
    notebook = "fixtures/ahead_dashboard.ipynb"
    H.open_notebook(page, lab, notebook)
    H.run_all(page)
    cells = page.locator(H.NOTEBOOK).locator(".jp-Cell")
    count = cells.nth(2).locator(".jp-OutputArea-output")
    assert count.inner_text().strip() == "made 1 of 65; rate 6 made 0 times", count.inner_text()
    deadline = time.monotonic() + 60
    while True:
        cells.nth(2).click()
        page.keyboard.press("Shift+Enter")
        page.wait_for_selector(H.IDLE, timeout=H.REDRAW_TIMEOUT_MS)
        time.sleep(0.3)
        if count.inner_text().startswith("made 65 of 65") or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    assert count.inner_text().strip() == "made 65 of 65; rate 6 made 1 times", count.inner_text()
    control = next(c for c in H.controls(page, 1) if c["kind"] == "slider")
    handle = cells.nth(1).locator(H.SLIDER).nth(control["index"])
    handle.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        """([sel]) => {
            const c = document.querySelector(sel).querySelectorAll('.jp-Cell')[1]
                .querySelector('.bpsim-chart');
            return c && c.dataset.values && JSON.parse(c.dataset.values).rate === 6;
        }""", arg=[H.NOTEBOOK], timeout=H.REDRAW_TIMEOUT_MS)
    caption = cells.nth(1).locator(".bpsim-caption").inner_text()
    assert caption == "A sine at 6 per minute, 1 high.", caption
    cells.nth(2).click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector(H.IDLE, timeout=H.REDRAW_TIMEOUT_MS)
    time.sleep(0.3)
    # the step's frame was the one made ahead (the settings next to the new one are made ahead
    # in turn, so the count of frames may have grown since)
    assert count.inner_text().strip().endswith("rate 6 made 1 times"), count.inner_text()
