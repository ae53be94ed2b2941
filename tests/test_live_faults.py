"""Faults and hostile input for the live programs, started exactly as a learner types them.

Every program runs as ``python -m bpsim.live ...`` in a subprocess, on loopback (127.0.0.1, and
::1 where IPv6 is the point). Every loop here is bounded in count and in time. The books are
checked exactly, over the final summaries of all the programs of a run together
(:func:`bpsim.live.harness.books_balance`, and the plain identity beside it).
"""
import contextlib
import io
import json
import signal
import socket
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bpsim.live import cli
from bpsim.live.harness import Proc, books_balance, producer_args, start_consumer
from bpsim.live.wire import MAX_LINE_BYTES, make_message, parse_message


from helpers import every_process_stopped  # noqa: F401,E402  (a fixture, used by every test)

pytestmark = pytest.mark.usefixtures("every_process_stopped")


def strict(text):
    """Parse JSON the way a strict reader does: ``Infinity`` and ``NaN`` are errors."""
    def bad(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=bad)


def summaries(proc):
    return [strict(x) for x in proc.stdout.splitlines() if x.startswith("{")
            and strict(x).get("event") == "summary"]


def clean(proc):
    assert "Traceback" not in (proc.stderr or ""), proc.stderr
    for line in (proc.stdout or "").splitlines():
        if line.startswith("{"):
            strict(line)


def books(producers, consumers) -> str:
    """The terms of the books' identity (books_balance), to say which one failed (a string:
    pytest shortens an object's repr in an assertion message, not a string)."""
    return repr({"generated": [p["generated"] for p in producers],
                 "sent + cut_off": [p["sent"] + p["cut_off"] for p in producers],
                 "unsent": [p["unsent"] for p in producers],
                 "sent_on_broken_connections": [p["sent_on_broken_connections"] for p in producers],
                 "received": [c["received"] for c in consumers],
                 "accounted": [c["accounted"] for c in consumers],
                 "consumers": consumers})


def exact_books(producers, consumers):
    """Every message written is received by some consumer, and every consumer's books add up."""
    assert books_balance(producers, consumers), books(producers, consumers)
    assert all(p["broken"] == 0 for p in producers), producers
    written = sum(p["sent"] + p["cut_off"] for p in producers)
    assert written == sum(c["received"] for c in consumers), (producers, consumers)
    assert sum(p["generated"] for p in producers) == written + sum(p["unsent"] for p in producers)


