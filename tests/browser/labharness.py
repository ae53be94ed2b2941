"""Drive the series in a real JupyterLab (and Voila) in headless Chromium.

nbval proves a notebook's code runs and its text is stable; only a browser shows what a learner
sees: a widget that fails to render, a slider that no longer redraws its plot. This module holds
the pieces the browser tests and ``benchmarks/slider_latency.py`` share:

- :class:`LabServer` / :class:`VoilaServer` start a server from the installed packages on a free
  loopback port with a token, with every Jupyter config/runtime/workspace folder in a temporary
  directory (no user settings touched), and stop it by its own process.
- :func:`launch_chromium` starts Debian's ``chromium`` (never a downloaded browser) through the
  ``playwright`` package.
- :func:`open_notebook`, :func:`run_all`, :func:`problems` and :func:`dashboards` open a notebook,
  run it through the Run menu, and read back what the page shows.
- :func:`snapshot` and :func:`move_control` capture a dashboard's plots and text and move one of
  its controls the way a learner would (keyboard on a slider, a click on a selector).

The selectors are JupyterLab 4 / ipywidgets 8 ones; see ``shared/reference/browser-testing.md``.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: The series' Jupyter server settings (this checkout's, whichever code a kernel imports).
SERVER_CONFIG = REPO / "jupyter-config"

#: Chromium flags that work as root, headless, with no network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]

#: How long (ms) a whole notebook may take to run in the browser, and one control to redraw.
RUN_ALL_TIMEOUT_MS = 240_000
REDRAW_TIMEOUT_MS = 30_000


def log(message: str) -> None:
    """Print what the harness does when ``BPSIM_BROWSER_LOG`` is set (run pytest with ``-s``)."""
    if os.environ.get("BPSIM_BROWSER_LOG"):
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium_path() -> str | None:
    """Path of the system ``chromium`` (or ``chromium-browser``), or None when there is none."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def launch_chromium(playwright):
    """A headless Chromium browser driven by ``playwright``, from the system's binary."""
    path = chromium_path()
    if path is None:
        raise RuntimeError("no `chromium` on PATH (Debian: apt-get install -y chromium)")
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)


def off_the_machine(urls: list[str]) -> list[str]:
    """The requests of ``urls`` that would leave this machine (a classroom is often offline:
    everything a page of the series needs comes from its own server)."""
    return [u for u in urls if not u.startswith(("http://127.0.0.1:", "ws://127.0.0.1:",
                                                 "data:", "blob:"))]


