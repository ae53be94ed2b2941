"""Junk of every type and size, thrown at every public entry: a clear error or a correct run.

Every value a user can hand bpsim (a scenario field, a strategy's parameter, a policy's answer,
a command-line flag) is tried with junk: wrong types, nan and infinities, huge and tiny numbers,
negative ones. The only acceptable outcomes are a run whose books balance, or an InputError (a
ValueError) whose message starts with the parameter's name and the value and says what would work
(``name=value is not valid: use ...``); from the command line, exit 2 with one line on stderr and
no traceback; in a notebook, that one line and no traceback either.
"""
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpsim
from bpsim import cli, validate
from bpsim.course.adaptive_challenge import run_suite, suite
from bpsim.policies import check_decision, Decision, PolicyError
from bpsim.scenario import SCENARIO_FIELDS
from bpsim.strategies import keywords
from helpers import assert_books_balance

SMALL = dict(duration_s=0.2, dt_s=0.01)

junk = st.one_of(
    st.none(), st.booleans(), st.text(max_size=8), st.binary(max_size=4),
    st.integers(-10**30, 10**30), st.integers(10**300, 10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 0.5, 1e-324, 5e-324, 1e-300, 1e300, 2**63, 2**64, -2**63,
                     float("nan"), float("inf"), -float("inf"), "3", "1e3", "", [], {}, (1,),
                     [1, 2], ((1, 2),), 1j, np.int64(7), np.float32(0.5), np.nan, object()]),
    st.lists(st.integers(-5, 5), max_size=3), st.tuples(st.floats(), st.floats()),
)


def assert_clear_error(err: ValueError, name: str):
    # an InputError: a notebook shows it as this one line, not as a traceback through bpsim
    assert isinstance(err, validate.InputError), (type(err), err)
    text = str(err)
    assert text.startswith(f"{name}="), (name, text)
    assert "is not valid" in text or "is not a parameter" in text, text
    assert len(text.splitlines()) == 1, text
    assert text.endswith("."), text


def run_or_clear_error(name, *, also=(), **kwargs):
    try:
        r = bpsim.simulate(rng=1, **kwargs)
    except ValueError as err:
        text = str(err)
        named = next((n for n in (name, *also) if text.startswith(f"{n}=")), name)
        assert_clear_error(err, named)
        return None
    assert_books_balance(r)
    return r


FIELDS = [f for f in SCENARIO_FIELDS if f not in ("duration_s", "dt_s")]


@pytest.mark.parametrize("field", FIELDS + ["duration_s", "dt_s"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=junk)
def test_every_scenario_field_takes_junk_with_a_clear_error(field, value):
    kw = dict(SMALL, producer_rate=200, consumer_rate=100, capacity=20)
    kw[field] = value
    if field == "duration_s":
        kw["dt_s"] = 0.01
    # a check of two fields together names the one it refers to, whichever of the two was junk
    pairs = {"duration_s": ("dt_s",), "dt_s": ("duration_s",),
             "message_bytes": ("memory_limit_bytes",), "producer_rate": ("duration_s",)}
    also = pairs.get(field, ())
    run_or_clear_error(field, also=also, strategy="drop_newest", **kw)


@pytest.mark.parametrize("keyword", sorted(keywords()))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=junk)
def test_every_strategy_parameter_takes_junk_with_a_clear_error(keyword, value):
    strategy = keywords()[keyword][0]
    run_or_clear_error(keyword, strategy=strategy, producer_rate=500, capacity=10,
                       **{keyword: value}, **SMALL)


@settings(max_examples=60, deadline=None)
@given(value=junk)
def test_rng_takes_junk_with_a_clear_error(value):
    try:
        bpsim.simulate(rng=value, **SMALL)
    except ValueError as err:
        assert_clear_error(err, "rng")


@settings(max_examples=60, deadline=None)
@given(cap=junk, drop=junk)
def test_a_policy_answer_is_a_capacity_or_a_policy_error_never_a_crash(cap, drop):
    for answer in (cap, Decision(capacity=cap, drop_head=0), Decision(drop_head=drop)):
        try:
            d = check_decision(answer, "p", 1.0)
        except PolicyError as err:
            assert str(err).startswith("policy 'p' returned"), err
            continue
        # what passes the check runs on the compiled kernel without overflow
        r = bpsim.simulate(strategy=bpsim.PolicyStrategy(lambda obs, d=d: d), rng=1,
                           producer_rate=300, **SMALL)
        assert_books_balance(r)


def test_the_policy_answers_that_once_crashed_the_kernel():
    for answer in (2**63, Decision(drop_head=10**30), Decision(capacity=10**12, drop_head=2**70)):
        try:
            d = check_decision(answer, "p")
        except PolicyError as err:
            assert "up to 1,000,000,000,000" in str(err)
            continue
        r = bpsim.simulate(strategy=bpsim.PolicyStrategy(lambda obs, d=d: d), rng=1, **SMALL)
        assert_books_balance(r)


@pytest.mark.parametrize("kw, name", [
    (dict(duration_s=1, dt_s=0.6), "duration_s"),           # not a whole number of ticks
    (dict(producer_rate=1e300), "producer_rate"),            # once offered 0 messages silently
    (dict(producer_rate=1e17, duration_s=1e3, dt_s=1), "producer_rate"),
    (dict(consumers=10**9), "consumers"),                    # once ran for days
    (dict(producer_rate=10**400), "producer_rate"),
    (dict(dt_s=5e-324), "dt_s"),
    (dict(capacity=2**63), "capacity"),
    (dict(memory_limit_bytes=1e30), "memory_limit_bytes"),
])
def test_the_cases_found_by_hand(kw, name):
    with pytest.raises(ValueError) as err:
        bpsim.simulate(**kw)
    assert_clear_error(err.value, name)