def stats(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        data = b""
        for _ in range(100):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return strict(data)


def raw_consumer(**kw):
    return start_consumer(capacity=kw.pop("capacity", 50), service_time=kw.pop("service_time", 0.001),
                          **kw)


# -- the books: stopping a consumer under a running producer -----------------------------------

@pytest.mark.parametrize("backpressure", [False, True])
def test_restarting_the_consumer_under_a_producer_three_times_loses_nothing(backpressure):
    cons, info = start_consumer(capacity=20, service_time=0.005, backpressure=backpressure)
    port = info["port"]
    prod = Proc(*producer_args(port, rate=0.004, duration=4.0))
    consumers = [cons]
    try:
        for _ in range(3):
            time.sleep(0.7)
            assert consumers[-1].stop() == 0
            again, _ = start_consumer(capacity=20, service_time=0.005, backpressure=backpressure,
                                      extra=["--port", port])
            consumers.append(again)
        assert prod.wait(30) == 0
        time.sleep(0.1)
        consumers[-1].stop()
    finally:
        for p in consumers + [prod]:
            p.kill()
    for p in consumers + [prod]:
        clean(p)
    s = prod.summary()
    assert s["closed_by_consumer"] == 3
    exact_books([s], [c.summary() for c in consumers])


@pytest.mark.parametrize("system_buffers", [False, True])
def test_ctrl_c_of_the_consumer_while_a_backpressured_producer_sends(system_buffers):
    # With the system's buffers thousands of messages are in the kernel when Ctrl-C comes.
    cons, info = start_consumer(capacity=20, service_time=0.01, backpressure=True,
                                system_buffers=system_buffers)
    prod = Proc(*producer_args(info["port"], rate=0.0005, duration=5.0, system_buffers=system_buffers,
                               extra=["--no-reconnect"]))
    try:
        time.sleep(1.5)
        assert cons.stop() == 0
        assert prod.wait(30) == 1          # told not to reconnect: the consumer went away
    finally:
        cons.kill()
        prod.kill()
    clean(cons), clean(prod)
    c, p = cons.summary(), prod.summary()
    assert c["dropped"] == 0 and c["in_network"] > 0
    exact_books([p], [c])


def test_ctrl_c_of_the_producer_under_backpressure_is_in_both_books():
    cons, info = start_consumer(capacity=10, service_time=0.05, backpressure=True,
                                system_buffers=True)
    prod = Proc(*producer_args(info["port"], rate=0.0005, duration=10.0, system_buffers=True))
    try:
        time.sleep(1.5)
        assert prod.stop() == 0
        cons.stop()
    finally:
        cons.kill()
        prod.kill()
    clean(cons), clean(prod)
    exact_books([prod.summary()], [cons.summary()])


def test_a_consumer_duration_ending_under_two_producers():
    cons, info = start_consumer(capacity=10, service_time=0.01, extra=["--duration", "1.5"])
    prods = [Proc(*producer_args(info["port"], rate=0.002, duration=3.0,
                                 extra=["--name", f"p{i}", "--no-reconnect"])) for i in range(2)]
    try:
        assert cons.wait(30) == 0
        for p in prods:
            assert p.wait(30) == 1
    finally:
        for p in prods + [cons]:
            p.kill()
    exact_books([p.summary() for p in prods], [cons.summary()])


# -- framing -------------------------------------------------------------------------------------

def test_one_oversized_line_is_one_malformed_message_and_the_limit_is_the_wire_formats():
    cons, info = raw_consumer()
    try:
        with socket.create_connection(("127.0.0.1", info["port"])) as s:
            s.sendall(b"x" * 10_000_000 + b"\n")                         # 10 MB, one line
            s.sendall(make_message(0, "big", time.time(), 66_000))        # over 65,536: malformed
            s.sendall(make_message(1, "max", time.time(), MAX_LINE_BYTES))  # exactly the limit
            s.sendall(b"y" * 200_000)                                     # and hang up inside one
        for _ in range(100):
            if stats(info["stats_port"])["received"] >= 4:
                break
            time.sleep(0.05)
        assert cons.stop() == 0
    finally:
        cons.kill()
    clean(cons)
    c = cons.summary()
    assert c["malformed"] == 3, c
    assert c["processed"] + c["buffered"] + c["in_service"] == 1
    assert c["lost_in_disconnect"] == 0
    assert c["received"] == c["accounted"] == 4


@pytest.mark.parametrize("stamp", [b"-inf", b"inf", b"nan", b"1e999", b"9" * 400 + b".0",
                                   b"-1.5", b"1_0.5"])
def test_a_timestamp_that_is_not_a_finite_number_is_malformed_and_the_summary_is_json(stamp):
    assert parse_message(b"m p 1 " + stamp + b" ....\n") is None
    cons, info = raw_consumer()
    try:
        with socket.create_connection(("127.0.0.1", info["port"])) as s:
            s.sendall(b"m p 1 " + stamp + b" ....\n" + make_message(2, "p", time.time(), 60))
        for _ in range(100):
            if stats(info["stats_port"])["processed"] >= 1:
                break
            time.sleep(0.02)
        assert cons.stop() == 0
    finally:
        cons.kill()
    clean(cons)                                  # every line strict JSON
    c = cons.summary()
    assert c["malformed"] == 1 and c["processed"] == 1 and c["received"] == c["accounted"] == 2


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=st.lists(st.binary(max_size=300) | st.sampled_from(
    [make_message(3, "z", 1.0, 50), b"\n", b"m ", b"-inf ", b"x" * 70_000]), max_size=8))
