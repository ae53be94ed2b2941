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
               + unread_at_close + malformed + lost_in_disconnect

Stopping (Ctrl-C, SIGTERM or ``--duration``) loses nothing a producer wrote. The consumer closes
its sending side of every connection (a TCP half-close: "I am going"), keeps reading, and waits
until each producer has closed its side in turn; a producer of this package stops writing as soon
as it sees the half-close. Everything read during that wait is counted as ``in_network`` (it was
on its way, in kernel buffers, and is not processed). A peer that does not answer within
``DRAIN_MAX_S`` (a hand-made client) is cut off: what its kernel buffer still holds is read off
at once, and whatever arrived in the last instant before the close is counted as
``unread_at_close``. ``lost_in_disconnect`` counts messages cut in half by a connection that ended.

A read-only stats endpoint (another loopback port) answers every connection with one JSON line, a
snapshot of these counters, and closes it: the visualizer and the tests use it.
"""
from __future__ import annotations

import asyncio
import collections
import errno
import fcntl
import os
import signal
import socket
import struct
import sys
import termios
import time

from .wire import MAX_LINE_BYTES, dumps, family_of, parse_message, set_buffer

#: The longest shutdown waits for producers to finish (s).
DRAIN_MAX_S = 3.0
#: During shutdown, a connection silent for this long while we wait for its end is cut off (s).
QUIET_S = 1.0
#: The most bytes read from a connection at a time.
READ_BYTES = 4096
#: Lines of each kind of event (malformed, cut off, connected ...) logged before going quiet.
LOG_LIMIT = 3


class Consumer:
    """The server's state and books. Create, then ``await run()``.

    ``trace`` is a file open for writing (or ``None``); ``stop_requested`` is asked once the
    program runs whether Ctrl-C came during start-up (then it stops at once, with its summary).
    """

    def __init__(self, host="127.0.0.1", port=12000, stats_port=None, capacity=50,
                 service_time=0.1, backpressure=False, rcvbuf=None, duration=None,
                 trace=None, trace_interval=0.05, log=None, verbose=False, stop_requested=None):
        self.host, self.port = host, port
        self.stats_port = port + 1 if stats_port is None and port else (stats_port or 0)
        self.capacity = capacity
        self.service_time = service_time
        self.backpressure = backpressure
        self.rcvbuf = rcvbuf
        self.duration = duration
        self.trace, self.trace_interval = trace, trace_interval
        self.log = log or (lambda text: print(text, file=sys.stderr, flush=True))
        self.verbose = verbose
        self.stop_requested = stop_requested or (lambda: False)
        self.buffer = collections.deque()
        self.connections = []           # open Connection objects, in arrival order
        self.leftovers = []             # messages read on connections that have since closed
        self.counts = collections.Counter()
        self.told = collections.Counter()
        self.max_buffered = 0
        self.in_service = 0
        self.wait_sum = 0.0             # seconds messages spent between send and processing
        self.producers = set()
        self.started = None
        self.rcvbuf_bytes = None
        self._stop = None
        self._wake = None
        self._due = 0.0

    def note(self, kind: str, text: str) -> None:
        """Log an event of ``kind``: the first :data:`LOG_LIMIT` of each kind, then one notice.

        Output stays bounded however many connections come and go, so a consumer whose stderr
        nobody reads never blocks on it (``verbose`` logs everything).
        """
        self.told[kind] += 1
        n = self.told[kind]
        if self.verbose or n <= LOG_LIMIT:
            self.log(text)
        elif n == LOG_LIMIT + 1:
            self.log(f"(more '{kind}' events are counted in the summary, not printed; "
                     f"--verbose prints them all)")

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
            "in_network": c["in_network"], "unread_at_close": c["unread_at_close"],
            "malformed": c["malformed"], "lost_in_disconnect": c["lost_in_disconnect"],
            "max_buffered": self.max_buffered,
            "mean_wait_s": round(self.wait_sum / c["processed"], 4) if c["processed"] else None,
            "producers": len(self.producers), "connections_total": c["connections"],
        }
        s["accounted"] = (s["processed"] + s["dropped"] + s["buffered"] + s["pending"]
                          + s["in_service"] + s["in_network"] + s["unread_at_close"]
                          + s["malformed"] + s["lost_in_disconnect"])
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
        conn.line_bytes = len(line)
        self.producers.add((conn.peer, msg[0]))
        if conn.draining:
            self.counts["in_network"] += 1
            return
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
            writer.write((dumps(self.snapshot()) + "\n").encode())
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def _trace_line(self, record) -> bool:
        try:
            self.trace.write(dumps(record) + "\n")
            self.trace.flush()
            return True
        except (OSError, ValueError) as e:
            self.log(f"the trace file cannot be written any more ({e}): tracing stopped")
            self.trace = None
            return False

    async def write_trace(self) -> None:
        while self.trace is not None and self._trace_line(self.snapshot()):
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
        if self.stop_requested():
            self._stop.set()
        sock = socket.socket(family_of(self.host), socket.SOCK_STREAM)
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
        if self.trace is not None:
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
        if self.trace is not None:
            self._trace_line(summary)
        return summary

    async def drain_network(self) -> None:
        """Say goodbye on every connection, read until each producer has finished, then close.

        Nothing a producer wrote is discarded uncounted: what arrives now is ``in_network``; a
        peer that does not finish in time has its kernel buffer read off before the close, and
        what came in the last instant is ``unread_at_close``.
        """
        for conn in list(self.connections):
            conn.draining = True
            conn.last_data = time.monotonic()
            conn.resume()
            conn.say_goodbye()
        deadline = time.monotonic() + DRAIN_MAX_S
        while self.connections and time.monotonic() < deadline:
            if time.monotonic() - max(c.last_data for c in self.connections) > QUIET_S:
                break
            await asyncio.sleep(0.01)
        for conn in list(self.connections):
            conn.cut_off()
        await asyncio.sleep(0)


def _unread_bytes(sock) -> int:
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4))[0]
    except (OSError, ValueError):
        return 0


class Connection(asyncio.BufferedProtocol):
    """One producer's connection: splits bytes into lines and hands them to the consumer.

    It reads at most ``READ_BYTES`` at a time (a buffered protocol chooses its own read size), so
    that what it holds when the buffer fills (``pending``) stays at a few messages. A line longer
    than :data:`MAX_LINE_BYTES` is one malformed message, skipped up to its newline.
    """

    def __init__(self, consumer: Consumer):
        self.consumer = consumer
        self._read = bytearray(READ_BYTES)
        self.partial = bytearray()
        self.pending = collections.deque()
        self.paused = False
        self.draining = False
        self.skipping = False     # inside an over-long line, skipping to its newline
        self.line_bytes = None    # length of the last well-formed line
        self.warned = 0
        self.last_data = time.monotonic()
        self.peer = None
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = "%s:%s" % tuple(peer[:2]) if peer else "?"
        self.consumer.connections.append(self)
        self.consumer.counts["connections"] += 1
        self.consumer.note("connected", f"producer connected from {self.peer}")

    def get_buffer(self, sizehint):
        return self._read

    def buffer_updated(self, nbytes):
        self.data_received(bytes(self._read[:nbytes]))

    def data_received(self, data: bytes):
        self.last_data = time.monotonic()
        if self.skipping:             # the rest of an over-long line, already counted
            end = data.find(b"\n")
            if end < 0:
                return
            data = data[end + 1:]
            self.skipping = False
        self.partial += data
        start = 0
        while True:
            end = self.partial.find(b"\n", start)
            if end < 0:
                break
            line = bytes(self.partial[start:end + 1])
            start = end + 1
            self.consumer.offer(self, line)
        del self.partial[:start]
        if len(self.partial) >= MAX_LINE_BYTES:     # no newline can make this line short enough
            self.consumer.counts["received"] += 1
            self.consumer.counts["malformed"] += 1
            self.warn_malformed(bytes(self.partial[:41]))
            self.partial.clear()
            self.skipping = True
        if self.pending and not self.paused and not self.draining:
            self.paused = True
            self.transport.pause_reading()

    def eof_received(self):
        return None               # the producer finished: close our side too

    def resume(self):
        if self.paused:
            self.paused = False
            self.transport.resume_reading()

    def say_goodbye(self):
        """Close our sending side: a producer of this package stops writing and closes its own."""
        try:
            if not self.transport.is_closing() and self.transport.can_write_eof():
                self.transport.write_eof()
        except (OSError, RuntimeError):
            pass

    def cut_off(self):
        """Close now: read off what the kernel holds, count what arrived in the last instant."""
        c = self.consumer
        sock = self.transport.get_extra_info("socket")
        if sock is not None and sock.fileno() >= 0:
            raw = socket.socket(fileno=os.dup(sock.fileno()))
            try:
                for _ in range(100_000):
                    try:
                        data = raw.recv(65536)
                    except OSError:           # nothing more right now (or the peer reset)
                        break
                    if not data:
                        break
                    self.data_received(data)
                unread = _unread_bytes(raw) + (0 if self.skipping else len(self.partial))
            finally:
                raw.close()
            if unread:
                per = self.line_bytes or unread
                n = -(-unread // per)
                c.counts["received"] += n
                c.counts["unread_at_close"] += n
                self.partial.clear()
                c.note("unread", f"connection from {self.peer} did not finish within "
                                 f"{DRAIN_MAX_S:g} s; {n} message(s) still unread in the kernel "
                                 f"at close (counted as unread_at_close)")
        self.transport.abort()

    def warn_malformed(self, line: bytes):
        self.consumer.note("malformed", f"malformed message from {self.peer} (counted, skipped): "
                                        f"{line[:40]!r}{' ...' if len(line) > 40 else ''}")

    def connection_lost(self, exc):
        c = self.consumer
        if self.partial and not self.skipping:
            c.counts["received"] += 1
            c.counts["lost_in_disconnect"] += 1
            c.note("cut", f"connection from {self.peer} ended in the middle of a message "
                          f"({len(self.partial)} bytes): counted as lost in the disconnect")
        self.partial.clear()
        c.connections.remove(self)
        if self.pending:
            # Messages already read stay in the books: the buffer takes them as room frees up.
            c.leftovers.append(_Leftover(self.pending))
        c.note("disconnected", f"producer {self.peer} disconnected")


class _Leftover:
    """What a closed connection had read but not yet buffered: still owed to the buffer."""

    def __init__(self, pending):
        self.pending = pending

    def __bool__(self):
        return bool(self.pending)


class PortError(Exception):
    """A port that cannot be listened on, with a message that says which and what to do."""

    def __init__(self, host, port, what, err):
        code = getattr(err, "errno", None)
        where = f"port {port} on {host} ({what})"
        if code in (errno.EADDRINUSE, 48, 10048):
            text = (f"{where} is already in use: stop the program using it, or choose another "
                    f"port (--port 0 picks a free one)")
        elif code in (errno.EACCES, errno.EPERM):
            text = f"{where} needs privileges this program does not have: use a port above 1023"
        elif code == errno.EADDRNOTAVAIL or isinstance(err, socket.gaierror) or code == errno.EAFNOSUPPORT:
            text = (f"cannot listen on {host} ({err.strerror or err}): use an address of this "
                    f"machine, such as --host 127.0.0.1 or --host ::1")
        else:
            text = f"{where} cannot be used ({err.strerror or err}): choose another port"
        super().__init__(text)
        self.port = port
