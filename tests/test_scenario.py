"""Bad input gets a ValueError that names the parameter, the value and what would work."""
import math

import pytest

import bpsim
from bpsim import Scenario, simulate
from bpsim.scenario import MAX_TICKS


@pytest.mark.parametrize("field, value", [
    ("producer_rate", -1.0), ("producer_rate", math.inf), ("producer_rate", math.nan),
    ("consumer_rate", 0.0), ("consumer_rate", -5), ("consumer_rate", math.nan),
    ("capacity", -1), ("capacity", 2.5), ("duration_s", 0), ("duration_s", math.inf),
    ("dt_s", 0.0), ("dt_s", -0.001), ("dt_s", 200.0), ("arrivals", "bursty"),
    ("service", "gamma"), ("consumers", 0), ("message_bytes", 0), ("memory_limit_bytes", 10),
    ("restart_s", -1.0), ("rate_schedule", ((1.0, -5.0),)), ("rate_schedule", "fast"),
    ("speed_schedule", ((2.0, 1.0), (1.0, 0.5))), ("consumers_schedule", ((1.0, 1.5),)),
])
def test_bad_scenario_names_parameter_and_value(field, value):
    with pytest.raises(ValueError) as err:
        Scenario(**{field: value})
    msg = str(err.value)
    assert msg.startswith(f"{field}="), msg
    assert "use" in msg  # says what would work


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="drop_newest"):
        simulate(strategy="drop_everything", duration_s=1)
    with pytest.raises(ValueError, match="constant, poisson"):
        simulate(arrivals="bursty", duration_s=1)
    with pytest.raises(ValueError, match="producer_rate"):
        simulate(producer_rat=10, duration_s=1)


@pytest.mark.parametrize("kwargs, name", [
    ({"strategy": "sample", "sample_every": 0}, "sample_every"),
    ({"strategy": "shed", "retries": -1}, "retries"),
    ({"strategy": "shed", "retry_backoff_s": math.nan}, "retry_backoff_s"),
    ({"strategy": "adaptive", "latency_target_s": 0}, "latency_target_s"),
    ({"strategy": "adaptive", "overflow": "explode"}, "overflow"),
])
def test_bad_strategy_parameters(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}="):
        simulate(duration_s=1, **kwargs)


def test_too_long_a_run_is_refused_with_what_to_change():
    with pytest.raises(ValueError, match="dt_s") as err:
        Scenario(duration_s=(MAX_TICKS + 1) * 0.001)
    assert str(err.value).startswith("duration_s=")


def test_a_parameter_the_strategy_does_not_take_is_refused_naming_who_takes_it():
    # a parameter that silently does nothing would mislead: block makes no retries
    with pytest.raises(ValueError, match=r"^retries=2 is not valid with strategy='block': use it "
                                         r"with shed"):
        simulate(strategy="block", retries=2, duration_s=1, capacity=5)
    with pytest.raises(ValueError, match=r"^sample_every=3 is not valid with strategy='shed'"):
        simulate(strategy="shed", sample_every=3, duration_s=1)
    with pytest.raises(ValueError, match="^retries=2 is not valid with a strategy object"):
        simulate(strategy=bpsim.Shed(retries=1), retries=2, duration_s=1)


def test_capacity_zero_is_fine_for_drop_but_drops_everything():
    s = simulate(strategy="drop_newest", capacity=0, duration_s=1).summary()
    assert s["delivered"] == 0 and s["dropped"] == s["offered"]


def test_schedules_step_at_their_times():
    sc = Scenario(producer_rate=10, duration_s=4, dt_s=0.5, rate_schedule=((1.0, 20), (3.0, 0)))
    assert list(sc.per_tick("rate")) == [10, 10, 20, 20, 20, 20, 0, 0]
