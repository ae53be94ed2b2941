"""The visualizer: a consumer's buffer, drops and throughput as text bars, refreshed in place.

It asks the consumer's read-only stats endpoint for a snapshot every ``--interval`` seconds and
draws a few lines of text: the buffer's fill as a bar against its capacity, the counters, and the
throughput (messages processed per second over the last interval). In a terminal it redraws the
same lines; when the output is not a terminal (a log file, a notebook) it prints one line per
refresh. When it stops (Ctrl-C or ``--duration``) it prints a summary and can save a PNG plot of
the whole run (:func:`bpsim.live.plot.live_run_figure`).

If the consumer is not there yet, or goes away (restarted with ``--backpressure``, say), the
visualizer says so and keeps asking. So it does if whatever answers on the stats port is not a
consumer's stats (not one JSON object with the counters, or a never-ending answer): it says what
it got, once, and keeps asking. It never waits past ``--duration``.
"""
from __future__ import annotations

import json
import math
import signal
import socket
import sys
import time

from .wire import dumps

BAR = 30
#: The longest stats answer read (bytes); a snapshot is a few hundred.
MAX_ANSWER = 64 * 1024
#: What a snapshot must hold to be drawn: key and the check its value must pass.
_COUNTS = ("received", "processed", "dropped", "buffered", "max_buffered", "malformed",
           "connections")


def _count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def problem(snap) -> str | None:
    """Why ``snap`` is not a consumer's stats snapshot the visualizer can draw, or ``None``.

    >>> problem({}) is not None, problem([1])
    (True, 'not a JSON object')
    """
    if not isinstance(snap, dict):
        return "not a JSON object"
    for key in _COUNTS + ("capacity",):
        if not _count(snap.get(key)):
            return f"no whole number {key!r}"
    for key in ("t", "service_time"):
        v = snap.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            return f"no time {key!r}"
    if snap["service_time"] <= 0:
        return "service_time is not above 0"
    if not isinstance(snap.get("backpressure"), bool):
        return "no true/false 'backpressure'"
    return None


def fetch(host: str, port: int, timeout: float = 1.0):
    """One answer of a stats endpoint: the parsed JSON, ``None`` if nobody answers, or a string
    saying why the answer is not usable.

    Reads at most :data:`MAX_ANSWER` bytes and for at most ``timeout`` seconds in all.
    """
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            data = b""
            while not data.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0:
                    return "no complete line in time"
                s.settimeout(left)
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if len(data) > MAX_ANSWER:
                    return f"an answer longer than {MAX_ANSWER} bytes"
    except socket.timeout:
        return "no complete line in time"
    except OSError:
        return None
    try:
        snap = json.loads(data)
    except (ValueError, RecursionError):
        return "not JSON"
    why = problem(snap)
    return why if why else snap


def bar(value: float, full: float, width: int = BAR) -> str:
    """``[#####.....]`` filled in proportion ``value / full``.

    >>> bar(5, 10, 10)
    '[#####.....]'
    """
    n = 0 if full <= 0 else max(0, min(width, round(width * value / full)))
    return "[" + "#" * n + "." * (width - n) + "]"


def render(snap: dict, throughput: float | None, peak_rate: float) -> list[str]:
    """The text lines of one refresh."""
    cap = snap["capacity"]
    held = snap["buffered"]
    rate = 0.0 if throughput is None else throughput
    mode = "backpressure ON" if snap["backpressure"] else "backpressure off"
    return [
        f"consumer t={snap['t']:6.1f} s  {mode}  producers connected: {snap['connections']}"
        + ("  (reading paused)" if snap.get("paused") else ""),
        f"buffer     {bar(held, cap)} {held:5d}/{cap}",
        f"throughput {bar(rate, peak_rate)} {rate:7.1f} msg/s (service rate "
        f"{1 / snap['service_time']:g})",
        f"received {snap['received']:7d}  processed {snap['processed']:7d}  "
        f"dropped {snap['dropped']:7d}  malformed {snap['malformed']}",
    ]


def run_visualizer(args, stop_requested=lambda: False) -> int:
    host = args.host
    stats_port = args.stats_port if args.stats_port is not None else args.port + 1
    stop = [1] if stop_requested() else []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    redraw = sys.stdout.isatty() and not args.plain
    series, drawn, last, waiting, said = [], 0, None, False, None
    start = time.monotonic()

    def left():
        return None if args.duration is None else args.duration - (time.monotonic() - start)

    while not stop and (left() is None or left() > 0):
        answer = fetch(host, stats_port, timeout=min(1.0, left() or 1.0))
        if not isinstance(answer, dict):
            if answer is None and not waiting:
                print(f"waiting for a consumer's stats on {host}:{stats_port} ...", flush=True)
                waiting, drawn, last, said = True, 0, None, None
            elif isinstance(answer, str) and answer != said:
                print(f"what answers on {host}:{stats_port} is not a consumer's stats ({answer}); "
                      f"still asking", flush=True)
                said, waiting, drawn, last = answer, False, 0, None
        else:
            snap = answer
            waiting, said = False, None
            if last is not None and snap["t"] < last["t"]:      # a new consumer: a new run
                series.clear()
                last = None
            tp = None
            if last is not None and snap["t"] > last["t"]:
                tp = (snap["processed"] - last["processed"]) / (snap["t"] - last["t"])
            snap["throughput"] = tp
            series.append(snap)
            lines = render(snap, tp, 1.25 / snap["service_time"])
            if redraw and drawn:
                sys.stdout.write(f"\x1b[{drawn}F")
            sys.stdout.write("".join(line + ("\x1b[K\n" if redraw else "\n")
                                     for line in (lines if redraw else [" | ".join(lines[1:])])))
            sys.stdout.flush()
            drawn, last = len(lines), snap
        pause = args.interval if left() is None else min(args.interval, max(0.0, left()))
        end = time.monotonic() + pause
        while not stop and time.monotonic() < end:
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))
    summary = {"event": "summary", "snapshots": len(series), "png": None}
    if series:
        final = series[-1]
        summary.update({k: final[k] for k in ("t", "received", "processed", "dropped",
                                              "max_buffered", "capacity", "backpressure")})
    if args.save_png and series:
        try:
            import matplotlib
            matplotlib.use("Agg")
            from .plot import live_run_figure
            fig = live_run_figure(series, title="Live consumer (from the visualizer)")
            fig.savefig(args.save_png, dpi=100, format="png")
            summary["png"] = args.save_png
        except (OSError, ValueError) as e:
            print(f"the plot could not be saved to {args.save_png}: {e}", file=sys.stderr,
                  flush=True)
    if args.json:
        print(dumps(summary), flush=True)
    elif series:
        print(f"visualizer stopped: {summary['processed']} processed, {summary['dropped']} dropped, "
              f"buffer peak {summary['max_buffered']}/{summary['capacity']}"
              + (f"; plot saved to {args.save_png}" if summary["png"] else ""), flush=True)
    else:
        print("visualizer stopped: no consumer answered", flush=True)
    return 0
