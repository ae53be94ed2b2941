"""Every notebook, as a learner meets it: opened in JupyterLab in Chromium and run from the Run menu.

For each notebook (``notebooks/*.ipynb``, discovered): after Run All, the page must show no
traceback, no "Error displaying widget", no widget view left unrendered and no cell left unrun,
and the page must have asked nothing of another machine.
On every dashboard (a cell whose output holds sliders or selectors and widget outputs), each
slider moved with the keyboard and each selector changed must redraw the plot and the computed
text. A screenshot of each notebook goes to ``test-artifacts/browser/<name>.png``.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest

import labharness as H

pytestmark = pytest.mark.browser

def test_notebook_runs_and_dashboards_respond(page, lab, notebook, artifacts):
    shot = artifacts / (Path(notebook).stem + ".png")
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    start = time.perf_counter()
    H.open_notebook(page, lab, notebook)
    opened = time.perf_counter() - start
    try:
        took = H.run_all(page)
        found = H.problems(page)
        assert not found["errors"], f"{notebook}: error outputs: {found['errors']}"
        assert not found["widget_errors"], f"{notebook}: {found['widget_errors']}"
        assert not found["unrendered"], f"{notebook}: widget views not rendered: {found['unrendered']}"
        assert not found["unrun"], f"{notebook}: code cells left unrun: {found['unrun']}"
        if found["stderr"]:
            warnings.warn(f"{notebook} prints on stderr: {found['stderr']}")
        boards = H.dashboards(page)
        checked = time.perf_counter()
        failures = []
        for board in boards:
            failures += H.check_dashboard(page, board["cell"])
        assert not failures, f"{notebook}: dashboards that do not respond:\n" + "\n".join(failures)
        # nothing from the internet: a classroom is often offline
        assert not H.off_the_machine(requested), H.off_the_machine(requested)
        print(f"{notebook}: opened in {opened:.1f} s, ran in {took:.1f} s, {found['views']} "
              f"widget views, {len(boards)} dashboards checked in "
              f"{time.perf_counter() - checked:.1f} s")
    finally:
        H.screenshot_notebook(page, shot)
