"""The engine's state: the names both engines keep, and the per-tick table they write.

The readable engine (:mod:`bpsim.reference`) keeps its state in a dict keyed by :data:`SCALARS`;
the compiled one (:mod:`bpsim.kernel`) in one int64 vector indexed by :data:`S`, the same names at
the same places. So the driver (:mod:`bpsim.engine`), the controller's meter (:mod:`bpsim.control`)
and the result (:mod:`bpsim.result`) read either engine alike, and neither engine owns the layout.

>>> from bpsim.state import COLUMNS, S
>>> COLUMNS[:3], S["depth"]
(('depth', 'in_service', 'held'), 0)
"""
from __future__ import annotations

#: Columns of the per-tick table: the state at the end of the tick, then running totals.
COLUMNS = ("depth", "in_service", "held", "retry_pending", "capacity", "down",
           "offered", "admitted", "delivered", "dropped", "shed", "sampled_out", "lost",
           "rejected", "attempts")
#: Column index by name.
COL = {name: i for i, name in enumerate(COLUMNS)}

#: Scalar state of a run, by name: counts of messages, ticks, flags. The table's columns come
#: first, in the same order, so that the compiled kernel writes a row as one slice copy.
SCALARS = COLUMNS + ("up_tick", "lost_down", "sample_counter", "n_records", "crashes",
                     "first_crash_tick", "max_depth", "peak_in_memory", "pool_index")
#: Scalar index by name.
S = {name: i for i, name in enumerate(SCALARS)}

#: The capacity of a buffer with no limit (``unbounded``).
UNBOUNDED_CAPACITY = -1
