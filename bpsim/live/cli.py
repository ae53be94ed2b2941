"""``python -m bpsim.live consumer|producer|visualize ...``: the three programs of the course.

Every program listens or connects on 127.0.0.1 unless told otherwise, ends cleanly on Ctrl-C
(SIGINT, at any moment, even while starting) or after ``--duration`` with a summary (``--json``
prints it as one strict JSON object per line), and answers a bad argument or a busy port with one
line on stderr and exit status 2, never a traceback. Every argument is checked before anything
runs; the line names the flag, the value and what would work::

    error: --name='a b' is not valid: use 1 to 64 visible ASCII characters without spaces ...

Exit status 1 means the run itself failed (the producer lost its consumer and was told not to
reconnect).

The defaults are the series' micro-challenge (the course gives the rates, 100 and 10 msg/s, and
the 30 s; the 50 buffer slots are the series' own): a producer sending every 0.01 s (100 msg/s) for 30 s into a
consumer that needs 0.1 s per message (10 msg/s) with 50 buffer slots. The socket buffers are
small by default, so that backpressure reaches the producer within a second; ``--system-buffers``
gives the operating system's (large, self-tuning) buffers back, to see them hide the push-back.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys
import threading

from .wire import (DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SIZE, MAX_LINE_BYTES, MIN_SIZE, dumps,
                   is_loopback, min_size_for, name_problem)

#: The socket buffers every program uses unless ``--system-buffers`` (bytes; 0 = no asyncio
#: write buffer). Linux doubles a request and enforces a minimum; 4096 is about 4 messages.
SMALL_RCVBUF = 4096
SMALL_SNDBUF = 4096
SMALL_WRITE_BUFFER = 0
#: The largest socket buffer one may ask for (the kernel caps it lower anyway).
MAX_BUFFER = 2 ** 31 - 1
#: The producer's run length unless --duration or --count is given (s).
DEFAULT_DURATION = 30.0


class _Stop:
    """Ctrl-C before a program's event loop took over: remembered, then honoured at once."""

    requested = False

    @classmethod
    def handler(cls, signum, frame):
        cls.requested = True


def _number(kind, minimum, strict, what, maximum=None):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not valid: use {what}") from None
        if (value != value or value in (float("inf"), float("-inf")) or value < minimum
                or (strict and value == minimum) or (maximum is not None and value > maximum)):
            raise argparse.ArgumentTypeError(f"{text!r} is not valid: use {what}")
        return value
    return parse


seconds = _number(float, 0.0, True, "a time in seconds above 0, such as 0.05", maximum=10 ** 7)
count = _number(int, 0, True, "a whole number above 0", maximum=10 ** 12)
slots = _number(int, 0, False, "a whole number of slots from 0 to 10000000", maximum=10 ** 7)
port = _number(int, 0, False, "a port number from 0 to 65535 (0 picks a free one)", maximum=65535)
nbytes = _number(int, 0, False, f"a size in bytes from 0 to {MAX_BUFFER}", maximum=MAX_BUFFER)
msg_size = _number(int, MIN_SIZE, False,
                   f"a message size in bytes from {MIN_SIZE} to {MAX_LINE_BYTES}",
                   maximum=MAX_LINE_BYTES)


def name(text):
    problem = name_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid: {problem}")
    return text


