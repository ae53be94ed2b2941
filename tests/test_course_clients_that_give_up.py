"""Notebook 07's module: the burst, the fixes, the client-side throttle, the dashboard's twin."""
import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from bpsim.course import clients_that_give_up as clients  # noqa: E402
from helpers import assert_books_balance, assert_bounds  # noqa: E402


@pytest.fixture(scope="module")
def results():
    return clients.fixes()


def test_every_fix_keeps_the_books(results):
    for label, r in results.items():
        assert_books_balance(r)
        assert_bounds(r)


def test_fifo_serves_the_dead_and_every_fix_does_better(results):
    fifo = results["FIFO, 500 slots"].summary()
    # the consumer stays busy (throughput near its rate) while the useful work collapses
    assert fifo["throughput_per_s"] > 0.9 * clients.SETUP["consumer_rate"]
    assert fifo["goodput_per_s"] < 0.3 * clients.SETUP["producer_rate"]
    assert fifo["wasted_work_share"] > 0.5
    for label, r in results.items():
        if label != "FIFO, 500 slots":
            assert r.summary()["goodput_per_s"] > 2 * fifo["goodput_per_s"], label


def test_a_calm_run_wastes_nothing_and_has_no_outage():
    r = clients.clients_run(burst=False)
    s = r.summary()
    assert s["timed_out"] == 0 and s["goodput_per_s"] == s["throughput_per_s"]
    assert clients.outage_s(r) == 0.0
    assert clients.outage_s(clients.clients_run()) > 30  # the burst's outage outlives it


def test_the_client_throttle_refuses_only_when_accepts_fall_behind():
    calm = clients.clients_run(clients.ClientThrottle(k=2.0), burst=False).summary()
    assert calm["shed"] == 0  # requests never outnumber twice the accepts
    burst = clients.clients_run(clients.ClientThrottle(k=2.0)).summary()
    assert burst["shed"] > 0 and burst["attempts"] == burst["offered"]  # refused, never retried
    with pytest.raises(ValueError, match="^k=0.5 is not valid"):
        clients.ClientThrottle(k=0.5)


def test_the_dashboard_says_what_its_still_twin_prints():
    d = clients.clients_dashboard()
    for change in ({}, {"order": "lifo"}, {"capacity": 100, "client_timeout_s": 2.0}):
        d.update(**change)
        text = clients.show_clients(**d.values(), show=False)
        assert text.split() == d.last_text.split(), change


def test_the_fixes_table_stays_under_100_characters(results):
    assert max(len(line) for line in clients.fixes_table(results).splitlines()) <= 100