def _jupyter_env(tmp: Path, windowing: str | None = "none") -> dict:
    """Environment for a server: private Jupyter folders, this checkout's bpsim, inline plots.

    ``windowing`` is the notebook's windowing mode (JupyterLab's ``windowingMode`` setting); None
    leaves JupyterLab's default, what a learner's JupyterLab uses."""
    env = dict(os.environ)
    for name, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                      ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
                      ("JUPYTERLAB_SETTINGS_DIR", "settings")]:
        (tmp / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(tmp / sub)
    # The tests render every cell ("none": no virtual scrolling, no skipped rendering), so errors
    # and widgets far down a notebook are in the DOM and laid out; never prompt about news.
    if windowing is not None:
        notebook_settings = tmp / "settings" / "@jupyterlab" / "notebook-extension"
        notebook_settings.mkdir(parents=True, exist_ok=True)
        (notebook_settings / "tracker.jupyterlab-settings").write_text(
            json.dumps({"windowingMode": windowing}))
    apputils_settings = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    apputils_settings.mkdir(parents=True, exist_ok=True)
    (apputils_settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false"}))
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    # the series' Jupyter settings, as `python3 tasks.py lab` uses them (kernel messages are sent
    # without Nagle's delay, the kernel's status in the status bar: see jupyter-config/), and only
    # those
    env["JUPYTER_CONFIG_PATH"] = str(SERVER_CONFIG)
    env.pop("MPLBACKEND", None)  # Agg here would make every inline figure vanish
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not ready after {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


def _wait_port(port: int, proc: subprocess.Popen, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server not listening after {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """Stop the process we started (and only it): politely, then firmly."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class LabServer:
    """JupyterLab serving a copy of the notebooks from a temporary folder.

    The notebooks are copied (``copy`` maps a name in the served folder to a source folder) so that
    JupyterLab's autosave can never write an executed notebook over a committed one.

    ``windowing``: the notebooks' windowing mode (``"none"``, every cell attached and drawn, as the
    tests want; None for JupyterLab's default, as a learner has it: ``"contentVisibility"``,
    cells out of view not drawn).

    Use as a context manager; ``url(path)`` gives a page address with the token.
    """

    def __init__(self, copy: dict[str, Path], startup_timeout_s: float = 60,
                 windowing: str | None = "none"):
        self.copy = copy
        self.windowing = windowing
        self.startup_timeout_s = startup_timeout_s
        self.token = uuid.uuid4().hex
        self.port = free_port()
        self.proc = None

    def __enter__(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="bpsim-lab-")
        tmp = Path(self._tmp.name)
        self.root = tmp / "root"
        self.root.mkdir()
        for name, src in self.copy.items():
            shutil.copytree(src, self.root / name,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        self.log = tmp / "jupyterlab.log"
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={self.port}",
               "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
               "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.root,
                                         env=_jupyter_env(tmp, self.windowing))
        try:
            _wait_http(self.api("status"), self.proc, self.log, self.startup_timeout_s)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            try:  # shuts the kernels down too
                self._request("POST", "shutdown")
                self.proc.wait(timeout=20)
            except Exception:
                pass
            _stop(self.proc)
        self._tmp.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str) -> str:
        return f"{self.base}/api/{path}?token={self.token}"

    def url(self, notebook: str) -> str:
        """Address that opens ``notebook`` (relative to the served root) in a clean workspace."""
        return f"{self.base}/lab/tree/{notebook}?token={self.token}&reset"

    def _request(self, method: str, path: str):
        req = urllib.request.Request(self.api(path), method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """End every kernel session (one notebook's kernel must not slow the next one down)."""
        for session in self._request("GET", "sessions") or []:
            self._request("DELETE", f"sessions/{session['id']}")


class VoilaServer:
    """Voila serving one notebook as a stand-alone app (presentation mode).

    ``browser``: a command Voila opens the app with (``%s`` is the address of the page it
    writes, in the server's own temporary folder, to send the browser on); None: none opened.
    """

    def __init__(self, notebook: Path, startup_timeout_s: float = 60, browser: str | None = None):
        self.notebook = Path(notebook)
        self.startup_timeout_s = startup_timeout_s
        self.browser = browser
        self.port = free_port()
        self.proc = None

    def __enter__(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="bpsim-voila-")
        tmp = Path(self._tmp.name)
        root = tmp / "root"
        shutil.copytree(self.notebook.parent, root,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        self.log = tmp / "voila.log"
        opens = ["--no-browser"] if self.browser is None else [f"--Voila.browser={self.browser}"]
        cmd = [sys.executable, "-m", "voila", str(root / self.notebook.name), *opens,
               f"--port={self.port}", "--Voila.ip=127.0.0.1", "--Voila.port_retries=0"]
        env = _jupyter_env(tmp)
        env["TMPDIR"] = str(tmp)     # where Voila writes the page that opens the browser
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=root, env=env)
        try:  # ready when it accepts connections (a GET of the page would start the kernel)
            _wait_port(self.port, self.proc, self.log, self.startup_timeout_s)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            _stop(self.proc)
        self._tmp.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


# ---------------------------------------------------------------- JupyterLab pages

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
# The kernel's status: in the status bar with the series' settings (jupyter-config/labconfig),
# in the notebook's toolbar with JupyterLab's defaults
IDLE = ("#jp-main-statusbar .jp-Notebook-ExecutionIndicator[data-status='idle'], "
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']")


def open_notebook(page, server: LabServer, notebook: str, timeout_ms: float = 90_000) -> None:
    """Open ``notebook`` in a clean workspace and wait until its kernel is connected and idle.

    The kernel's status says "idle" before the kernel is really connected (and Run All then does
    nothing), so readiness is asked of the server too: the notebook's kernel must be idle with a
    connection open.
    """
    page.goto(server.url(notebook), timeout=timeout_ms)
    page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        # A notebook without a kernelspec makes JupyterLab ask for a kernel: take its default.
        accept = page.locator(".jp-Dialog .jp-mod-accept")
        if accept.count():
            accept.first.click()
        sessions = [s for s in server._request("GET", "sessions") or []
                    if s.get("path", "").endswith(notebook)]
        kernels = [s["kernel"] for s in sessions if s.get("kernel")]
        if any(k.get("execution_state") == "idle" and k.get("connections", 0) >= 1
               for k in kernels):
            break
        time.sleep(0.2)
    else:
        raise TimeoutError(f"the kernel of {notebook} never became idle and connected")
    page.wait_for_selector(IDLE, timeout=timeout_ms)


def run_all(page, timeout_ms: float = RUN_ALL_TIMEOUT_MS) -> float:
    """Clear every output, run every cell through the Run menu, wait until done; seconds taken.

    The committed notebooks are stored executed: clearing first (Edit > Clear Outputs of All
    Cells) makes every output and execution number on the page come from this run.
    """
    start = time.perf_counter()
    page.click("div.lm-MenuBar-itemLabel:text-is('Edit')")
    page.click("li.lm-Menu-item[data-command='editmenu:clear-all']")
    page.wait_for_function(
        """(sel) => ![...document.querySelectorAll(sel + ' .jp-CodeCell .jp-InputArea-prompt')]
            .some(p => /\\[\\d+\\]/.test(p.textContent))""", arg=NOTEBOOK, timeout=30_000)
    for attempt in range(3):
        page.click("div.lm-MenuBar-itemLabel:text-is('Run')")
        page.click("li.lm-Menu-item[data-command='runmenu:run-all']")
        try:  # started: some prompt left "[ ]" (a kernel still settling can swallow the request)
            page.wait_for_function(
                """(sel) => [...document.querySelectorAll(sel + ' .jp-CodeCell .jp-InputArea-prompt')]
                    .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))""",
                arg=NOTEBOOK, timeout=15_000, polling=100)
            break
        except Exception:
            if attempt == 2:
                raise
    # Done when no prompt says [*] (queued and running cells do; after a failure Run All clears
    # the rest back to [ ]) and the kernel is idle.
    page.wait_for_function(
        """([sel, idle]) => {
            const nb = document.querySelector(sel);
            if (!nb || !document.querySelector(idle)) return false;
            return ![...nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
                .some(p => p.textContent.includes('*'));
        }""", arg=[NOTEBOOK, IDLE], timeout=timeout_ms, polling=250)
    return time.perf_counter() - start


_PROBLEMS_JS = """(sel) => {
    const nb = document.querySelector(sel);
    const out = {errors: [], stderr: [], widget_errors: [], unrendered: [], unrun: [], views: 0};
    const text = (el) => el.innerText.trim().slice(0, 800);
    // JupyterLab renders both tracebacks and warnings as stderr; a traceback names its exception.
    const isError = (t) => /Traceback|^\\w*(Error|Exception)\\b|^\\w+Error: /m.test(t);
    [...nb.querySelectorAll('.jp-Cell')].forEach((cell, i) => {
        if (cell.classList.contains('jp-CodeCell')) {
            const prompt = cell.querySelector('.jp-InputArea-prompt');
            const src = cell.querySelector('.jp-InputArea-editor');
            const hasCode = src && src.innerText.trim().length > 0;
            if (hasCode && !/\\[\\d+\\]/.test(prompt ? prompt.textContent : ''))
                out.unrun.push(i);
        }
        cell.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
            .forEach(e => (isError(e.innerText) ? out.errors : out.stderr).push([i, text(e)]));
        // A widget view is an output without a MIME type (the widget renderer's own node).
        cell.querySelectorAll('.jp-OutputArea-output:not([data-mime-type])').forEach(v => {
            out.views += 1;
            if (/Error displaying widget/i.test(v.innerText))
                out.widget_errors.push([i, text(v)]);
            else if (!v.querySelector('.jupyter-widgets, .bpsim-messages'))  // ipywidgets; the message view
                out.unrendered.push([i, text(v) || '(empty widget view)']);
        });
    });
    return out;
}"""


def problems(page, settle_ms: float = 15_000) -> dict:
    """What a learner would see go wrong on the open notebook.

    Keys: ``errors`` (tracebacks), ``stderr`` (other text on stderr, e.g. warnings),
    ``widget_errors`` ("Error displaying widget"), ``unrendered`` (widget views still showing
    "Loading widget..." or nothing after ``settle_ms``), ``unrun`` (code cells without an
    execution number); each a list of ``[cell index, text]`` (``unrun``: indices). ``views`` is
    the number of widget views on the page.
    """
    deadline = time.monotonic() + settle_ms / 1000
    while True:
        found = page.evaluate(_PROBLEMS_JS, NOTEBOOK)
        if not found["unrendered"] or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


# ---------------------------------------------------------------- dashboards

SLIDER = ".widget-slider .noUi-handle"
#: A dashboard's plots: inline PNGs in Output widgets, ipympl canvases, or the canvases of the
#: series' browser charts (bpsim.viz.charts: uPlot in an anywidget view).
PLOT_IMG = ".widget-output img"
PLOT_CANVAS = ".widget-output canvas, .jupyter-matplotlib canvas, .bpsim-chart canvas"
#: A dashboard's computed text: what its callbacks print into Output widgets, HTML widgets, or
#: the caption under a browser chart.
PLOT_TEXT = ".widget-output .jp-RenderedText, .widget-html-content, .bpsim-caption"
#: Selectors a learner changes by clicking: dropdowns, toggle buttons, radio buttons, checkboxes.
SELECTORS = (".widget-dropdown select, .widget-toggle-buttons, .widget-radio-box, "
             ".widget-checkbox input")

_DASHBOARDS_JS = """([sel, slider, selectors, plotsel]) => {
    const root = document.querySelector(sel) || document.body;
    const cells = [...root.querySelectorAll('.jp-Cell')];
    const scopes = cells.length ? cells : [root];
    const found = [];
    scopes.forEach((cell, i) => {
        const sliders = cell.querySelectorAll(slider).length;
        const sel = cell.querySelectorAll(selectors).length;
        const outputs = cell.querySelectorAll(plotsel).length;
        if ((sliders || sel) && outputs)
            found.push({cell: cells.length ? i : -1, sliders: sliders, selectors: sel,
                        outputs: outputs});
    });
    return found;
}"""


def dashboards(page, scope: str = NOTEBOOK) -> list[dict]:
    """Cells (or the page, where there are no cells) whose output has controls and a plot.

    Controls are sliders or selectors; a plot is an image in an ``Output`` widget or an ipympl
    canvas. (Controls without a plot, say a prediction slider with a "check" button, are not a
    dashboard.) Each is ``{"cell": index or -1, "sliders": n, "selectors": n, "outputs": n}``,
    ``outputs`` counting plots.
    """
    return page.evaluate(_DASHBOARDS_JS, [scope, SLIDER, SELECTORS, f"{PLOT_IMG}, {PLOT_CANVAS}"])


def _scope_js(scope: str, cell: int) -> str:
    """JS expression for the element holding one dashboard."""
    if cell < 0:
        return f"document.querySelector({json.dumps(scope)}) || document.body"
    return f"document.querySelector({json.dumps(scope)}).querySelectorAll('.jp-Cell')[{cell}]"


def snapshot(page, cell: int, scope: str = NOTEBOOK) -> dict:
    """What a dashboard's outputs show now: image sources, canvas pixels, text.

    Image sources are long data URLs; they are kept whole so any redraw changes them.
    """
    return page.evaluate(
        f"""() => {{
            const el = {_scope_js(scope, cell)};
            return {{
                images: [...el.querySelectorAll('{PLOT_IMG}')].map(i => i.src),
                canvases: [...el.querySelectorAll('{PLOT_CANVAS}')].map(c => {{
                    try {{ return c.toDataURL(); }} catch (e) {{ return 'tainted'; }} }}),
                text: [...el.querySelectorAll('{PLOT_TEXT}')].map(t => t.innerText).join('\\n'),
            }};
        }}""")


def plots(snap: dict) -> list[str]:
    return snap["images"] + snap["canvases"]


def controls(page, cell: int, scope: str = NOTEBOOK) -> list[dict]:
    """The sliders and selectors of one dashboard, in page order, with labels and state."""
    return page.evaluate(
        f"""([slider, selectors]) => {{
            const el = {_scope_js(scope, cell)};
            const label = (c) => {{
                const w = c.closest('.widget-inline-hbox, .widget-slider, .widget-dropdown, '
                    + '.widget-toggle-buttons, .widget-radio, .widget-checkbox') || c;
                const l = w.querySelector('.widget-label, label');
                return (l ? l.innerText : '').trim();
            }};
            const out = [];
            el.querySelectorAll(slider).forEach((h, k) => out.push({{
                kind: 'slider', index: k, label: label(h),
                now: h.getAttribute('aria-valuenow'), max: h.getAttribute('aria-valuemax'),
                min: h.getAttribute('aria-valuemin')}}));
            el.querySelectorAll(selectors).forEach((s, k) => out.push({{
                kind: 'selector', index: k, label: label(s), tag: s.tagName,
                cls: s.className}}));
            return out;
        }}""", [SLIDER, SELECTORS])


def move_control(page, cell: int, control: dict, step: int = 0, scope: str = NOTEBOOK) -> str:
    """Move one control the way a learner would; returns a description of the move.

    A slider's handle is focused and gets ArrowRight (ArrowLeft once it is at its maximum, or on
    odd ``step`` when it can go both ways, so repeated moves stay in range). A dropdown gets the
    next option, toggle/radio buttons the next unselected button, a checkbox a click.
    """
    root = page.locator(scope) if cell < 0 else page.locator(scope).locator(".jp-Cell").nth(cell)
    if cell < 0 and page.locator(scope).count() == 0:
        root = page.locator("body")
    if control["kind"] == "slider":
        handle = root.locator(SLIDER).nth(control["index"])
        now = float(handle.get_attribute("aria-valuenow"))
        hi = float(handle.get_attribute("aria-valuemax"))
        lo = float(handle.get_attribute("aria-valuemin"))
        key = "ArrowRight"
        if now >= hi or (step % 2 == 1 and now > lo):
            key = "ArrowLeft"
        handle.focus()
        handle.press(key)
        return f"slider {control['label']!r} {key} from {now:g}"
    widget = root.locator(SELECTORS).nth(control["index"])
    tag = control.get("tag", "")
    if tag == "SELECT":
        options = widget.locator("option").all_inner_texts()
        current = widget.evaluate("s => s.selectedIndex")
        nxt = (current + 1) % len(options)
        widget.select_option(index=nxt)
        return f"dropdown {control['label']!r} -> {options[nxt]!r}"
    if tag == "INPUT":
        widget.click()
        return f"checkbox {control['label']!r} clicked"
    buttons = widget.locator("button, input[type=radio]")
    active = widget.evaluate("""w => [...w.querySelectorAll('button, input[type=radio]')]
        .findIndex(b => b.classList.contains('mod-active') || b.checked === true)""")
    nxt = (active + 1) % buttons.count()  # the one after the selected one, round the ring
    b = buttons.nth(nxt)
    b.click()
    return f"buttons {control['label']!r} -> {b.inner_text() or nxt}"


def mark_plots(page, cell: int, scope: str = NOTEBOOK) -> None:
    """Tag the dashboard's current images (and browser charts' redraw counts), so a redraw (even an
    identical one) can be seen."""
    page.evaluate(f"""() => {{
        const el = {_scope_js(scope, cell)};
        el.querySelectorAll('{PLOT_IMG}').forEach(i => i.dataset.bpsimSeen = '1');
        el.querySelectorAll('.bpsim-chart').forEach(c => c.dataset.bpsimSeen = c.dataset.draws);
    }}""")


def wait_redraw(page, cell: int, before: dict, timeout_ms: float = REDRAW_TIMEOUT_MS,
                scope: str = NOTEBOOK, idle: str | None = IDLE, settle_ms: int = 150) -> dict:
    """Wait until the dashboard's plots are drawn again after a move, then until they settle.

    A redraw is an image element that was not there at :func:`mark_plots` time, or a plot (image
    source, canvas pixels) that differs from ``before``, with at least as many plots as before.
    Returns the new snapshot, taken once the kernel is idle (``idle`` selector, if any) and the
    outputs stopped changing for ``settle_ms``. Raises playwright's TimeoutError if nothing is
    redrawn.
    """
    n_before = len(plots(before))
    page.wait_for_function(
        f"""([before, n]) => {{
            const el = {_scope_js(scope, cell)};
            const imgs = [...el.querySelectorAll('{PLOT_IMG}')];
            if (imgs.some(i => !i.complete)) return false;
            const now = imgs.map(i => i.src)
                .concat([...el.querySelectorAll('{PLOT_CANVAS}')].map(c => {{
                    try {{ return c.toDataURL(); }} catch (e) {{ return 'tainted'; }} }}));
            // a browser chart counts its redraws (an identical picture is still a redraw)
            const redrawn = [...el.querySelectorAll('.bpsim-chart')]
                .some(c => c.dataset.bpsimSeen !== undefined && c.dataset.draws !== c.dataset.bpsimSeen);
            const fresh = imgs.some(i => !i.dataset.bpsimSeen) || now.some(p => !before.includes(p))
                || redrawn;
            return now.length >= n && now.length > 0 && fresh;
        }}""", arg=[plots(before), n_before], timeout=timeout_ms, polling=20)
    deadline = time.monotonic() + timeout_ms / 1000
    last = None
    while time.monotonic() < deadline:
        if idle:
            page.wait_for_selector(idle, timeout=timeout_ms)
        snap = snapshot(page, cell, scope)
        if snap == last:
            return snap
        last = snap
        page.wait_for_timeout(settle_ms)
    return last


#: Moves tried per control before concluding its plot/text never changes (one step of a slider
#: Small moves tried per control before trying its far end (one step of a slider may
#: legitimately leave a rounded number unchanged).
MOVES_PER_CONTROL = 3
#: Most options of one selector tried while looking for a setting where a control matters.
MAX_OPTIONS = 8


def _control_root(page, cell: int, scope: str):
    if cell < 0:
        return page.locator(scope) if page.locator(scope).count() else page.locator("body")
    return page.locator(scope).locator(".jp-Cell").nth(cell)


_STATE_JS = """([el, slider, selectors, c]) => {
    if (c.kind === 'slider') {
        const h = el.querySelectorAll(slider)[c.index];
        if (!h) return {disabled: true, value: null, options: 0};
        // The readout shows the value at the slider's own precision (aria-valuenow is rounded).
        const box = h.closest('.widget-slider');
        const readout = box ? box.querySelector('.widget-readout') : null;
        return {disabled: h.closest('.noUi-target').hasAttribute('disabled'),
                value: readout ? readout.innerText.trim() : h.getAttribute('aria-valuenow'),
                options: 0};
    }
    const s = el.querySelectorAll(selectors)[c.index];
    if (!s) return {disabled: true, value: null, options: 0};
    if (s.tagName === 'SELECT')
        return {disabled: s.disabled, value: s.selectedIndex, options: s.options.length};
    if (s.tagName === 'INPUT')
        return {disabled: s.disabled, value: s.checked, options: 2};
    const items = [...s.querySelectorAll('button, input[type=radio]')];
    return {disabled: items.every(b => b.disabled),
            value: items.findIndex(b => b.classList.contains('mod-active') || b.checked === true),
            options: items.length};
}"""


def control_state(page, cell: int, control: dict, scope: str = NOTEBOOK) -> dict:
    """``{"disabled": bool, "value": ..., "options": n}`` of one control as the page shows it."""
    return page.evaluate(
        f"([slider, selectors, c]) => ({_STATE_JS})([{_scope_js(scope, cell)}, slider, "
        f"selectors, c])", [SLIDER, SELECTORS, control])


def _set_state(page, cell: int, control: dict, value, scope: str) -> None:
    """Put a control back to ``value`` (a slider: by typing it into its readout)."""
    root = _control_root(page, cell, scope)
    if control["kind"] == "slider":
        handle = root.locator(SLIDER).nth(control["index"])
        readout = handle.locator("xpath=ancestor::div[contains(@class,'widget-slider')][1]"
                                 ).locator(".widget-readout")
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(str(value))
        page.keyboard.press("Enter")
        return
    widget = root.locator(SELECTORS).nth(control["index"])
    if control.get("tag") == "SELECT":
        widget.select_option(index=int(value))
    elif control.get("tag") == "INPUT":
        if widget.is_checked() != bool(value):
            widget.click()
    elif int(value) >= 0:
        widget.locator("button, input[type=radio]").nth(int(value)).click()


def _restore(page, cell, control, value, before, scope, idle) -> dict:
    """Put ``control`` back to ``value`` if it moved; the snapshot after the redraw."""
    if control_state(page, cell, control, scope)["value"] == value:
        return before
    mark_plots(page, cell, scope)
    try:
        _set_state(page, cell, control, value, scope)
        for _ in range(20):  # the page takes the new value at once, or never (e.g. a label)
            if control_state(page, cell, control, scope)["value"] == value:
                return wait_redraw(page, cell, before, scope=scope, idle=idle)
            page.wait_for_timeout(100)
    except Exception:
        pass
    return snapshot(page, cell, scope)  # could not put it back: carry on from where it is


def _describe_stall(page, cell, before, scope) -> str:
    """What the dashboard shows after a redraw never came: for the failure message."""
    now = snapshot(page, cell, scope)
    extra = page.evaluate(f"""() => {{
        const el = {_scope_js(scope, cell)};
        const errs = [...el.querySelectorAll(
            '.widget-output [data-mime-type="application/vnd.jupyter.stderr"]')]
            .map(e => e.innerText.slice(-600));
        const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
        return {{errors: errs, kernel: status ? status.dataset.status : '?',
                 pending: [...el.querySelectorAll('{PLOT_IMG}')].filter(i => !i.complete).length}};
    }}""")
    return (f"now {len(now['images'])} images (before {len(before['images'])}), "
            f"{'a new' if plots(now) != plots(before) else 'the same'} plot, text "
            f"{'changed' if now['text'] != before['text'] else 'unchanged'}, "
            f"{extra['pending']} images still loading, kernel {extra['kernel']}"
            + (f", error in the output: {extra['errors']}" if extra["errors"] else ""))


def _try_moves(page, cell, control, before, moves, scope, idle):
    """Move ``control`` up to ``moves`` times; (plot changed, text changed, failure, snapshot)."""
    plot_changed = text_changed = False
    start_text = before["text"]
    for _ in range(moves):
        mark_plots(page, cell, scope)
        # Keep moving the same way (turning back only at a slider's end), so the value really
        # goes somewhere new.
        move = move_control(page, cell, control, step=0, scope=scope)
        try:
            after = wait_redraw(page, cell, before, scope=scope, idle=idle)
        except Exception as exc:  # playwright's TimeoutError
            return (plot_changed, text_changed, f"{move}: no redraw within "
                    f"{REDRAW_TIMEOUT_MS / 1000:.0f} s ({type(exc).__name__}); "
                    + _describe_stall(page, cell, before, scope), before)
        plot_changed |= plots(after) != plots(before)
        text_changed |= after["text"] != start_text
        log(f"cell {cell}: {move}: plot {'changed' if plots(after) != plots(before) else 'same'}"
            f", text {'changed' if after['text'] != start_text else 'same'}")
        before = after
        if plot_changed and (text_changed or not start_text.strip()):
            break
    return plot_changed, text_changed, None, before


def _far_ends(page, cell, control, before, start_text, scope, idle):
    """Small moves left the computed text alone: try big ones. (text changed, snapshot)

    Outcome sentences are often coarse ("0% resolving", "never"): one slider step cannot move
    them, a far end of the slider should (End, then Home). A selector goes through its other
    options.
    """
    if control["kind"] == "slider":
        handle = _control_root(page, cell, scope).locator(SLIDER).nth(control["index"])
        for key in ("End", "Home"):
            mark_plots(page, cell, scope)
            handle.focus()
            handle.press(key)
            try:
                before = wait_redraw(page, cell, before, scope=scope, idle=idle)
            except Exception:  # already at that end: nothing to redraw
                continue
            log(f"cell {cell}: slider {control['label']!r} {key}: text "
                f"{'changed' if before['text'] != start_text else 'same'}")
            if before["text"] != start_text:
                return True, before
        return False, before
    n = control_state(page, cell, control, scope)["options"]
    for _ in range(min(n, MAX_OPTIONS)):
        _p, _t, failure, before = _try_moves(page, cell, control, before, 1, scope, idle)
        if failure:
            return False, before
        if before["text"] != start_text:
            return True, before
    return False, before


def _exercise(page, cell, control, before, scope, idle):
    """Small moves, then far ones for the text; (plot changed, text changed, failure, snap)."""
    start_text = before["text"]
    plot_changed, text_changed, failure, before = _try_moves(
        page, cell, control, before, MOVES_PER_CONTROL, scope, idle)
    if not failure and plot_changed and not text_changed and start_text.strip():
        text_changed, before = _far_ends(page, cell, control, before, start_text, scope, idle)
    return plot_changed, text_changed or not start_text.strip(), failure, before


def check_dashboard(page, cell: int, scope: str = NOTEBOOK, idle: str | None = IDLE,
                    only: list[dict] | None = None) -> list[str]:
    """Move every control of one dashboard (or ``only`` these); return what failed.

    Each enabled control, starting from the dashboard's own settings, gets up to
    ``MOVES_PER_CONTROL`` small moves (a slider: the arrow keys; a selector: its next option);
    each move must redraw the plot within ``REDRAW_TIMEOUT_MS``, and the plot must change. When
    the dashboard shows computed text, it must change too, if need be at the slider's far ends
    (coarse sentences may not follow one step). Then the control is put back.

    A control that changes nothing under the dashboard's own settings (say "keep 1 in N", which
    only matters for the ``sample`` strategy) is tried again under each other setting of each
    other selector, and passes if it works under one. Disabled controls are left alone. An
    empty list means every control works.
    """
    failures = []
    before = snapshot(page, cell, scope)
    if not plots(before):
        return [f"cell {cell}: dashboard shows no plot before any move"]
    every = controls(page, cell, scope)
    for control in (every if only is None else only):
        name = f"cell {cell}: {control['kind']} {control['label']!r}"
        state = control_state(page, cell, control, scope)
        if state["disabled"] or (control["kind"] == "selector" and state["options"] < 2):
            continue
        log(f"{name}: from {state['value']}")
        plot_ok, text_ok, failure, before = _exercise(page, cell, control, before, scope, idle)
        before = _restore(page, cell, control, state["value"], before, scope, idle)
        others = [c for c in every if c["kind"] == "selector" and c != control]
        for sel in others if not (failure or (plot_ok and text_ok)) else []:
            sel_state = control_state(page, cell, sel, scope)
            for _ in range(min(sel_state["options"], MAX_OPTIONS) - 1):
                _p, _t, failure, before = _try_moves(page, cell, sel, before, 1, scope, idle)
                if failure or control_state(page, cell, control, scope)["disabled"]:
                    continue
                plot_ok, text_ok, failure, before = _exercise(page, cell, control, before,
                                                              scope, idle)
                before = _restore(page, cell, control, state["value"], before, scope, idle)
                if failure or (plot_ok and text_ok):
                    break
            before = _restore(page, cell, sel, sel_state["value"], before, scope, idle)
            if failure or (plot_ok and text_ok):
                break
        log(f"{name}: plot {'ok' if plot_ok else 'NO'}, text {'ok' if text_ok else 'NO'}"
            f"{', ' + failure if failure else ''}")
        setting = " under every setting of the other selectors" if others else ""
        if failure:
            failures.append(f"{name}: {failure}")
        elif not plot_ok:
            failures.append(f"{name}: plot identical after {MOVES_PER_CONTROL} moves{setting}")
        elif not text_ok:
            failures.append(f"{name}: computed text unchanged, even at the far ends{setting}: "
                            f"{before['text'].strip()[:200]!r}")
    return failures


# ---------------------------------------------------------------- dragging

# Counts the dashboard's chart redraws, one per animation frame at most, and the last input time.
WATCH_JS = """([cellIndex, k]) => {
    const cell = document.querySelector('%s').querySelectorAll('.jp-Cell')[cellIndex];
    const h = cell.querySelectorAll('.widget-slider .noUi-handle')[k || 0];
    // t0/last: the first and the last input that changed the slider's value; changes: how many
    const w = {frames: [], t0: null, last: null, changes: 0, stop: false,
               value: h ? h.getAttribute('aria-valuenow') : null};
    window.__bpsimDrag = w;
    const state = () => {
        const charts = [...cell.querySelectorAll('.bpsim-chart')];
        if (charts.length)
            return charts.map(c => (c.dataset.draws || '') + '|' + (c.dataset.values || '')).join(';');
        return [...cell.querySelectorAll('%IMG')].map(i => i.complete ? i.src.length + i.src.slice(-64) : '').join(';');
    };
    let prev = state();
    const tick = () => {
        const now = state();
        if (now !== prev) {
            const c = cell.querySelector('.bpsim-chart');
            w.frames.push([performance.now(), c ? (c.dataset.values || '') : '']);
            prev = now;
        }
        if (!w.stop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    const input = (e) => {
        if (e.type === 'mousemove' && !e.buttons) return;
        const t = performance.now();
        setTimeout(() => {   // after the slider has handled the event
            const v = h ? h.getAttribute('aria-valuenow') : null;
            if (v === w.value) return;
            w.value = v;
            w.changes += 1;
            if (w.t0 === null) w.t0 = t;
            w.last = t;
        }, 0);
    };
    ['keydown', 'mousedown', 'mousemove'].forEach(k => document.addEventListener(k, input, true));
    w.remove = () => ['keydown', 'mousedown', 'mousemove'].forEach(
        k => document.removeEventListener(k, input, true));
    return true;
}""".replace("%s", NOTEBOOK).replace("%IMG", PLOT_IMG)

# A held arrow key: keydown/keyup on the focused handle every `ms` for `n` times, from the page's
# own timer (the test driver's round trips would slow the repeat down on a busy machine).
HOLD_KEY_JS = """([cellIndex, k, key, n, ms]) => {
    const cell = document.querySelector('%s').querySelectorAll('.jp-Cell')[cellIndex];
    const h = cell.querySelectorAll('.widget-slider .noUi-handle')[k];
    h.focus();
    window.__bpsimHeld = false;
    let i = 0;
    const opts = {key: key, code: key, keyCode: key === 'ArrowRight' ? 39 : 37, bubbles: true,
                  cancelable: true};
    const end = h.getAttribute(key === 'ArrowRight' ? 'aria-valuemax' : 'aria-valuemin');
    const id = setInterval(() => {
        h.dispatchEvent(new KeyboardEvent('keydown', opts));
        h.dispatchEvent(new KeyboardEvent('keyup', opts));
        if (++i >= n || h.getAttribute('aria-valuenow') === end) {
            clearInterval(id);
            window.__bpsimHeld = true;
        }
    }, ms);
    return true;
}""".replace("%s", NOTEBOOK)


# A pointer drag: mousedown on the handle, then a mousemove every `ms` (a display's 60 Hz) across
# to `x1`, then mouseup; from the page's own timer, as for the held key. noUiSlider listens for
# the moves on the document element.
DRAG_JS = """([cellIndex, k, x1, n, ms]) => {
    const cell = document.querySelector('%s').querySelectorAll('.jp-Cell')[cellIndex];
    const h = cell.querySelectorAll('.widget-slider .noUi-handle')[k];
    const b = h.getBoundingClientRect();
    const x0 = b.x + b.width / 2, y = b.y + b.height / 2;
    const doc = document.documentElement;
    const ev = (type, x, target) => target.dispatchEvent(new MouseEvent(type, {
        clientX: x, clientY: y, buttons: type === 'mouseup' ? 0 : 1, button: 0, bubbles: true,
        cancelable: true, view: window}));
    window.__bpsimHeld = false;
    ev('mousedown', x0, h);
    let i = 0;
    const id = setInterval(() => {
        i += 1;
        ev('mousemove', x0 + (x1 - x0) * i / n, doc);
        if (i >= n) { clearInterval(id); ev('mouseup', x1, doc); window.__bpsimHeld = true; }
    }, ms);
    return true;
}""".replace("%s", NOTEBOOK)




def screenshot_notebook(page, path: Path, max_height: int = 20_000) -> None:
    """Save the whole open notebook as one PNG (the viewport is stretched to its height).

    JupyterLab scrolls the notebook inside its own panel, so a "full page" screenshot would show
    only one screen; for the picture the window is made as tall as the notebook, then restored.
    """
    size = page.viewport_size
    height = page.evaluate(
        """(sel) => {
            const n = document.querySelector(sel);
            if (!n) return 0;
            const scroller = n.querySelector('.jp-WindowedPanel-outer') || n;
            scroller.scrollTop = 0;
            const cells = n.querySelectorAll('.jp-Cell');
            const last = cells.length ? cells[cells.length - 1].getBoundingClientRect().bottom
                : scroller.scrollHeight + scroller.getBoundingClientRect().top;
            return last + 80;  // and the status bar below
        }""", NOTEBOOK)
    tall = int(min(max_height, max(size["height"], height)))
    page.set_viewport_size({"width": size["width"], "height": tall})
    try:
        page.wait_for_timeout(300)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)
