"""Run the live programs from Python: start them as subprocesses, collect their books, stop them.

The notebook and the tests drive real processes over real loopback sockets through this module.
Ports are always chosen by the kernel (``--port 0``): the consumer prints the port it got, and the
producer is pointed at it. Every process started here is stopped before the call returns, by
SIGINT first (so it prints its summary) and by SIGKILL if it does not stop in time.

>>> run = run_live(backpressure=True, capacity=10, service_time=0.02, rate=0.01,
...                duration=1.0)                                          # doctest: +SKIP
>>> run.balanced                                                          # doctest: +SKIP
True
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from .cli import SMALL_RCVBUF, SMALL_SNDBUF, SMALL_WRITE_BUFFER

#: The programs' default buffer sizes (bytes): the push-back reaches the producer within a second.
#: ``--system-buffers`` (``small_buffers=False`` here) gives the system's back.
SMALL = {"rcvbuf": SMALL_RCVBUF, "sndbuf": SMALL_SNDBUF, "write_buffer": SMALL_WRITE_BUFFER}


def _env():
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class Proc:
    """A live program running in a subprocess, with its output captured.

    Every instance is remembered in ``Proc.started`` so that a test can check, at the end, that
    each one has been stopped.
    """

    started: list = []

    def __init__(self, *args: str):
        self.args = [sys.executable, "-m", "bpsim.live", *map(str, args)]
        self.popen = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, env=_env())
        Proc.started.append(self)
        self.stdout = self.stderr = None

    def readline(self, timeout: float = 10.0) -> str:
        """The next line of stdout (the consumer's 'listening' line), or raise after ``timeout``."""
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(self.popen.stdout, selectors.EVENT_READ)
        try:
            if not sel.select(timeout):
                raise TimeoutError(f"no output from {' '.join(self.args[2:])} in {timeout} s")
        finally:
            sel.close()
        return self.popen.stdout.readline()

    def stop(self, timeout: float = 10.0) -> int:
        """SIGINT, wait for a clean exit (up to ``timeout`` s), SIGKILL if need be."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout: float = 30.0) -> int:
        try:
            out, err = self.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            out, err = self.popen.communicate()
        self.stdout = (self.stdout or "") + (out or "")
        self.stderr = (self.stderr or "") + (err or "")
        return self.popen.returncode

    def kill(self) -> None:
        """Make sure it is gone (for ``finally`` blocks)."""
        if self.popen.poll() is None:
            self.popen.kill()
        try:
            self.popen.communicate(timeout=5)
        except (subprocess.TimeoutExpired, ValueError):
            pass

    def json_lines(self) -> list[dict]:
        return [json.loads(x) for x in (self.stdout or "").splitlines() if x.startswith("{")]

    def summary(self) -> dict:
        return [x for x in self.json_lines() if x.get("event") == "summary"][-1]


def start_consumer(*, capacity=20, service_time=0.02, backpressure=False, rcvbuf=None,
                   trace=None, system_buffers=False, extra=()) -> tuple[Proc, dict]:
    """A consumer on a free loopback port; returns it and its 'listening' record."""
    args = ["consumer", "--port", 0, "--stats-port", 0, "--json", "--capacity", capacity,
            "--service-time", service_time]
    if backpressure:
        args.append("--backpressure")
    if system_buffers:
        args.append("--system-buffers")
    if rcvbuf is not None:
        args += ["--rcvbuf", rcvbuf]
    if trace:
        args += ["--trace", trace, "--trace-interval", 0.05]
    proc = Proc(*args, *extra)
    try:
        info = json.loads(proc.readline())
    except Exception:
        proc.kill()
        raise RuntimeError(f"the consumer did not start: {proc.popen.stderr.read()}") from None
    return proc, info


def producer_args(port, *, rate=0.01, duration=None, count=None, sndbuf=None, write_buffer=None,
                  size=1000, system_buffers=False, extra=()) -> list:
    args = ["producer", "--port", port, "--rate", rate, "--json", "--size", size]
    if system_buffers:
        args.append("--system-buffers")
    if duration is not None:
        args += ["--duration", duration]
    if count is not None:
        args += ["--count", count]
    if sndbuf is not None:
        args += ["--sndbuf", sndbuf]
    if write_buffer is not None:
        args += ["--write-buffer", write_buffer]
    return args + list(extra)


@dataclass
class LiveRun:
    """One live run: both programs' final books and the consumer's trace (time series)."""

    params: dict
    consumer: dict
    producer: dict
    trace: dict = field(repr=False)

    @property
    def balanced(self) -> bool:
        """Every message the producer wrote is in exactly one place of the two programs' books."""
        return books_balance([self.producer], [self.consumer])


def books_balance(producers, consumers) -> bool:
    """The identity over the programs' final summaries (JSON ``summary`` records).

    Every message a producer generated left it whole (``sent``), in part (``cut_off``) or not at
    all (``unsent``); every one that left it, whole or in part, is in a consumer's ``received``,
    and each consumer's ``received`` is split exactly over its places (``accounted``). Only a
    connection that *broke* (``sent_on_broken_connections``) can make the consumers hold fewer.
    """
    generated = sum(p["generated"] for p in producers)
    left = sum(p["sent"] + p["cut_off"] for p in producers)
    unsent = sum(p["unsent"] for p in producers)
    broken = sum(p["sent_on_broken_connections"] for p in producers)
    received = sum(c["received"] for c in consumers)
    return (generated == left + unsent and all(c["received"] == c["accounted"] for c in consumers)
            and (received == left if broken == 0 else left - broken <= received <= left))


def run_live(*, backpressure: bool, capacity=20, service_time=0.02, rate=0.01, duration=4.0,
             small_buffers=True, tail_s=0.1, size=1000) -> LiveRun:
    """Start a consumer, run a producer against it for ``duration`` s, then stop the consumer.

    ``small_buffers`` keeps the programs' small default buffers (:data:`SMALL`); ``False`` runs
    both with ``--system-buffers``. ``tail_s`` is how long the consumer keeps working after the
    producer finished, before it is stopped.
    """
    system = not small_buffers
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.jsonl")
        cons, info = start_consumer(capacity=capacity, service_time=service_time,
                                    backpressure=backpressure, trace=path, system_buffers=system)
        prod = None
        try:
            prod = Proc(*producer_args(info["port"], rate=rate, duration=duration, size=size,
                                       system_buffers=system))
            prod.wait(duration + 30)
            time.sleep(tail_s)
            cons.stop()
            with open(path) as f:
                rows = [json.loads(x) for x in f if x.strip()]
        finally:
            cons.kill()
            if prod is not None:
                prod.kill()
        snaps = rows[:-1]
        keys = ("t", "received", "processed", "dropped", "buffered", "pending", "in_service")
        trace = {k: np.array([r[k] for r in snaps], dtype=float) for k in keys}
        # Time zero is the first arrival (the producer starts a little after the consumer).
        first = np.flatnonzero(trace["received"] > 0)
        trace["t"] = trace["t"] - (trace["t"][first[0]] if first.size else 0.0)
        params = dict(backpressure=backpressure, capacity=capacity, service_time=service_time,
                      rate=rate, duration=duration, small_buffers=small_buffers, size=size)
        return LiveRun(params, cons.summary(), prod.summary(), trace)


def simulate_like(run: LiveRun, extra_capacity: int = 0):
    """bpsim's prediction for the same parameters: ``block`` for backpressure, else ``drop_newest``.

    ``extra_capacity`` adds slots to the buffer: the hidden buffers, if you want the model to
    know about them.
    """
    import bpsim
    p = run.params
    return bpsim.simulate(strategy="block" if p["backpressure"] else "drop_newest",
                          producer_rate=1 / p["rate"], consumer_rate=1 / p["service_time"],
                          capacity=p["capacity"] + extra_capacity, duration_s=p["duration"],
                          dt_s=0.001, message_bytes=p["size"], rng=0)


def at(run: LiveRun, key: str, t: float) -> float:
    """A traced counter of the consumer (``processed``, ``dropped``, ...) at time ``t`` (s)."""
    return float(np.interp(t, run.trace["t"], run.trace[key]))


def live_vs_sim(run: LiveRun, sim) -> dict:
    """Counts at the end of the producer's run, live and simulated, side by side (messages)."""
    end = run.params["duration"]
    s = sim.summary()
    return {
        "sent": (run.producer["sent"], s["admitted"] if run.params["backpressure"] else s["offered"]),
        "processed": (round(at(run, "processed", end)), s["delivered"]),
        "dropped": (round(at(run, "dropped", end)), s["dropped"]),
    }


def print_comparison(run: LiveRun, sim, tolerance: float = 0.10) -> None:
    """Print live and simulated counts at the end of the producer's run, with verdicts.

    Live numbers change a little from run to run (timer jitter, the moment the producer starts),
    so they are printed after a ``~``; the verdicts (is ``processed`` and ``dropped`` within
    ``tolerance`` of bpsim, or 2 messages) are what should never change. ``sent`` is printed
    without a verdict: with backpressure the live producer sends more than bpsim admits, by the
    size of the hidden buffers.
    """
    for name, (live, predicted) in live_vs_sim(run, sim).items():
        line = f"{name:>9}: live ~{live:,}  bpsim {predicted:,}"
        if name != "sent":
            ok = abs(live - predicted) <= max(tolerance * predicted, 2)
            line += f"  -> within {tolerance:.0%} (or 2 messages): {'yes' if ok else 'NO'}"
        print(line)


def print_producer(run: LiveRun, tolerance: float = 0.15) -> None:
    """What the producer felt: its rate, the time it was blocked, and when pressure first came."""
    p = run.producer
    print(f"producer asked for {p['target_rate_per_s']:g} msg/s, achieved ~{p['achieved_rate_per_s']:.0f} "
          f"msg/s, blocked on the socket ~{100 * p['blocked_fraction']:.0f}% of the run")
    if p["first_block_s"] is None:
        print("it never had to wait: no backpressure reached it")
        return
    service = 1 / run.params["service_time"]
    after = p["rate_under_pressure_per_s"]
    ok = abs(after - service) <= tolerance * service
    print(f"first wait after ~{p['sent_before_block']} messages; from then on ~{after:.1f} msg/s, "
          f"the consumer's {service:g} msg/s within {tolerance:.0%}: {'yes' if ok else 'NO'}")