def host(text):
    if not text or any(ch.isspace() for ch in text) or not text.isascii():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not valid: use an address of this machine, such as 127.0.0.1 or ::1")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line: the flag, the value and what would work."""

    def error(self, message):
        m = re.match(r"argument ([^:]+): (['\"].*)", message, re.S)
        if m:
            line = f"{m.group(1).split('/')[-1]}={m.group(2)}"
        else:
            line = f"{message} (see {self.prog} --help)"
        print(f"error: {line}".replace("\n", " "), file=sys.stderr, flush=True)
        self.exit(2)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m bpsim.live",
                description="A real consumer, producer and visualizer over TCP (loopback), to "
                            "watch backpressure happen.")
    sub = p.add_subparsers(dest="program", required=True, metavar="{consumer,producer,visualize}",
                           parser_class=_Parser)

    c = sub.add_parser("consumer", help="a TCP server with a bounded buffer and a slow worker")
    c.add_argument("--port", type=port, default=DEFAULT_PORT, help="port to listen on (0: any free one)")
    c.add_argument("--host", type=host, default=DEFAULT_HOST, help="address to listen on (default loopback)")
    c.add_argument("--stats-port", type=port, default=None,
                   help="port of the read-only stats endpoint (default: --port + 1; 0: any free one)")
    c.add_argument("--backpressure", action="store_true",
                   help="stop reading while the buffer is full (TCP pushes back) instead of dropping")
    c.add_argument("--capacity", type=slots, default=50, help="buffer slots (messages), default 50")
    c.add_argument("--service-time", type=seconds, default=0.1,
                   help="seconds to process one message (default 0.1: 10 msg/s)")
    c.add_argument("--rcvbuf", type=nbytes, default=None,
                   help=f"kernel receive buffer to ask for, in bytes (default {SMALL_RCVBUF}, "
                        "or the system's with --system-buffers)")
    c.add_argument("--system-buffers", action="store_true",
                   help="keep the operating system's large socket buffers (they hide backpressure)")
    c.add_argument("--duration", type=seconds, default=None, help="stop after this many seconds")
    c.add_argument("--trace", default=None, help="write a JSON-lines snapshot of the books to this file")
    c.add_argument("--trace-interval", type=seconds, default=0.05, help="seconds between trace lines")
    c.add_argument("--verbose", action="store_true",
                   help="log every connection (by default only the first few events of each kind)")
    c.add_argument("--json", action="store_true", help="machine-readable output (JSON lines)")

    q = sub.add_parser("producer", help="send fixed-size messages at a steady interval")
    q.add_argument("--rate", type=seconds, default=0.01,
                   help="seconds between messages (default 0.01: 100 msg/s)")
    q.add_argument("--port", type=port, default=DEFAULT_PORT, help="the consumer's port")
    q.add_argument("--host", type=host, default=DEFAULT_HOST, help="the consumer's address (default loopback)")
    end = q.add_mutually_exclusive_group()
    end.add_argument("--duration", type=seconds, default=None,
                     help=f"send for this many seconds (default {DEFAULT_DURATION:g}, unless --count)")
    end.add_argument("--count", type=count, default=None, help="send this many messages")
    q.add_argument("--size", type=msg_size, default=DEFAULT_SIZE,
                   help=f"bytes per message, newline included (default {DEFAULT_SIZE})")
    q.add_argument("--sndbuf", type=nbytes, default=None,
                   help=f"kernel send buffer to ask for, in bytes (default {SMALL_SNDBUF}, "
                        "or the system's with --system-buffers)")
    q.add_argument("--write-buffer", type=nbytes, default=None,
                   help=f"asyncio write buffer high-water mark in bytes (default {SMALL_WRITE_BUFFER}, "
                        "or asyncio's 65536 with --system-buffers)")
    q.add_argument("--system-buffers", action="store_true",
                   help="keep the system's socket buffers and asyncio's write buffer (they hide "
                        "backpressure)")
    q.add_argument("--name", type=name, default=None, help="this producer's name in its messages")
    q.add_argument("--no-reconnect", dest="reconnect", action="store_false",
                   help="exit (status 1) if the consumer goes away, instead of reconnecting")
    q.add_argument("--trace", default=None, help="write a JSON-lines record of sends to this file")
    q.add_argument("--json", action="store_true", help="machine-readable output (JSON lines)")

    v = sub.add_parser("visualize", help="live text bars of a consumer's buffer, drops and throughput")
    v.add_argument("--port", type=port, default=DEFAULT_PORT,
                   help="the consumer's port (its stats are read from --port + 1)")
    v.add_argument("--stats-port", type=port, default=None, help="the consumer's stats port, if not --port + 1")
    v.add_argument("--host", type=host, default=DEFAULT_HOST, help="the consumer's address (default loopback)")
    v.add_argument("--interval", type=seconds, default=0.25, help="seconds between refreshes")
    v.add_argument("--duration", type=seconds, default=None, help="stop after this many seconds")
    v.add_argument("--save-png", default=None, help="save a plot of the run to this PNG file at the end")
    v.add_argument("--plain", action="store_true",
                   help="one line per refresh instead of redrawing (automatic when not a terminal)")
    v.add_argument("--json", action="store_true", help="print the final summary as JSON")
    return p


