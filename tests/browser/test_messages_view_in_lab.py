"""The message view in a real JupyterLab: it renders, plays, pauses, takes bursts and settings.

``fixtures/messages_view.ipynb`` shows one lane (cell 1) and two lanes (cell 2). Each test runs it
in JupyterLab in headless Chromium and reads what the page says about itself (the view's root
element carries ``data-frames``, ``data-now``, ``data-offered``, ``data-playing``, ...). The 200 ms
of the burst check is the issue's promise to a learner who presses a key; it is measured in the
page (key press to the counter's change), not a benchmark.
"""
from __future__ import annotations

import json
import time

import pytest

import labharness as H

pytestmark = pytest.mark.browser

NB = "fixtures/messages_view.ipynb"
ROOT = ".bpsim-messages"


def _views(page):
    return page.locator(H.NOTEBOOK).locator(ROOT)


def _data(view, key):
    return view.evaluate(f"e => e.dataset[{key!r}]")


def _open(page, lab, console):
    page.on("console", lambda m: console.append(m) if m.type == "error" else None)
    page.on("pageerror", lambda e: console.append(e))
    H.open_notebook(page, lab, NB)
    H.run_all(page)
    views = _views(page)
    views.first.wait_for(timeout=60_000)
    page.wait_for_function(
        "sel => [...document.querySelectorAll(sel)].length === 2 && [...document.querySelectorAll(sel)]"
        ".every(v => +(v.dataset.frames || 0) >= 1)", arg=ROOT, timeout=60_000)
    found = H.problems(page)
    assert not found["errors"] and not found["widget_errors"], found
    return views


def _playing(page, lab, console, until="frames", above=5):
    """The fixture open, its first view playing and past ``above`` (frames, or ``now``: s)."""
    views = _open(page, lab, console)
    v = views.nth(0)
    v.locator("button.bpm-play").click()
    _wait_data(page, 0, until, f"+x > {above}")
    return views, v


def _wait_data(page, view_index, key, predicate_js, timeout=10_000):
    page.wait_for_function(
        f"""([sel, i]) => {{ const v = document.querySelectorAll(sel)[i];
            const x = v && v.dataset[{key!r}]; return x !== undefined && ({predicate_js}); }}""",
        arg=[ROOT, view_index], timeout=timeout, polling=10)


def test_the_view_renders_plays_and_pauses(page, lab, artifacts):
    console = []
    views = _open(page, lab, console)
    v = views.nth(0)
    assert v.locator("canvas.bpm-canvas").count() == 1
    two = views.nth(1)
    assert two.locator("canvas.bpm-canvas").count() == 2, "two lanes, two canvases"
    # two lanes of one strategy (FIFO beside LIFO): each is named, in its header and in the
    # charts' legends, and drawn in a colour of its own
    names = ["drop_newest, FIFO", "drop_newest, LIFO"]
    assert json.loads(_data(two, "labels")) == names
    assert two.locator(".bpm-lane-label").all_inner_texts() == names
    keys = two.locator(".bpm-chart-title").first.locator(".bpm-key")
    assert keys.all_inner_texts() == names
    swatches = keys.evaluate_all("ks => ks.map(k => k.firstChild.style.background)")
    assert len(set(swatches)) == 2, f"both lanes drawn in {swatches}"
    assert v.locator(".bpm-lane-label").count() == 1 and not v.locator(".bpm-lane-label").is_visible()
    assert v.locator(".bpm-chart canvas").count() >= 2, "no live charts"
    now0 = float(_data(v, "now"))
    v.locator("button.bpm-play").click()
    _wait_data(page, 0, "now", f"+x > {now0} + 0.3")
    f1 = int(_data(v, "frames"))
    time.sleep(1.0)
    f2 = int(_data(v, "frames"))
    assert f2 > f1 + 5, f"frames did not keep coming while playing ({f1} -> {f2})"
    assert _data(v, "addsUp") == "true"
    assert int(_data(v, "dots")) > 0, "no dots on screen while playing"
    v.locator("button.bpm-play").click()
    assert _data(v, "playing") == "false"
    time.sleep(0.5)
    paused_frames, paused_now = _data(v, "frames"), _data(v, "now")
    time.sleep(1.0)
    assert (_data(v, "frames"), _data(v, "now")) == (paused_frames, paused_now), \
        "frames kept changing after pause"
    v.locator("button.bpm-step").click()
    _wait_data(page, 0, "now", f"+x > {float(paused_now)}")
    page.screenshot(path=str(artifacts / "messages-view.png"), full_page=True)
    assert not console, [str(m.text if hasattr(m, "text") else m) for m in console]


