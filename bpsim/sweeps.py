"""Sweeps: one scenario over a grid of settings, on every core, as one table.

Where does a strategy give way? One run answers for one setting; a *sweep* answers for a grid of
them (producer rate x capacity x strategy, say) and returns a :class:`Table` with one row per
setting: the setting, then every number of :meth:`bpsim.Result.summary`.

Every point runs with the same seed (*common random numbers*): two neighbouring cells of a map
differ because their settings differ, not because their random draws did. The runs go to an
executor from :mod:`concurrent.futures`: by default a process pool with one worker per core (on
Linux the workers are forked, so they start with the compiled kernel already loaded); any other
executor works the same way, Dask's ``Client.get_executor()`` included, to run a sweep on a
cluster when one machine is not enough.

>>> t = sweep({"producer_rate": [50, 200], "capacity": [10, 100]}, strategy="drop_newest",
...           duration_s=2, rng=1, executor="serial")
>>> len(t), t.columns["producer_rate"].tolist(), int(t.columns["dropped"][0])
(4, [50.0, 50.0, 200.0, 200.0], 0)
"""
from __future__ import annotations

import itertools
import os
from concurrent.futures import Executor, ProcessPoolExecutor

import numpy as np

from . import validate
from .engine import simulate, split_keywords
from .scenario import SCENARIO_FIELDS
from .strategies import keywords

#: Most points one sweep may have: a minute of computing at a few ms a run, on a laptop.
MAX_POINTS = 100_000


class Table:
    """The result of a :func:`sweep`: one row per point of the grid, as named columns.

    Attributes
    ----------
    columns : dict of str -> numpy.ndarray
        The grid's parameters first (in the grid's order), then every summary key. Numbers are
        float or int arrays; a summary value that is ``None`` (no latency: nothing delivered) is
        NaN.
    grid : tuple of str
        The names swept.
    """

    def __init__(self, rows: list[dict], grid: tuple):
        self.grid = tuple(grid)
        names = list(rows[0]) if rows else list(grid)
        self.columns = {}
        for name in names:
            values = [r[name] for r in rows]
            if all(isinstance(v, str) for v in values):
                self.columns[name] = np.array(values, dtype=object)
            else:
                self.columns[name] = np.array([np.nan if v is None else v for v in values],
                                              dtype=float)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __repr__(self):
        return f"<Table: {len(self)} runs over {', '.join(self.grid)}>"

    def rows(self) -> list[dict]:
        """The table as a list of dicts, one per point."""
        return [{k: v[i] for k, v in self.columns.items()} for i in range(len(self))]

    def where(self, **values) -> "Table":
        """The rows whose columns equal the given values (``where(strategy="block")``)."""
        keep = np.ones(len(self), dtype=bool)
        for name, value in values.items():
            validate.choice("column", name, tuple(self.columns))
            keep &= self.columns[name] == value
        out = Table([], self.grid)
        out.columns = {k: v[keep] for k, v in self.columns.items()}
        return out

    def pivot(self, rows: str, cols: str, value: str):
        """``(row_values, col_values, grid)``: ``value`` laid out over two swept parameters.

        ``grid[i, j]`` is the value where ``rows`` is ``row_values[i]`` and ``cols`` is
        ``col_values[j]`` (NaN where no run has that pair). Filter first with :meth:`where`
        when more than two parameters were swept.
        """
        for name in (rows, cols, value):
            validate.choice("column", name, tuple(self.columns))
        r_vals, r_idx = np.unique(self.columns[rows], return_inverse=True)
        c_vals, c_idx = np.unique(self.columns[cols], return_inverse=True)
        grid = np.full((len(r_vals), len(c_vals)), np.nan)
        grid[r_idx, c_idx] = self.columns[value]
        return r_vals, c_vals, grid


def _run_point(args) -> dict:
    scenario, strategy, seed, point = args
    kw = dict(point)
    name = kw.pop("strategy", strategy)
    summary = simulate(scenario, name, rng=seed, **kw).summary()
    return {**point, **summary}


def _points(grid: dict) -> list[dict]:
    if not isinstance(grid, dict) or not grid:
        validate.bad("grid", grid, "a dict of {parameter: list of values}, such as "
                                   "{'producer_rate': [500, 1000], 'capacity': [50, 500]}")
    validate.keywords(grid, SCENARIO_FIELDS + tuple(keywords()) + ("strategy",), where="sweep")
    axes = []
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            validate.bad(name, values, "a list of values to sweep")
        values = list(values)
        if not values:
            validate.bad(name, values, "a list of at least one value")
        axes.append([(name, v) for v in values])
    n = int(np.prod([len(a) for a in axes], dtype=float))
    if n > MAX_POINTS:
        validate.bad("grid", f"{n:,} points", f"at most {MAX_POINTS:,} points: fewer values")
    return [dict(combo) for combo in itertools.product(*axes)]


def sweep(grid: dict, *, strategy="drop_newest", rng=None, executor=None, scenario=None,
          **fixed) -> Table:
    """Run one scenario at every point of a grid of settings; returns a :class:`Table`.

    Parameters
    ----------
    grid : dict
        ``{name: values}``: scenario fields, strategy parameters, or ``"strategy"`` itself; every
        combination is run (the Cartesian product), in the grid's order.
    strategy : str or Strategy
        The strategy, unless the grid sweeps ``"strategy"``.
    rng : int or None
        The seed every point runs with (common random numbers); ``None`` draws one at random.
    executor : concurrent.futures.Executor, "serial" or None
        Where the runs go. ``None``: a process pool with one worker per core, made and shut down
        here. ``"serial"``: one after the other in this process. Any Executor: its ``map``.
    scenario : Scenario, dict or None
        The base scenario; ``**fixed`` overrides its fields (and gives strategy parameters).

    Returns
    -------
    Table
        One row per point: the point's values, then every summary key.
    """
    points = _points(grid)
    split_keywords(fixed)  # names are checked before anything runs
    if rng is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    else:
        seed = validate.whole("rng", rng, low=0, high=validate.MAX_SEED,
                              what="a seed (a whole number)")
    jobs = [(scenario, strategy, seed, {**fixed, **p}) for p in points]
    if executor == "serial":
        rows = [_run_point(j) for j in jobs]
    elif executor is None:
        # The first run of each strategy here, before the pool forks: the workers then inherit a
        # loaded kernel instead of each loading (or compiling) it again.
        first = {}
        for i, j in enumerate(jobs):
            first.setdefault(repr(j[3].get("strategy", strategy)), i)
        done = {i: _run_point(jobs[i]) for i in first.values()}
        rest = [j for i, j in enumerate(jobs) if i not in done]
        workers = max(1, min(os.cpu_count() or 1, len(rest)))
        chunk = max(1, len(rest) // (4 * workers))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            ran = iter(pool.map(_run_point, rest, chunksize=chunk))
        rows = [done[i] if i in done else next(ran) for i in range(len(jobs))]
    elif isinstance(executor, Executor) or hasattr(executor, "map"):
        rows = list(executor.map(_run_point, jobs))
    else:
        validate.bad("executor", executor, "a concurrent.futures.Executor, 'serial', or None "
                                           "for a process pool on every core")
    # Show only the swept names and the summary: fixed settings are the same in every row.
    keep = [k for k in grid] + [k for k in rows[0] if k not in fixed and k not in grid]
    return Table([{k: r[k] for k in keep} for r in rows], tuple(grid))