def _error(text: str) -> int:
    print(f"error: {text}", file=sys.stderr, flush=True)
    return 2


def _invalid(flag: str, value, what: str) -> int:
    return _error(f"{flag}={value!r} is not valid: {what}")


def _say(args):
    def say(text):
        if args.json:
            print(dumps({"event": "log", "text": text}), file=sys.stderr, flush=True)
        else:
            print(text, file=sys.stderr, flush=True)
    return say


def _open_for_writing(flag, path, mode="w"):
    """Open ``path`` now, so that a bad path is an error before the run, not a lost summary."""
    if path is None:
        return None, None
    try:
        return open(path, mode), None
    except OSError as e:
        folder = os.path.dirname(path) or "."
        why = (f"the folder {folder!r} does not exist" if not os.path.isdir(folder)
               else e.strerror or str(e))
        return None, _invalid(flag, path, f"{why}: use a file in a folder that exists and can be "
                                          f"written")


def _stats_port(args):
    if args.stats_port is not None:
        return args.stats_port, None
    if not args.port:
        return 0, None
    if args.port + 1 > 65535:
        return None, _invalid("--port", str(args.port), "it leaves no room for the stats port "
                                                        "(--port + 1): use a lower --port, or pass "
                                                        "--stats-port")
    return args.port + 1, None


