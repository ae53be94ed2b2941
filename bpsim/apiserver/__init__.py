"""A shared server with several traffic classes: the Kubernetes API server under overload.

The core model (:mod:`bpsim.reference`) has one producer and one queue. A Kubernetes API server
is shared: telemetry agents, service discovery and human operators all send it requests, and
those requests compete for the same limited concurrency. This module extends the model to that
case, in the same discrete-time style (a tick of ``dt_s`` seconds, counts of requests travelling
in batches, every random draw from an explicit ``rng``).

The pieces
----------
**Seats.** The server can work on ``seats`` requests at once (Kubernetes calls the units of its
concurrency limit *seats*). A request of a class costs ``cost_s`` seat-seconds: it holds one
seat for that long. In one tick a level with ``s`` seats has ``s * dt_s`` seat-seconds to give;
a request takes ``min(cost_s, dt_s)`` of them per tick until its cost is paid, so a seat serves
several cheap requests per tick and a request dearer than a tick stays *in service* across ticks.
A request finishes at the end of the tick its cost is paid in (latency is known to within a tick).

**Admission.** Either

- ``fairness=False``: one shared FIFO queue in front of all the seats (the naive server; the
  optional ``fifo_limit`` bounds it), or
- ``fairness=True``: in the spirit of Kubernetes API Priority and Fairness (APF), each class
  belongs to a :class:`PriorityLevel` that owns a share of the seats and its own bounded queue.
  Real APF also fair-queues the flows inside a level (shuffle sharding) and lets levels lend and
  borrow seats; this model leaves both out.

A request that can start at once needs no room in the queue; one that would have to wait in a
full queue is rejected at once with HTTP 429. Requests arriving in the same tick arrived
interleaved, so they are served, and turned away, in proportion to their numbers (the few
that round one way or the other are drawn at random). A class can also be ``blocked`` at the
network: its requests never reach the server.

**Clients that give up.** A client waits ``timeout_s`` for an answer. The server does not know
when a client has given up: the abandoned request (an *orphan*) stays in the queue and is still
served, wasting seats. That wasted work is what lets an overload outlive its cause.

**Retries.** A request that times out or gets a 429 is retried up to ``retries`` times, either
at once (``backoff_s=0``: the next tick) or after a capped exponential backoff with jitter
(``backoff_s * 2**attempt``, capped at ``backoff_cap_s``, spread over its upper half). A class
with a finite number of ``clients`` models clients that hold back while they back off: a client
waiting out a backoff sends nothing new, so backing off lowers the offered load.

**A DNS cache** (:class:`DnsCache`) in front of service discovery: each service record is
refreshed through the API server every ``refresh_s``; a record whose refreshes fail keeps
working from the cache until ``stale_s`` after its last successful refresh, then stops
resolving, and the clients of a dead record re-resolve every ``reresolve_s`` (more load).

**Switches** (:class:`Switch`) change a class or the server at a chosen time: scale the cluster
down, block a class at the network, add API servers, turn fairness on, make clients back off.

The books
---------
Per class, every request a client ever wanted to make is in exactly one place (the *client's
books*; retries are attempts of the same request, not new requests)::

    offered == succeeded + rejected_final + timed_out_final
               + queued + in_service + retry_pending

where ``queued`` and ``in_service`` count only live attempts (whose client still waits), and a
request is final once its last allowed attempt failed. The *server's books* count attempts::

    attempts == completed + rejected + blocked + queued + queued_orphan
                + in_service + in_service_orphan

with ``completed`` counting live and orphan completions alike. :meth:`ApiServerResult.books`
returns both sides of both identities.

The modules
-----------
:mod:`~bpsim.apiserver.model` holds the parameters (frozen, checked by :mod:`bpsim.validate`),
:mod:`~bpsim.apiserver.server` the run (:class:`~bpsim.apiserver.server.ApiServer`: the state
of one run), :mod:`~bpsim.apiserver.ticks` what happens in a tick, one compiled function per
step, :mod:`~bpsim.apiserver.draws` numpy's samplers reached from compiled code, and
:mod:`~bpsim.apiserver.result` what a run gives back.

>>> m = ApiServerModel(classes=(TrafficClass("a", rate_per_s=50, cost_s=0.1, timeout_s=5),),
...                    seats=10, duration_s=60)
>>> r = simulate_apiserver(m, rng=1)
>>> b = r.books("a")
>>> b["offered"] == b["accounted"]
True
"""
from __future__ import annotations

from .model import (ApiServerModel, DnsCache, PriorityLevel, Removal, Switch, TrafficClass,
                    CLASS_FIELDS, SERVER_FIELDS)
from .result import SERIES, ApiServerResult
from .server import ApiServer, simulate_apiserver

__all__ = ["TrafficClass", "PriorityLevel", "DnsCache", "Switch", "Removal", "ApiServerModel",
           "ApiServerResult", "ApiServer", "simulate_apiserver", "SERIES"]
