"""Checks of every value a user hands bpsim, in one voice.

Every public entry (``simulate``, :class:`bpsim.Scenario`, the strategies, the policies, the
command line, the API-server model, the challenge) checks what it is given here, and a bad value
always gets the same kind of answer: an :class:`InputError` (a :class:`ValueError`) that names the
parameter, repeats the value and says what would work::

    capacity=-1 is not valid: use a whole number of slots, from 0 to 1,000,000,000,000.

The command line turns that message into one line on stderr and exit status 2; a notebook shows
it as one line too, without the traceback through bpsim's code (:class:`InputError`).

The ranges
----------
The upper bounds are not guesses: they are what a 2-core laptop can hold and compute in about a
minute, or what keeps the arithmetic exact.

* Counts of messages are int64 in the engines and are summed as float64 when arrivals are drawn,
  so no run may offer more than :data:`MAX_MESSAGES` (``2**53``, the largest count a float64 holds
  exactly); a rate is bounded by :data:`MAX_RATE` msg/s for the same reason (a rate times a tick
  must stay an exact count).
* A buffer larger than :data:`MAX_CAPACITY` slots behaves like an unbounded one on any machine
  that exists (it would need petabytes), and kept below that no sum of counts can overflow.
* Bytes: :data:`MAX_BYTES` (a petabyte) for a memory limit or budget.
* Times: a tick of at least :data:`MIN_DT_S` (1 microsecond) and runs no longer than
  :data:`MAX_DURATION_S` (a year); the number of ticks is bounded separately by the engine.
* Workers: at most :data:`MAX_CONSUMERS`; every tick visits each one.

>>> whole("capacity", 50, low=0, high=MAX_CAPACITY, what="a whole number of slots")
50
>>> number("producer_rate", -3, low=0, high=5000, what="a rate in msg/s")
Traceback (most recent call last):
...
bpsim.validate.InputError: producer_rate=-3 is not valid: use a rate in msg/s, from 0 to 5,000.
"""
from __future__ import annotations

import math
import numbers
import os

import numpy as np

#: Most messages one run may offer (the largest count a float64 holds exactly).
MAX_MESSAGES = 2 ** 53
#: Fastest producer or consumer rate (msg/s).
MAX_RATE = 1e9
#: Largest buffer (messages); more is unbounded in practice.
MAX_CAPACITY = 10 ** 12
#: Largest memory limit or budget, and largest message (bytes): a petabyte.
MAX_BYTES = 10 ** 15
#: Shortest tick (s).
MIN_DT_S = 1e-6
#: Longest run, and longest wait of any kind (s): a year.
MAX_DURATION_S = 365 * 86400.0
#: Most parallel workers.
MAX_CONSUMERS = 1000
#: Most retries of one message.
MAX_RETRIES = 10
#: Largest seed (numpy takes any non-negative integer; this keeps the message readable).
MAX_SEED = 2 ** 128


#: Set (to anything but "" or "0") to see an InputError's whole traceback in a notebook too.
TRACEBACKS_ENV = "BPSIM_TRACEBACKS"


class InputError(ValueError):
    """A value handed to bpsim is not valid; the message names it and says what would work.

    It is a :class:`ValueError`, so ``except ValueError`` catches it. In IPython and Jupyter it is
    shown as its one line (``InputError: capacity=-1 is not valid: use ...``) when it was raised
    by bpsim for a value the notebook's cell gave it: the message is the whole answer, and the
    frames of the library's own code would only hide it. When the error passed through code of
    the learner's own that bpsim called (a policy, say), the whole traceback is shown, so that
    the learner's line is in it; notes added to the error are shown either way. bpsim raises it
    only for a value it was given: any other error keeps its traceback. Instructors and
    contributors who want the frames anyway set the environment variable ``BPSIM_TRACEBACKS=1``
    before starting Jupyter.
    """

    def _render_traceback_(self):  # IPython's hook: the lines to show instead of a traceback
        try:
            if os.environ.get(TRACEBACKS_ENV, "") in ("", "0") and not _through_other_code(self):
                return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}",
                        *getattr(self, "__notes__", ())]
            from IPython import get_ipython
            return get_ipython().InteractiveTB.structured_traceback(
                type(self), self, self.__traceback__)
        except Exception:  # not in an IPython shell after all: Python's own traceback
            import traceback
            return traceback.format_exception(type(self), self, self.__traceback__)


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _libraries() -> tuple:
    import sysconfig
    paths = sysconfig.get_paths()
    return tuple(os.path.abspath(paths[k]) + os.sep for k in ("stdlib", "purelib", "platlib"))


def _through_other_code(err) -> bool:
    """Whether ``err`` passed through someone's own code after it entered bpsim (a learner's
    policy, or a function of theirs the engine called): a frame after bpsim's first that is
    neither bpsim's, nor Python's or an installed library's, nor generated (``<string>``, as a
    dataclass's ``__init__``). Then its traceback shows that person's line."""
    tb, inside, libraries = err.__traceback__, False, None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        path = os.path.abspath(name)
        if path.startswith(_PACKAGE):
            inside = True
        elif inside and not name.startswith("<"):
            libraries = libraries or _libraries()
            if not path.startswith(libraries):
                return True
        tb = tb.tb_next
    return False


def bad(name: str, value, what: str):
    """Raise the one error bpsim gives: ``name=value is not valid: use what.``"""
    raise InputError(f"{name}={shown(value)} is not valid: use {what}.")


