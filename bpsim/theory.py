"""Closed forms: what queueing theory predicts, to put beside what the simulator shows.

Two regimes matter in this series.

**Deterministic overload.** When messages arrive at ``lambda`` per second and leave at ``mu``
per second with ``lambda > mu``, an unbounded queue grows by ``lambda - mu`` messages every
second, so a server with ``M`` bytes for messages of ``b`` bytes each runs out after
``M / ((lambda - mu) * b)`` seconds. A bounded buffer that drops arrivals instead ends up
throwing away the share of the load the consumer cannot take, ``1 - mu / lambda``.

>>> queue_growth_per_s(1000, 100)
900.0
>>> round(time_to_exhaust_memory_s(1000, 100, 100_000_000, 1000), 2)
111.11
>>> drop_fraction(1000, 100)
0.9

**Random arrivals below capacity.** With Poisson arrivals, exponential service, one consumer and
room for ``K`` messages in the system (the M/M/1/K queue), a finite buffer still refuses some
messages when a burst fills it. In bpsim a buffer of ``capacity`` slots plus the one message
being processed is ``K = capacity + 1``. The simulator ticks in discrete time, so it matches these
formulas only approximately, and better as the tick shrinks.

>>> round(mm1k_blocking_probability(90, 100, capacity=9), 4)
0.0508

**Little's law** ties the three averages of any stable system together, whatever the order of
service: messages inside = throughput x time inside (``L = lambda_eff * W``).
"""
from __future__ import annotations

import math

import numpy as np

from . import validate
from .validate import InputError

__all__ = ["queue_growth_per_s", "time_to_exhaust_memory_s", "drop_fraction",
           "mm1k_stationary", "mm1k_blocking_probability", "mm1k_mean_in_system",
           "littles_law", "littles_law_check"]


def _rate(name, value, allow_zero=True):
    return validate.number(name, value, low=0, low_open=not allow_zero, high=validate.MAX_RATE,
                           what="a rate in msg/s")


def queue_growth_per_s(producer_rate: float, consumer_rate: float) -> float:
    """How fast an unbounded queue grows (msg/s): ``max(0, lambda - mu)``.

    Parameters
    ----------
    producer_rate : float
        Arrivals, ``lambda`` (msg/s).
    consumer_rate : float
        Total service rate of all consumers, ``mu`` (msg/s).

    Returns
    -------
    float
        Messages added to the queue per second; 0 when the consumers keep up.

    >>> queue_growth_per_s(1000, 100), queue_growth_per_s(50, 100)
    (900.0, 0.0)
    """
    lam = _rate("producer_rate", producer_rate)
    mu = _rate("consumer_rate", consumer_rate, allow_zero=False)
    return max(0.0, lam - mu)


def time_to_exhaust_memory_s(producer_rate: float, consumer_rate: float,
                             memory_limit_bytes: float, message_bytes: float) -> float:
    """Seconds until an unbounded queue fills the memory: ``M / ((lambda - mu) * b)``.

    Parameters
    ----------
    producer_rate, consumer_rate : float
        ``lambda`` and ``mu`` (msg/s).
    memory_limit_bytes : float
        ``M``, the memory available for messages (bytes).
    message_bytes : float
        ``b``, the memory one message costs (bytes).

    Returns
    -------
    float
        Time to the crash (s); ``math.inf`` when the consumers keep up (``lambda <= mu``).

    >>> time_to_exhaust_memory_s(1000, 100, 9_000_000, 1000)
    10.0
    >>> time_to_exhaust_memory_s(100, 100, 9_000_000, 1000)
    inf
    """
    growth = queue_growth_per_s(producer_rate, consumer_rate)
    for name, v in (("memory_limit_bytes", memory_limit_bytes), ("message_bytes", message_bytes)):
        validate.number(name, v, low=0, low_open=True, high=validate.MAX_BYTES,
                        what="a number of bytes")
    if growth == 0:
        return math.inf
    return float(memory_limit_bytes) / (growth * float(message_bytes))


