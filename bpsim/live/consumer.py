"""The consumer: a real TCP server with a bounded buffer and one slow worker.

It listens on loopback, reads newline-delimited messages (:mod:`bpsim.live.wire`) from any number
of producers, and processes them one at a time, each taking ``service_time`` seconds. Between the
network and the worker sits a buffer of ``capacity`` slots (the message being processed does not
take a slot, as in :class:`bpsim.Scenario`).

Two behaviours when the buffer is full:

* **without backpressure** the consumer keeps reading whatever the network delivers, and every
  message that finds no room is dropped (counted). The producer never notices.
* **with backpressure** the consumer stops reading from a connection while the buffer is full
  (``transport.pause_reading()``). The bytes pile up in the kernel's receive buffer, TCP's flow
  control closes the window, the producer's send buffer fills, and finally the producer's
  ``write``/``drain`` waits. Nothing is dropped; the producer is slowed to the consumer's pace. A
  chunk already read when the buffer filled is held in its connection (``pending``) until there is
  room: it is at most one read's worth, and it is counted.

Every message the consumer received is in exactly one place of its books::

    received = processed + dropped + buffered + pending + in_service + in_network
               + malformed + lost_in_disconnect

``in_network`` counts the messages still on their way (in kernel buffers) when the consumer was
stopped: on shutdown it reads them off without processing them, so they are counted rather than
silently discarded. ``lost_in_disconnect`` counts messages cut in half by a connection that ended.

A read-only stats endpoint (another loopback port) answers every connection with one JSON line, a
snapshot of these counters, and closes it: the visualizer and the tests use it.
"""
from __future__ import annotations

import asyncio
import collections
import json
import signal
import socket
import sys
import time

from .wire import MAX_LINE_BYTES, parse_message, set_buffer

#: How long shutdown waits for bytes still in flight, after the last one arrived (s).
QUIET_S = 0.2
#: The most bytes read from a connection at a time.
READ_BYTES = 4096
#: The longest shutdown waits for bytes in flight (s).
DRAIN_MAX_S = 1.0


