"""Fixtures shared by the test files."""
import pytest


@pytest.fixture
def every_process_stopped():
    """Kill whatever a test left running of the live programs, then fail the test if it had left
    something running."""
    from bpsim.live.harness import Proc
    before = len(Proc.started)
    yield
    mine = Proc.started[before:]
    running = [p for p in mine if p.popen.poll() is None]
    for p in mine:
        p.kill()
    assert not running, f"left running: {[' '.join(p.args[3:6]) for p in running]}"