def drop_fraction(producer_rate: float, consumer_rate: float) -> float:
    """Long-run share of arrivals a full drop-newest buffer discards: ``max(0, 1 - mu/lambda)``.

    Parameters
    ----------
    producer_rate, consumer_rate : float
        ``lambda`` and ``mu`` (msg/s).

    Returns
    -------
    float
        A fraction between 0 and 1 (0 when the consumers keep up).

    >>> drop_fraction(1000, 100), drop_fraction(100, 1000)
    (0.9, 0.0)
    """
    lam = _rate("producer_rate", producer_rate)
    mu = _rate("consumer_rate", consumer_rate, allow_zero=False)
    if lam <= mu:
        return 0.0
    return 1.0 - mu / lam


def _mm1k_args(arrival_rate, service_rate, capacity):
    lam = _rate("arrival_rate", arrival_rate)
    mu = _rate("service_rate", service_rate, allow_zero=False)
    capacity = validate.whole("capacity", capacity, low=0, high=10 ** 6,
                              what="a whole number of buffer slots (the system then holds "
                                   "capacity + 1 messages)")
    return lam / mu, capacity + 1


def mm1k_stationary(arrival_rate: float, service_rate: float, capacity: int) -> np.ndarray:
    """Long-run probabilities of 0, 1, ..., K messages in an M/M/1/K system, ``K = capacity + 1``.

    ``P_n`` is proportional to ``rho**n`` with ``rho = lambda / mu``.

    Parameters
    ----------
    arrival_rate, service_rate : float
        ``lambda`` and ``mu`` (msg/s).
    capacity : int
        Buffer slots, not counting the message in service.

    Returns
    -------
    numpy.ndarray
        ``K + 1`` probabilities summing to 1.

    >>> mm1k_stationary(100, 100, capacity=1)
    array([0.33333333, 0.33333333, 0.33333333])
    """
    rho, k = _mm1k_args(arrival_rate, service_rate, capacity)
    n = np.arange(k + 1)
    if rho == 0:
        return (n == 0).astype(float)
    # Work in logs and normalise by the largest term, so large K and rho far from 1 stay finite.
    logw = n * math.log(rho)
    w = np.exp(logw - logw.max())
    return w / w.sum()


def mm1k_blocking_probability(arrival_rate: float, service_rate: float, capacity: int) -> float:
    """Share of arrivals an M/M/1/K system refuses because it is full (``P_K``), ``K = capacity + 1``.

    ``P_K = (1 - rho) rho**K / (1 - rho**(K+1))`` for ``rho != 1`` and ``1 / (K + 1)`` at
    ``rho == 1`` (the limit of the first as ``rho -> 1``).

    Parameters
    ----------
    arrival_rate, service_rate : float
        ``lambda`` and ``mu`` (msg/s).
    capacity : int
        Buffer slots, not counting the message in service.

    Returns
    -------
    float
        A probability; by PASTA it is also the long-run fraction of messages dropped.

    >>> mm1k_blocking_probability(100, 100, capacity=3)
    0.2
    """
    rho, k = _mm1k_args(arrival_rate, service_rate, capacity)
    if rho == 0:
        return 0.0
    if abs(rho - 1.0) < 1e-9:
        return 1.0 / (k + 1)
    if rho > 1:
        # Same formula divided through by rho**(K+1): no overflow for large K.
        r = 1.0 / rho
        return (1 - r) / (1 - r ** (k + 1))
    return (1 - rho) * rho ** k / (1 - rho ** (k + 1))


