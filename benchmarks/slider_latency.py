"""How fast the series feels: dragging a slider, slider-to-plot latency, and series run time.

    python benchmarks/slider_latency.py                      # every notebook in notebooks/
    python benchmarks/slider_latency.py notebooks/02-*.ipynb --moves 20
    python benchmarks/slider_latency.py --no-series --no-latency   # the drag figures only

Drag (issue "Drag, don't wait"): on every dashboard, each of its first ``--drag-sliders`` sliders
is dragged twice while the page counts the chart's redraws in its animation frames: a held arrow
key (``keydown`` events at 30 per second, as a keyboard's auto-repeat sends them, for
``--drag-s`` seconds) and a pointer drag (the mouse pressed on the handle and moved across the
track, a move every 16 ms, as a display's 60 Hz sends them). Both are sent by the page's own
timer: the test driver's round trips would slow them down on a busy machine. Printed: redraws per second while the input moves (median over the
dashboard's sliders; in brackets, how many new values the input reached per second, which caps
it: a slider of 15 steps has few to give), and the time from the last movement that changed the
value to the final chart (the chart showing
the slider's final value: the ``data-values`` a browser chart reports, or, for a PNG dashboard,
its last new image).

For each notebook: JupyterLab (from the installed package, on a free loopback port) opens it in
headless Chromium (Debian's ``chromium``), with JupyterLab's default windowing as a learner has
it (cells out of view are not drawn; ``--windowing none`` draws every cell, as the browser tests
do: a heavier page, and slower drags in long notebooks), and runs it from the Run menu. On every
dashboard (a cell with sliders and widget outputs) the latency figures move each slider
``--moves`` times with the keyboard, alternating ArrowRight/ArrowLeft so it stays around its
default value. One latency is the time from the ``keydown`` event in the page to the new plot
image decoded in the page (an ipympl canvas: to its pixels changing), so it is what a learner
feels, without the test driver's own round trips. Between moves the kernel is left to go idle.

A baseline row (the harness's fixture dashboard: a one-line sine plot, no simulation) shows what
the round trip alone costs on this machine right now: slider -> kernel -> PNG -> browser. The drag
figures have a baseline of their own, ``fixtures/chart_dashboard.ipynb``: a series dashboard
(``bpsim.viz.dashboard.Dashboard``, the browser chart) over a sine line that takes microseconds,
so its row is the most redraws a second the page, the widget messages and the kernel's round
trip allow right now; a dashboard near it is limited by them, not by its simulation. That page is
small; ``--ceiling`` also drags the same sine dashboard appended to a copy of each notebook
dragged (the rows "ceiling in NN"): what that notebook's page allows, whatever the simulation.

Then every notebook is run top to bottom in fresh kernels with ``tools/run_notebooks.py`` on a
copy (the committed notebooks are not touched), and the whole series' wall time is printed.

Goals (issue 7): median <= 150 ms and 95th percentile <= 300 ms per dashboard, series < 60 s on
the 2-core machine. This is a benchmark, not a test: it prints figures and never asserts.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))
import labharness as H  # noqa: E402

GOAL_MEDIAN_MS, GOAL_P95_MS, GOAL_SERIES_S = 150, 300, 60

# Resolves with {t0, t1}: t0 the next keydown in the page, t1 when the dashboard's plot is redrawn
# (a new <img> decoded, or a canvas whose pixels changed) after it.
_ARM_JS = """(cellIndex) => {
    const cell = document.querySelector('%s').querySelectorAll('.jp-Cell')[cellIndex];
    const canvases = () => [...cell.querySelectorAll('%CANVAS')];
    const before = new Set([...cell.querySelectorAll('%IMG')]);
    const pixels = canvases().map(c => c.toDataURL());
    let t0 = null;
    const onKey = () => { if (t0 === null) t0 = performance.now(); };
    document.addEventListener('keydown', onKey, true);
    window.__bpsimRedraw = new Promise((resolve) => {
        let done = false;
        const finish = (t1) => {
            if (done) return;
            done = true;
            obs.disconnect();
            document.removeEventListener('keydown', onKey, true);
            resolve({t0: t0, t1: t1});
        };
        const obs = new MutationObserver(() => {
            if (t0 === null) return;
            const fresh = [...cell.querySelectorAll('%IMG')]
                .filter(i => !before.has(i));
            if (fresh.length)
                Promise.all(fresh.map(i => i.decode().catch(() => null)))
                    .then(() => finish(performance.now()));
        });
        obs.observe(cell, {childList: true, subtree: true, attributes: true,
                           attributeFilter: ['src']});
        if (pixels.length) {
            const poll = () => {
                if (done) return;
                if (t0 !== null && canvases().some((c, k) => c.toDataURL() !== pixels[k]))
                    finish(performance.now());
                else requestAnimationFrame(poll);
            };
            requestAnimationFrame(poll);
        }
    });
    return true;
}""".replace("%s", H.NOTEBOOK).replace("%CANVAS", H.PLOT_CANVAS).replace("%IMG", H.PLOT_IMG)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    v = sorted(values)
    if len(v) == 1:
        return v[0]
    pos = (len(v) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def measure_dashboard(page, cell: int, moves: int) -> dict:
    """Latencies (ms) of ``moves`` keyboard moves of each slider of one dashboard."""
    per_slider = {}
    for control in H.controls(page, cell):
        if control["kind"] != "slider":
            continue
        handle = page.locator(H.NOTEBOOK).locator(".jp-Cell").nth(cell).locator(H.SLIDER).nth(
            control["index"])
        lat = []
        for k in range(moves):
            now = float(handle.get_attribute("aria-valuenow"))
            hi = float(handle.get_attribute("aria-valuemax"))
            key = "ArrowLeft" if (k % 2 == 1 or now >= hi) else "ArrowRight"
            page.evaluate(_ARM_JS, cell)
            handle.focus()
            handle.press(key)
            t = page.evaluate("window.__bpsimRedraw")  # waits for the promise
            lat.append(t["t1"] - t["t0"])
            # Let the kernel finish (text after the plot) before the next move.
            page.wait_for_selector(H.IDLE, timeout=H.REDRAW_TIMEOUT_MS)
            page.wait_for_timeout(150)
        per_slider[control["label"] or f"slider {control['index']}"] = lat
    return per_slider


def _drag_result(page, handle, timeout_s: float = 30.0) -> dict:
    """Wait for the final chart; redraws per second during the input, last input -> final."""
    final = handle.locator("xpath=ancestor::div[contains(@class,'widget-slider')][1]").locator(
        ".widget-readout").inner_text().strip()
    page.wait_for_selector(H.IDLE, timeout=H.REDRAW_TIMEOUT_MS)
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while time.monotonic() < deadline:   # done when nothing has changed for 1.5 s
        w = page.evaluate("window.__bpsimDrag")
        n = len(w["frames"])
        if quiet_since is None or n != quiet_since[0]:
            quiet_since = (n, time.monotonic())
        elif time.monotonic() - quiet_since[1] > 1.5:
            break
        time.sleep(0.1)
    page.evaluate("window.__bpsimDrag.stop = true; window.__bpsimDrag.remove()")
    w = page.evaluate("window.__bpsimDrag")
    if w["t0"] is None or w["changes"] < 2:
        return {"per_s": math.nan, "final_ms": math.nan, "redraws": 0, "final_ok": False,
                "values_per_s": math.nan}
    frames = [f for f in w["frames"] if f[0] >= w["t0"]]
    during = [f for f in frames if f[0] <= w["last"]]
    span_s = max(1e-3, (w["last"] - w["t0"]) / 1000)
    final_ok = True
    if frames and frames[-1][1]:   # a browser chart says which values it drew
        drawn = json.loads(frames[-1][1])
        final_ok = any(_same(v, final) for v in drawn.values())
    return {"per_s": len(during) / span_s, "redraws": len(during),
            "values_per_s": w["changes"] / span_s,
            "final_ms": (frames[-1][0] - w["last"]) if frames else math.nan,
            "final_ok": final_ok and bool(frames)}


def _same(value, readout: str) -> bool:
    try:
        return abs(float(value) - float(readout.replace(",", ""))) < 1e-9 * max(1, abs(float(value)))
    except (TypeError, ValueError):
        return False


def drag_dashboard(page, cell: int, sliders: int, drag_s: float) -> dict:
    """Drag the first ``sliders`` sliders of one dashboard (held key, then pointer)."""
    out = {"keys": [], "pointer": []}
    root = page.locator(H.NOTEBOOK).locator(".jp-Cell").nth(cell)
    for control in [c for c in H.controls(page, cell) if c["kind"] == "slider"][:sliders]:
        handle = root.locator(H.SLIDER).nth(control["index"])
        track = handle.locator("xpath=ancestor::div[contains(@class,'noUi-target')][1]")
        handle.scroll_into_view_if_needed()
        # held key: from the low end to the right (the key repeat stops at the slider's end)
        lo, hi = float(control["min"]), float(control["max"])
        now = float(handle.get_attribute("aria-valuenow"))
        key = "ArrowRight" if now - lo <= hi - now else "ArrowLeft"
        page.evaluate(H.WATCH_JS, [cell, control["index"]])
        page.evaluate(H.HOLD_KEY_JS, [cell, control["index"], key, int(30 * drag_s), 33])
        page.wait_for_function("window.__bpsimHeld === true", timeout=120_000)
        out["keys"].append(_drag_result(page, handle))
        # pointer: press on the handle, move to a fifth from the far end at 60 moves a second
        tr = track.bounding_box()
        frac = (float(handle.get_attribute("aria-valuenow")) - lo) / max(hi - lo, 1e-12)
        x1 = tr["x"] + tr["width"] * (0.2 if frac > 0.5 else 0.8)
        page.evaluate(H.WATCH_JS, [cell, control["index"]])
        page.evaluate(H.DRAG_JS, [cell, control["index"], x1, int(60 * drag_s), 16])
        page.wait_for_function("window.__bpsimHeld === true", timeout=120_000)
        out["pointer"].append(_drag_result(page, handle))
        page.wait_for_selector(H.IDLE, timeout=H.REDRAW_TIMEOUT_MS)
    return out


def trace_summary(path: Path, redraws: int) -> str:
    """Where the page's main thread spent a traced drag: busy time, and the time of the kinds of
    work inside it (they nest, so they do not add up), per redraw."""
    events = json.loads(path.read_text())
    events = events.get("traceEvents", events)
    names = {(e["pid"], e["tid"]) for e in events
             if e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"}
    totals: dict[str, float] = {}
    for e in events:
        if e.get("ph") == "X" and (e.get("pid"), e.get("tid")) in names:
            totals[e["name"]] = totals.get(e["name"], 0.0) + e.get("dur", 0) / 1000
    busy = totals.get("RunTask", 0.0)
    kinds = ["FunctionCall", "TimerFire", "FireAnimationFrame", "EventDispatch",
             "UpdateLayoutTree", "Layout", "PrePaint", "Paint", "Layerize", "MinorGC", "MajorGC",
             "V8.GC_SCAVENGER", "ParseHTML", "HitTest"]
    per = max(redraws, 1)
    out = [f"main thread busy {busy:.0f} ms over {redraws} redraws ({busy / per:.1f} ms each)"]
    out += [f"  {k:<20} {totals[k]:7.0f} ms  {totals[k] / per:6.1f} ms/redraw"
            for k in kinds if k in totals]
    return "\n".join(out)


def dashboards_in_lab(notebooks: list[str], copy: dict, on_open=None, windowing=None):
    """``(browser, page, notebook, board)`` for every dashboard with sliders of ``notebooks``,
    each notebook opened and run in JupyterLab in headless Chromium (one page at a time; its
    kernel shut down after it). ``on_open(notebook, seconds)`` hears how long a run took;
    ``windowing`` is the notebook's windowing mode (None: JupyterLab's default, a learner's)."""
    from playwright.sync_api import sync_playwright
    with H.LabServer(copy, windowing=windowing) as lab, sync_playwright() as p:
        browser = H.launch_chromium(p)
        try:
            for nb in notebooks:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.set_default_timeout(60_000)
                try:
                    H.open_notebook(page, lab, nb)
                    took = H.run_all(page)
                    if on_open is not None:
                        on_open(nb, took)
                    page.wait_for_timeout(1000)
                    for board in H.dashboards(page):
                        if board["sliders"]:
                            yield browser, page, nb, board
                finally:
                    page.close()
                    lab.shutdown_kernels()
        finally:
            browser.close()


