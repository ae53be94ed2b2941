"""The engine's state: the names both engines keep, and the records they write.

The readable engine (:mod:`bpsim.reference`) keeps its state in a dict keyed by :data:`SCALARS`;
the compiled one (:mod:`bpsim.kernel`) in one int64 vector indexed by :data:`S`, the same names at
the same places. So the driver (:mod:`bpsim.engine`), the controller's meter (:mod:`bpsim.control`)
and the result (:mod:`bpsim.result`) read either engine alike, and neither engine owns the layout.

>>> from bpsim.state import COLUMNS, S
>>> COLUMNS[:3], S["depth"]
(('depth', 'in_service', 'held'), 0)

The series log
--------------
Both engines write the time series as a *log of rows* (``log``, int64): columns ``LOG_BIN``,
``LOG_TICK`` and ``LOG_COUNTER`` (the bin, the tick, and the sampling counter at the end of that
tick), then :data:`COLUMNS` from ``LOG_COLS`` on, the state at the end of that tick. A run of at
most :data:`PER_TICK_MAX` ticks has bins of one tick; a longer one bins of
``k = ceil(n_ticks / BINNED_POINTS)`` ticks (:func:`bin_ticks`), so at most :data:`BINNED_POINTS`
bins. Row 0 is the state before the first tick (bin and tick -1).

After each tick the engine compares the state with what the log's last row *predicts* for it
(:func:`derive`: the same, except that the ``A`` messages offered since that row's tick were also
attempted and, for a rule that drops what does not fit or samples, queued as far as the rule lets
them in and the rest dropped or sampled out, for ``block``'s rule held, for ``drop_oldest``'s
admitted in place of as many evicted). Only if they differ does it write: into the last row if it
is of the same bin, else a new row. So a tick in which nothing happened but arrivals queued behind
busy workers or turned away writes nothing, and a run's log grows with its events (a worker
starting or finishing, a crash, a retry), not its ticks; the state at any tick is :func:`derive`
of the last row at or before it, given the arrivals since. With bins of more than one tick, a tick
that changes the depth also writes (into its bin's row), and ``env`` holds, for each row, the
least and greatest end-of-tick :data:`LEVELS` over its bin's ticks (depth, messages in memory,
capacity), so that no peak vanishes between two points.

Histograms
----------
Latencies (s, float64) are also counted in a histogram of log-spaced bins: the bin of ``x > 0`` is
read from its bits, its exponent and the first :data:`HIST_MANTISSA_BITS` bits of its mantissa
(:func:`lat_bin`), so each bin spans at most ``2**-9`` of its lower edge and its midpoint
(:func:`lat_value`) is within ``2**-10`` (under 0.1 %) of any value in it. Producer waits (whole
ticks) are counted exactly below :data:`WAIT_EXACT` ticks and in the same kind of bins above.
"""
from __future__ import annotations

import math
import struct

import numpy as np

_DOUBLE, _BITS = struct.Struct("<d"), struct.Struct("<q")

#: Columns of the series log: the state at the end of a tick, then running totals.
COLUMNS = ("depth", "in_service", "held", "retry_pending", "capacity", "down",
           "offered", "admitted", "delivered", "dropped", "shed", "sampled_out", "lost",
           "rejected", "attempts", "timed_out", "expired")
#: Column index by name (in the log, add ``LOG_COLS``).
COL = {name: i for i, name in enumerate(COLUMNS)}
#: The series log's first columns: bin, tick, sampling counter; then COLUMNS.
LOG_BIN, LOG_TICK, LOG_COUNTER, LOG_COLS = 0, 1, 2, 3
#: How the log predicts the state after a tick with arrivals only (:func:`derive`): not at all,
#: queued as far as there is room and the rest dropped, queued freely below the sampling
#: threshold and the rest sampled (1 in ``every`` passes the counter, then is queued if there is
#: room, else dropped), all held by the producer (``block``), or each admitted in place of one of
#: the oldest, evicted (``drop_oldest``).
DERIVE_NONE, DERIVE_DROP, DERIVE_SAMPLE, DERIVE_HOLD, DERIVE_EVICT = 0, 1, 2, 3, 4
#: The columns :func:`derive` predicts; the others stay as the row has them.
DERIVED = ("offered", "attempts", "dropped", "sampled_out", "held", "admitted", "depth")

