"""The command line: JSON that matches the Python API, readable tables, exit 2 on bad input."""
import json
import subprocess
import sys

import pytest

from bpsim import simulate


def bpsim_cli(*args):
    return subprocess.run([sys.executable, "-m", "bpsim", *args], capture_output=True, text=True,
                          timeout=120)


def test_json_matches_the_python_api():
    p = bpsim_cli("run", "--strategy", "shed", "--retries", "2", "--duration", "5",
                  "--arrivals", "poisson", "--seed", "3", "--capacity", "40", "--json")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1
    got = json.loads(lines[0])
    want = simulate(strategy="shed", retries=2, duration_s=5, arrivals="poisson", rng=3,
                    capacity=40).summary()
    assert got == json.loads(json.dumps(want))


def test_defaults_run_the_course_scenario():
    p = bpsim_cli("run", "--json", "--duration", "20")
    s = json.loads(p.stdout)
    assert s["strategy"] == "unbounded" and s["offered"] == 20_000
    assert s["delivered"] == pytest.approx(2000, abs=2)


def test_table_without_json():
    p = bpsim_cli("run", "--duration", "2", "--strategy", "block")
    assert p.returncode == 0
    assert "producer_backlog_end" in p.stdout and "{" not in p.stdout


def test_unused_flags_are_accepted():
    p = bpsim_cli("run", "--strategy", "unbounded", "--capacity", "3", "--sample-every", "4",
                  "--duration", "1", "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["max_queue_depth"] > 3


@pytest.mark.parametrize("args, flag", [
    (["--capacity", "-1"], "--capacity"),
    (["--capacity", "ten"], "--capacity"),
    (["--producer-rate", "nan"], "--producer-rate"),
    (["--consumer-rate", "-3"], "--consumer-rate"),
    (["--dt", "0"], "--dt"),
    (["--strategy", "yolo"], "--strategy"),
    (["--arrivals", "bursty"], "--arrivals"),
    (["--strategy", "sample", "--sample-every", "0"], "--sample-every"),
    (["--duration", "1e9"], "--duration"),
    (["--no-such-flag"], "--no-such-flag"),
])
def test_bad_input_exits_2_naming_the_flag_without_traceback(args, flag):
    p = bpsim_cli("run", *args)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert flag in p.stderr.strip().splitlines()[-1]


def test_help_documents_every_flag_with_units():
    p = bpsim_cli("--help")
    assert p.returncode == 0
    for flag in ("--producer-rate", "--consumer-rate", "--capacity", "--duration", "--dt",
                 "--arrivals", "--service", "--consumers", "--sample-every", "--message-bytes",
                 "--memory-limit-bytes", "--latency-target-s", "--seed", "--json"):
        assert flag in p.stdout, flag
    assert "msg/s" in p.stdout and "seconds" in p.stdout and "bytes" in p.stdout
