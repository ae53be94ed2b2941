"""The challenge: a scenario suite, a scorer that can be trusted, and a scoreboard."""
from dataclasses import replace

import numpy as np
import pytest

from bpsim.course.adaptive_challenge import (LATENCY_TARGET_S, builtin_policies, run_policy, run_suite,
                             score_run, suite)
from bpsim.policies import FixedCapacity, budget_slots

FIXED = (5, 10, 20, 30, 50, 99)


def backwards(obs):
    """Deliberately bad: a huge buffer when the consumer is slow, one slot when it is fast."""
    return budget_slots(obs) if obs.service_rate_per_s < 50 else 1


def _policies():
    # the built-ins, with the fixed one (50) replaced by a sweep of sizes
    return builtin_policies()[1:] + [FixedCapacity(c) for c in FIXED] + [backwards]


#: Seed sets for the claims about policies: the suite's own seeds, then the same four scenarios
#: with every seed moved by 100, 200, ... One seed is one draw of the traffic; a claim about a
#: policy has to hold over draws, not on the one the notebook happens to show.
SEED_SETS = 8


@pytest.fixture(scope="module")
def board():
    return run_suite(_policies())


@pytest.fixture(scope="module")
def boards(board):
    return [board] + [run_suite(_policies(), [replace(ch, seed=ch.seed + 100 * k) for ch in suite()])
                      for k in range(1, SEED_SETS)]


BUILT_INS = ("adaptive", "codel", "aimd")


def best_fixed(board):
    return max((f"fixed {c}" for c in FIXED), key=board.total)


@pytest.mark.parametrize("name", BUILT_INS)
def test_adaptive_policies_meet_the_target_more_often_than_the_best_fixed_buffer(boards, name):
    # "Best" is the fixed capacity with the highest total: the one you would have to pick
    # for every condition. On the slowdown it is either too large or was too small elsewhere.
    # Over seeds, not on one: on single draws CoDel and AIMD now and then fall behind it in the
    # slowdown (in 40 seed sets, CoDel on 3 and AIMD on 5, by up to 1.3 points); the reference
    # never did.
    def gain(b, metric):
        s = b.get(name, "slowdown")
        return getattr(s, metric) - getattr(b.get(best_fixed(b), "slowdown"), metric)

    assert np.mean([gain(b, "on_target") for b in boards]) > 0.05
    assert np.mean([gain(b, "score") for b in boards]) > 1
    if name == "adaptive":
        assert all(gain(b, "score") > 0 for b in boards)

@pytest.mark.parametrize("name", BUILT_INS)
def test_built_in_policies_never_exceed_the_memory_budget(board, name):
    for ch in suite():
        r = board.results[(name, ch.name)]
        assert (r.memory_bytes <= ch.budget_per_tick()).all(), ch.name
        assert board.get(name, ch.name).over_budget_s == 0
        assert not r.summary()["crashed"]


def test_a_large_fixed_buffer_overruns_a_shrinking_budget(board):
    # the oracle the memory scenario is built on: 99 slots cannot fit in 2 MB
    assert board.get("fixed 99", "memory").over_budget_s > 1
    assert board.get("fixed 5", "memory").over_budget_s == 0


def test_the_scorer_ranks_a_deliberately_bad_policy_at_the_bottom(boards):
    # backwards scores below every sensible policy on every draw; the other bad one, a fixed
    # buffer of 99 (a second of work at full speed, twice the target; four at a quarter speed),
    # shares the bottom with it, and which of the two is last is luck of the draw (in 40 seed
    # sets backwards was last on 26, fixed 99 on 14)
    for b in boards:
        assert set(b.ranking()[-2:]) == {"backwards", "fixed 99"}


def test_the_reference_policy_beats_every_fixed_buffer_in_total(boards):
    for b in boards:
        assert b.total("adaptive") > max(b.total(f"fixed {c}") for c in FIXED)


def test_fixed_size_is_wrong_both_ways(boards):
    # too small drops good traffic in the surge; too large misses the target in the slowdown
    for b in boards:
        assert b.get("fixed 5", "burst").lost > 3 * b.get("fixed 50", "burst").lost
        assert b.get("fixed 99", "slowdown").on_target < b.get("fixed 5", "slowdown").on_target