def drag(notebooks: list[str], copy: dict, sliders: int, drag_s: float,
         trace: Path | None = None, windowing: str | None = None) -> list[dict]:
    rows = []
    for browser, page, nb, board in dashboards_in_lab(notebooks, copy, windowing=windowing):
        if nb.startswith(f"{CEILING}/"):   # the appended sine dashboard only, the last one
            if board["cell"] != max(b["cell"] for b in H.dashboards(page) if b["sliders"]):
                continue
        tracing = trace is not None and not nb.startswith(("fixtures/", f"{CEILING}/"))
        if tracing:
            browser.start_tracing(page=page, path=str(trace), categories=[
                "devtools.timeline", "disabled-by-default-devtools.timeline", "toplevel", "v8"])
        got = drag_dashboard(page, board["cell"], sliders, drag_s)
        if tracing:
            browser.stop_tracing()
            n = sum(r["redraws"] for rs in got.values() for r in rs)
            print(trace_summary(trace, n), flush=True)
            trace = None     # the first dashboard of a notebook only
        row = {"notebook": nb, "cell": board["cell"]}
        for how, res in got.items():
            res = [r for r in res if not math.isnan(r["per_s"])] or res
            row[how] = statistics.median(r["per_s"] for r in res)
            row[how + "_in"] = statistics.median(r["values_per_s"] for r in res)
            row[how + "_final_ms"] = statistics.median(r["final_ms"] for r in res)
            row[how + "_ok"] = all(r["final_ok"] for r in res)
        rows.append(row)
        print(f"    {nb} cell {board['cell']}: held key {row['keys']:.1f}/s, "
              f"pointer {row['pointer']:.1f}/s; last move -> final "
              f"{row['keys_final_ms']:.0f} / {row['pointer_final_ms']:.0f} ms"
              + ("" if row["keys_ok"] and row["pointer_ok"] else
                 "  (final chart did NOT show the final value)"), flush=True)
    return rows


