"""bpsim: backpressure, taught by simulation.

A discrete-time simulator of a producer, a bounded buffer and its consumers, with every strategy
a system can use when the consumer cannot keep up: an unbounded queue (until memory runs out),
block, drop newest, drop oldest, sample 1 in N, shed with errors (and retries), and an adaptive
capacity; and the policies that size a buffer while the run goes on.

The package has three wings. ``bpsim`` itself is the library (this namespace is its API, and
importing it loads neither matplotlib nor any widget library); :mod:`bpsim.viz` draws (the palette,
the figures, the dashboard machinery); :mod:`bpsim.course` holds what belongs to one notebook of
the series. Beside them: :mod:`bpsim.apiserver` (a shared server with several traffic classes,
notebook 04's model) and :mod:`bpsim.live` (real programs over TCP, notebook 06).

>>> import bpsim
>>> r = bpsim.simulate(strategy="drop_newest", capacity=500, duration_s=10, rng=1)
>>> s = r.summary()
>>> s["offered"] == s["delivered"] + s["dropped"] + s["queue_end"] + s["in_service_end"]
True
"""
from .control import Observation, memory_slots
from .engine import simulate
from .policies import AIMD, CoDel, Decision, FixedCapacity, Policy, PolicyStrategy, LittlesLaw
from .result import SUMMARY_KEYS, Result
from .scenario import Scenario
from .schedule import Schedule
from .strategies import (STRATEGIES, Adaptive, Block, DropNewest, DropOldest, Queue, Sample, Shed,
                         Strategy, Unbounded, make_strategy, param, register)

__version__ = "0.1.0"

__all__ = [
    "simulate", "Scenario", "Schedule", "Result", "SUMMARY_KEYS", "Observation", "memory_slots",
    # strategies, and how to add one
    "STRATEGIES", "Strategy", "Queue", "param", "register", "make_strategy",
    "Unbounded", "Block", "DropNewest", "DropOldest", "Sample", "Shed", "Adaptive",
    # policies: controllers that size the buffer while the run goes on
    "Policy", "Decision", "PolicyStrategy", "FixedCapacity", "LittlesLaw", "CoDel", "AIMD",
]
