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


def test_the_answers_the_guesses_are_checked_against():
    from bpsim.apiserver import simulate_apiserver
    a = outage.Assumptions()
    r = outage.run_incident(a)
    # the cache keeps names for its stale window after the last good refresh; "the last good
    # refresh" is seen at the first failing tick, up to one refresh period late
    assert abs(outage.minutes_cache_lasts(r, a) - a.dns_stale_s / 60) <= a.dns_refresh_s / 60
    assert 0 <= outage.minutes_to_first_timeout(r, a) < 5
    assert outage.deletes_answered(r) == r.books("admin")["succeeded"] == 0
    storm = simulate_apiserver(outage.retry_storm_model(0.0), rng=1)
    calm = simulate_apiserver(outage.retry_storm_model(1.0), rng=1)
    assert outage.storm_answered_per_s(storm) == 0 < outage.storm_answered_per_s(calm)


def test_the_storm_and_queue_numbers_the_prose_relies_on(capsys):
    outage.print_storm_setup()
    out = capsys.readouterr().out
    assert "70% load" in out and "60% of the capacity lost" in out
    assert max(len(line) for line in out.splitlines()) <= 100
    # 50,000 telemetry requests of the production cluster over 1,800 seats
    a = outage.Assumptions()
    assert outage.queue_minutes_of_work(a) == round(50_000 * a.cost_per_node_s * a.nodes
                                                    / (a.api_servers * a.seats_per_server) / 60, 1)