def shown(value) -> str:
    """A value as the library's error messages show it: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _range(low, high, low_open=False) -> str:
    lo = None if low is None else _fmt_number(low)
    hi = None if high is None else _fmt_number(high)
    if lo is not None and hi is not None:
        return f"above {lo} and up to {hi}" if low_open else f"from {lo} to {hi}"
    if lo is not None:
        return f"above {lo}" if low_open else f"{lo} or more"
    return f"up to {hi}" if hi is not None else "any value"


def _fmt_number(x) -> str:
    if float(x).is_integer() and abs(x) < 1e16:
        return f"{int(x):,}"
    return f"{x:g}"


def is_real(value) -> bool:
    """True for an int or a float (numpy's too), never for a bool or a string."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def number(name: str, value, *, low=None, high=None, low_open=False, what: str) -> float:
    """``value`` as a finite float within ``[low, high]`` (``(low, high]`` with ``low_open``).

    ``what`` says what the number is ("a rate in msg/s"); the range is added to it.
    """
    # (the message is only written when it is needed: a Scenario checks a dozen numbers)
    if type(value) is float:
        x = value
    else:
        if not is_real(value):
            bad(name, value, f"{what}, {_range(low, high, low_open)}")
        try:
            x = float(value)
        except OverflowError:  # an int too large for a float
            bad(name, value, f"{what}, {_range(low, high, low_open)}")
    if (not math.isfinite(x) or (low is not None and (x <= low if low_open else x < low))
            or (high is not None and x > high)):
        bad(name, value, f"{what}, {_range(low, high, low_open)}")
    return x


def whole(name: str, value, *, low=0, high=None, what: str) -> int:
    """``value`` as an int within ``[low, high]``; a float is accepted when it is whole (3.0)."""
    if type(value) is not int:  # (a plain int, the usual case, needs none of these tests)
        if not is_real(value):
            bad(name, value, f"{what}, {_range(low, high)}")
        if not isinstance(value, numbers.Integral):
            x = float(value)
            if not (math.isfinite(x) and x.is_integer()):
                bad(name, value, f"{what}, {_range(low, high)}")
            value = int(x)
        value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        bad(name, value, f"{what}, {_range(low, high)}")
    return value


def flag(name: str, value) -> bool:
    """``value`` as a bool: only ``True`` or ``False`` (numpy's too)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    bad(name, value, "True or False")


def choice(name: str, value, options) -> str:
    """``value`` if it is one of ``options`` (strings)."""
    options = tuple(options)
    if isinstance(value, str) and value in options:
        return value
    bad(name, value, "one of " + ", ".join(str(o) for o in options))


def optional(check, name, value, *args, none_means: str, **kwargs):
    """``None``, or ``value`` passed through ``check``; the message says what ``None`` means."""
    if value is None:
        return None
    try:
        return check(name, value, *args, **kwargs)
    except ValueError as err:
        text = str(err)
        raise InputError(text[:-1] + f", or None for {none_means}.") from None


def steps(name: str, value, check_value, *, what: str) -> tuple:
    """A schedule: a sequence of ``(time_s, value)`` pairs, times 0 or more and in order.

    ``check_value(v)`` returns the value checked (and converted) or raises ValueError.
    """
    if type(value) is tuple and not value:  # no steps (most scenarios): nothing to check
        return ()
    want = f"a tuple of (time_s, value) pairs in order of time, times from 0 to " \
           f"{_fmt_number(MAX_DURATION_S)} s and values {what}"
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        bad(name, value, want)
    out = []
    try:
        pairs = list(value)
    except TypeError:
        bad(name, value, want)
    for pair in pairs:
        try:
            t, v = pair
        except (TypeError, ValueError):
            bad(name, value, want)
        if not is_real(t) or not math.isfinite(float(t)) or not 0 <= float(t) <= MAX_DURATION_S:
            bad(name, value, want)
        try:
            v = check_value(v)
        except ValueError:
            bad(name, value, want)
        out.append((float(t), v))
    if any(b[0] < a[0] for a, b in zip(out, out[1:])):
        bad(name, value, want)
    return tuple(out)


def rng(value, name: str = "rng") -> np.random.Generator:
    """A numpy Generator from a seed (an int, 0 or more), a Generator, a SeedSequence or None."""
    if value is None or isinstance(value, (np.random.Generator, np.random.SeedSequence)):
        return np.random.default_rng(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)) \
            and 0 <= int(value) <= MAX_SEED:
        return np.random.default_rng(int(value))
    bad(name, value, "a seed (a whole number from 0 to 2**128), a numpy.random.Generator, or "
                     "None for fresh randomness")


def seed(value, name: str = "rng"):
    """What :func:`rng` takes, as a ``numpy.random.SeedSequence`` for a seed (an int), else as
    :func:`rng` gives it: a run that only spawns its streams from it (``engine.streams``) then
    builds no generator of its own first, and gets the same streams."""
    if (type(value) is int or isinstance(value, numbers.Integral)
            and not isinstance(value, (bool, np.bool_))) and 0 <= int(value) <= MAX_SEED:
        return np.random.SeedSequence(int(value))
    return rng(value, name)


def keywords(given: dict, known, *, where: str) -> None:
    """Refuse a keyword that is not in ``known``, naming the ones that are."""
    unknown = sorted(k for k in given if k not in known)
    if unknown:
        name = unknown[0]
        raise InputError(f"{name}={shown(given[name])} is not a parameter {where} takes: use one "
                         f"of {', '.join(sorted(known))}.")