def test_a_view_at_rest_or_out_of_sight_costs_the_page_nothing(page, lab):
    # Paused, once its last dots have landed (the longest flight is under 1.5 s), a view paints
    # nothing: the dashboards around it have the page's main thread to themselves.
    console = []
    _, v = _playing(page, lab, console, above=10)
    v.locator("button.bpm-play").click()
    time.sleep(2.0)
    rest = _data(v, "paints")
    assert rest is not None and int(rest) > 10, f"the view says it painted {rest} times"
    time.sleep(1.0)
    assert _data(v, "paints") == rest, "a paused view kept repainting its canvas"
    # Playing, then scrolled out of sight: no frames asked for until it is back.
    v.locator("button.bpm-play").click()
    _wait_data(page, 0, "frames", f"+x > {int(_data(v, 'frames')) + 5}")
    page.evaluate("""(sel) => {
        const spacer = document.createElement('div');
        spacer.id = 'bpsim-spacer';
        spacer.style.height = '4000px';
        const views = document.querySelectorAll(sel);
        views[views.length - 1].after(spacer);
        spacer.scrollIntoView({block: 'end'});
    }""", ROOT)
    time.sleep(0.5)
    away = _data(v, "frames")
    time.sleep(1.0)
    assert _data(v, "frames") == away, "a view out of sight kept asking the kernel for frames"
    assert _data(v, "playing") == "true", "out of sight is not paused: it resumes when seen"
    v.scroll_into_view_if_needed()
    _wait_data(page, 0, "frames", f"+x > {int(away) + 5}")
    assert not console, [str(m.text if hasattr(m, "text") else m) for m in console]


def test_a_burst_press_raises_offered_within_200_ms(page, lab):
    console = []
    views, v = _playing(page, lab, console)
    took = page.evaluate(
        """(sel) => new Promise((done) => {
            const v = document.querySelector(sel);
            const before = +v.dataset.offered;
            const t0 = performance.now();
            const watch = new MutationObserver(() => {
                if (+v.dataset.offered >= before + 100) { watch.disconnect(); done(performance.now() - t0); }
            });
            watch.observe(v, {attributes: true});
            v.querySelector('button.bpm-burst').focus();
            v.dispatchEvent(new KeyboardEvent('keydown', {key: 'b', bubbles: true}));
            setTimeout(() => done(-1), 5000);
        })""", ROOT)
    assert took >= 0, "the burst never reached the offered counter"
    assert took <= 200, f"the burst took {took:.0f} ms to reach the offered counter"
    # a click on the button does the same, in both lanes of the two-lane view
    two = views.nth(1)
    before = [int(_data(two, "offered")), int(_data(two, "offered1"))]
    two.locator("button.bpm-burst").click()
    _wait_data(page, 1, "offered1", f"+x >= {before[1]} + 50")
    assert int(_data(two, "offered")) >= before[0] + 50, "the burst went into one lane only"
    assert not console, [str(m) for m in console]


def test_a_control_change_takes_effect_without_a_restart(page, lab):
    console = []
    _, v = _playing(page, lab, console, until="now", above=0.5)
    cap = v.locator("input.bpm-capacity")
    cap.fill("60")
    cap.press("Enter")          # a number field commits on change
    cap.evaluate("e => e.blur()")
    _wait_data(page, 0, "capacity", "x === '60'")
    now_after = float(_data(v, "now"))
    assert now_after > 0.5, "the simulation restarted from 0 on a setting"
    v.locator("select.bpm-strategy").select_option("block")
    page.wait_for_function("sel => document.querySelector(sel).dataset.strategies.includes('block')",
                           arg=ROOT, timeout=10_000)
    assert float(_data(v, "now")) >= now_after, "changing the strategy restarted the simulation"
    assert _data(v, "addsUp") == "true"
    assert not console, [str(m) for m in console]


def test_keyboard_tab_reaches_every_control_and_space_pauses(page, lab):
    console = []
    views = _open(page, lab, console)
    v = views.nth(0)
    v.focus()
    wanted = v.evaluate("""e => [...e.querySelectorAll('button, select, input')]
        .filter(c => !c.closest('[hidden]')).map(c => c.className)""")
    reached = set()
    for _ in range(len(wanted) + 2):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("() => document.activeElement.className"))
        style = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        assert style != "none" or page.evaluate("() => !document.activeElement.closest('.bpsim-messages')"), \
            "a focused control shows no focus outline"
    missing = [c for c in wanted if c not in reached]
    assert not missing, f"Tab never reached {missing}"
    v.locator("button.bpm-step").focus()
    page.keyboard.press(" ")
    _wait_data(page, 0, "playing", "x === 'true'")
    _wait_data(page, 0, "frames", "+x > 5")
    page.keyboard.press(" ")
    _wait_data(page, 0, "playing", "x === 'false'")
    assert not console, [str(m) for m in console]
