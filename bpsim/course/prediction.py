"""A learner's guess, checked kindly: the predict-then-check cells of every notebook.

A notebook asks a question, the learner types a number in a cell, and only then does a cell run the
simulation and compare. :func:`check_prediction` never shows the answer before there is a guess.
"""
from __future__ import annotations

import math


def check_prediction(prediction, actual: int, what: str = "messages dropped",
                     source: str = "the simulation counted") -> None:
    """Compare a learner's estimate with the simulated number, kindly, and print the verdict.

    Parameters
    ----------
    prediction : int, float or None
        What the learner typed (``None``: not yet).
    actual : int
        What the simulation counted.
    what : str
        What is being counted, for the sentence.
    source : str
        Where ``actual`` comes from, for the sentence ("the simulation counted"; a bound worked
        out rather than counted says so: "the ceiling works out at").
    """
    if prediction is None:
        # Nothing is revealed before there is a guess ("Run all" must not give the answer away).
        print("No prediction yet: type your number in the cell above, then run both cells again.")
        return
    note = ""
    if _looks_like_thousands(prediction):
        # ``my_prediction = 2,650`` is the tuple (2, 650) in Python: read it as the learner meant.
        digits = str(prediction[0]) + "".join(f"{part:03d}" for part in prediction[1:])
        note = (f" (Python reads {', '.join(map(str, prediction))} as {len(prediction)} "
                f"separate numbers; I took it as {int(digits):,}. Next time write {digits} or "
                f"{int(digits):_}.)")
        prediction = int(digits)
    if isinstance(prediction, bool):
        print(f"{prediction!r} is not a count: type a number of messages, like 1500.")
        return
    try:
        guess = float(prediction)
    except (TypeError, ValueError):
        print(f"I could not read {prediction!r} as a number: type digits only, without quotes "
              f"or commas, like 1500.")
        return
    if not math.isfinite(guess) or guess < 0:
        print(f"{prediction!r} is not a count: type a number of messages, 0 or more, like 1500.")
        return
    error = abs(guess - actual) / max(actual, 1)
    if error <= 0.05:
        verdict = "Spot on: within 5 %."
    elif error <= 0.25:
        verdict = "Close: within 25 %. The explanation below shows where the rest comes from."
    else:
        verdict = ("Not quite, and that is what predictions are for: the explanation below "
                   "shows where the difference comes from.")
    print(f"You predicted {guess:,.0f}; {source} {actual:,} {what}. "
          f"{verdict}{note}")


def _looks_like_thousands(value) -> bool:
    """True for a tuple such as ``(2, 650)``: a number typed with a thousands comma.

    Python reads ``2,650`` as ``(2, 650)`` and ``1,000`` as ``(1, 0)``; a group with a leading
    zero (``2,065``) is already a SyntaxError, so later groups are 0 or 100 to 999.
    """
    return (isinstance(value, tuple) and len(value) >= 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            and value[0] > 0 and all(v == 0 or 100 <= v <= 999 for v in value[1:]))
