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
import importlib

__version__ = "0.1.0"

#: Where each name of the API lives. Names load when first used (PEP 562), so that ``import
#: bpsim`` is quick and ``python -m bpsim.live`` is listening for Ctrl-C before numpy loads.
_WHERE = {
    "simulate": "engine", "Scenario": "scenario", "Schedule": "schedule", "Result": "result",
    "SUMMARY_KEYS": "result", "Observation": "control", "memory_slots": "control",
    "sweep": "sweeps", "Simulation": "simulation",
    **dict.fromkeys(["STRATEGIES", "Strategy", "Queue", "param", "register", "make_strategy",
                     "Unbounded", "Block", "DropNewest", "DropOldest", "Sample", "Shed",
                     "Adaptive"], "strategies"),
    **dict.fromkeys(["Policy", "Decision", "PolicyStrategy", "FixedCapacity", "LittlesLaw",
                     "CoDel", "AIMD"], "policies"),
}

__all__ = [
    "simulate", "Simulation", "sweep", "Scenario", "Schedule", "Result", "SUMMARY_KEYS", "Observation",
    "memory_slots",
    # strategies, and how to add one
    "STRATEGIES", "Strategy", "Queue", "param", "register", "make_strategy",
    "Unbounded", "Block", "DropNewest", "DropOldest", "Sample", "Shed", "Adaptive",
    # policies: controllers that size the buffer while the run goes on
    "Policy", "Decision", "PolicyStrategy", "FixedCapacity", "LittlesLaw", "CoDel", "AIMD",
]


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bpsim' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
