"""Shared checks for the tests: the accounting identity and the bounds every run must keep."""
import numpy as np
import pytest

from bpsim.result import IDENTITY_TERMS


def assert_books_balance(result):
    """Every message generated is in exactly one place, at the end and after every tick."""
    s = result.summary()
    assert s["offered"] == sum(s[k] for k in IDENTITY_TERMS), s
    # ... and tick by tick: cumulative outcomes plus what is in flight equal what was offered.
    cum = {name: np.cumsum(getattr(result, name)) for name in
           ("offered", "delivered", "timed_out", "expired", "dropped", "shed", "sampled_out",
            "lost")}
    in_flight = result.queue_depth + result.in_service + result.producer_backlog
    settled = sum(cum[name] for name in cum if name != "offered")
    np.testing.assert_array_equal(cum["offered"], settled + in_flight)


def assert_bounds(result):
    """Nothing negative; the buffer within its capacity; memory within the limit."""
    sc = result.scenario
    for name in ("queue_depth", "in_service", "producer_backlog", "offered", "admitted",
                 "delivered", "dropped", "shed", "sampled_out", "lost", "attempts", "timed_out",
                 "expired"):
        assert getattr(result, name).min() >= 0, name
    assert result.memory_bytes.max() <= sc.memory_limit_bytes
    assert result.summary()["peak_memory_bytes"] <= sc.memory_limit_bytes
    assert result.in_service.max() <= sc.max_consumers
    if result.strategy.bounded:
        cap = result.capacity
        # a shrinking (adaptive) capacity never evicts, so the bound is the largest so far
        assert np.all(result.queue_depth <= np.maximum.accumulate(cap)), "depth above capacity"
        assert result.summary()["max_queue_depth"] <= np.nanmax(cap)
    assert np.all(result.latency_s >= 0)


def strategy_examples(with_rule_only=True):
    """One instance of every registered strategy at its defaults, then at each declared example
    value of each parameter (``param(examples=...)``), then at all the first examples together.

    Generated from the registry, so a new strategy's compiled rule is checked against its readable
    ``admit`` without anyone adding it to a list.
    """
    from bpsim import STRATEGIES
    from bpsim.strategies import params_of

    out = []
    for cls in STRATEGIES.values():
        base = cls()
        if with_rule_only and base.rule() is None:
            continue
        out.append(base)
        params = params_of(cls)
        for p in params:
            out += [cls(**{p.attr: v}) for v in p.examples]
        firsts = {p.attr: p.examples[0] for p in params if p.examples}
        if len(firsts) > 1:
            out.append(cls(**firsts))
    return out


# Fixtures shared by test files (imported there by name; a tests/conftest.py would clash with
# tests/browser/conftest.py, pytest importing both as "conftest").


@pytest.fixture(autouse=True)
def close_figures():
    """Close every pyplot figure a test leaves open (a module that imports this gets it for
    each of its tests): more than 20 open figures make matplotlib warn, and take memory."""
    yield
    import matplotlib.pyplot as plt
    plt.close("all")


@pytest.fixture
def every_process_stopped():
    """Kill whatever a test left running of the live programs, then fail the test if it had left
    something running."""
    from bpsim.live.harness import Proc
    before = len(Proc.started)
    yield
    mine = Proc.started[before:]
    running = [p for p in mine if p.popen.poll() is None]
    for p in mine:
        p.kill()
    assert not running, f"left running: {[' '.join(p.args[3:6]) for p in running]}"
