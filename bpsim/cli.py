"""The command line: one run, its summary as a table or as JSON.

    python -m bpsim run                       # the course's scenario: 1,000 msg/s into 100 msg/s
    python -m bpsim run --strategy block --capacity 200 --duration 30
    python -m bpsim run --strategy shed --retries 3 --json

Every flag has a default. Flags a strategy does not use are accepted and ignored. Bad input exits
with status 2 and a message whose last line names the parameter; there is never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys

from .engine import simulate
from .scenario import ARRIVALS, SERVICES, Scenario
from .strategies import STRATEGIES

_D = Scenario()

# (flag, dest, type, default, help)
_FLAGS = [
    ("--strategy", "strategy", str, "unbounded",
     f"what a full buffer does: {', '.join(STRATEGIES)} (default: %(default)s)"),
    ("--producer-rate", "producer_rate", float, _D.producer_rate,
     "messages the producer generates per second, msg/s (default: %(default)s)"),
    ("--consumer-rate", "consumer_rate", float, _D.consumer_rate,
     "messages each consumer processes per second, msg/s (default: %(default)s)"),
    ("--capacity", "capacity", int, _D.capacity,
     "buffer slots, messages; ignored by unbounded (default: %(default)s)"),
    ("--duration", "duration_s", float, _D.duration_s,
     "simulated time, seconds (default: %(default)s)"),
    ("--dt", "dt_s", float, _D.dt_s, "tick length, seconds (default: %(default)s)"),
    ("--arrivals", "arrivals", str, _D.arrivals,
     f"arrival process: {', '.join(ARRIVALS)} (default: %(default)s)"),
    ("--service", "service", str, _D.service,
     f"service times: {', '.join(SERVICES)} (default: %(default)s)"),
    ("--consumers", "consumers", int, _D.consumers,
     "parallel consumers, workers (default: %(default)s)"),
    ("--sample-every", "sample_every", int, 10,
     "sample: keep 1 message in N, N (default: %(default)s)"),
    ("--retries", "retries", int, 0,
     "shed: retries per rejected message, count (default: %(default)s)"),
    ("--retry-backoff", "retry_backoff_s", float, 0.1,
     "shed: wait before the first retry, doubling after, seconds (default: %(default)s)"),
    ("--message-bytes", "message_bytes", int, _D.message_bytes,
     "memory one message uses in the server, bytes (default: %(default)s)"),
    ("--memory-limit-bytes", "memory_limit_bytes", int, _D.memory_limit_bytes,
     "the server crashes beyond this, bytes (default: %(default)s)"),
    ("--restart", "restart_s", float, _D.restart_s,
     "downtime after a crash, seconds (default: %(default)s)"),
    ("--latency-target", "latency_target_s", float, 0.5,
     "adaptive: queueing delay to aim for, seconds (default: %(default)s)"),
    ("--seed", "seed", int, 1, "random seed, integer (default: %(default)s)"),
]


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bpsim",
                     description="Simulate a producer, a bounded buffer and its consumers.")
    sub = parser.add_subparsers(dest="command", metavar="run", parser_class=_Parser)
    run = sub.add_parser("run", help="simulate one scenario and print its summary",
                         description="Simulate one scenario and print its summary. "
                                     "Counts are messages, times seconds, memory bytes.")
    for flag, dest, typ, default, help_ in _FLAGS:
        run.add_argument(flag, dest=dest, type=typ, default=default, help=help_)
    run.add_argument("--json", action="store_true",
                     help="print the summary as JSON on one line")
    # Document the sub-command's flags in the top-level --help too.
    parser.epilog = "run flags:\n" + "\n".join(
        f"  {flag:<22} {help_ % {'default': default}}" for flag, _, _, default, help_ in _FLAGS
    ) + f"\n  {'--json':<22} print the summary as JSON on one line\n"
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def _table(summary: dict) -> str:
    width = max(len(k) for k in summary)
    lines = []
    for key, value in summary.items():
        if isinstance(value, float):
            value = f"{value:,.4g}"
        elif isinstance(value, int) and not isinstance(value, bool):
            value = f"{value:,}"
        lines.append(f"{key:<{width}}  {value}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "run":
        parser.print_help()
        return 2
    params = {dest: getattr(args, dest) for _, dest, *_ in _FLAGS}
    seed = params.pop("seed")
    strategy = params.pop("strategy")
    try:
        result = simulate(strategy=strategy, rng=seed, **params)
    except ValueError as err:
        message = str(err)
        flag = next((f for f, dest, *_ in _FLAGS if message.startswith(dest + "=")), None)
        if flag is None and message.startswith("sample_start_fraction="):
            flag = "--sample-every"
        where = f" {flag}:" if flag else ""
        sys.stderr.write(f"python -m bpsim run: error:{where} {message}\n")
        return 2
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        print(_table(summary))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
