"""What a run of the API-server model gives back: per-tick series per traffic class.

Counts are requests (the client's books) or attempts (the server's books); times are seconds
from the start of the run, at the end of each tick.
"""
from __future__ import annotations

import numpy as np

from .. import validate

__all__ = ["SERIES", "ApiServerResult"]

#: Per-class series in :class:`ApiServerResult` (cumulative ones are running totals).
SERIES = (
    # state at the end of the tick
    "queued", "queued_orphan", "in_service", "in_service_orphan", "retry_pending",
    # running totals, client's books (requests)
    "offered", "succeeded", "rejected_final", "timed_out_final",
    # running totals, server's books (attempts)
    "attempts", "completed", "rejected", "blocked", "timed_out",
    # per tick
    "latency_sum", "success_latency_sum", "completions_tick", "successes_tick",
)
_IX = {n: i for i, n in enumerate(SERIES)}


class ApiServerResult:
    """Per-tick series of a run, per class.

    ``series(cls, name)`` gives one column (see :data:`SERIES`); the helpers below derive the
    ones a figure needs. Times are seconds from the start of the run, at the end of each tick.
    """

    def __init__(self, model, table, dns_dead, seats, busy, removed_at_s):
        self.model = model
        self._t = table                       # [tick, class, series]
        self.time_s = (np.arange(table.shape[0]) + 1) * model.dt_s
        self.dns_dead = dns_dead              # records that no longer resolve, per tick
        self.seats = seats                    # seats in force, per tick
        self.busy_seat_s = busy               # seat-seconds spent per tick (all classes)
        self.removed_at_s = removed_at_s      # when the removal took effect (or None)
        self.names = [c.name for c in model.classes]

    def __repr__(self):
        parts = ", ".join(f"{n}: {self.books(n)['succeeded']}/{self.books(n)['offered']} ok"
                          for n in self.names)
        return f"<ApiServerResult {parts}>"

    def series(self, cls: str, name: str) -> np.ndarray:
        validate.choice("series", name, SERIES)
        return self._t[:, self.model.index(cls), _IX[name]]

    def rate(self, cls: str, name: str, window_s: float = 60.0) -> np.ndarray:
        """Per-second rate of a running total, averaged over a trailing window."""
        total = self.series(cls, name)
        k = max(1, int(round(window_s / self.model.dt_s)))
        lag = np.concatenate([np.zeros(k), total[:-k]])
        span = np.minimum(np.arange(1, len(total) + 1), k) * self.model.dt_s
        return (total - lag) / span

    def latency(self, cls: str, window_s: float = 60.0, successes_only: bool = False):
        """Mean time in the system (queue + service) of the requests completed in a trailing
        window, orphans included unless ``successes_only``; NaN where none completed."""
        key = ("success_latency_sum", "successes_tick") if successes_only else \
              ("latency_sum", "completions_tick")
        k = max(1, int(round(window_s / self.model.dt_s)))
        s = np.convolve(self.series(cls, key[0]), np.ones(k))[:len(self.time_s)]
        n = np.convolve(self.series(cls, key[1]), np.ones(k))[:len(self.time_s)]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, s / np.maximum(n, 1), np.nan)

    def goodput_fraction(self, cls: str, window_s: float = 60.0) -> np.ndarray:
        """Fraction of the class's attempts that succeeded, over a trailing window."""
        ok = self.rate(cls, "succeeded", window_s)
        att = self.rate(cls, "attempts", window_s)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(att > 0, ok / np.maximum(att, 1e-12), np.nan)

    def books(self, cls: str) -> dict:
        """Both sides of both identities at the end of the run (see the module docstring)."""
        end = {n: int(round(self.series(cls, n)[-1])) for n in SERIES[:14]}
        end["accounted"] = (end["succeeded"] + end["rejected_final"] + end["timed_out_final"]
                            + end["queued"] + end["in_service"] + end["retry_pending"])
        end["attempts_accounted"] = (end["completed"] + end["rejected"] + end["blocked"]
                                     + end["queued"] + end["queued_orphan"]
                                     + end["in_service"] + end["in_service_orphan"])
        return end

    def first_time(self, mask) -> float | None:
        """The first time (s) at which a boolean series is true, or None."""
        idx = np.flatnonzero(mask)
        return float(self.time_s[idx[0]]) if len(idx) else None

