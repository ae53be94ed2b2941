"""The wire format and the small pieces every live program shares.

A message is one line of ASCII text of a fixed length, ending in a newline::

    m <producer> <seq> <sent_unix_time> <padding...>\\n

Fixed-length lines make the books exact: from a byte count alone a program knows how many whole
messages went out and whether one was cut in half. ``<sent_unix_time>`` lets the consumer measure
how long a message waited (producer and consumer run on the same machine, so their clocks agree).

``<producer>`` is 1 to 64 visible ASCII characters (no spaces), ``<seq>`` a whole number,
``<sent_unix_time>`` a finite decimal number, and the padding is dots. Anything else (a wrong
prefix, missing fields, bytes that are not ASCII, a timestamp such as ``-inf``, a line longer than
:data:`MAX_LINE_BYTES` bytes counting its newline) is *malformed*: the consumer counts it, once per
line however long the line is, and carries on.

Everything the programs print or serve as JSON goes through :func:`dumps`: strict JSON, with a
number that is not finite written as ``null``.

>>> line = make_message(7, producer="p1", sent=1.5, size=40)
>>> len(line), line.endswith(b"\\n")
(40, True)
>>> parse_message(line)
('p1', 7, 1.5)
>>> parse_message(b"hello\\n") is None
True
>>> parse_message(b"m p1 7 -inf ...\\n") is None
True
>>> dumps({"mean_wait_s": float("inf")})
'{"mean_wait_s": null}'
"""
from __future__ import annotations

import ipaddress
import json
import math
import re
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
#: The longest producer name (characters).
MAX_NAME = 64
#: Digits reserved for the sequence number when checking that a name fits a message size.
SEQ_DIGITS = 12

_NAME = re.compile(r"[!-~]{1,%d}" % MAX_NAME)
_LINE = re.compile(rb"m ([!-~]{1,%d}) (\d{1,%d}) (\d{1,12}\.\d{1,9}) \.*\n" % (MAX_NAME, SEQ_DIGITS))


def make_message(seq: int, producer: str = "p", sent: float = 0.0, size: int = DEFAULT_SIZE) -> bytes:
    """One message of exactly ``size`` bytes (newline included)."""
    head = f"m {producer} {seq} {sent:.6f} ".encode("ascii")
    if len(head) + 1 > size:
        raise ValueError(f"size={size} is too small for message {seq!r}: use at least {len(head) + 1} bytes")
    return head + b"." * (size - len(head) - 1) + b"\n"


def parse_message(line: bytes):
    """``(producer, seq, sent_time)`` of a well-formed line, else ``None``."""
    if len(line) > MAX_LINE_BYTES:
        return None
    m = _LINE.fullmatch(line)
    if m is None:
        return None
    return m.group(1).decode("ascii"), int(m.group(2)), float(m.group(3))


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a producer's name in the wire format, or ``None`` if it can."""
    if _NAME.fullmatch(name):
        return None
    return (f"use 1 to {MAX_NAME} visible ASCII characters without spaces "
            f"(letters, digits, punctuation), such as p1")


def min_size_for(name: str) -> int:
    """The smallest message size that holds ``name``, any 12-digit sequence number and a timestamp.

    >>> min_size_for("p1")
    37
    """
    return len(f"m {name} {10 ** SEQ_DIGITS - 1} {1e10 - 1:.6f} ".encode("ascii")) + 1


def finite(obj):
    """``obj`` with every float that is not finite (inf, -inf, nan) replaced by ``None``."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def dumps(obj) -> str:
    """Strict JSON (never ``Infinity`` or ``NaN``: those become ``null``)."""
    return json.dumps(finite(obj), allow_nan=False)


def numeric_address(host: str):
    """``(family, address)`` of a numeric ``host`` as the socket layer reads it, else ``None``.

    The socket layer accepts shorthand such as ``127.1`` (127.0.0.1); no name is looked up.
    """
    try:
        info = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    family, _, _, _, addr = info[0]
    return family, addr[0]


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1 or ``localhost``).

    >>> is_loopback("127.1"), is_loopback("::1"), is_loopback("10.0.0.1")
    (True, True, False)
    """
    if host == "localhost":
        return True
    num = numeric_address(host)
    if num is None:
        return False
    return ipaddress.ip_address(num[1].split("%")[0]).is_loopback


def family_of(host: str) -> int:
    """The address family to use for ``host`` (IPv6 for ``::1``, else IPv4)."""
    num = numeric_address(host)
    return num[0] if num is not None else socket.AF_INET


def set_buffer(sock: socket.socket, option: int, size: int | None) -> int:
    """Ask the kernel for a socket buffer of ``size`` bytes (``None``: leave it); return what it gave.

    Linux doubles the request (for its own bookkeeping) and enforces a minimum, so the value read
    back is what actually holds data.
    """
    if size is not None:
        sock.setsockopt(socket.SOL_SOCKET, option, int(size))
    return sock.getsockopt(socket.SOL_SOCKET, option)
