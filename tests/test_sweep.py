"""bpsim.sweep: every point of a grid, the same run simulate gives, on any executor."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import bpsim

GRID = {"producer_rate": [50, 300], "capacity": [5, 40], "strategy": ["drop_newest", "block"]}
KW = dict(duration_s=1, arrivals="poisson", service="exponential", rng=3)


def test_each_row_is_the_run_simulate_gives_with_the_same_seed():
    t = bpsim.sweep(GRID, executor="serial", **KW)
    assert len(t) == 8 and t.grid == ("producer_rate", "capacity", "strategy")
    for row in t.rows():
        s = bpsim.simulate(strategy=row["strategy"], producer_rate=row["producer_rate"],
                           capacity=int(row["capacity"]), **KW).summary()
        assert row["delivered"] == s["delivered"] and row["dropped"] == s["dropped"]
        assert row["offered"] == s["offered"]


@pytest.mark.parametrize("executor", [None, ThreadPoolExecutor(2)], ids=["processes", "threads"])
def test_every_executor_gives_the_same_table(executor):
    serial = bpsim.sweep(GRID, executor="serial", **KW)
    other = bpsim.sweep(GRID, executor=executor, **KW)
    for name, col in serial.columns.items():
        if col.dtype == object:
            assert list(col) == list(other.columns[name])
        else:
            np.testing.assert_array_equal(col, other.columns[name])


def test_pivot_lays_a_value_over_two_parameters():
    t = bpsim.sweep(GRID, executor="serial", **KW).where(strategy="drop_newest")
    rates, caps, dropped = t.pivot("producer_rate", "capacity", "dropped")
    assert rates.tolist() == [50, 300] and caps.tolist() == [5, 40]
    assert dropped.shape == (2, 2)
    assert dropped[1, 0] >= dropped[1, 1]  # more room, no more drops (same arrivals)


@pytest.mark.parametrize("grid, name", [
    ({}, "grid"), ({"capcity": [1]}, "capcity"), ({"capacity": 5}, "capacity"),
    ({"capacity": []}, "capacity"), ({"capacity": list(range(400)), "producer_rate":
                                      list(range(400))}, "grid"),
])
def test_a_bad_grid_is_refused_by_name(grid, name):
    with pytest.raises(ValueError, match=f"^{name}="):
        bpsim.sweep(grid, executor="serial", duration_s=1)