def mm1k_mean_in_system(arrival_rate: float, service_rate: float, capacity: int) -> float:
    """Mean number of messages in an M/M/1/K system (queued plus in service), ``K = capacity + 1``.

    ``L = rho/(1 - rho) - (K+1) rho**(K+1) / (1 - rho**(K+1))`` for ``rho != 1`` and ``K / 2`` at
    ``rho == 1``.

    Parameters
    ----------
    arrival_rate, service_rate : float
        ``lambda`` and ``mu`` (msg/s).
    capacity : int
        Buffer slots, not counting the message in service.

    Returns
    -------
    float
        Messages (time average).

    >>> mm1k_mean_in_system(100, 100, capacity=3)
    2.0
    """
    rho, k = _mm1k_args(arrival_rate, service_rate, capacity)
    if rho == 0:
        return 0.0
    if abs(rho - 1.0) < 1e-9:
        return k / 2.0
    if rho > 1:
        # Mirror image: with r = 1/rho, the number of empty places K - n behaves like M/M/1/K at r.
        r = 1.0 / rho
        empty = r / (1 - r) - (k + 1) * r ** (k + 1) / (1 - r ** (k + 1))
        return k - empty
    return rho / (1 - rho) - (k + 1) * rho ** (k + 1) / (1 - rho ** (k + 1))


def littles_law(throughput_per_s: float, time_in_system_s: float) -> float:
    """Messages in the system predicted by Little's law: ``L = lambda_eff * W``.

    Parameters
    ----------
    throughput_per_s : float
        ``lambda_eff``, messages that get through per second (msg/s).
    time_in_system_s : float
        ``W``, their mean time in the system (s).

    Returns
    -------
    float
        ``L`` (messages).

    >>> littles_law(100, 5.0)
    500.0
    """
    return float(throughput_per_s) * float(time_in_system_s)


def littles_law_check(result, warmup_s: float = 0.0) -> dict:
    """Little's law measured on a simulated run, after a warm-up.

    The *system* is everything generated and not yet finished: the server's buffer, the messages
    being processed, and any the producer still holds (``block``) or will retry (``shed``). Time in
    the system is each delivered message's latency, counted from its generation.

    The law holds for a run in steady state whose every admitted message is eventually delivered
    or refused at the door (``drop_newest``, ``sample``, ``shed``, a stable queue). It does not
    hold for a queue that keeps growing (``unbounded`` or ``block`` under overload: no steady
    state), nor exactly for ``drop_oldest``, whose evicted messages spent time inside without
    ever being delivered.

    Parameters
    ----------
    result : bpsim.Result
        A finished run.
    warmup_s : float
        Ignore the first ``warmup_s`` seconds (s), while the buffer fills.

    Returns
    -------
    dict
        ``L_measured`` (time-average messages in the system), ``throughput_per_s`` (msg/s),
        ``mean_time_in_system_s`` (s), ``L_predicted`` (``throughput * W``, messages) and
        ``ratio`` (``L_measured / L_predicted``; 1 when the law holds).
    """
    t = result.time_s
    validate.number("warmup_s", warmup_s, low=0, high=result.scenario.duration_s,
                    what="a time in seconds within the run")
    if warmup_s == result.scenario.duration_s:
        validate.bad("warmup_s", warmup_s, f"a time in seconds shorter than the run "
                                           f"({result.scenario.duration_s:g} s)")
    keep = t > warmup_s
    inside = (result.queue_depth + result.in_service + result.producer_backlog)[keep]
    done = result.delivery_time_s > warmup_s
    span = float(t[-1] - warmup_s)
    throughput = float(np.count_nonzero(done)) / span
    w = float(np.mean(result.latency_s[done])) if np.any(done) else float("nan")
    L = float(np.mean(inside))
    predicted = littles_law(throughput, w)
    return {"L_measured": L, "throughput_per_s": throughput, "mean_time_in_system_s": w,
            "L_predicted": predicted, "ratio": L / predicted if predicted > 0 else float("nan")}


# -- several consumers: the M/M/c/K queue ---------------------------------------------------------
# With c consumers of rate mu each and a buffer of ``capacity`` slots, bpsim's drop_newest is an
# M/M/c/K system with K = capacity + c (the buffer, plus one message in each worker).
__all__ += ["mmck_stationary", "mmck_blocking_probability", "mmck_mean_in_system",
            "mmck_mean_queue_length", "mmck_mean_wait", "mmck_mean_time_in_system"]