def test_fuzzed_bytes_are_counted_once_each_and_the_books_add_up(chunks, fuzz_consumer):
    cons, info = fuzz_consumer
    data = b"".join(chunks)
    before = stats(info["stats_port"])
    with socket.create_connection(("127.0.0.1", info["port"])) as s:
        s.sendall(data)
    # What the consumer must count: one per line (an over-long one once), one for a tail cut off.
    lines, rest = data.split(b"\n")[:-1], data.split(b"\n")[-1]
    expected = len(lines) + (1 if rest else 0)
    after = before
    for _ in range(200):
        after = stats(info["stats_port"])
        if after["received"] - before["received"] >= expected and after["connections"] == 0:
            break
        time.sleep(0.01)
    assert after["received"] - before["received"] == expected
    assert after["received"] == after["accounted"]
    good = sum(1 for x in lines if parse_message(x + b"\n") is not None)
    assert after["malformed"] - before["malformed"] == len(lines) - good + (
        1 if len(rest) >= MAX_LINE_BYTES else 0)


@pytest.fixture(scope="module")
def fuzz_consumer_module():
    cons, info = start_consumer(capacity=100_000, service_time=0.0001)
    yield cons, info
    cons.stop()
    cons.kill()
    clean(cons)
    c = cons.summary()
    assert c["received"] == c["accounted"]


@pytest.fixture
def fuzz_consumer(fuzz_consumer_module):
    return fuzz_consumer_module


# -- crashes and silence: arguments are checked before anything runs ---------------------------

BAD = [
    (["consumer", "--rcvbuf", "2147483648"], "--rcvbuf='2147483648' is not valid"),
    (["producer", "--sndbuf", "-1"], "--sndbuf='-1' is not valid"),
    (["producer", "--name", "a b"], "--name='a b' is not valid: use"),
    (["producer", "--name", "a\nb"], "--name='a\\nb' is not valid: use"),
    (["producer", "--name", "é"], "--name='é' is not valid: use"),
    (["producer", "--name", ""], "--name='' is not valid: use"),
    (["producer", "--size", "48", "--name", "a-rather-long-producer-name"], "--size='48' is not valid"),
    (["producer", "--size", "70000"], "--size='70000' is not valid: use"),
    (["producer", "--rate", "nan"], "--rate='nan' is not valid"),
    (["producer", "--duration", "inf"], "--duration='inf' is not valid"),
    (["consumer", "--trace", "no-such-folder/t.jsonl"], "--trace='no-such-folder/t.jsonl' is not valid"),
    (["producer", "--trace", "no-such-folder/t.jsonl"], "--trace='no-such-folder/t.jsonl' is not valid"),
    (["visualize", "--save-png", "no-such-folder/run.png"], "--save-png='no-such-folder/run.png'"),
    (["consumer", "--port", "65535"], "--port='65535' is not valid"),
    (["consumer", "--port", "65536"], "--port='65536' is not valid"),
    (["producer", "--count", "0"], "--count='0' is not valid"),
    (["producer", "--count", "3", "--duration", "1"], "--duration"),
    (["consumer", "--bogus"], "--bogus"),
]


