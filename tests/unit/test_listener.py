"""The listener at a server's stop (interfaces/listener.py), on real sockets of this machine."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator

import pytest

from interfaces.listener import queued_connections, refuse_new_connections

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's socket options")


@pytest.fixture(params=[(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")], ids=["ipv4", "ipv6"])
def listener(request: pytest.FixtureRequest) -> Iterator[socket.socket]:
    family, host = request.param
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        sock.listen(16)
        yield sock


def _connect(listener: socket.socket, timeout: float = 5) -> socket.socket:
    return socket.create_connection(listener.getsockname()[:2], timeout=timeout)


def test_the_queue_counts_connections_made_and_not_yet_accepted(listener: socket.socket) -> None:
    assert queued_connections(listener) == 0
    with _connect(listener), _connect(listener):
        assert queued_connections(listener) == 2
        accepted, _ = listener.accept()
        accepted.close()
        assert queued_connections(listener) == 1


def test_once_refusing_a_new_connection_goes_unanswered_and_made_ones_carry_on(
    listener: socket.socket,
) -> None:
    with _connect(listener) as made:
        accepted, _ = listener.accept()
        with accepted:
            assert refuse_new_connections(listener)
            with pytest.raises(TimeoutError):
                _connect(listener, timeout=0.3)  # its SYN is dropped: not connected, nothing sent
            made.sendall(b"GET / HTTP/1.1\r\n\r\n")
            assert accepted.recv(100) == b"GET / HTTP/1.1\r\n\r\n"
            accepted.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
            assert made.recv(100) == b"HTTP/1.1 200 OK\r\n\r\n"
    address = listener.getsockname()[:2]
    listener.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=5)


def test_a_closed_socket_is_left_alone() -> None:
    sock = socket.socket()
    sock.close()
    assert not refuse_new_connections(sock)
    assert queued_connections(sock) is None
