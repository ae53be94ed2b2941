"""Figures of notebook 05: drawn, titled, labelled with units, and returning None (nbval-safe)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from bpsim.challenge import builtin_policies, run_suite, suite  # noqa: E402
from bpsim.challenge_plots import (capacity_vs_speed, explore, fixed_both_ways,  # noqa: E402
                                   plot_scoreboard, policy_color, show_policy)
from bpsim.plots import STRATEGY_COLORS  # noqa: E402


@pytest.fixture(scope="module")
def board():
    return run_suite(builtin_policies(), challenges=suite(duration_s=12))


def check_figure():
    fig = plt.gcf()
    for ax in fig.axes:
        assert ax.get_title() and ax.get_ylabel(), ax
    assert fig.axes[-1].get_xlabel()
    plt.close(fig)


def test_scoreboard_and_capacity_figures(board):
    assert plot_scoreboard(board) is None
    check_figure()
    assert capacity_vs_speed(board) is None
    check_figure()


def test_fixed_both_ways_and_explore():
    assert fixed_both_ways(capacities=(5, 50)) is None
    check_figure()
    assert explore(builtin_policies()[1]) is None
    check_figure()


def test_show_policy_names_what_it_knows():
    with pytest.raises(ValueError, match="adaptive, codel"):
        show_policy("mine")


def test_policy_colors_follow_the_strategy_palette():
    assert policy_color("fixed 50") == STRATEGY_COLORS["drop_newest"]
    assert policy_color("adaptive") == STRATEGY_COLORS["adaptive"]
    assert policy_color("my_policy") not in (policy_color(n) for n in ("adaptive", "codel", "aimd"))
