"""The visualizer: a consumer's buffer, drops and throughput as text bars, refreshed in place.

It asks the consumer's read-only stats endpoint for a snapshot every ``--interval`` seconds and
draws a few lines of text: the buffer's fill as a bar against its capacity, the counters, and the
throughput (messages processed per second over the last interval). In a terminal it redraws the
same lines; when the output is not a terminal (a log file, a notebook) it prints one line per
refresh. When it stops (Ctrl-C or ``--duration``) it prints a summary and can save a PNG plot of
the whole run (:func:`bpsim.live.plot.live_run_figure`).

If the consumer is not there yet, or goes away (restarted with ``--backpressure``, say), the
visualizer says so and keeps asking.
"""
from __future__ import annotations

import json
import signal
import socket
import sys
import time

BAR = 30


def fetch(host: str, port: int, timeout: float = 1.0) -> dict | None:
    """One snapshot from a consumer's stats endpoint, or ``None`` if nobody answers."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return json.loads(data)
    except (OSError, ValueError):
        return None


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


def run_visualizer(args) -> int:
    host = args.host
    stats_port = args.stats_port if args.stats_port is not None else args.port + 1
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    redraw = sys.stdout.isatty() and not args.plain
    series, drawn, last, waiting = [], 0, None, False
    start = time.monotonic()
    while not stop and (args.duration is None or time.monotonic() - start < args.duration):
        snap = fetch(host, stats_port)
        if snap is None:
            if not waiting:
                print(f"waiting for a consumer's stats on {host}:{stats_port} ...", flush=True)
                waiting, drawn, last = True, 0, None
        else:
            waiting = False
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
        time.sleep(args.interval)
    summary = {"event": "summary", "snapshots": len(series), "png": None}
    if series:
        final = series[-1]
        summary.update({k: final[k] for k in ("t", "received", "processed", "dropped",
                                              "max_buffered", "capacity", "backpressure")})
    if args.save_png and series:
        from .plot import live_run_figure
        import matplotlib
        matplotlib.use("Agg")
        fig = live_run_figure(series, title="Live consumer (from the visualizer)")
        fig.savefig(args.save_png, dpi=100)
        summary["png"] = args.save_png
    if args.json:
        print(json.dumps(summary), flush=True)
    elif series:
        print(f"visualizer stopped: {summary['processed']} processed, {summary['dropped']} dropped, "
              f"buffer peak {summary['max_buffered']}/{summary['capacity']}"
              + (f"; plot saved to {args.save_png}" if summary["png"] else ""), flush=True)
    else:
        print("visualizer stopped: no consumer answered", flush=True)
    return 0