#: The served folder of the notebooks with the sine dashboard appended (``--ceiling``).
CEILING = "ceiling"


def with_sine(notebooks: list[Path], folder: Path) -> list[str]:
    """Copies of ``notebooks`` in ``folder``, each with the drag baseline's sine dashboard (the
    fixture's code cell) appended; their served names."""
    import nbformat
    fixture = nbformat.read(REPO / "tests" / "browser" / "fixtures" / "chart_dashboard.ipynb", 4)
    cell = next(c for c in fixture.cells if c.cell_type == "code")
    names = []
    for path in notebooks:
        nb = nbformat.read(path, 4)
        nb.cells.append(nbformat.v4.new_code_cell(cell.source))
        nbformat.write(nb, folder / path.name)
        names.append(f"{CEILING}/{path.name}")
    return names


def latency(notebooks: list[str], copy: dict, moves: int, windowing=None) -> list[dict]:
    rows = []

    def opened(nb, took):
        print(f"  {nb}: ran in the browser in {took:.1f} s", flush=True)

    for _, page, nb, board in dashboards_in_lab(notebooks, copy, opened, windowing):
        per_slider = measure_dashboard(page, board["cell"], moves)
        all_ms = [x for v in per_slider.values() for x in v]
        rows.append({"notebook": nb, "cell": board["cell"], "sliders": len(per_slider),
                     "moves": len(all_ms), "median": statistics.median(all_ms),
                     "p95": percentile(all_ms, 95), "max": max(all_ms),
                     "per_slider": {k: statistics.median(v) for k, v in per_slider.items()}})
        print(f"    cell {board['cell']}: " + ", ".join(
            f"{k} {v:.0f} ms" for k, v in rows[-1]["per_slider"].items()), flush=True)
    return rows


