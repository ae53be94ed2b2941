"""The browser checks can fail: run them on a notebook broken on purpose and see each one catch it.

``fixtures/broken.ipynb`` displays a widget whose model does not exist, has a slider whose plot
ignores it, and ends with an exception. A harness that reported nothing here would pass broken
notebooks too. (And the harness's servers get the windowing mode asked for.)
"""
from __future__ import annotations

import pytest

import labharness as H


@pytest.mark.browser
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


def test_a_server_environment_gets_the_windowing_mode_asked_for(tmp_path):
    """The tests' servers draw every cell ("none"); the drag benchmark's leave JupyterLab's
    default (a learner's: cells out of view not drawn), so its figures are a learner's page."""
    import json

    H._jupyter_env(tmp_path / "tests")
    settings = json.loads((tmp_path / "tests" / "settings" / "@jupyterlab" / "notebook-extension"
                           / "tracker.jupyterlab-settings").read_text())
    assert settings == {"windowingMode": "none"}
    H._jupyter_env(tmp_path / "learner", windowing=None)
    assert not (tmp_path / "learner" / "settings" / "@jupyterlab" / "notebook-extension").exists()
