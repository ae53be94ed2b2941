"""Hidden buffers: how many messages the kernel holds before a producer feels anything.

Backpressure over TCP works by the receiver *not reading*. But between the consumer's decision to
stop reading and the producer's ``drain()`` actually waiting, the bytes keep going into buffers
nobody sees:

1. the consumer's kernel **receive buffer** (``SO_RCVBUF``),
2. the producer's kernel **send buffer** (``SO_SNDBUF``),
3. asyncio's **write buffer** in the producer (high-water mark 64 KiB by default),
4. what the consumer had already read when its buffer filled (``pending``: one read, 4 KiB here).

Linux sizes 1 and 2 automatically, and generously (up to megabytes), because a big buffer keeps a
fast network busy. For backpressure that is bad news: a producer can write thousands of messages
before any signal reaches it, and every one of them waits in line behind the others. That is
*bufferbloat*: queues that are too large hide overload and turn it into latency, in home routers as
much as in message systems. Shrinking the buffers (``--rcvbuf``, ``--sndbuf``, ``--write-buffer``)
makes the push-back arrive in seconds.

:func:`kernel_capacity` measures 1 + 2 directly: a listener that never reads, a non-blocking client
that writes fixed-size messages until the kernel says it would block.
"""
from __future__ import annotations

import socket
import time

from .wire import DEFAULT_SIZE

#: asyncio's default high-water mark for a transport's write buffer (bytes).
ASYNCIO_HIGH_WATER = 64 * 1024


def kernel_capacity(message_bytes: int = DEFAULT_SIZE, rcvbuf: int | None = None,
                    sndbuf: int | None = None, settle_s: float = 0.05) -> dict:
    """Bytes and whole messages the two kernel buffers of one loopback connection absorb.

    Parameters
    ----------
    message_bytes : int
        Size of one message (bytes).
    rcvbuf, sndbuf : int or None
        Requested ``SO_RCVBUF`` of the receiver and ``SO_SNDBUF`` of the sender (bytes); ``None``
        keeps the system's defaults (and its automatic tuning).
    settle_s : float
        How long to let the kernel move bytes across after the first "would block" (s); the
        measurement stops when a retry after that pause still finds no room.

    Returns
    -------
    dict
        ``bytes`` and ``messages`` held, and the buffer sizes the kernel granted.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client = None
    try:
        if rcvbuf is not None:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if sndbuf is not None:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        client.connect(listener.getsockname())
        server, _ = listener.accept()
        client.setblocking(False)
        chunk = b"x" * message_bytes
        total = 0
        stuck = 0
        while stuck < 3:     # three pauses in a row without room: the buffers are full
            try:
                total += client.send(chunk)
                stuck = 0
            except BlockingIOError:
                stuck += 1
                time.sleep(settle_s)
        granted = {"rcvbuf_bytes": server.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
                   "sndbuf_bytes": client.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)}
        server.close()
        return {"bytes": total, "messages": total // message_bytes, **granted}
    finally:
        if client is not None:
            client.close()
        listener.close()


def hidden_messages(message_bytes: int = DEFAULT_SIZE, rcvbuf=None, sndbuf=None,
                    write_buffer: int | None = None, read_bytes: int = 4096) -> dict:
    """All four hidden buffers of a producer/consumer pair, in messages.

    ``write_buffer`` is the producer's asyncio high-water mark (``None``: asyncio's default).
    """
    k = kernel_capacity(message_bytes, rcvbuf, sndbuf)
    wb = ASYNCIO_HIGH_WATER if write_buffer is None else write_buffer
    parts = {"kernel": k["messages"], "asyncio_write_buffer": wb // message_bytes,
             "consumer_read": read_bytes // message_bytes}
    return {**parts, "total": sum(parts.values()), "kernel_bytes": k["bytes"],
            "rcvbuf_bytes": k["rcvbuf_bytes"], "sndbuf_bytes": k["sndbuf_bytes"]}
