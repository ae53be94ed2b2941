"""The palette: one colour for each thing the series draws, the same in every notebook.

The colours are Okabe and Ito's, chosen to stay distinguishable for colour-blind readers. A
strategy has one colour everywhere (:data:`STRATEGY_COLORS`); a policy of the challenge borrows the
colour of the strategy it behaves like (:data:`POLICY_COLORS`); the traffic classes of the API
server have theirs (:data:`CLASS_COLORS`); where messages went is drawn in greys and hatches
(:data:`OUTCOMES`), so that colour keeps meaning "strategy".

>>> strategy_color("block"), policy_color("fixed 50") == STRATEGY_COLORS["drop_newest"]
('#0072B2', True)
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

#: Where each offered message ended up (the bars of :func:`plot_comparison`), in greys and
#: hatches so that colour keeps meaning "strategy".
OUTCOMES = (
    ("delivered", "delivered", "#4D4D4D", ""),
    ("dropped", "dropped", "#BDBDBD", ""),
    ("shed", "shed (error)", "#FFFFFF", "///"),
    ("sampled_out", "sampled out", "#E0E0E0", ".."),
    ("timed_out", "served too late (client gone)", "#8C8C8C", "\\\\"),
    ("expired", "expired, not served", "#FFFFFF", "oo"),
    ("lost_in_crash", "lost in crash", "#FFFFFF", "xx"),  # not black: adaptive is black
    ("waiting", "still waiting", "#FFFFFF", ""),
)


def strategy_color(name: str) -> str:
    """The series colour of a strategy (grey for one the palette does not know)."""
    return STRATEGY_COLORS.get(name, "#777777")


#: One colour per built-in policy; any other policy (the learner's) is drawn in YOU.
POLICY_COLORS = {"fixed": STRATEGY_COLORS["drop_newest"], "adaptive": STRATEGY_COLORS["adaptive"],
                 "codel": STRATEGY_COLORS["drop_oldest"], "aimd": STRATEGY_COLORS["shed"]}
YOU = STRATEGY_COLORS["block"]
OTHER = "#999999"


def policy_color(name: str, others: str = YOU) -> str:
    """The colour of a policy by name (``fixed 50`` is a fixed buffer)."""
    return POLICY_COLORS.get(name.split()[0], others)


#: One colour per traffic class of the API-server model (notebook 04).
CLASS_COLORS = {"telemetry": "#D55E00", "discovery": "#0072B2", "admin": "#009E73"}

#: Colours for variants of one set-up drawn together (fixes compared side by side), in order.
VARIANT_COLORS = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7",
                  "#999999")


def lane_colors(strategies) -> list:
    """One colour per lane of a view drawn together, none shared.

    A lane keeps its strategy's colour (:func:`strategy_color`) unless a lane before it has that
    colour already (two lanes of one strategy, say FIFO beside LIFO); it then takes the first of
    :data:`VARIANT_COLORS` not yet used, black left out (the message view draws served messages
    in dark greys, and a lane's colour fills its buffer's slots).

    >>> lane_colors(["drop_newest", "block"]) == [STRATEGY_COLORS[s] for s in ("drop_newest",
    ...                                                                     "block")]
    True
    >>> lane_colors(["drop_newest", "drop_newest"])
    ['#E69F00', '#56B4E9']
    """
    out = []
    for name in strategies:
        color = strategy_color(name)
        if color in out:
            color = next((c for c in VARIANT_COLORS[1:] if c not in out), color)
        out.append(color)
    return out
