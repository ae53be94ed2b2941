"""The browser checks can fail: run them on a notebook broken on purpose and see each one catch it.

``fixtures/broken.ipynb`` displays a widget whose model does not exist, has a slider whose plot
ignores it, and ends with an exception. A harness that reported nothing here would pass broken
notebooks too.
"""
from __future__ import annotations

import pytest

import labharness as H

pytestmark = pytest.mark.browser


def test_harness_catches_a_broken_notebook(page, lab, artifacts):
    H.open_notebook(page, lab, "fixtures/broken.ipynb")
    H.run_all(page)
    found = H.problems(page, settle_ms=5_000)
    H.screenshot_notebook(page, artifacts / "harness-broken.png")

    assert any("ZeroDivisionError" in text for _, text in found["errors"]), found
    assert found["widget_errors"] or found["unrendered"], found
    boards = H.dashboards(page)
    assert len(boards) == 1, boards
    failures = H.check_dashboard(page, boards[0]["cell"])
    assert any("plot identical" in f for f in failures), failures
