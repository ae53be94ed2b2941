"""bpsim: backpressure, taught by simulation.

A discrete-time simulator of a producer, a bounded buffer and its consumers, with every strategy
a system can use when the consumer cannot keep up: an unbounded queue (until memory runs out),
block, drop newest, drop oldest, sample 1 in N, shed with errors (and retries), and an adaptive
capacity.

>>> import bpsim
>>> r = bpsim.simulate(strategy="drop_newest", capacity=500, duration_s=10, rng=1)
>>> s = r.summary()
>>> s["offered"] == s["delivered"] + s["dropped"] + s["queue_end"] + s["in_service_end"]
True
"""
from .apiserver import (ApiServerModel, ApiServerResult, DnsCache, PriorityLevel, Removal,
                        Switch, TrafficClass, simulate_apiserver)
from .challenge import run_suite, suite
from .control import Observation
from .engine import simulate
from .policies import AIMD, CoDel, Decision, FixedCapacity, Policy, PolicyStrategy, ReferenceAdaptive
from .result import SUMMARY_KEYS, Result
from .scenario import Scenario
from .strategies import (STRATEGIES, Adaptive, Block, DropNewest, DropOldest, Sample, Shed,
                         Strategy, Unbounded, make_strategy)

__version__ = "0.1.0"

__all__ = [
    "simulate", "Scenario", "Result", "SUMMARY_KEYS", "Observation", "STRATEGIES", "Strategy",
    "Unbounded", "Block", "DropNewest", "DropOldest", "Sample", "Shed", "Adaptive",
    "make_strategy",
    # notebook 05: policies a learner writes, and the challenge
    "Policy", "Decision", "PolicyStrategy", "FixedCapacity", "ReferenceAdaptive", "CoDel", "AIMD",
    "run_suite", "suite",
    # notebook 04: several traffic classes sharing one API server
    "simulate_apiserver", "ApiServerModel", "ApiServerResult", "TrafficClass", "PriorityLevel",
    "DnsCache", "Switch", "Removal",
]
