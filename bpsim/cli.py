"""The command line: one run, its summary as a table or as JSON.

    python -m bpsim run                       # the course's scenario: 1,000 msg/s into 100 msg/s
    python -m bpsim run --strategy block --capacity 200 --duration 30
    python -m bpsim run --strategy shed --retries 3 --json

Every flag has a default. The strategies' own flags are made from what each strategy class
declares (:func:`bpsim.strategies.param`), so a registered strategy has its flags here too. A flag
given for a strategy that does not use it is ignored with a one-line warning on stderr. Bad input
exits with status 2 and one line that names the flag, the value and what would work; there is
never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys

from .engine import simulate
from .scenario import ARRIVALS, ORDERS, SERVICES, Scenario
from .strategies import STRATEGIES, params_of

_D = Scenario()

# The scenario's flags: (flag, dest, type, default, help).
_FLAGS = [
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
    ("--message-bytes", "message_bytes", int, _D.message_bytes,
     "memory one message uses in the server, bytes (default: %(default)s)"),
    ("--memory-limit-bytes", "memory_limit_bytes", int, _D.memory_limit_bytes,
     "the server crashes beyond this, bytes (default: %(default)s)"),
    ("--restart", "restart_s", float, _D.restart_s,
     "downtime after a crash, seconds (default: %(default)s)"),
    ("--client-timeout", "client_timeout_s", float, _D.client_timeout_s,
     "clients give up on a message not served this long after it was generated, seconds "
     "(default: never)"),
    ("--order", "order", str, _D.order,
     f"which waiting message a free consumer takes: {', '.join(ORDERS)} (default: %(default)s)"),
    ("--seed", "seed", int, 1, "random seed, a whole number 0 or more (default: %(default)s)"),
]


def _strategy_flags():
    """``(flag, keyword, default, help, users)`` for every strategy parameter, from the registry."""
    out = {}
    for name, cls in STRATEGIES.items():
        for p in params_of(cls):
            unit = f", {p.unit}" if p.unit else ""
            if p.flag not in out:
                out[p.flag] = [p.flag, p.keyword, p.default, f"{p.help}{unit}", [name]]
            else:
                out[p.flag][4].append(name)
    return [tuple(v) for v in out.values()]


def _number_or_text(text):
    """A strategy flag's value: a number where it reads as one (checked by the strategy)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


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
    rows = [("--strategy", "strategy", str, "unbounded",
             f"what a full buffer does: {', '.join(STRATEGIES)} (default: %(default)s)")]
    rows += _FLAGS
    for flag, keyword, default, help_, users in _strategy_flags():
        rows.append((flag, keyword, _number_or_text, default,
                     f"{', '.join(users)}: {help_} (default: {default})"))
    for flag, dest, typ, default, help_ in rows:
        # strategy flags default to None: "not given", so the strategy's own default holds
        is_strategy = not any(flag == f for f, *_ in _FLAGS) and flag != "--strategy"
        run.add_argument(flag, dest=dest, type=typ, default=None if is_strategy else default,
                         help=help_)
    run.add_argument("--drop-expired", dest="drop_expired", action="store_true",
                     help="the server discards, unserved, messages whose client has left "
                          "(needs --client-timeout)")
    run.add_argument("--json", action="store_true",
                     help="print the summary as JSON on one line")
    # Document the sub-command's flags in the top-level --help too.
    parser.epilog = "run flags:\n" + "\n".join(
        f"  {flag:<22} {help_ % {'default': default}}" for flag, _, _, default, help_ in rows
    ) + (f"\n  {'--drop-expired':<22} the server discards, unserved, messages whose client has "
         "left (needs --client-timeout)"
         f"\n  {'--json':<22} print the summary as JSON on one line\n")
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


def _error(message: str, flag: str | None = None) -> int:
    where = f" {flag}:" if flag else ""
    sys.stderr.write(f"python -m bpsim run: error:{where} {message}\n")
    return 2


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "run":
        parser.print_help()
        return 2
    flags = {dest: flag for flag, dest, *_ in _FLAGS}
    params = {dest: getattr(args, dest) for dest in flags}
    flags["drop_expired"] = "--drop-expired"
    if args.drop_expired:
        params["drop_expired"] = True
    seed = params.pop("seed")
    strategy = args.strategy
    cls = STRATEGIES.get(strategy)
    own = {p.keyword for p in params_of(cls)} if cls else set()
    for flag, keyword, *_ in _strategy_flags():
        flags[keyword] = flag
        value = getattr(args, keyword)
        if value is None:
            continue
        if keyword in own:
            params[keyword] = value
        elif cls is not None:
            sys.stderr.write(f"python -m bpsim run: warning: {flag} {value} is ignored: strategy "
                             f"{strategy} does not use it.\n")
    try:
        result = simulate(strategy=strategy, rng=seed, **params)
        summary = result.summary()
    except ValueError as err:
        message = str(err)
        name = message.split("=", 1)[0]
        flag = "--seed" if name == "rng" else "--strategy" if name == "strategy" else flags.get(name)
        return _error(message.replace("rng=", "seed=", 1) if name == "rng" else message, flag)
    except (OverflowError, MemoryError) as err:  # a guard against what validation missed
        return _error(f"the run could not be computed ({type(err).__name__}: {err}): use "
                      "smaller values.")
    if args.json:
        print(json.dumps(summary, allow_nan=False))
    else:
        print(_table(summary))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
