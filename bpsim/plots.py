"""Figures: one colour per strategy across the whole series, and every axis labelled with units.

The palette is Okabe and Ito's, chosen to stay distinguishable for colour-blind readers. Every
figure helper returns its ``Figure`` and leaves showing it to the caller (a notebook shows it when
the cell ends; end the line with ``;`` to hide the repr).
"""
from __future__ import annotations

#: One colour per strategy, the same in every notebook (Okabe-Ito palette).
STRATEGY_COLORS = {
    "unbounded": "#D55E00",    # vermillion: the one that dies
    "block": "#0072B2",        # blue
    "drop_newest": "#E69F00",  # orange
    "drop_oldest": "#CC79A7",  # reddish purple
    "sample": "#009E73",       # bluish green
    "shed": "#56B4E9",         # sky blue
    "adaptive": "#000000",     # black
}
#: Colours for things that are not strategies.
COLORS = {"memory": "#999999", "limit": "#D55E00", "theory": "#555555", "crash": "#D55E00",
          "target": "#009E73", "producer": "#0072B2", "consumer": "#E69F00"}


def strategy_color(name: str) -> str:
    """The series colour of a strategy (grey for one the palette does not know)."""
    return STRATEGY_COLORS.get(name, "#777777")


def label_axes(ax, title: str, xlabel: str, ylabel: str) -> None:
    """Title and labelled axes (units in the labels), the way every figure here has them."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
