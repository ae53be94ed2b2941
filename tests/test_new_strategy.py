"""A new strategy is one class and nothing else: it runs by instance, by name once registered,
from the command line, and on the compiled kernel, with its parameter checked in bpsim's voice.

The class below is written here, in the test file, the way a contributor would write one: a frozen
dataclass with one declared parameter, an ``admit`` (the readable definition) and a ``rule`` (the
same decision as the kernel's knobs). Nothing else in bpsim is told about it, except by
``register``.
"""
import json
from dataclasses import dataclass

import numpy as np
import pytest

import bpsim
from bpsim import cli
from bpsim.engine import _make_engine, build_scenario, prepare
from bpsim.kernel import FastEngine
from bpsim.strategies import DROP, Rule, param
from bpsim.validate import whole
from helpers import assert_books_balance, assert_bounds


@dataclass(frozen=True, repr=False)
class Thin(bpsim.Strategy):
    """Under pressure keep 1 message in ``keep_one_in``, from the first message on (sampling that
    starts at once). What passes but finds no room is dropped."""

    keep_one_in: int = param(4, keyword="thin_every", unit="N", help="keep 1 message in N",
                             check=lambda name, v: whole(name, v, low=1, what="a whole number N"),
                             examples=(1, 7))
    name = "thin"

    def admit(self, q, gen, n, attempt):
        passed = q.sample(n, self.keep_one_in)
        k = min(passed, q.room())
        q.enqueue(gen, k)
        q.drop(passed - k)

    def rule(self):
        return Rule(sample_from=0.0, sample_every=self.keep_one_in, overflow=DROP)


@pytest.fixture
def registered():
    bpsim.register(Thin)
    yield Thin
    del bpsim.STRATEGIES["thin"]


KW = dict(producer_rate=1000, consumer_rate=100, capacity=50, duration_s=3, arrivals="poisson",
          service="exponential")


def test_by_instance_on_the_compiled_kernel_equal_to_the_readable_definition():
    strat = Thin(keep_one_in=5)
    x = prepare(build_scenario(**KW), strat, 1)
    assert isinstance(_make_engine(x, strat, "auto"), FastEngine)
    fast = bpsim.simulate(strategy=strat, engine="fast", rng=1, **KW)
    ref = bpsim.simulate(strategy=strat, engine="reference", rng=1, **KW)
    assert fast.summary() == ref.summary()
    np.testing.assert_array_equal(fast.latency_s, ref.latency_s)
    s = fast.summary()
    # 1 in 5 of the offered pass the counter (within the counter's remainder)
    assert abs(s["sampled_out"] - s["offered"] * 4 / 5) < 5
    assert_books_balance(fast)
    assert_bounds(fast)


def test_by_name_once_registered(registered):
    assert "thin" in bpsim.STRATEGIES
    r = bpsim.simulate(strategy="thin", thin_every=5, rng=1, **KW)
    assert r.strategy == Thin(keep_one_in=5)
    assert r.summary() == bpsim.simulate(strategy=Thin(keep_one_in=5), rng=1, **KW).summary()
    # its parameter is its own: another strategy refuses it, naming who takes it
    with pytest.raises(ValueError, match=r"^thin_every=5 is not valid with strategy='block': "
                                         r"use it with thin"):
        bpsim.simulate(strategy="block", thin_every=5, duration_s=1)


def test_its_parameter_is_checked_in_bpsims_voice(registered):
    with pytest.raises(ValueError, match=r"^thin_every=0 is not valid: use a whole number N, "
                                         r"1 or more\.$"):
        bpsim.simulate(strategy="thin", thin_every=0, duration_s=1)
    with pytest.raises(ValueError, match=r"^thin_every='3' is not valid"):
        Thin(keep_one_in="3")


def test_from_the_command_line(registered, capsys):
    code = cli.main(["run", "--strategy", "thin", "--thin-every", "5", "--producer-rate", "1000",
                     "--consumer-rate", "100", "--capacity", "50", "--duration", "3",
                     "--arrivals", "poisson", "--service", "exponential", "--seed", "1", "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    want = bpsim.simulate(strategy="thin", thin_every=5, rng=1, **KW).summary()
    assert json.loads(out.out) == json.loads(json.dumps(want))
    assert "--thin-every" in cli.build_parser().format_help()
    # a bad value: exit 2, one line naming the flag
    assert cli.main(["run", "--strategy", "thin", "--thin-every", "0", "--duration", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("python -m bpsim run: error: --thin-every:")


def test_the_registry_refuses_a_name_taken_by_another_class(registered):
    @dataclass(frozen=True, repr=False)
    class Other(Thin):
        name = "thin"
    with pytest.raises(ValueError, match=r"Other\.name='thin' is not valid"):
        bpsim.register(Other)
    with pytest.raises(ValueError, match="strategy=.* is not valid"):
        bpsim.register(int)


def test_retries_are_read_from_what_a_strategy_declares_never_its_name():
    # A subclass of Shed under another name still retries (once the engine read the name).
    @dataclass(frozen=True, repr=False)
    class Polite(bpsim.Shed):
        name = "polite"
    kw = dict(producer_rate=300, capacity=5, duration_s=2, arrivals="poisson", rng=2)
    a = bpsim.simulate(strategy=Polite(retries=3, backoff_s=0.01), **kw).summary()
    b = bpsim.simulate(strategy=bpsim.Shed(retries=3, backoff_s=0.01), **kw).summary()
    a.pop("strategy"), b.pop("strategy")
    assert a == b and a["attempts"] > a["offered"]