def test_score_is_the_documented_formula(board):
    for s in board.scores:
        duration = 30.0
        assert s.score == pytest.approx(100 * s.on_time * (1 - s.over_budget_s / duration))
        assert 0 <= s.on_target <= 1 and 0 <= s.on_time <= 1


def test_scores_agree_with_the_run_itself(board):
    ch = suite()[0]
    r = board.results[("fixed 30", ch.name)]
    s, summ = board.get("fixed 30", ch.name), r.summary()
    assert s.lost == summ["dropped"] + summ["lost_in_crash"]
    on_time = np.sum(r.latency_s <= LATENCY_TARGET_S)
    assert s.on_time == pytest.approx(on_time / summ["offered"])
    assert s.peak_memory_bytes == summ["peak_memory_bytes"]


def test_dropping_everything_scores_zero():
    def nothing(obs):
        return 0

    ch = suite(duration_s=12)[0]
    r = run_policy(nothing, ch)
    s = score_run(r, ch)
    # only what got in before the first decision is delivered, then nothing
    assert s.on_time < 0.01 and s.score < 1


def test_runs_are_seeded_and_repeatable():
    ch = suite(duration_s=12)[3]
    a = score_run(run_policy(builtin_policies()[1], ch), ch)
    b = score_run(run_policy(builtin_policies()[1], ch), ch)
    assert a == b
    assert len({c.seed for c in suite()}) == 4


def test_suite_parameters_change_the_scenarios():
    deep = suite(slowdown=0.1)[0].scenario.speed_schedule
    assert deep[0] == (10.0, 0.1)
    mem = suite(memory_budget_bytes=5_000_000)[2]
    assert mem.memory_budget_bytes == ((0, 5_000_000), (10, 1_000_000))


def test_table_lists_every_policy_best_first(board):
    text = board.table()
    ceiling_row, *rows = text.splitlines()[2:]
    assert ceiling_row.startswith("(ceiling)")
    assert [r.split()[0] for r in rows][:3] == [n.split()[0] for n in board.ranking()[:3]]
    assert all(n in text for n in board.policies)
    assert "on_target" not in text and "%" in board.table("on_target")
    assert max(len(line) for t in map(board.table, board.FORMATS) for line in t.splitlines()) < 100


@pytest.mark.parametrize("call, name", [
    (lambda: suite(slowdown=1.5), "slowdown"),
    (lambda: suite(memory_budget_bytes=10), "memory_budget_bytes"),
    (lambda: run_suite([FixedCapacity(5), FixedCapacity(5)]), "fixed 5"),
    (lambda: run_suite([FixedCapacity(5)], latency_target_s=0), "latency_target_s"),
    (lambda: run_suite([FixedCapacity(5)]).table("speed"), "metric"),
])
def test_errors_name_the_problem(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# -- a learner's policy that goes wrong --------------------------------------------------------
def test_a_bad_return_in_the_suite_names_policy_and_scenario_without_the_engine_frames():
    import traceback

    from bpsim.policies import PolicyError

    def forgetful(obs):
        int(obs.service_rate_per_s)

    with pytest.raises(PolicyError, match="forgetful.*return statement.*scenario 'slowdown'") as e:
        run_suite([forgetful], duration_s=1)
    frames = [f.filename for f in traceback.extract_tb(e.value.__traceback__)]
    assert not any(f.endswith(("engine.py", "reference.py", "kernel.py")) for f in frames)
    assert e.value.__suppress_context__


def test_an_exception_in_the_policy_keeps_its_type_and_says_which_policy():
    def typo(obs):
        return obs.queue_dept

    with pytest.raises(AttributeError) as e:
        run_suite([typo], duration_s=1)
    assert any("'typo'" in note for note in e.value.__notes__)


def test_a_policy_class_instead_of_an_instance_says_to_call_it():
    from bpsim.policies import Policy

    class Mine(Policy):
        def decide(self, obs):
            return 10

    with pytest.raises(ValueError, match=r"Mine\(\)"):
        run_suite([Mine], duration_s=1)