def _mmck_args(arrival_rate, service_rate, servers, capacity):
    lam = _rate("arrival_rate", arrival_rate)
    mu = _rate("service_rate", service_rate, allow_zero=False)
    if isinstance(servers, bool) or not float(servers).is_integer() or servers < 1:
        raise InputError(f"servers={servers!r} is not valid: use a whole number of consumers, "
                         "1 or more.")
    if isinstance(capacity, bool) or not float(capacity).is_integer() or capacity < 0:
        raise InputError(f"capacity={capacity!r} is not valid: use a whole number of buffer "
                         "slots, 0 or more (the system then holds capacity + servers messages).")
    return lam, mu, int(servers), int(capacity) + int(servers)


def mmck_stationary(arrival_rate: float, service_rate: float, servers: int,
                    capacity: int) -> np.ndarray:
    """Long-run probabilities of 0, 1, ..., K messages in an M/M/c/K system, ``K = capacity + c``.

    With ``a = lambda / mu``, ``P_n`` is proportional to ``a**n / n!`` for ``n <= c`` and to
    ``a**n / (c! c**(n - c))`` above: ``min(n, c)`` workers are busy with ``n`` messages inside.

    Parameters
    ----------
    arrival_rate : float
        ``lambda``, the producer's rate (msg/s).
    service_rate : float
        ``mu``, the rate of one consumer at full speed (msg/s).
    servers : int
        ``c``, the number of consumers.
    capacity : int
        Buffer slots, not counting the messages in service.

    Returns
    -------
    numpy.ndarray
        ``K + 1`` probabilities summing to 1.

    >>> mmck_stationary(100, 100, servers=2, capacity=0)
    array([0.4, 0.4, 0.2])
    """
    lam, mu, c, k = _mmck_args(arrival_rate, service_rate, servers, capacity)
    n = np.arange(k + 1)
    if lam == 0:
        return (n == 0).astype(float)
    # In logs, normalised by the largest term: finite for large K and any load.
    log_fact = np.array([math.lgamma(m + 1.0) for m in np.minimum(n, c)])
    logw = n * math.log(lam / mu) - log_fact - np.maximum(n - c, 0) * math.log(c)
    w = np.exp(logw - logw.max())
    return w / w.sum()


def mmck_blocking_probability(arrival_rate: float, service_rate: float, servers: int,
                              capacity: int) -> float:
    """Share of arrivals an M/M/c/K system refuses because it is full (``P_K``).

    Parameters
    ----------
    arrival_rate, service_rate : float
        ``lambda`` and the rate of one consumer ``mu`` (msg/s).
    servers : int
        ``c``, the number of consumers.
    capacity : int
        Buffer slots; ``K = capacity + c``.

    Returns
    -------
    float
        A probability; by PASTA also the long-run fraction of messages dropped.

    >>> round(mmck_blocking_probability(100, 100, servers=2, capacity=0), 6)
    0.2
    """
    return float(mmck_stationary(arrival_rate, service_rate, servers, capacity)[-1])


def mmck_mean_in_system(arrival_rate: float, service_rate: float, servers: int,
                        capacity: int) -> float:
    """Mean number of messages in an M/M/c/K system, queued plus in service (time average).

    Parameters
    ----------
    arrival_rate, service_rate : float
        ``lambda`` and the rate of one consumer ``mu`` (msg/s).
    servers : int
        ``c``, the number of consumers.
    capacity : int
        Buffer slots; ``K = capacity + c``.

    Returns
    -------
    float
        ``L = sum n P_n`` (messages).

    >>> round(mmck_mean_in_system(100, 100, servers=2, capacity=0), 6)
    0.8
    """
    p = mmck_stationary(arrival_rate, service_rate, servers, capacity)
    return float(np.dot(np.arange(p.size), p))


def mmck_mean_queue_length(arrival_rate: float, service_rate: float, servers: int,
                           capacity: int) -> float:
    """Mean number of messages waiting in the buffer of an M/M/c/K system (time average).

    Parameters
    ----------
    arrival_rate, service_rate : float
        ``lambda`` and the rate of one consumer ``mu`` (msg/s).
    servers : int
        ``c``, the number of consumers.
    capacity : int
        Buffer slots; ``K = capacity + c``.

    Returns
    -------
    float
        ``L_q = sum (n - c) P_n`` over ``n > c`` (messages).

    >>> mmck_mean_queue_length(100, 100, servers=2, capacity=0)
    0.0
    """
    p = mmck_stationary(arrival_rate, service_rate, servers, capacity)
    n = np.arange(p.size)
    return float(np.dot(np.maximum(n - int(servers), 0), p))