def main(argv=None) -> int:
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, _Stop.handler)
    try:
        args = parser().parse_args(argv)
        if not is_loopback(args.host):
            print(f"warning: {args.host} is not a loopback address: other machines may reach this "
                  f"program", file=sys.stderr, flush=True)
        if args.program == "consumer":
            return _consumer(args)
        if args.program == "producer":
            return _producer(args)
        return _visualize(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _stop_requested() -> bool:
    from . import early_sigint
    return _Stop.requested or bool(early_sigint)


def _consumer(args) -> int:
    from .consumer import Consumer, PortError

    stats_port, err = _stats_port(args)
    if err:
        return err
    trace, err = _open_for_writing("--trace", args.trace)
    if err:
        return err
    rcvbuf = args.rcvbuf if args.rcvbuf is not None else (None if args.system_buffers else SMALL_RCVBUF)
    cons = Consumer(host=args.host, port=args.port, stats_port=stats_port, capacity=args.capacity,
                    service_time=args.service_time, backpressure=args.backpressure,
                    rcvbuf=rcvbuf, duration=args.duration, trace=trace,
                    trace_interval=args.trace_interval, log=_say(args), verbose=args.verbose,
                    stop_requested=_stop_requested)

    def listening(c):
        info = {"event": "listening", "host": c.host, "port": c.port, "stats_port": c.stats_port,
                "capacity": c.capacity, "service_time": c.service_time,
                "backpressure": c.backpressure, "rcvbuf_bytes": c.rcvbuf_bytes,
                "system_buffers": rcvbuf is None}
        if args.json:
            print(dumps(info), flush=True)
        else:
            print(f"consumer listening on {c.host}:{c.port} (stats on port {c.stats_port}); "
                  f"capacity {c.capacity}, {c.service_time} s per message "
                  f"({1 / c.service_time:g} msg/s), backpressure {'on' if c.backpressure else 'off'}, "
                  f"receive buffer {c.rcvbuf_bytes} bytes"
                  + (" (the system's)" if rcvbuf is None else ""), flush=True)
    summary = _run_program(cons.run(on_listening=listening), PortError, trace)
    if isinstance(summary, int):
        return summary
    if args.json:
        print(dumps({"event": "summary", **summary}), flush=True)
    else:
        s = summary
        print(f"consumer stopped after {s['t']:.1f} s: received {s['received']}, processed "
              f"{s['processed']}, dropped {s['dropped']}, still buffered "
              f"{s['buffered'] + s['pending'] + s['in_service']}, read at shutdown "
              f"{s['in_network']}, unread in the kernel at close {s['unread_at_close']}, "
              f"malformed {s['malformed']}, lost in a disconnect {s['lost_in_disconnect']}; "
              f"buffer peak {s['max_buffered']}/{s['capacity']}", flush=True)
    return 0


def _run_program(coro, expected, trace):
    """Run a program's coroutine to its summary; an ``expected`` error becomes exit 2 and one
    line. The Ctrl-C handler is put back and the trace file closed whatever happens."""
    try:
        return asyncio.run(coro)
    except expected as e:
        return _error(str(e))
    finally:
        signal.signal(signal.SIGINT, _Stop.handler)
        if trace is not None:
            trace.close()


def _producer(args) -> int:
    from .producer import NoConsumer, Producer

    if args.name is not None and min_size_for(args.name) > args.size:
        return _invalid("--size", str(args.size),
                        f"--name={args.name!r} needs at least {min_size_for(args.name)} bytes: use "
                        f"a larger --size or a shorter --name")
    trace, err = _open_for_writing("--trace", args.trace)
    if err:
        return err
    system = args.system_buffers
    sndbuf = args.sndbuf if args.sndbuf is not None else (None if system else SMALL_SNDBUF)
    wbuf = (args.write_buffer if args.write_buffer is not None
            else (None if system else SMALL_WRITE_BUFFER))
    duration = args.duration
    if duration is None and args.count is None:
        duration = DEFAULT_DURATION
    prod = Producer(host=args.host, port=args.port, rate=args.rate, duration=duration,
                    count=args.count, size=args.size, sndbuf=sndbuf, write_buffer=wbuf,
                    name=args.name, reconnect=args.reconnect, trace=trace, log=_say(args),
                    stop_requested=_stop_requested)
    summary = _run_program(prod.run(), NoConsumer, trace)
    if isinstance(summary, int):
        return summary
    if args.json:
        print(dumps({"event": "summary", **summary}), flush=True)
    else:
        s = summary
        block = ("never had to wait" if s["first_block_s"] is None else
                 f"first had to wait after {s['sent_before_block']} messages "
                 f"({s['first_block_s']:.2f} s)")
        rate = s["achieved_rate_per_s"]
        print(f"producer sent {s['sent']} messages in {s['elapsed_s']:.1f} s: "
              f"{0 if rate is None else rate:.1f} msg/s achieved of {s['target_rate_per_s']:g} "
              f"asked; blocked on the socket {s['blocked_s']:.2f} s "
              f"({100 * (s['blocked_fraction'] or 0):.0f}% of the run); {block}", flush=True)
        if s["cut_off"] or s["unsent"]:
            print(f"  at the end: never left the producer {s['unsent']}, cut off mid-message "
                  f"{s['cut_off']} (the consumer counts that one as lost in the disconnect)",
                  flush=True)
        if s["disconnects"]:
            print(f"  the consumer went away {s['disconnects']} time(s): "
                  f"{s['closed_by_consumer']} closed cleanly (every message sent on them arrived), "
                  f"{s['broken']} broke ({s['sent_on_broken_connections']} messages had been sent "
                  f"on those; the consumers' summaries say how many arrived)", flush=True)
    return 1 if (summary["disconnects"] and not args.reconnect) else 0


def _visualize(args) -> int:
    stats_port, err = _stats_port(args)
    if err:
        return err
    if args.save_png is not None:
        folder = os.path.dirname(args.save_png) or "."
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK) or os.path.isdir(args.save_png):
            what = (f"the folder {folder!r} does not exist" if not os.path.isdir(folder)
                    else "it is a folder" if os.path.isdir(args.save_png)
                    else f"the folder {folder!r} cannot be written")
            return _invalid("--save-png", args.save_png, f"{what}: use a file name in a folder "
                                                         f"that exists and can be written")
    from .visualize import run_visualizer
    args.stats_port = stats_port
    return run_visualizer(args, stop_requested=_stop_requested)
