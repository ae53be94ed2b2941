"""The warm-up that `tasks.py lab` starts: it compiles everything the notebooks compile.

One cold compile in an empty numba cache (about a minute), through `tasks.py`'s own function, then
every notebook executed against that cache: a notebook that still compiles something (a strategy,
a dtype, a model the warm-up does not run) leaves a new entry in the cache, and the test names it.
"""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tasks  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def compiled(cache: Path) -> set[str]:
    """The machine code numba keeps in ``cache``: one file per function and signature."""
    return {p.name for p in cache.rglob("*.nbc")}


@pytest.fixture(scope="module")
def warmed(tmp_path_factory):
    """An empty numba cache, filled by the warm-up exactly as ``tasks.py lab`` starts it."""
    tmp = tmp_path_factory.mktemp("warm")
    cache = tmp / "numba-cache"
    cache.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tasks, "VENV", tmp)  # its log goes to the environment's folder
        mp.setenv("NUMBA_CACHE_DIR", str(cache))
        proc = tasks.warm_up_in_background(Path(sys.executable))
    try:
        rc = proc.wait(timeout=600)
    finally:
        proc.kill()  # (in its own session: nothing else would stop it; a no-op once it ended)
    log = (tmp / "warm-up.log").read_text()
    assert rc == 0, log
    return cache, log


def test_the_warm_up_says_it_is_ready_and_fills_the_cache(warmed):
    cache, log = warmed
    assert "compiled engines are ready" in log, log
    names = compiled(cache)
    # both engines: the queue's kernel and the API server's ticks
    assert any(n.startswith("kernel._run-") for n in names), sorted(names)
    assert any(n.startswith("ticks.run-") for n in names), sorted(names)


def test_no_notebook_compiles_what_the_warm_up_left_out(warmed, tmp_path):
    cache, _ = warmed
    before = compiled(cache)
    folder = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", folder)
    copies = [str(folder / p.name) for p in NOTEBOOKS]
    env = {**tasks.jupyter_env(), "NUMBA_CACHE_DIR": str(cache)}
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "run_notebooks.py"), *copies],
                         env=env, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout + run.stderr
    new = compiled(cache) - before
    assert not new, f"compiled by a notebook but not by bpsim.course.warmup: {sorted(new)}"