class Consumer:
    """The server's state and books. Create, then ``await run()``."""

    def __init__(self, host="127.0.0.1", port=12000, stats_port=None, capacity=100,
                 service_time=0.1, backpressure=False, rcvbuf=None, duration=None,
                 trace=None, trace_interval=0.05, log=None):
        self.host, self.port = host, port
        self.stats_port = port + 1 if stats_port is None and port else (stats_port or 0)
        self.capacity = capacity
        self.service_time = service_time
        self.backpressure = backpressure
        self.rcvbuf = rcvbuf
        self.duration = duration
        self.trace_path, self.trace_interval = trace, trace_interval
        self.log = log or (lambda text: print(text, file=sys.stderr, flush=True))
        self.buffer = collections.deque()
        self.connections = []           # open Connection objects, in arrival order
        self.leftovers = []             # messages read on connections that have since closed
        self.counts = collections.Counter()
        self.max_buffered = 0
        self.in_service = 0
        self.wait_sum = 0.0             # seconds messages spent between send and processing
        self.producers = set()
        self.started = None
        self.rcvbuf_bytes = None
        self._stop = None
        self._wake = None
        self._due = 0.0

    # -- the books ------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        return sum(len(c.pending) for c in self.connections + self.leftovers)

    def snapshot(self) -> dict:
        """The counters right now, as a plain dict (what the stats endpoint serves)."""
        c = self.counts
        now = time.monotonic()
        s = {
            "t": round(now - self.started, 4) if self.started else 0.0,
            "backpressure": self.backpressure, "capacity": self.capacity,
            "service_time": self.service_time,
            "connections": len(self.connections),
            "paused": sum(1 for x in self.connections if x.paused),
            "received": c["received"], "processed": c["processed"], "dropped": c["dropped"],
            "buffered": len(self.buffer), "pending": self.pending, "in_service": self.in_service,
            "in_network": c["in_network"], "malformed": c["malformed"],
            "lost_in_disconnect": c["lost_in_disconnect"], "max_buffered": self.max_buffered,
            "mean_wait_s": round(self.wait_sum / c["processed"], 4) if c["processed"] else None,
            "producers": len(self.producers),
        }
        s["accounted"] = (s["processed"] + s["dropped"] + s["buffered"] + s["pending"]
                          + s["in_service"] + s["in_network"] + s["malformed"]
                          + s["lost_in_disconnect"])
        return s

    # -- arrivals -------------------------------------------------------------------------------
    def offer(self, conn, line: bytes) -> None:
        """One complete line arrived on ``conn``: buffer it, hold it, or drop it."""
        self.counts["received"] += 1
        msg = parse_message(line)
        if msg is None:
            self.counts["malformed"] += 1
            conn.warn_malformed(line)
            return
        if conn.draining:
            self.counts["in_network"] += 1
            return
        self.producers.add((conn.peer, msg[0]))
        if conn.pending:                      # keep this connection's order
            conn.pending.append(msg)
        elif len(self.buffer) < self.capacity:
            self._enqueue(msg)
        elif self.backpressure:
            conn.pending.append(msg)
        else:
            self.counts["dropped"] += 1

    def _enqueue(self, msg) -> None:
        self.buffer.append(msg)
        self.max_buffered = max(self.max_buffered, len(self.buffer))
        self._wake.set()

    def refill(self) -> None:
        """Room freed: move held messages in, round-robin over connections; resume readers."""
        moved = True
        while moved and len(self.buffer) < self.capacity:
            moved = False
            for conn in self.connections + self.leftovers:
                if conn.pending and len(self.buffer) < self.capacity:
                    self._enqueue(conn.pending.popleft())
                    moved = True
        self.leftovers = [x for x in self.leftovers if x]
        for conn in self.connections:
            if conn.paused and not conn.pending:
                conn.resume()

    # -- the worker -----------------------------------------------------------------------------
    async def work(self) -> None:
        """Process one message at a time, ``service_time`` each, on a drift-free schedule."""
        loop = asyncio.get_running_loop()
        while True:
            if not self.buffer:
                self._wake.clear()
                await self._wake.wait()
                self._due = loop.time()
            msg = self.buffer.popleft()
            self.in_service = 1
            self.refill()
            # Back-to-back messages are timed from the previous one's due time, so the sleep's
            # own lateness does not accumulate; after a long stall the schedule restarts.
            self._due = max(self._due, loop.time() - self.service_time) + self.service_time
            await asyncio.sleep(max(0.0, self._due - loop.time()))
            self.in_service = 0
            self.counts["processed"] += 1
            self.wait_sum += max(0.0, time.time() - msg[2])

    # -- stats and trace ------------------------------------------------------------------------
    async def serve_stats(self, reader, writer) -> None:
        try:
            writer.write((json.dumps(self.snapshot()) + "\n").encode())
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def write_trace(self) -> None:
        with open(self.trace_path, "w") as f:
            while True:
                f.write(json.dumps(self.snapshot()) + "\n")
                f.flush()
                await asyncio.sleep(self.trace_interval)

    # -- the run --------------------------------------------------------------------------------
    async def run(self, on_listening=None) -> dict:
        loop = asyncio.get_running_loop()
        self._stop, self._wake = asyncio.Event(), asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._stop.set)
            except (NotImplementedError, RuntimeError):   # not the main thread / not Unix
                pass
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Set before listen(): accepted sockets inherit it, and it fixes the TCP window scale.
        self.rcvbuf_bytes = set_buffer(sock, socket.SO_RCVBUF, self.rcvbuf)
        try:
            sock.bind((self.host, self.port))
        except OSError as e:
            sock.close()
            raise PortError(self.host, self.port, "the consumer's --port", e) from None
        sock.listen(128)
        sock.setblocking(False)
        server = await loop.create_server(lambda: Connection(self), sock=sock)
        try:
            stats = await asyncio.start_server(self.serve_stats, self.host, self.stats_port)
        except OSError as e:
            server.close()
            raise PortError(self.host, self.stats_port, "the stats port (--stats-port)", e) from None
        self.port = server.sockets[0].getsockname()[1]
        self.stats_port = stats.sockets[0].getsockname()[1]
        self.started = time.monotonic()
        if on_listening:
            on_listening(self)
        tasks = [asyncio.create_task(self.work())]
        if self.trace_path:
            tasks.append(asyncio.create_task(self.write_trace()))
        try:
            await asyncio.wait_for(self._stop.wait(), self.duration)
        except asyncio.TimeoutError:
            pass
        server.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.drain_network()
        stats.close()
        summary = self.snapshot()
        summary["rcvbuf_bytes"] = self.rcvbuf_bytes
        summary["host"], summary["port"] = self.host, self.port
        if self.trace_path:
            with open(self.trace_path, "a") as f:
                f.write(json.dumps(summary) + "\n")
        return summary

    async def drain_network(self) -> None:
        """Read off (and count, unprocessed) what is still in flight, then close everything."""
        for conn in list(self.connections):
            conn.draining = True
            conn.last_data = time.monotonic()
            conn.resume()
        deadline = time.monotonic() + DRAIN_MAX_S
        while self.connections and time.monotonic() < deadline:
            last = max(c.last_data for c in self.connections)
            if time.monotonic() - last > QUIET_S:
                break
            await asyncio.sleep(0.02)
        for conn in list(self.connections):
            conn.transport.close()
        await asyncio.sleep(0)


