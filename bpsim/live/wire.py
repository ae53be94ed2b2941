"""The wire format and the small pieces every live program shares.

A message is one line of ASCII text of a fixed length, ending in a newline::

    m <producer> <seq> <sent_unix_time> <padding...>\\n

Fixed-length lines make the books exact: from a byte count alone a program knows how many whole
messages went out and whether one was cut in half. ``<sent_unix_time>`` lets the consumer measure
how long a message waited (producer and consumer run on the same machine, so their clocks agree).

Anything that is not such a line (a wrong prefix, missing fields, bytes that are not ASCII, a line
longer than :data:`MAX_LINE_BYTES`) is *malformed*: the consumer counts it and carries on.

>>> line = make_message(7, producer="p1", sent=1.5, size=40)
>>> len(line), line.endswith(b"\\n")
(40, True)
>>> parse_message(line)
('p1', 7, 1.5)
>>> parse_message(b"hello\\n") is None
True
"""
from __future__ import annotations

import ipaddress
import socket

#: The default message size (bytes, newline included): the simulator's ``message_bytes``.
DEFAULT_SIZE = 1000
#: The smallest size that still holds the header fields.
MIN_SIZE = 48
#: A line longer than this is malformed (and skipped up to its newline).
MAX_LINE_BYTES = 65536
#: Where every program listens or connects unless told otherwise: loopback only.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 12000


def make_message(seq: int, producer: str = "p", sent: float = 0.0, size: int = DEFAULT_SIZE) -> bytes:
    """One message of exactly ``size`` bytes (newline included)."""
    head = f"m {producer} {seq} {sent:.6f} ".encode("ascii")
    if len(head) + 1 > size:
        raise ValueError(f"size={size} is too small for message {seq!r}: use at least {len(head) + 1} bytes")
    return head + b"." * (size - len(head) - 1) + b"\n"


def parse_message(line: bytes):
    """``(producer, seq, sent_time)`` of a well-formed line, else ``None``."""
    try:
        parts = line.decode("ascii").split()
        if len(parts) < 4 or parts[0] != "m":
            return None
        return parts[1], int(parts[2]), float(parts[3])
    except (UnicodeDecodeError, ValueError):
        return None


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1 or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def set_buffer(sock: socket.socket, option: int, size: int | None) -> int:
    """Ask the kernel for a socket buffer of ``size`` bytes (``None``: leave it); return what it gave.

    Linux doubles the request (for its own bookkeeping) and enforces a minimum, so the value read
    back is what actually holds data.
    """
    if size is not None:
        sock.setsockopt(socket.SOL_SOCKET, option, int(size))
    return sock.getsockopt(socket.SOL_SOCKET, option)
