"""The producer: sends fixed-size messages at a steady interval and notices when it is held back.

It connects to a consumer on loopback and writes one message every ``rate`` seconds (the default
``--rate 0.01`` is 100 messages per second, the course's ``--rate 0.05`` 20). Sending is ``writer.write`` followed by
``await writer.drain()``: ``write`` hands the bytes to asyncio's write buffer, which passes them
to the kernel's send buffer as fast as the kernel takes them, and ``drain`` waits only while the
write buffer is above its high-water mark. That wait is the producer *feeling* backpressure, and
the producer adds it up (``blocked_s``). Message ``k`` is due ``k * rate`` seconds after the
start, and a timer that fires late is made up at once; but after the socket held the producer back
the schedule restarts from that moment, with no burst to catch up (a blocked producer loses time).

Hidden buffers sit between the producer and the consumer's ``pause_reading``: asyncio's write
buffer, the producer's kernel send buffer and the consumer's kernel receive buffer. The programs
keep them small by default (no asyncio buffer, 4 KiB socket buffers), so the push-back arrives
within a second; with ``--system-buffers`` they are the system's (64 KiB for asyncio, and kernel
buffers that grow to megabytes on Linux), and the producer sends at full speed for minutes before
it feels anything. ``sent_before_block`` says how many messages it took to fill them, and
``rate_under_pressure_per_s`` is the rate between waits (:func:`rate_under_pressure`): the rate the
consumer allowed.

The books, all in messages: ``sent`` were handed to the kernel whole; ``cut_off`` (0 or 1) was
handed over in part when the run ended or the connection broke (the consumer counts it as lost in
the disconnect); ``unsent`` were still in the producer's own write buffer and never left.
If the consumer is stopped mid-run it says so first (it half-closes the connection); the producer
then stops writing on that connection at once and closes its side, so every message it had sent
arrives and is in the consumer's books (``closed_by_consumer``). A connection that breaks instead
(the consumer was killed, or cut off a peer that did not answer) counts in ``broken``: the
messages sent on it (``sent_on_broken_connections``) may or may not have arrived, and the
consumer's books say which. Either way, unless ``reconnect=False``, the producer tries again every
``retry_s`` seconds until the run ends.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import time

from .wire import DEFAULT_SIZE, dumps, family_of, make_message, set_buffer

#: How long the producer waits, at the end, for its write buffer to reach the kernel (s).
LINGER_S = 2.0


def rate_under_pressure(blocks, min_span_s: float = 0.5):
    """Messages per second while held back: the least-squares slope of ``(time, seq)`` at waits.

    At every wait the hidden buffers are full, so between waits the producer sends exactly what
    the consumer took (give or take the few messages the buffers' fill moves by); fitting a line
    through all the waits averages that wobble out. ``None`` with too short a span.

    >>> rate_under_pressure([(1.0, 10), (2.0, 30), (3.0, 50)])
    20.0
    """
    if len(blocks) < 3 or blocks[-1][0] - blocks[0][0] < min_span_s:
        return None
    n = len(blocks)
    mt = sum(t for t, _ in blocks) / n
    ms = sum(s for _, s in blocks) / n
    var = sum((t - mt) ** 2 for t, _ in blocks)
    return sum((t - mt) * (s - ms) for t, s in blocks) / var


class NoConsumer(Exception):
    """Nothing listening where the producer was told to connect."""


class Producer:
    """One producer run. Create, then ``await run()``.

    ``trace`` is a file open for writing (or ``None``); ``stop_requested`` is asked once the
    program runs whether Ctrl-C came during start-up (then it stops at once, with its summary).
    """

    def __init__(self, host="127.0.0.1", port=12000, rate=0.01, duration=None, count=None,
                 size=DEFAULT_SIZE, sndbuf=None, write_buffer=None, name=None, reconnect=True,
                 retry_s=0.5, trace=None, trace_interval=0.05, log=print, stop_requested=None):
        self.host, self.port = host, port
        self.rate, self.duration, self.count = rate, duration, count
        self.size, self.sndbuf, self.write_buffer = size, sndbuf, write_buffer
        self.name = name or f"p{os.getpid()}"
        self.reconnect, self.retry_s = reconnect, retry_s
        self.trace, self.trace_interval = trace, trace_interval
        self.log = log
        self.stop_requested = stop_requested or (lambda: False)
        self.seq = 0                  # messages generated (each written to some connection)
        self.sent = self.cut_off = self.unsent = 0
        self.blocked_s = 0.0
        self.first_block = None       # time (s since start) the producer first had to wait
        self.sent_before_block = None
        self.closed_by_consumer = 0   # connections the consumer closed cleanly (it was stopped)
        self.broken = 0               # connections that broke
        self.sent_on_broken = 0       # messages sent on connections that later broke
        self.sndbuf_bytes = None
        self.high_water = None
        self.started = None
        self.ended = None
        self._held = False
        self._blocks = []             # (time, seq) at waits, at most one per 20 ms
        self._writer = None
        self._goodbye = None          # set when the consumer half-closed the current connection
        self._watcher = None
        self._conn_written = 0        # bytes written on the current connection
        self._conn_first = 0          # seq of the first message on the current connection
        self._stop = None

    @property
    def disconnects(self) -> int:
        return self.closed_by_consumer + self.broken

    def now(self) -> float:
        return time.monotonic() - self.started

    async def connect(self):
        loop = asyncio.get_running_loop()
        sock = socket.socket(family_of(self.host), socket.SOCK_STREAM)
        self.sndbuf_bytes = set_buffer(sock, socket.SO_SNDBUF, self.sndbuf)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (self.host, self.port))
        except OSError:
            sock.close()
            raise
        reader, writer = await asyncio.open_connection(sock=sock)
        if self.write_buffer is not None:
            writer.transport.set_write_buffer_limits(high=self.write_buffer)
        self.high_water = writer.transport.get_write_buffer_limits()[1]
        self._writer, self._conn_written, self._conn_first = writer, 0, self.seq
        self._goodbye = asyncio.Event()
        self._watcher = asyncio.ensure_future(self._watch(reader, self._goodbye))
        return writer

    @staticmethod
    async def _watch(reader, goodbye) -> None:
        """The consumer never sends data: an end of stream from it means it is stopping."""
        try:
            while await reader.read(4096):
                pass
        except (ConnectionError, OSError):
            return                    # broken, not a goodbye: the next write says so
        goodbye.set()

    def _settle(self, writer) -> tuple[int, int, int]:
        """Whole messages handed to the kernel, one cut in half (0/1), and never sent."""
        stuck = writer.transport.get_write_buffer_size() if not writer.transport.is_closing() else 0
        accepted = self._conn_written - stuck
        whole, part = divmod(accepted, self.size)
        total = self.seq - self._conn_first
        return whole, int(part > 0), total - whole - int(part > 0)

    async def _finish(self, writer, linger=LINGER_S) -> tuple[int, int, int]:
        """End the connection cleanly: stop writing, let the write buffer reach the kernel (up to
        ``linger`` s), close our side, settle up."""
        t0 = time.monotonic()
        transport = writer.transport
        try:
            if not transport.is_closing() and transport.can_write_eof():
                transport.write_eof()         # after the buffered bytes: the consumer reads to here
        except (OSError, RuntimeError):
            pass
        while (transport.get_write_buffer_size() and not transport.is_closing()
               and time.monotonic() - t0 < linger):
            await asyncio.sleep(0.005)
        self.blocked_s += time.monotonic() - t0
        whole, cut, never = self._settle(writer)
        self.sent += whole
        self.cut_off += cut
        self.unsent += never
        transport.abort() if (cut or never) else transport.close()
        if self._watcher is not None:
            self._watcher.cancel()
        self._writer = None
        return whole, cut, never

    async def run(self) -> dict:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        self.started = time.monotonic()
        if self.stop_requested():
            self._stop.set()
            self.ended = 0.0
            return self.summary()
        try:
            writer = await self.connect()
        except OSError as e:
            raise NoConsumer(f"nothing is listening on {self.host}:{self.port} ({e.strerror or e}): "
                             f"start a consumer first (python -m bpsim.live consumer --port "
                             f"{self.port}) or pass its --port") from None
        self.started = time.monotonic()      # the run's clock starts once connected
        self.log(f"producer {self.name} connected to {self.host}:{self.port}, one message every "
                 f"{self.rate} s ({self.size} bytes)")
        trace = asyncio.create_task(self.write_trace()) if self.trace is not None else None
        end = self.duration if self.duration is not None else float("inf")
        due = 0.0
        while not self._stop.is_set():
            # Wait for the next message's time (the run ends one interval after the last one).
            wait = min(due, end) - self.now()
            if wait > 0:
                what = await self._sleep(wait)
                if what == "stop":
                    break
            if writer is not None and self._goodbye.is_set():
                writer = await self._closed_by_consumer(writer)
                if not self.reconnect:
                    break
                continue
            if wait > 0 and self.now() < min(due, end):
                continue
            if due >= end or (self.count is not None and self.seq >= self.count):
                break
            # Keep to the clock (a late timer is made up at once), except after the socket held
            # the producer back: then the schedule restarts from now, with no burst to catch up.
            due = max(due + self.rate, self.now()) if self._held else due + self.rate
            self._held = False
            if writer is None:
                writer = await self._reconnect(end)
                if writer is None:
                    break
                due = self.now() + self.rate   # no burst for the time spent disconnected
            try:
                await self._send(writer, end)
            except (ConnectionError, OSError) as e:
                writer = await self._broken(writer, e)
                if not self.reconnect:
                    break
        self.ended = self.now()
        if writer is not None:
            if self._goodbye.is_set():
                await self._closed_by_consumer(writer)
            else:
                await self._finish(writer, 0.5 if self._stop.is_set() else LINGER_S)
        if trace:
            trace.cancel()
            await asyncio.gather(trace, return_exceptions=True)
        return self.summary()

    async def _sleep(self, seconds):
        """Sleep; return ``"stop"`` at once on Ctrl-C, ``"goodbye"`` when the consumer leaves."""
        waits = {asyncio.ensure_future(self._stop.wait())}
        if self._writer is not None:
            waits.add(asyncio.ensure_future(self._goodbye.wait()))
        done, rest = await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for w in rest:
            w.cancel()
        if self._stop.is_set():
            return "stop"
        return "goodbye" if done else None

    async def _send(self, writer, end) -> None:
        data = make_message(self.seq, self.name, time.time(), self.size)
        writer.write(data)
        self.seq += 1
        self._conn_written += len(data)
        if writer.transport.get_write_buffer_size() > self.high_water:
            # The write buffer is over its mark: drain() will wait. This is backpressure.
            t0 = time.monotonic()
            if self.first_block is None:
                self.first_block = t0 - self.started
                self.sent_before_block = self.seq
            if not self._blocks or t0 - self.started - self._blocks[-1][0] >= 0.02:
                self._blocks.append((t0 - self.started, self.seq))
            self._held = True
            drain = asyncio.ensure_future(writer.drain())
            stop = asyncio.ensure_future(self._stop.wait())
            left = None if end == float("inf") else max(0.0, end - self.now())
            await asyncio.wait({drain, stop}, timeout=left,
                               return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            self.blocked_s += time.monotonic() - t0
            if not drain.done():
                drain.cancel()
            elif drain.exception():
                raise drain.exception()
        else:
            await writer.drain()    # raises at once if the connection broke

    async def _closed_by_consumer(self, writer):
        self.closed_by_consumer += 1
        whole, cut, never = await self._finish(writer)
        self.log(f"the consumer on {self.host}:{self.port} closed the connection (it was stopped) "
                 f"after message {self.seq}; all {whole} messages sent on it reached it"
                 + ("; reconnecting" if self.reconnect else "; stopping"))
        return None

    async def _broken(self, writer, err):
        self.broken += 1
        whole, cut, never = self._settle(writer)
        self.sent += whole
        self.sent_on_broken += whole
        self.cut_off += cut
        self.unsent += never
        writer.transport.abort()
        if self._watcher is not None:
            self._watcher.cancel()
        self._writer = None
        self.log(f"connection to {self.host}:{self.port} broke after message {self.seq} "
                 f"({err.__class__.__name__}); the {whole} messages sent on it may not all have "
                 f"arrived" + ("; reconnecting" if self.reconnect else "; stopping"))
        return None

    async def _reconnect(self, end):
        if not self.reconnect:
            return None
        while not self._stop.is_set() and self.now() < end:
            try:
                writer = await self.connect()
                self.log(f"reconnected to {self.host}:{self.port}")
                return writer
            except OSError:
                try:
                    await asyncio.wait_for(self._stop.wait(), self.retry_s)
                except asyncio.TimeoutError:
                    pass
        return None

    async def write_trace(self) -> None:
        while self.trace is not None:
            try:
                self.trace.write(dumps({"t": round(self.now(), 4), "generated": self.seq,
                                        "blocked_s": round(self.blocked_s, 4)}) + "\n")
                self.trace.flush()
            except (OSError, ValueError) as e:
                self.log(f"the trace file cannot be written any more ({e}): tracing stopped")
                self.trace = None
                return
            await asyncio.sleep(self.trace_interval)

    def summary(self) -> dict:
        elapsed = self.ended if self.ended is not None else self.now()
        after = rate_under_pressure(self._blocks)
        return {
            "producer": self.name, "host": self.host, "port": self.port,
            "interval_s": self.rate, "target_rate_per_s": round(1 / self.rate, 3) if self.rate else None,
            "message_bytes": self.size, "elapsed_s": round(elapsed, 3),
            "generated": self.seq, "sent": self.sent, "cut_off": self.cut_off,
            "unsent": self.unsent,
            "achieved_rate_per_s": round(self.seq / elapsed, 3) if elapsed > 0 else None,
            "blocked_s": round(self.blocked_s, 3),
            "blocked_fraction": round(self.blocked_s / elapsed, 3) if elapsed > 0 else None,
            "first_block_s": None if self.first_block is None else round(self.first_block, 3),
            "sent_before_block": self.sent_before_block,
            "rate_under_pressure_per_s": None if after is None else round(after, 3),
            "disconnects": self.disconnects, "closed_by_consumer": self.closed_by_consumer,
            "broken": self.broken, "sent_on_broken_connections": self.sent_on_broken,
            "sndbuf_bytes": self.sndbuf_bytes, "write_buffer_high_bytes": self.high_water,
        }