class Connection(asyncio.BufferedProtocol):
    """One producer's connection: splits bytes into lines and hands them to the consumer.

    It reads at most ``READ_BYTES`` at a time (a buffered protocol chooses its own read size), so
    that what it holds when the buffer fills (``pending``) stays at a few messages.
    """

    def __init__(self, consumer: Consumer):
        self.consumer = consumer
        self._read = bytearray(READ_BYTES)
        self.partial = bytearray()
        self.pending = collections.deque()
        self.paused = False
        self.draining = False
        self.skipping = False     # inside an over-long line, skipping to its newline
        self.warned = 0
        self.last_data = time.monotonic()
        self.peer = None
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.peer = "%s:%s" % transport.get_extra_info("peername")[:2]
        self.consumer.connections.append(self)
        self.consumer.log(f"producer connected from {self.peer}")

    def get_buffer(self, sizehint):
        return self._read

    def buffer_updated(self, nbytes):
        self.data_received(bytes(self._read[:nbytes]))

    def data_received(self, data: bytes):
        self.last_data = time.monotonic()
        self.partial += data
        start = 0
        while True:
            end = self.partial.find(b"\n", start)
            if end < 0:
                break
            line = bytes(self.partial[start:end + 1])
            start = end + 1
            if self.skipping:         # the tail of an over-long line
                self.skipping = False
                continue
            self.consumer.offer(self, line)
        del self.partial[:start]
        if len(self.partial) > MAX_LINE_BYTES:
            self.consumer.counts["received"] += 1
            self.consumer.counts["malformed"] += 1
            self.warn_malformed(bytes(self.partial[:40]))
            self.partial.clear()
            self.skipping = True
        if self.pending and not self.paused and not self.draining:
            self.paused = True
            self.transport.pause_reading()

    def resume(self):
        if self.paused:
            self.paused = False
            self.transport.resume_reading()

    def warn_malformed(self, line: bytes):
        self.warned += 1
        if self.warned <= 3:
            self.consumer.log(f"malformed message from {self.peer} (counted, skipped): "
                              f"{line[:40]!r}{' ...' if len(line) > 40 else ''}")

    def connection_lost(self, exc):
        c = self.consumer
        if self.partial and not self.skipping:
            c.counts["received"] += 1
            c.counts["lost_in_disconnect"] += 1
            c.log(f"connection from {self.peer} ended in the middle of a message "
                  f"({len(self.partial)} bytes): counted as lost in the disconnect")
        c.connections.remove(self)
        if self.pending:
            # Messages already read stay in the books: the buffer takes them as room frees up.
            c.leftovers.append(_Leftover(self.pending))
        c.log(f"producer {self.peer} disconnected")


class _Leftover:
    """What a closed connection had read but not yet buffered: still owed to the buffer."""

    def __init__(self, pending):
        self.pending = pending

    def __bool__(self):
        return bool(self.pending)


class PortError(Exception):
    """A port that cannot be listened on, with a message that says which and what to do."""

    def __init__(self, host, port, what, err):
        reason = "is already in use" if getattr(err, "errno", None) in (98, 48, 10048) else \
            f"cannot be used ({err.strerror or err})"
        super().__init__(f"port {port} on {host} ({what}) {reason}: stop the program using it, "
                         f"or choose another port (--port 0 picks a free one)")
        self.port = port
