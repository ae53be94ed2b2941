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