def series_time(notebooks: list[Path]) -> tuple[float, list[tuple[str, float]]]:
    """Run every notebook in fresh kernels (tools/run_notebooks.py) on a copy; wall time."""
    with tempfile.TemporaryDirectory(prefix="bpsim-series-") as tmp:
        dst = Path(tmp) / "notebooks"
        shutil.copytree(REPO / "notebooks", dst,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        copies = [str(dst / nb.name) for nb in notebooks]
        env = dict(os.environ)
        env.pop("MPLBACKEND", None)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]]
                                                           if env.get("PYTHONPATH") else []))
        start = time.perf_counter()
        out = subprocess.run([sys.executable, str(REPO / "tools" / "run_notebooks.py"), *copies],
                             env=env, capture_output=True, text=True, cwd=tmp)
        total = time.perf_counter() - start
        if out.returncode != 0:
            print(out.stdout + out.stderr[-3000:])
            raise SystemExit("a notebook failed while timing the series")
        each = [(Path(m.group(1)).name, float(m.group(2)))
                for m in re.finditer(r"^(.*\.ipynb): ([\d.]+) s$", out.stdout, re.M)]
        return total, each


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", help="notebooks (default: notebooks/*.ipynb)")
    ap.add_argument("--moves", type=int, default=12, help="moves per slider (default 12, >= 10)")
    ap.add_argument("--no-series", action="store_true", help="skip the whole-series run time")
    ap.add_argument("--no-latency", action="store_true", help="skip the browser latency")
    ap.add_argument("--no-drag", action="store_true", help="skip the drag figures")
    ap.add_argument("--drag-sliders", type=int, default=2,
                    help="sliders dragged per dashboard (default 2)")
    ap.add_argument("--drag-s", type=float, default=1.5,
                    help="how long each drag lasts (s, default 1.5)")
    ap.add_argument("--trace", type=Path, default=None,
                    help="write a Chromium performance trace of the first dashboard's drags here "
                         "and print where the page's main thread spent its time")
    ap.add_argument("--code", type=Path, default=None,
                    help="the kernel imports bpsim from this checkout instead (an A/B run: the "
                         "same notebooks, other code, measured in turns)")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the baseline (the harness's fixture: a one-line plot, no simulation)")
    ap.add_argument("--ceiling", action="store_true",
                    help="also drag the baseline's sine dashboard appended to a copy of each "
                         "notebook: what that notebook's page allows")
    ap.add_argument("--windowing", choices=["default", "none"], default="default",
                    help="the notebooks' windowing mode in JupyterLab: its default, as a learner "
                         "has it (cells out of view are not drawn), or none (every cell drawn, "
                         "as the browser tests have it: a heavier page); default: default")
    args = ap.parse_args(argv)
    windowing = None if args.windowing == "default" else args.windowing
    os.environ.pop("MPLBACKEND", None)
    if args.code is not None:
        H.REPO = args.code.resolve()   # the servers' kernels put this checkout first on their path

    paths = [Path(p).resolve() for p in args.notebooks] or sorted(
        (REPO / "notebooks").glob("*.ipynb"))
    fixture = REPO / "tests" / "browser" / "fixtures" / "dashboard.ipynb"
    copy = {"fixtures": fixture.parent}
    if (REPO / "notebooks").is_dir():
        copy["notebooks"] = REPO / "notebooks"
    served = []
    for p in paths or [fixture]:
        served.append(f"fixtures/{p.name}" if p.parent == fixture.parent else f"notebooks/{p.name}")
    if not args.no_baseline and "fixtures/dashboard.ipynb" not in served:
        # What the round trip alone costs: slider -> kernel -> a trivial PNG -> browser.
        served.insert(0, "fixtures/dashboard.ipynb")

    if H.chromium_path() is None and not (args.no_latency and args.no_drag):
        raise SystemExit("no `chromium` on PATH (apt-get install -y chromium)")
    if not args.no_drag:
        print(f"Dragging, {args.drag_sliders} sliders per dashboard, {args.drag_s:g} s each "
              f"(redraws per second while the input moves; last move -> final chart), windowing "
              f"{args.windowing}; load "
              f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:")
        dragged = [n for n in served if not n.startswith("fixtures/")] or served
        if not args.no_baseline and "fixtures/chart_dashboard.ipynb" not in dragged:
            dragged.insert(0, "fixtures/chart_dashboard.ipynb")
        if args.ceiling:
            ceiling = Path(tempfile.mkdtemp(prefix="bpsim-ceiling-"))
            copy[CEILING] = ceiling
            sines = dict(zip([n for n in dragged if n.startswith("notebooks/")],
                             with_sine([REPO / n for n in dragged if n.startswith("notebooks/")],
                                       ceiling)))
            dragged = [m for n in dragged for m in ([n, sines[n]] if n in sines else [n])]
        rows = drag(dragged, copy, args.drag_sliders, args.drag_s, args.trace, windowing)
        print()
        print(f"{'dashboard':<36} {'held key (values)':>18} {'pointer (values)':>18} "
              f"{'last move -> final':>20}")
        for r in rows:
            name = f"{Path(r['notebook']).name} cell {r['cell']}"
            if r["notebook"] == "fixtures/chart_dashboard.ipynb":
                name = "baseline: chart, nothing behind"
            elif r["notebook"].startswith(f"{CEILING}/"):
                name = f"  ceiling in {Path(r['notebook']).name[:2]} (the sine)"
            print(f"{name:<36} "
                  f"{r['keys']:>6.1f}/s ({r['keys_in']:>4.1f}/s) {r['pointer']:>6.1f}/s "
                  f"({r['pointer_in']:>4.1f}/s) {r['keys_final_ms']:>8.0f} / "
                  f"{r['pointer_final_ms']:.0f} ms")
        print()

    if not args.no_latency:
        if H.chromium_path() is None:
            raise SystemExit("no `chromium` on PATH (apt-get install -y chromium)")
        print(f"Slider latency, {args.moves} moves per slider (keydown -> new plot decoded); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:")
        rows = latency(served, copy, args.moves, windowing)
        print()
        print(f"{'dashboard':<38} {'sliders':>7} {'moves':>5} {'median':>8} {'p95':>8} "
              f"{'max':>8}  goal (<= {GOAL_MEDIAN_MS} / {GOAL_P95_MS} ms)")
        for r in rows:
            ok = r["median"] <= GOAL_MEDIAN_MS and r["p95"] <= GOAL_P95_MS
            name = f"{Path(r['notebook']).name} cell {r['cell']}"
            if r["notebook"] == "fixtures/dashboard.ipynb":
                name = "baseline: one-line sine plot"
            verdict = "(reference)" if name.startswith("baseline") else "met" if ok else "MISSED"
            print(f"{name:<38} {r['sliders']:>7} {r['moves']:>5} {r['median']:>6.0f}ms "
                  f"{r['p95']:>6.0f}ms {r['max']:>6.0f}ms  {verdict}")
        if not rows:
            print("(no slider dashboards found)")

    if not args.no_series:
        real = [p for p in paths if p.parent == REPO / "notebooks"]
        if real:
            total, each = series_time(real)
            print()
            print(f"Whole series, fresh kernels (tools/run_notebooks.py on a copy): "
                  f"{total:.1f} s for {len(real)} notebooks (goal < {GOAL_SERIES_S} s: "
                  f"{'met' if total < GOAL_SERIES_S else 'MISSED'})")
            for name, s in each:
                print(f"  {name:<40} {s:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