def mmck_mean_wait(arrival_rate: float, service_rate: float, servers: int,
                   capacity: int) -> float:
    """Mean time an admitted message waits in the buffer before service starts, M/M/c/K.

    Little's law on the buffer: ``W_q = L_q / lambda_eff`` with the throughput
    ``lambda_eff = lambda (1 - P_K)`` (refused messages never wait). In bpsim this is the mean of
    ``Result.queue_wait_s`` for ``drop_newest``.

    Parameters
    ----------
    arrival_rate, service_rate : float
        ``lambda`` and the rate of one consumer ``mu`` (msg/s).
    servers : int
        ``c``, the number of consumers.
    capacity : int
        Buffer slots; ``K = capacity + c``.

    Returns
    -------
    float
        ``W_q`` (s); 0 when nothing arrives.

    >>> round(mmck_mean_wait(100, 100, servers=1, capacity=1), 6)
    0.005
    """
    lam = _rate("arrival_rate", arrival_rate)
    if lam == 0:
        _mmck_args(arrival_rate, service_rate, servers, capacity)  # still check the arguments
        return 0.0
    p_full = mmck_blocking_probability(arrival_rate, service_rate, servers, capacity)
    lq = mmck_mean_queue_length(arrival_rate, service_rate, servers, capacity)
    return lq / (lam * (1.0 - p_full))


def mmck_mean_time_in_system(arrival_rate: float, service_rate: float, servers: int,
                             capacity: int) -> float:
    """Mean time an admitted message spends inside an M/M/c/K system: ``W_q + 1 / mu``.

    Parameters
    ----------
    arrival_rate, service_rate : float
        ``lambda`` and the rate of one consumer ``mu`` (msg/s).
    servers : int
        ``c``, the number of consumers.
    capacity : int
        Buffer slots; ``K = capacity + c``.

    Returns
    -------
    float
        ``W`` (s), equal to ``L / lambda_eff`` by Little's law.

    >>> round(mmck_mean_time_in_system(100, 100, servers=1, capacity=1), 6)
    0.015
    """
    mu = _rate("service_rate", service_rate, allow_zero=False)
    return mmck_mean_wait(arrival_rate, service_rate, servers, capacity) + 1.0 / mu


# -- clients that give up (client_timeout_s) --------------------------------------------------------
__all__ += ["mm1_late_fraction"]


def mm1_late_fraction(arrival_rate: float, service_rate: float, timeout_s: float) -> float:
    """Share of messages an M/M/1 FIFO server finishes after their client gave up.

    When the server does not know the deadline (bpsim's default, ``drop_expired=False``) it serves
    every message, so the queue is a plain M/M/1 and a message is late when its sojourn time, an
    exponential of rate ``mu - lambda``, exceeds the timeout: ``exp(-(mu - lambda) * T)``. All of
    that work is wasted.

    Parameters
    ----------
    arrival_rate, service_rate : float
        ``lambda`` and ``mu`` (msg/s), ``lambda < mu``.
    timeout_s : float
        ``T``, how long a client waits (s).

    Returns
    -------
    float
        The expected ``timed_out / (delivered + timed_out)``.

    >>> round(mm1_late_fraction(80, 100, 0.1), 4)
    0.1353
    """
    lam = _rate("arrival_rate", arrival_rate)
    mu = _rate("service_rate", service_rate, allow_zero=False)
    if not lam < mu:
        validate.bad("arrival_rate", arrival_rate,
                     f"a rate below service_rate={mu:g} msg/s (at or above it the queue grows "
                     "without end and every message is eventually late)")
    t = validate.number("timeout_s", timeout_s, low=0, high=validate.MAX_DURATION_S,
                        what="a time in seconds")
    return math.exp(-(mu - lam) * t)