#: Scalar state of a run, by name: counts of messages, ticks, flags. The table's columns come
#: first, in the same order, so that the compiled kernel writes a row as one slice copy.
SCALARS = COLUMNS + ("up_tick", "lost_down", "sample_counter", "n_records", "crashes",
                     "first_crash_tick", "max_depth", "peak_in_memory", "pool_index",
                     "max_wait", "rec_pos", "n_rows")
#: Scalar index by name.
S = {name: i for i, name in enumerate(SCALARS)}

#: The capacity of a buffer with no limit (``unbounded``).
UNBOUNDED_CAPACITY = -1
#: Crash ticks kept per run (``Result.crash_times_s``); ``crashes`` counts them all.
MAX_CRASH_TICKS = 1_000_000

#: Runs of at most this many ticks keep one point per tick (every run bpsim accepted before bins
#: existed, so no earlier series changed).
PER_TICK_MAX = 1_000_000
#: Longer runs keep at most this many bins (each ``bin_ticks`` ticks long).
BINNED_POINTS = 100_000
#: Levels kept as least and greatest per bin, in ``env`` (then the same three, greatest).
LEVELS = ("depth", "in_memory", "capacity")


def derive(row, arrived, mode: int, every: int, sample_from: float = 1.0) -> dict:
    """What a log row predicts for the state after ``arrived`` more messages were offered, if
    nothing else happened (arrays allowed): ``offered``, ``attempts``, ``dropped``,
    ``sampled_out``, ``held``, ``admitted`` and ``depth``. ``row`` maps those names,
    ``"capacity"`` and ``"counter"`` (the 1-in-N counter) to the row's values; ``sample_from``
    is the rule's (the fill fraction from which it samples, for ``DERIVE_SAMPLE``).

    For a rule that drops what does not fit (``DERIVE_DROP``) the arrivals fill the buffer's room
    and the rest are dropped; for one that samples (``DERIVE_SAMPLE``) they go in freely up to
    the sampling threshold (``ceil(sample_from * capacity)``), the rest through the 1-in-N
    counter, and what passes it fills the room that is left, the rest dropped. Either way as
    :meth:`bpsim.Sample.admit` does it for one batch: batch by batch it comes to the same, since
    no message leaves the buffer in between (a worker that takes or finishes one changes
    ``in_service`` or what it was counted as, so that tick writes its row)."""
    scalar = not isinstance(arrived, np.ndarray)
    lo, hi = (min, max) if scalar else (np.minimum, np.maximum)
    out = {"offered": row["offered"] + arrived, "attempts": row["attempts"] + arrived,
           "dropped": row["dropped"], "sampled_out": row["sampled_out"], "held": row["held"],
           "admitted": row["admitted"], "depth": row["depth"]}
    if mode == DERIVE_HOLD:
        out["held"] = row["held"] + arrived
    elif mode == DERIVE_EVICT:
        out["dropped"] = row["dropped"] + arrived
        out["admitted"] = row["admitted"] + arrived
    elif mode in (DERIVE_DROP, DERIVE_SAMPLE):
        depth, cap = row["depth"], row["capacity"]
        if scalar:
            room = arrived if cap == UNBOUNDED_CAPACITY else max(0, cap - depth)
        else:
            room = np.where(cap == UNBOUNDED_CAPACITY, arrived, np.maximum(0, cap - depth))
        if mode == DERIVE_DROP:
            admitted = lo(arrived, room)
            out["dropped"] = row["dropped"] + arrived - admitted
        else:
            threshold = (math.ceil(sample_from * cap) if scalar
                         else np.ceil(sample_from * cap).astype(np.int64))
            free = lo(lo(arrived, hi(0, threshold - depth)), room)
            rest = arrived - free
            passed = (row["counter"] + rest) // every
            queued = lo(passed, room - free)
            out["sampled_out"] = row["sampled_out"] + rest - passed
            out["dropped"] = row["dropped"] + passed - queued
            admitted = free + queued
        out["admitted"] = row["admitted"] + admitted
        out["depth"] = depth + admitted
    return out


