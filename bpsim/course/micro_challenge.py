"""Notebook 03, the course's micro-challenge: count the drops in 30 s, then turn backpressure on.

The course's module gives the producer (``--rate 0.01``: a message every 10 ms, 100 msg/s), the
length (30 seconds) and, in its diagram, a consumer of 10 msg/s (0.1 s per message); it gives no
buffer size. The buffer of 50 slots is the series' own choice, and the same set is used wherever
the micro-challenge appears (notebook 03, the live programs' defaults in notebook 06 and the
README): nine messages in ten cannot be served, and the buffer fills in about half a second.

>>> MICRO["producer_rate"] / MICRO["consumer_rate"]
10.0
"""
from __future__ import annotations

from ..engine import simulate

#: The micro-challenge's set-up: rates in msg/s, capacity in messages, duration in seconds.
MICRO = dict(producer_rate=100.0, consumer_rate=10.0, capacity=50, duration_s=30.0)
#: The seed of every micro-challenge run in the series.
SEED = 1


def micro_run(strategy: str = "drop_newest", **changes):
    """The micro-challenge with one strategy (``changes`` override :data:`MICRO`)."""
    return simulate(strategy=strategy, rng=SEED, **{**MICRO, **changes})


# -- drive the load yourself (the message view, bpsim.viz.messages) --------------------------------
#: The micro-challenge's consumer and buffer with a producer at half the consumer's pace: nothing
#: is lost until you send a burst by hand.
DRIVE = dict(producer_rate=5.0, consumer_rate=MICRO["consumer_rate"], capacity=MICRO["capacity"])
#: The bursts of the still twin, ``(time_s, messages)``, and its simulated seconds.
DRIVE_BURSTS = ((4.0, 100), (8.0, 100))
DRIVE_SECONDS = 12.0
#: The strategies of the two lanes: without backpressure, and with it.
DRIVE_STRATEGIES = ("drop_newest", "block")


def drive_dashboard():
    """The live message view of :data:`DRIVE` in two lanes (drop newest, block), at half real
    time, whose burst button sends 100 messages."""
    from ..viz.messages import messages_dashboard
    first, second = DRIVE_STRATEGIES
    return messages_dashboard(strategy=first, compare=second, speed=0.5, burst=100, **DRIVE)


def show_drive():
    """The still twin of :func:`drive_dashboard`, with the bursts of :data:`DRIVE_BURSTS`."""
    from ..viz.messages import show_messages
    first, second = DRIVE_STRATEGIES
    show_messages(strategy=first, compare=second, seconds=DRIVE_SECONDS, bursts=DRIVE_BURSTS,
                  **DRIVE)


def burst_drops() -> list:
    """Messages drop newest drops after each burst of :data:`DRIVE_BURSTS` (until the next burst,
    or the end), played as the still twin plays them."""
    from ..viz.messages import MessageView
    view = MessageView(strategy=DRIVE_STRATEGIES[0], speed=1.0, **DRIVE)
    ends = [t for t, _ in DRIVE_BURSTS[1:]] + [DRIVE_SECONDS]
    out, before = [], 0
    for burst, end in zip(DRIVE_BURSTS, ends):
        view.play_for(end - view.now, bursts=[burst])
        dropped = view.lanes[0].last["tot"]["dropped"]
        out.append(dropped - before)
        before = dropped
    return out
