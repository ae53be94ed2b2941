"""Notebook 04's module: what a question asks is not printed before it is asked."""
from bpsim.course import openai_outage as outage


def test_the_servers_question_is_not_answered_by_the_assumptions_printout(capsys):
    outage.print_assumptions()
    printed = capsys.readouterr().out
    assert "scaled_api_servers" not in printed
    assert "seats_per_server" in printed  # the rest is there


def test_servers_needed_is_the_load_over_one_servers_seats():
    a = outage.Assumptions()
    n = outage.servers_needed(a)
    load = float(outage.telemetry_load(a.nodes, a)) + outage.baseline_load(a)
    assert (n - 1) * a.seats_per_server < load <= n * a.seats_per_server
    assert n == a.scaled_api_servers  # the fix's server count is the one the question finds
