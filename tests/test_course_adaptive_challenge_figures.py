"""Figures of notebook 05: drawn, titled, labelled with units, and returning None (nbval-safe)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from bpsim.course.adaptive_challenge import builtin_policies, run_suite, suite  # noqa: E402
from bpsim.course.adaptive_challenge import (  # noqa: E402
    capacity_vs_speed, compare_policy, fixed_both_ways, plot_scoreboard, policy_dashboard,
    show_policy)
from bpsim.viz.palette import policy_color  # noqa: E402
from bpsim.viz.palette import STRATEGY_COLORS  # noqa: E402


@pytest.fixture(scope="module")
def board():
    return run_suite(builtin_policies(), challenges=suite(duration_s=12))


def check_figure(fig=None):
    fig = plt.gcf() if fig is None else fig
    for ax in fig.axes:
        assert ax.get_title() and ax.get_ylabel(), ax
    assert fig.axes[-1].get_xlabel()
    plt.close(fig)


def test_scoreboard_and_capacity_figures(board):
    # every figure function takes fig= and returns the Figure
    check_figure(plot_scoreboard(board))
    check_figure(capacity_vs_speed(board))
    fig = plt.figure()
    assert plot_scoreboard(board, fig=fig) is fig
    check_figure(fig)


def test_fixed_both_ways_and_explore():
    check_figure(fixed_both_ways(capacities=(5, 50)))
    check_figure(compare_policy(builtin_policies()[1]))


def test_show_policy_names_what_it_knows():
    with pytest.raises(ValueError, match="adaptive, codel"):
        show_policy("mine")


def test_policy_colors_follow_the_strategy_palette():
    assert policy_color("fixed 50") == STRATEGY_COLORS["drop_newest"]
    assert policy_color("adaptive") == STRATEGY_COLORS["adaptive"]
    assert policy_color("my_policy") not in (policy_color(n) for n in ("adaptive", "codel", "aimd"))


@pytest.mark.parametrize("target, budget, slowdown", [(0.1, 1.0, 0.0), (2.0, 20.0, 1.0)])
def test_the_fixed_policy_is_compared_with_a_different_buffer_at_the_slider_ends(
        capsys, target, budget, slowdown):
    # at a 0.1 s target Little's law sizes the comparison at 10 slots, as the fixed policy itself
    show_policy("fixed", latency_target_s=target, memory_budget_mb=budget, slowdown=slowdown)
    names = [line.split(":")[0].strip() for line in capsys.readouterr().out.splitlines()]
    assert len(names) == 2 and names[0] != names[1], names
    check_figure()


def test_the_widget_says_what_its_static_twin_prints(capsys):
    d = policy_dashboard()
    for change in ({}, {"name": "codel"}, {"name": "fixed", "latency_target_s": 0.1}):
        d.update(**change)
        show_policy(**d.values())
        assert d.last_text == capsys.readouterr().out.rstrip("\n"), change
        for ax in d.figure.axes:
            assert ax.get_title() and ax.get_ylabel() and ax.get_legend() is not None
        plt.close("all")