def test_challenge_suite_edges():
    with pytest.raises(ValueError) as err:
        run_suite([])
    assert_clear_error(err.value, "policies")
    with pytest.raises(ValueError) as err:
        suite(duration_s=0)
    assert_clear_error(err.value, "duration_s")


# -- the command line ------------------------------------------------------------------------------
flag_values = st.one_of(st.text(max_size=12),
                        st.sampled_from(["9223372036854775808", "1e30", "1e300", "1e308",
                                         "5e-324", "-1", "nan", "inf", "-inf", "0", "1e17",
                                         "10" * 200, "0x10", "1_000", " 3", "é"]))


def cli_flags():
    flags = [f for f, *_ in cli._FLAGS] + ["--strategy"]
    flags += [f for f, *_ in cli._strategy_flags()]
    return flags


@pytest.mark.parametrize("flag", cli_flags())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=flag_values)
def test_every_cli_flag_takes_junk_with_exit_2_and_one_line(flag, value):
    argv = ["run", "--duration", "0.2", "--dt", "0.01", "--json", flag, value]
    if flag == "--duration":
        argv = ["run", "--dt", "0.01", "--json", flag, value]
    import contextlib
    import io
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse: a value its type cannot read
            code = exc.code
    out = type("Out", (), {"out": out.getvalue(), "err": err.getvalue()})
    assert code in (0, 2), (argv, code, out.err)
    assert "Traceback" not in out.err
    if code == 2:
        lines = [line for line in out.err.splitlines() if line.strip()]
        assert lines and lines[-1].startswith(("python -m bpsim run: error:", "usage:",
                                               "python -m bpsim run: error")), out.err
        assert sum("error" in line for line in lines) == 1, out.err
    else:
        import json
        json.loads(out.out)  # valid JSON, no NaN or Infinity


def test_the_cli_as_a_learner_types_it_never_shows_a_traceback():
    for args in (["--capacity", "9223372036854775808"], ["--retries", "1e300", "--strategy",
                                                         "shed"], ["--seed", "-1"]):
        p = subprocess.run([sys.executable, "-m", "bpsim", "run", *args], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_validate_ranges_are_stated_in_the_message():
    with pytest.raises(ValueError, match=r"^x=-1 is not valid: use a rate, from 0 to 10\.$"):
        validate.number("x", -1, low=0, high=10, what="a rate")
    assert validate.whole("n", 3.0, low=0, what="n") == 3
    assert math.isinf(validate.MAX_DURATION_S) is False


def _run_cells(*sources):
    """Execute ``sources`` as one notebook in a fresh kernel; each cell's error output, if any."""
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    return [next((o for o in c.outputs if o.output_type == "error"), None) for c in nb.cells]


def _plain(lines) -> list[str]:
    import re
    return [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines]


BAD_CELLS = ("import bpsim\nbpsim.simulate(capacity=-1)",
             "from bpsim.viz.messages import messages_dashboard\nmessages_dashboard(speed=0.3)",
             "1 / 0",
             # a learner's policy that hands bpsim a bad value: its own line must stay in view
             "def my_policy(obs):\n    return bpsim.make_strategy('block', retries=3)\n"
             "bpsim.simulate(strategy=bpsim.PolicyStrategy(my_policy), duration_s=1)")


def test_a_notebook_shows_a_bad_value_as_its_one_line_and_a_bug_with_its_traceback(monkeypatch):
    monkeypatch.delenv(validate.TRACEBACKS_ENV, raising=False)
    capacity, speed, bug, policy = _run_cells(*BAD_CELLS)
    assert _plain(capacity.traceback) == [
        "InputError: capacity=-1 is not valid: use a whole number of slots, from 0 to "
        "1,000,000,000,000."]
    assert capacity.ename == "InputError"
    (line,) = _plain(speed.traceback)
    assert line.startswith("InputError: speed=0.3 is not valid: use one of 0.01, 0.02")
    # anything else keeps IPython's whole traceback: the hook is the InputError's alone
    assert bug.ename == "ZeroDivisionError" and len(bug.traceback) > 1
    # through the learner's own code: the whole traceback, their line and the engine's note
    text = "\n".join(_plain(policy.traceback))
    assert policy.ename == "InputError" and len(policy.traceback) > 1
    assert "return bpsim.make_strategy('block', retries=3)" in text, text
    assert "raised by policy 'my_policy'" in text, text


def test_bpsim_tracebacks_gives_an_instructor_the_whole_traceback(monkeypatch):
    monkeypatch.setenv(validate.TRACEBACKS_ENV, "1")
    capacity, *_ = _run_cells(*BAD_CELLS)
    text = "\n".join(_plain(capacity.traceback))
    assert len(capacity.traceback) > 1 and "validate.py" in text, text
    assert "capacity=-1 is not valid" in text


@pytest.mark.parametrize("q", [2, -0.1, float("nan"), "0.5", None])
def test_a_wait_quantile_outside_0_to_1_is_a_clear_error(q):
    r = bpsim.simulate(strategy="block", producer_rate=300, capacity=10, **SMALL)
    assert r.producer_wait_quantile(0.5) is not None
    with pytest.raises(validate.InputError) as err:
        r.producer_wait_quantile(q)
    assert_clear_error(err.value, "q")
