"""Presentation mode: the strategies dashboard served by Voila as a stand-alone app.

An instructor projects ``voila notebooks/02-strategies.ipynb``: no code, just the controls and
the plots. This test serves it the same way (``voila <nb> --no-browser --port=<free>
--Voila.ip=127.0.0.1``) and moves its sliders in Chromium. Until the strategies notebook exists it
serves the harness's fixture dashboard, so the test stays meaningful. Nothing a projected page
loads may come from another machine (a classroom is often offline).
"""
from __future__ import annotations

from pathlib import Path

import pytest

import labharness as H

pytestmark = pytest.mark.browser

FIXTURE = Path(__file__).parent / "fixtures" / "dashboard.ipynb"


def strategies_notebook() -> Path:
    found = sorted((H.REPO / "notebooks").glob("02-*.ipynb"))
    return found[0] if found else FIXTURE


def test_strategies_dashboard_in_voila(chromium, artifacts):
    notebook = strategies_notebook()
    with H.VoilaServer(notebook) as voila:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        requested = []
        page.on("request", lambda r: requested.append(r.url))
        try:
            page.goto(voila.url, timeout=120_000)
            page.wait_for_selector(H.SLIDER, timeout=H.RUN_ALL_TIMEOUT_MS)
            page.wait_for_selector(".widget-output img, .widget-output canvas, .bpsim-chart canvas",
                                   timeout=H.RUN_ALL_TIMEOUT_MS)
            assert "Error displaying widget" not in page.inner_text("body")
            assert "Traceback" not in page.inner_text("body")
            boards = [b for b in H.dashboards(page, scope="body") if b["sliders"]]
            assert boards, f"{notebook.name}: no slider dashboard rendered in Voila"
            board = boards[0]
            sliders = [c for c in H.controls(page, board["cell"], scope="body")
                       if c["kind"] == "slider"]
            failures = H.check_dashboard(page, board["cell"], scope="body", idle=None,
                                         only=sliders)
            assert not failures, f"{notebook.name} in Voila:\n" + "\n".join(failures)
            # the series' settings reach Voila too (tasks.py present): no Nagle delay
            log = voila.log.read_text(errors="replace")
            assert "bpsim: kernel websocket TCP_NODELAY=1" in log, log[-3000:]
            # ... and its page template: Voila's own asks a CDN for Font Awesome in <head>
            assert not H.off_the_machine(requested), H.off_the_machine(requested)
        finally:
            page.screenshot(path=str(artifacts / f"voila-{notebook.stem}.png"), full_page=True)
            context.close()


def test_the_message_view_plays_in_voila(chromium, artifacts):
    # notebook 02's two lanes, as an instructor projects them: they draw, play and take a burst
    notebook = strategies_notebook()
    assert notebook != FIXTURE, "notebooks/02-*.ipynb is missing"
    with H.VoilaServer(notebook) as voila:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors, failed = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: failed.append(r.url))
        try:
            page.goto(voila.url, timeout=120_000)
            view = page.locator(".bpsim-messages").first
            view.wait_for(timeout=H.RUN_ALL_TIMEOUT_MS)
            assert view.locator("canvas.bpm-canvas").count() == 2, "two lanes, two canvases"
            page.wait_for_function("v => +(v.dataset.frames || 0) >= 1", arg=view.element_handle(),
                                   timeout=60_000)
            view.locator("button.bpm-play").click()
            page.wait_for_function("v => +v.dataset.frames >= 10", arg=view.element_handle(),
                                   timeout=30_000)
            before = int(view.evaluate("v => +v.dataset.offered"))
            view.locator("button.bpm-burst").click()
            page.wait_for_function(f"v => +v.dataset.offered >= {before} + 50",
                                   arg=view.element_handle(), timeout=10_000)
            assert view.evaluate("v => v.dataset.addsUp") == "true"
            assert "Traceback" not in page.inner_text("body")
            # nothing fails to load (our views ship their JavaScript and CSS inside the package;
            # the series' page template asks no CDN for anything), and nothing else goes wrong
            assert not failed, failed
            assert not errors, errors
        finally:
            page.screenshot(path=str(artifacts / f"voila-messages-{notebook.stem}.png"),
                            full_page=True)
            context.close()


def test_the_page_that_opens_the_browser_asks_no_cdn():
    # `tasks.py present` lets Voila open the browser: Voila writes a page that sends it on to the
    # app once loaded. That page (like Voila's folder listing and error pages) is framed by
    # page.html, whose own copy links a Font Awesome stylesheet from a CDN in <head>; the
    # series' template frames it without. The browser here is `echo`, which prints the page.
    import re
    import time
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    with H.VoilaServer(FIXTURE, browser="echo BROWSER-OPENS %s") as voila:
        deadline, found = time.monotonic() + 60, None
        while found is None and time.monotonic() < deadline:
            found = re.search(r"BROWSER-OPENS (file:\S+)", voila.log.read_text(errors="replace"))
            time.sleep(0.2)
        assert found, voila.log.read_text(errors="replace")[-3000:]
        opened = Path(url2pathname(urlparse(found.group(1)).path)).read_text()
    assert 'http-equiv="refresh"' in opened, opened    # the page that opens the app
    links = [u for u in re.findall(r'(?:href|src)="([^"]+)"', opened) if "://" in u]
    assert links and not H.off_the_machine(links), links