def derive_stretches(row, arrived, ticks, stretches) -> dict:
    """:func:`derive` for rows whose points lie in stretches of a run with different rules (a
    Simulation's new strategy): ``stretches`` is ``((first_tick, mode, every, sample_from),
    ...)`` in order, and the point at ``ticks[j]`` is predicted by the rule in force at that
    tick, as the engine checked it then. One stretch is plain :func:`derive`."""
    if len(stretches) == 1:
        return derive(row, arrived, *stretches[0][1:])
    out = {name: np.array(row[name]) for name in DERIVED}
    seg = np.searchsorted([first for first, *_ in stretches], ticks, side="right") - 1
    for j, (_, *rule) in enumerate(stretches):
        mask = seg == j
        if mask.any():
            got = derive({k: v[mask] for k, v in row.items()}, arrived[mask], *rule)
            for name, value in got.items():
                out[name][mask] = value
    return out


def bin_ticks(n_ticks: int) -> int:
    """Ticks per point of the series (1 up to :data:`PER_TICK_MAX` ticks).

    >>> bin_ticks(120_000), bin_ticks(3_600_000)
    (1, 36)
    """
    return 1 if n_ticks <= PER_TICK_MAX else -(-n_ticks // BINNED_POINTS)


def n_bins(n_ticks: int) -> int:
    """Points of the series of a run of ``n_ticks`` ticks."""
    return -(-n_ticks // bin_ticks(n_ticks))


# -- histograms -----------------------------------------------------------------------------------
#: Mantissa bits that pick a bin within an octave (512 bins per octave: 0.2 % wide at most).
HIST_MANTISSA_BITS = 9
_SHIFT = 52 - HIST_MANTISSA_BITS
#: The smallest latency with a bin of its own, 2**-40 s (about 1e-12 s); smaller ones share bin 0.
_LOW = (1023 - 40) << HIST_MANTISSA_BITS
#: Bins of the latency histogram: octaves from 2**-40 to 2**41 s.
LAT_BINS = 81 << HIST_MANTISSA_BITS
#: Producer waits below this many ticks are counted exactly.
WAIT_EXACT = 1 << 20
_WAIT_LOW = (1023 + 20) << HIST_MANTISSA_BITS
_WAIT_LOG_BINS = 34 << HIST_MANTISSA_BITS  # 2**20 to 2**54 ticks


def lat_bin(x: float) -> int:
    """The histogram bin of a latency ``x`` (s); the compiled kernel computes the same."""
    j = (_BITS.unpack(_DOUBLE.pack(x))[0] >> _SHIFT) - _LOW  # the float's bits, as an int64
    return min(max(j, 0), LAT_BINS - 1)


def lat_value(j):
    """The midpoint of latency bin(s) ``j`` (s): within 0.1 % of every value in the bin."""
    j = np.asarray(j, dtype=np.int64)
    lo = ((j + _LOW) << _SHIFT).view(np.float64)
    hi = ((j + 1 + _LOW) << _SHIFT).view(np.float64)
    return np.where(j == 0, 0.0, (lo + hi) / 2)


def wait_bins(n_ticks: int) -> int:
    """Size of the producer-wait histogram of a run of ``n_ticks`` ticks."""
    return n_ticks if n_ticks <= WAIT_EXACT else WAIT_EXACT + _WAIT_LOG_BINS


def wait_bin(w: int) -> int:
    """The bin of a producer wait of ``w`` ticks."""
    if w < WAIT_EXACT:
        return w
    return WAIT_EXACT + (int(np.float64(w).view(np.int64)) >> _SHIFT) - _WAIT_LOW


def wait_value(j):
    """The wait (ticks, float) bin(s) ``j`` stand for: exact below WAIT_EXACT, else a midpoint."""
    j = np.asarray(j, dtype=np.int64)
    k = np.maximum(j - WAIT_EXACT, 0) + _WAIT_LOW
    lo, hi = (k << _SHIFT).view(np.float64), ((k + 1) << _SHIFT).view(np.float64)
    return np.where(j < WAIT_EXACT, j.astype(np.float64), (lo + hi) / 2)


def hist_percentiles(hist, q, value_of, n_lowest=None):
    """Percentiles ``q`` (0-100) of the values counted in ``hist``, as ``np.percentile`` would
    give them from the values themselves (linear between order statistics), each order statistic
    read as its bin's midpoint (``value_of``). ``n_lowest``: only the smallest that many values."""
    hist = np.asarray(hist)
    cum = np.cumsum(hist)
    n = int(cum[-1]) if n_lowest is None else int(n_lowest)
    if n == 0:
        return [None] * len(q)
    out = []
    for p in q:
        h = (n - 1) * p / 100.0
        lo, hi = math.floor(h), math.ceil(h)
        a, b = (float(value_of(np.searchsorted(cum, r, side="right"))) for r in (lo, hi))
        out.append(a + (h - lo) * (b - a))
    return out


def percentiles(a, qs) -> list[float]:
    """``np.percentile(a, qs)`` (its default, linear method) as Python floats, bit for bit.

    The meter asks for three percentiles of a few dozen numbers some 600 times a run, and every
    summary for three or six; numpy's general path costs about 0.2 ms a call, most of a policy
    run and most of a summary. Here numpy's own steps are
    repeated with the same float operations: virtual index ``(n - 1) * (q / 100)``, its floor and
    the next rank (both the last one at or beyond the top, where numpy's weight becomes
    ``index + 1``), one ``np.partition`` at the very ranks numpy partitions at (so even equal
    values that differ, 0.0 and -0.0, land where numpy puts them), and numpy's two-sided
    interpolation (``a + (b - a) * g`` below ``g = 0.5``, ``b - (b - a) * (1 - g)`` from it).
    Anything but a non-empty 1-D float64 array without NaN goes to ``np.percentile`` itself.

    >>> x = np.array([0.3, 0.1, 0.2, 0.7])
    >>> percentiles(x, [50, 95]) == [float(v) for v in np.percentile(x, [50, 95])]
    True
    >>> rng = np.random.default_rng(0)   # ties, both zeros, every size up to 60: the same bits
    >>> arrays = [rng.choice([0.0, -0.0, 0.001, 0.25, 3.0], n) for n in rng.integers(1, 60, 3000)]
    >>> all(np.array(percentiles(a, (50, 95))).tobytes() == np.percentile(a, [50, 95]).tobytes()
    ...     and percentiles(a, (95,))[0].hex() == float(np.percentile(a, 95)).hex() for a in arrays)
    True
    """
    a = np.asarray(a)
    if a.ndim != 1 or a.dtype != np.float64 or a.size == 0:
        return [float(v) for v in np.percentile(a, qs)]
    n = a.size
    ranks = []
    for q in qs:
        v = (n - 1) * (q / 100)
        if v >= n - 1:                 # at or past the top rank: numpy takes index -1 twice
            ranks.append((n - 1, n - 1, v + 1.0))
        else:
            lo = math.floor(v)
            ranks.append((lo, lo + 1, v - lo))
    kth = sorted({0, n - 1}.union(*((lo, hi) for lo, hi, _ in ranks)))
    s = np.partition(a, kth)
    if math.isnan(s[-1]):              # NaN sorts last; numpy answers NaN: let it
        return [float(v) for v in np.percentile(a, qs)]
    out = []
    for lo, hi, g in ranks:
        a_, b_ = float(s[lo]), float(s[hi])
        d = b_ - a_
        out.append(b_ - d * (1 - g) if g >= 0.5 else a_ + d * g)
    return out
