"""``python -m bpsim.live consumer|producer|visualize ...``: the three programs of the course.

Every program listens or connects on 127.0.0.1 unless told otherwise, ends cleanly on Ctrl-C
(SIGINT) or after ``--duration`` with a summary (``--json`` prints it as one JSON object per line),
and answers a bad argument or a busy port with one clear line on stderr and exit status 2, never
a traceback. Exit status 1 means the run itself failed (the producer lost its consumer and was told
not to reconnect).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys

from .wire import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SIZE, MIN_SIZE, is_loopback


def _number(kind, minimum, strict, what):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number: use {what}") from None
        if value != value or value in (float("inf"),) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"{text} is out of range: use {what}")
        return value
    return parse


seconds = _number(float, 0.0, True, "a time in seconds above 0, such as 0.05")
count = _number(int, 0, True, "a whole number above 0")
slots = _number(int, 0, False, "a whole number of slots, 0 or more")
port = _number(int, 0, False, "a port number from 0 to 65535 (0 picks a free one)")
nbytes = _number(int, 0, False, "a size in bytes, 0 or more")
msg_size = _number(int, MIN_SIZE, False, f"a message size in bytes, {MIN_SIZE} or more")


def _port(text):
    value = port(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text} is out of range: use a port number from 0 to 65535")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bpsim.live",
                                description="A real consumer, producer and visualizer over TCP "
                                            "(loopback), to watch backpressure happen.")
    sub = p.add_subparsers(dest="program", required=True, metavar="{consumer,producer,visualize}")

    c = sub.add_parser("consumer", help="a TCP server with a bounded buffer and a slow worker")
    c.add_argument("--port", type=_port, default=DEFAULT_PORT, help="port to listen on (0: any free one)")
    c.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default loopback)")
    c.add_argument("--stats-port", type=_port, default=None,
                   help="port of the read-only stats endpoint (default: --port + 1; 0: any free one)")
    c.add_argument("--backpressure", action="store_true",
                   help="stop reading while the buffer is full (TCP pushes back) instead of dropping")
    c.add_argument("--capacity", type=slots, default=100, help="buffer slots (messages), default 100")
    c.add_argument("--service-time", type=seconds, default=0.1,
                   help="seconds to process one message (default 0.1: 10 msg/s)")
    c.add_argument("--rcvbuf", type=nbytes, default=None,
                   help="ask for a kernel receive buffer of this many bytes (shrinks a hidden buffer)")
    c.add_argument("--duration", type=seconds, default=None, help="stop after this many seconds")
    c.add_argument("--trace", default=None, help="write a JSON-lines snapshot of the books to this file")
    c.add_argument("--trace-interval", type=seconds, default=0.05, help="seconds between trace lines")
    c.add_argument("--json", action="store_true", help="machine-readable output (JSON lines)")

    q = sub.add_parser("producer", help="send fixed-size messages at a steady interval")
    q.add_argument("--rate", type=seconds, default=0.05,
                   help="seconds between messages (default 0.05: 20 msg/s)")
    q.add_argument("--port", type=_port, default=DEFAULT_PORT, help="the consumer's port")
    q.add_argument("--host", default=DEFAULT_HOST, help="the consumer's address (default loopback)")
    end = q.add_mutually_exclusive_group()
    end.add_argument("--duration", type=seconds, default=None, help="send for this many seconds")
    end.add_argument("--count", type=count, default=None, help="send this many messages")
    q.add_argument("--size", type=msg_size, default=DEFAULT_SIZE,
                   help=f"bytes per message, newline included (default {DEFAULT_SIZE})")
    q.add_argument("--sndbuf", type=nbytes, default=None,
                   help="ask for a kernel send buffer of this many bytes (shrinks a hidden buffer)")
    q.add_argument("--write-buffer", type=nbytes, default=None,
                   help="asyncio write buffer high-water mark in bytes (default 65536; 0 = none)")
    q.add_argument("--name", default=None, help="this producer's name in its messages")
    q.add_argument("--no-reconnect", dest="reconnect", action="store_false",
                   help="exit (status 1) if the consumer goes away, instead of reconnecting")
    q.add_argument("--trace", default=None, help="write a JSON-lines record of sends to this file")
    q.add_argument("--json", action="store_true", help="machine-readable output (JSON lines)")

    v = sub.add_parser("visualize", help="live text bars of a consumer's buffer, drops and throughput")
    v.add_argument("--port", type=_port, default=DEFAULT_PORT,
                   help="the consumer's port (its stats are read from --port + 1)")
    v.add_argument("--stats-port", type=_port, default=None, help="the consumer's stats port, if not --port + 1")
    v.add_argument("--host", default=DEFAULT_HOST, help="the consumer's address (default loopback)")
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


def _say(args):
    def say(text):
        if args.json:
            print(json.dumps({"event": "log", "text": text}), file=sys.stderr, flush=True)
        else:
            print(text, file=sys.stderr, flush=True)
    return say


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if not is_loopback(args.host):
        print(f"warning: {args.host} is not loopback: other machines may reach this program",
              file=sys.stderr, flush=True)
    try:
        if args.program == "consumer":
            return _consumer(args)
        if args.program == "producer":
            return _producer(args)
        from .visualize import run_visualizer
        return run_visualizer(args)
    except KeyboardInterrupt:        # only if SIGINT arrives before the loop's handler is set
        return 130


def _consumer(args) -> int:
    from .consumer import Consumer, PortError

    stats_port = args.stats_port
    if stats_port is None:
        stats_port = args.port + 1 if args.port else 0
    if stats_port and stats_port > 65535:
        return _error(f"--port {args.port} leaves no room for the stats port: pass --stats-port")
    cons = Consumer(host=args.host, port=args.port, stats_port=stats_port, capacity=args.capacity,
                    service_time=args.service_time, backpressure=args.backpressure,
                    rcvbuf=args.rcvbuf, duration=args.duration, trace=args.trace,
                    trace_interval=args.trace_interval, log=_say(args))

    def listening(c):
        info = {"event": "listening", "host": c.host, "port": c.port, "stats_port": c.stats_port,
                "capacity": c.capacity, "service_time": c.service_time,
                "backpressure": c.backpressure, "rcvbuf_bytes": c.rcvbuf_bytes}
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            print(f"consumer listening on {c.host}:{c.port} (stats on port {c.stats_port}); "
                  f"capacity {c.capacity}, {c.service_time} s per message "
                  f"({1 / c.service_time:g} msg/s), backpressure {'on' if c.backpressure else 'off'}",
                  flush=True)
    try:
        summary = asyncio.run(cons.run(on_listening=listening))
    except PortError as e:
        return _error(str(e))
    if args.json:
        print(json.dumps({"event": "summary", **summary}), flush=True)
    else:
        s = summary
        print(f"consumer stopped after {s['t']:.1f} s: received {s['received']}, processed "
              f"{s['processed']}, dropped {s['dropped']}, still buffered "
              f"{s['buffered'] + s['pending'] + s['in_service']}, in flight at shutdown "
              f"{s['in_network']}, malformed {s['malformed']}, lost in a disconnect "
              f"{s['lost_in_disconnect']}; buffer peak {s['max_buffered']}/{s['capacity']}",
              flush=True)
    return 0


def _producer(args) -> int:
    from .producer import NoConsumer, Producer

    prod = Producer(host=args.host, port=args.port, rate=args.rate, duration=args.duration,
                    count=args.count, size=args.size, sndbuf=args.sndbuf,
                    write_buffer=args.write_buffer, name=args.name, reconnect=args.reconnect,
                    trace=args.trace, log=_say(args))
    try:
        summary = asyncio.run(prod.run())
    except NoConsumer as e:
        return _error(str(e))
    if args.json:
        print(json.dumps({"event": "summary", **summary}), flush=True)
    else:
        s = summary
        block = ("never had to wait" if s["first_block_s"] is None else
                 f"first had to wait after {s['sent_before_block']} messages "
                 f"({s['first_block_s']:.2f} s)")
        print(f"producer sent {s['sent']} messages in {s['elapsed_s']:.1f} s: "
              f"{s['achieved_rate_per_s']:.1f} msg/s achieved of {s['target_rate_per_s']:g} asked; "
              f"blocked on the socket {s['blocked_s']:.2f} s ({100 * s['blocked_fraction']:.0f}% "
              f"of the run); {block}", flush=True)
        if s["cut_off"] or s["unsent"]:
            print(f"  at the end: never left the producer {s['unsent']}, cut off mid-message "
                  f"{s['cut_off']} (the consumer counts that one as lost in the disconnect)",
                  flush=True)
        if s["disconnects"]:
            print(f"  the connection broke {s['disconnects']} time(s); "
                  f"{s['sent_on_broken_connections']} messages had been sent on broken connections "
                  f"(the consumers' summaries say how many arrived)", flush=True)
    return 1 if (summary["disconnects"] and not args.reconnect) else 0
