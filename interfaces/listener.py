"""The listening socket at the end of a server process's life: take in what is queued, then close.

The kernel completes a client's handshake before the server accepts the connection, so at any
moment a busy listener holds connections that have sent a whole request and wait in its queue.
Closing the listener resets every one of them: the client sent its request and gets no answer
(for a write, no way to know whether it was kept). So a stopping server first has the socket
refuse new connections, lets the event loop accept what is already queued, and closes only once
the queue is empty (``GracefulServer.shutdown`` in server.py).

Refusing is a classic BPF filter on the listener (Linux's SO_ATTACH_FILTER) that drops a packet
opening a connection (SYN without ACK) and passes every other: a new client's SYN goes unanswered,
so it sends it again a second later and meets the closed port, "connection refused", which says
plainly that nothing was sent; a handshake already under way completes, and joins the queue.
(Dropping every packet would drop that handshake's last ACK too: its client would take the
connection for made, send its request, and be reset.) A connection made later inherits the
filter, which passes all it ever receives. The queue's length is Linux's TCP_INFO of the
listener (its ``tcpi_unacked``). Elsewhere neither exists: the listener closes at once, as before.
"""

from __future__ import annotations

import contextlib
import ctypes
import socket
import struct
import sys
from typing import Protocol

# <linux/filter.h> instructions (code, jump if true, jump if false, k); a TCP socket's filter
# sees the packet from its TCP header, whose byte 13 holds the flags.
_NEW_CONNECTIONS_DROPPED = b"".join(
    struct.pack("HBBI", *instruction)
    for instruction in (
        (0x30, 0, 0, 13),  # BPF_LD | BPF_B | BPF_ABS: the flags byte
        (0x54, 0, 0, 0x12),  # BPF_ALU | BPF_AND | BPF_K: SYN and ACK only
        (0x15, 0, 1, 0x02),  # BPF_JMP | BPF_JEQ | BPF_K: SYN alone?
        (0x06, 0, 0, 0),  # BPF_RET | BPF_K: keep none of it (drop)
        (0x06, 0, 0, 0xFFFFFFFF),  # BPF_RET | BPF_K: keep all of it
    )
)
_INSTRUCTIONS = len(_NEW_CONNECTIONS_DROPPED) // 8
_SO_ATTACH_FILTER = 26
_TCP_INFO = getattr(socket, "TCP_INFO", 11)
# struct tcp_info: eight one-byte fields, then __u32s: rto, ato, snd_mss, rcv_mss, unacked.
_UNACKED = struct.Struct("8B5I")


class Listening(Protocol):
    """What is used of a listening socket (a socket, or asyncio's TransportSocket of one)."""

    def fileno(self) -> int: ...

    def setsockopt(self, level: int, optname: int, value: bytes, /) -> None: ...

    def getsockopt(self, level: int, optname: int, buflen: int, /) -> bytes: ...


def refuse_new_connections(sock: Listening) -> bool:
    """Have the kernel leave every new connection to ``sock`` unanswered; whether it could."""
    if not sys.platform.startswith("linux") or sock.fileno() < 0:
        return False
    program = ctypes.create_string_buffer(_NEW_CONNECTIONS_DROPPED)
    # struct sock_fprog: the number of instructions, then a pointer to them (copied by the kernel).
    fprog = struct.pack("HP", _INSTRUCTIONS, ctypes.addressof(program))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
    except OSError:
        return False
    return True


def queued_connections(sock: Listening) -> int | None:
    """How many connections the kernel completed that ``sock`` has not accepted yet, if it can tell."""
    if not sys.platform.startswith("linux") or sock.fileno() < 0:
        return None
    with contextlib.suppress(OSError, struct.error):
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _UNACKED.size)
        return int(_UNACKED.unpack(info)[-1])
    return None