@pytest.mark.parametrize("argv,expected", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_bad_argument_is_one_line_and_exit_2_before_anything_runs(argv, expected, tmp_path):
    p = Proc(*argv)
    assert p.wait(30) == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    assert expected in lines[0], lines[0]
    assert p.stdout == ""                                 # nothing ran, nothing listened


VALUE_FLAGS = {"consumer": ["--port", "--stats-port", "--capacity", "--service-time", "--rcvbuf",
                            "--duration", "--trace-interval", "--host"],
               "producer": ["--rate", "--port", "--duration", "--count", "--size", "--sndbuf",
                            "--write-buffer", "--name", "--host"],
               "visualize": ["--port", "--stats-port", "--interval", "--duration", "--host"]}


@settings(max_examples=300, deadline=None)
@given(program=st.sampled_from(sorted(VALUE_FLAGS)), data=st.data(),
       value=st.text(max_size=12) | st.sampled_from(["-0", "1e309", "0x10", "inf", "-inf", "nan",
                                                     "2147483647", "2147483648", "1_000", " 5",
                                                     "65536", "0.0", "+3", "٣"]))
def test_fuzzed_argument_values_parse_or_fail_on_one_line_naming_the_flag(program, data, value):
    flag = data.draw(st.sampled_from(VALUE_FLAGS[program]))
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = cli.parser().parse_args([program, f"{flag}={value}"])
    except SystemExit as e:
        err = err.getvalue()
        assert e.code == 2
        assert len(err.splitlines()) == 1 and err.startswith(f"error: {flag}=") and "use" in err, err
        return
    got = getattr(args, flag[2:].replace("-", "_"))
    if isinstance(got, float):
        assert got == got and got not in (float("inf"), float("-inf")) and got > 0
    if isinstance(got, int) and flag in ("--rcvbuf", "--sndbuf", "--write-buffer"):
        assert 0 <= got <= 2 ** 31 - 1
    if flag == "--name":
        assert parse_message(make_message(10 ** 11, got, time.time(), 1000)) is not None


def test_the_defaults_are_the_series_micro_challenge():
    c = cli.parser().parse_args(["consumer"])
    p = cli.parser().parse_args(["producer"])
    assert (c.service_time, c.capacity, p.rate) == (0.1, 50, 0.01)
    assert cli.DEFAULT_DURATION == 30.0 and p.duration is None and p.count is None


def _asyncio_loaded(pid):
    try:
        with open(f"/proc/{pid}/maps") as f:
            return "_asyncio" in f.read()
    except OSError:
        return False


@pytest.mark.parametrize("program", ["consumer", "producer"])
def test_ctrl_c_while_starting_prints_the_summary_not_a_traceback(program):
    cons = info = None
    if program == "producer":
        cons, info = start_consumer()
        p = Proc("producer", "--port", info["port"], "--json")
    else:
        p = Proc("consumer", "--port", 0, "--stats-port", 0, "--json")
    try:
        for _ in range(2000):      # as soon as the program's own code runs (asyncio is loaded)
            if _asyncio_loaded(p.popen.pid) or p.popen.poll() is not None:
                break
            time.sleep(0.001)
        p.popen.send_signal(signal.SIGINT)
        assert p.wait(30) == 0
    finally:
        p.kill()
        if cons is not None:
            cons.stop()
            cons.kill()
    clean(p)
    assert len(summaries(p)) == 1


# -- where it listens and what it tells -----------------------------------------------------------

def _ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_loopback_works_and_a_busy_port_there_is_called_busy():
    cons = Proc("consumer", "--host", "::1", "--port", 0, "--stats-port", 0, "--json",
                "--service-time", 0.001)
    try:
        info = json.loads(cons.readline())
        prod = Proc("producer", "--host", "::1", "--port", info["port"], "--count", 50,
                    "--rate", 0.002, "--json")
        assert prod.wait(30) == 0
        second = Proc("consumer", "--host", "::1", "--port", info["port"], "--stats-port", 0)
        assert second.wait(30) == 2
        time.sleep(0.2)
        cons.stop()
    finally:
        cons.kill()
    assert "in use" in second.stderr and "stop the program using it" in second.stderr
    assert "not a loopback" not in cons.stderr + prod.stderr
    exact_books([prod.summary()], [cons.summary()])
    assert cons.summary()["processed"] == 50


def test_shorthand_loopback_is_loopback():
    cons = Proc("consumer", "--host", "127.1", "--port", 0, "--stats-port", 0, "--json")
    try:
        json.loads(cons.readline())
        cons.stop()
    finally:
        cons.kill()
    assert "loopback" not in cons.stderr
    clean(cons)


def test_a_consumer_nobody_reads_stderr_from_keeps_serving_two_thousand_connections():
    cons, info = start_consumer()       # the harness reads stderr only at the end
    try:
        for i in range(2000):
            with socket.create_connection(("127.0.0.1", info["port"])) as s:
                if i % 2:
                    s.sendall(b"junk\n")
        for _ in range(200):
            s = stats(info["stats_port"])
            if s["connections_total"] == 2000 and s["connections"] == 0:
                break
            time.sleep(0.02)
        assert s["connections_total"] == 2000 and s["malformed"] == 1000
        cons.stop()
    finally:
        cons.kill()
    clean(cons)
    assert len(cons.stderr.splitlines()) < 20


# -- the visualizer against stats endpoints that are not a consumer's -----------------------------

class FakeStats:
    """A loopback server answering every connection with ``payload`` (or endless bytes)."""

    def __init__(self, payload):
        self.payload = payload
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        deadline = time.monotonic() + 20
        while not self.done.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                try:
                    if self.payload is None:            # stream without a newline, for a while
                        conn.settimeout(0.5)
                        for _ in range(2000):
                            conn.sendall(b"x" * 4096)
                    else:
                        conn.sendall(self.payload)
                except OSError:
                    pass

    def close(self):
        self.done.set()
        self.thread.join(5)
        self.sock.close()


SNAP = {"t": 1.0, "backpressure": False, "capacity": 5, "service_time": 0.0, "connections": 0,
        "received": 0, "processed": 0, "dropped": 0, "buffered": 0, "max_buffered": 0,
        "malformed": 0}


@pytest.mark.parametrize("payload", [b"{}\n", b"[1]\n", (json.dumps(SNAP) + "\n").encode(),
                                     b'{"t": Infinity}\n', b"\xff\n", None],
                         ids=["empty-object", "list", "service-time-0", "infinity", "bytes",
                              "endless"])
def test_the_visualizer_survives_a_stats_endpoint_that_is_not_a_consumers(payload):
    fake = FakeStats(payload)
    try:
        viz = Proc("visualize", "--stats-port", fake.port, "--interval", 0.1, "--duration", 1.5,
                   "--plain", "--json")
        code = viz.wait(20)
    finally:
        fake.close()
    assert code == 0
    clean(viz)
    assert "not a consumer's stats" in viz.stdout
    assert summaries(viz)[-1]["snapshots"] == 0


# -- the course's commands show what the course promises -------------------------------------------

def _course_run(system_buffers):
    extra = ["--system-buffers"] if system_buffers else []
    cons = Proc("consumer", "--port", 0, "--stats-port", 0, "--backpressure", "--json", *extra)
    try:
        info = json.loads(cons.readline())
        prod = Proc("producer", "--port", info["port"], "--rate", "0.01", "--duration", "4",
                    "--json", *extra)
        assert prod.wait(30) == 0
        cons.stop()
    finally:
        cons.kill()
    clean(cons), clean(prod)
    return cons.summary(), prod.summary()


def test_the_courses_commands_show_backpressure_within_seconds():
    c, p = _course_run(system_buffers=False)
    service_rate = 1 / c["service_time"]
    assert p["first_block_s"] is not None and p["first_block_s"] < p["elapsed_s"] / 2
    assert abs(p["rate_under_pressure_per_s"] - service_rate) <= 0.2 * service_rate, p
    assert p["achieved_rate_per_s"] < 0.5 * p["target_rate_per_s"]
    assert c["dropped"] == 0
    exact_books([p], [c])


def test_system_buffers_hide_the_push_back():
    c, p = _course_run(system_buffers=True)
    assert p["first_block_s"] is None                       # never felt anything in the run
    assert c["dropped"] == 0 and c["in_network"] > 0
    exact_books([p], [c])
