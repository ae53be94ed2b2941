"""Schedules: a value that steps at given times, such as a burst of traffic or a slow disk.

A :class:`Schedule` is a base value and a tuple of ``(start_time_s, value)`` steps in order of
time: before the first step the base holds, from each step on its value. The scenario's
``rate_schedule``, ``speed_schedule`` and ``consumers_schedule`` are schedules, and so is a
shrinking memory budget in the challenge. Every look-up, per time or per tick, is made here, with
one tolerance (:data:`TOLERANCE_S`), so that a step at 10 s takes effect on the same tick wherever
it is read.

>>> s = Schedule(1000.0, ((10, 5000.0), (12, 1000.0)))
>>> s.at(9.99), s.at(10), s.at(12)
(1000.0, 5000.0, 1000.0)
>>> s.per_tick(n_ticks=4, dt_s=5.0).tolist()
[1000.0, 1000.0, 5000.0, 1000.0]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A step at ``t`` already holds at ``t - TOLERANCE_S`` (s): times made by adding ticks carry
#: rounding error far below a nanosecond, and no tick is that short (validate.MIN_DT_S).
TOLERANCE_S = 1e-9


@dataclass(frozen=True)
class Schedule:
    """A piecewise-constant value over time.

    Parameters
    ----------
    base : float
        The value before the first step.
    steps : tuple of (float, value)
        ``(start_time_s, value)`` pairs, in order of time (checked by whoever builds it, with
        :func:`bpsim.validate.steps`).
    """

    base: object
    steps: tuple = ()

    def at(self, time_s: float):
        """The value in force at ``time_s`` (s)."""
        value = self.base
        for start, v in self.steps:
            if start <= time_s + TOLERANCE_S:
                value = v
            else:
                break
        return value

    def per_tick(self, n_ticks: int, dt_s: float) -> np.ndarray:
        """The value at the start of every tick ``i`` (time ``i * dt_s``), as a float array."""
        out = np.full(n_ticks, float(self.base))
        if self.steps:
            t = np.arange(n_ticks) * dt_s
            for start, value in self.steps:
                out[t >= start - TOLERANCE_S] = value
        return out
