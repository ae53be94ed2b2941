"""Fixtures for the browser tests: one JupyterLab server and one headless Chromium per session.

Without a ``chromium`` on PATH (or without the ``playwright`` package) these tests skip and say
why; under CI (``CI=true``) the same absence fails the run, so a broken CI image cannot pass
silently. Screenshots go to ``test-artifacts/browser/`` (gitignored).

``BPSIM_BROWSER_NOTEBOOKS=PATTERN`` (environment) limits the notebook tests to matching files (a
glob on the file name, e.g. ``'0[1-3]*'``), handy when working on one notebook. (An environment
variable rather than a command-line option: pytest reads options only from conftests it loads at
start-up, and this one sits below ``tests/``.)
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import labharness  # noqa: E402

ARTIFACTS = labharness.REPO / "test-artifacts" / "browser"

# The fixture notebooks are inputs of the browser tests, not notebooks for nbval to check (one is
# broken on purpose).
collect_ignore_glob = ["fixtures/*"]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: runs in a real JupyterLab/Voila in headless Chromium (slow)")


def _under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _unavailable(reason: str):
    if _under_ci():
        pytest.fail(f"CI=true but the browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason} (they run, and must pass, under CI=true)")


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium (Debian's binary, driven by playwright), or a skip/fail with a reason."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the `playwright` Python package is not installed (pip install playwright)")
    if labharness.chromium_path() is None:
        _unavailable("no `chromium` on PATH (Debian/Ubuntu: apt-get install -y chromium; never "
                     "`playwright install`)")
    with sync_playwright() as p:
        browser = labharness.launch_chromium(p)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def lab(chromium):
    """JupyterLab serving copies of ``notebooks/`` and the harness's own fixture notebooks."""
    copy = {"fixtures": Path(__file__).parent / "fixtures"}
    if (labharness.REPO / "notebooks").is_dir():
        copy["notebooks"] = labharness.REPO / "notebooks"
    with labharness.LabServer(copy) as server:
        yield server


@pytest.fixture
def page(chromium, lab):
    """A fresh browser page; the notebook kernels it started are shut down afterwards."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(60_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()
        try:
            lab.shutdown_kernels()
        except Exception:
            pass


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def notebook_paths(pattern: str = "*") -> list[str]:
    """Notebooks the browser tests open, as paths in the served folder.

    Every ``notebooks/*.ipynb`` (discovered, so a new notebook is tested without touching this
    file). While there are none yet, the harness's own fixture dashboard stands in, so the
    harness is still exercised end to end.
    """
    from fnmatch import fnmatch
    found = [f"notebooks/{p.name}" for p in sorted((labharness.REPO / "notebooks").glob("*.ipynb"))]
    found = found or ["fixtures/dashboard.ipynb"]
    return [p for p in found if fnmatch(Path(p).name, pattern)]


def pytest_generate_tests(metafunc):
    if "notebook" in metafunc.fixturenames:
        paths = notebook_paths(os.environ.get("BPSIM_BROWSER_NOTEBOOKS") or "*")
        metafunc.parametrize("notebook", paths, ids=paths)
