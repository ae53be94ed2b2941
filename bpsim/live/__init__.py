"""bpsim.live: the course's three programs for real, over TCP on this machine.

``python -m bpsim.live consumer`` is an asyncio server with a bounded buffer and a slow worker
(:mod:`bpsim.live.consumer`); ``producer`` sends messages at a fixed interval and measures how
long the socket held it back (:mod:`bpsim.live.producer`); ``visualize`` draws the consumer's
buffer, drops and throughput as text bars (:mod:`bpsim.live.visualize`). :mod:`bpsim.live.harness`
runs them as subprocesses from Python (the notebook and the tests use it),
:mod:`bpsim.live.buffers` measures the kernel's hidden buffers, and :mod:`bpsim.live.plot` draws a
live run beside the simulator's prediction.

Everything listens and connects on 127.0.0.1 unless told otherwise.
"""

import signal as _signal
import sys as _sys
import threading as _threading

#: Ctrl-C received while ``python -m bpsim.live`` was still starting (see :mod:`bpsim.live.cli`).
early_sigint = []

if _sys.argv[:1] == ["-m"] and _threading.current_thread() is _threading.main_thread():
    # Started as ``python -m bpsim.live``: from here on a Ctrl-C during start-up is remembered
    # and honoured once the program runs (it stops at once, with its summary), not a traceback.
    _signal.signal(_signal.SIGINT, lambda signum, frame: early_sigint.append(signum))
