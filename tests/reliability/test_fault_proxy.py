"""The fault proxy in front of a tiny echo server: bytes pass, and cut, refuse and stall do what they say.

Local sockets only, never a database. The timeouts are guards so a broken proxy fails instead of
hanging, except where a stall must be seen to deliver nothing.
"""

from __future__ import annotations

import asyncio
import socket
import socketserver
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.fault_proxy import CHUNK, FaultProxy, ThreadedFaultProxy

GUARD = 1.0
NOTHING_ARRIVES = 0.2


class EchoServer:
    """Sends every byte back; remembers what it received and how many connections it saw."""

    def __init__(self) -> None:
        self.port = 0
        self.received = bytearray()
        self.accepted = 0
        self.ended: asyncio.Queue[None] = asyncio.Queue()
        self._handlers: set[asyncio.Task[object]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._echo, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for handler in self._handlers:
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _echo(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self.accepted += 1
        try:
            while data := await reader.read(CHUNK):
                self.received += data
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            self.ended.put_nowait(None)


class Clients:
    """Dials the proxy as a database driver would, and hangs up every connection after the test."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self._writers: list[asyncio.StreamWriter] = []

    async def dial(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.proxy.port)
        self._writers.append(writer)
        return reader, writer

    def close(self) -> None:
        for writer in self._writers:
            writer.close()


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    server = EchoServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def proxy(echo: EchoServer) -> AsyncIterator[FaultProxy]:
    proxy = FaultProxy("127.0.0.1", echo.port)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
def clients(proxy: FaultProxy) -> Iterator[Clients]:
    dialled = Clients(proxy)
    yield dialled
    dialled.close()


async def round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: bytes) -> bytes:
    # No drain before reading: a payload larger than every buffer on the way would deadlock.
    writer.write(message)
    echoed = await asyncio.wait_for(reader.readexactly(len(message)), GUARD)
    await writer.drain()
    return echoed


async def nothing_arrives(reader: asyncio.StreamReader) -> bool:
    try:
        await asyncio.wait_for(reader.read(1), NOTHING_ARRIVES)
    except TimeoutError:
        return True
    return False


async def hung_up(reader: asyncio.StreamReader) -> bool:
    # A FIN, or a reset when the kernel still held bytes the proxy had not read when it closed.
    try:
        return await asyncio.wait_for(reader.read(1), GUARD) == b""
    except ConnectionResetError:
        return True


async def test_bytes_pass_through_both_ways(proxy: FaultProxy, echo: EchoServer, clients: Clients) -> None:
    reader, writer = await clients.dial()
    payload = bytes(range(256)) * 4096  # a mebibyte: many reads of one chunk each

    assert await round_trip(reader, writer, payload) == payload
    assert echo.received == payload
    assert (proxy.connections, proxy.accepted) == (1, 1)


async def test_cut_resets_the_client_closes_the_upstream_and_lets_new_ones_in(
    proxy: FaultProxy, echo: EchoServer, clients: Clients
) -> None:
    reader, writer = await clients.dial()
    await round_trip(reader, writer, b"before")

    await proxy.cut()

    assert proxy.connections == 0
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), GUARD)
    await asyncio.wait_for(echo.ended.get(), GUARD)  # the server's side of the pair ended too
    assert await round_trip(*await clients.dial(), b"after") == b"after"
    assert (proxy.connections, proxy.accepted) == (1, 2)


async def test_refuse_turns_new_connects_away_and_restore_listens_on_the_same_port(
    proxy: FaultProxy, clients: Clients
) -> None:
    reader, writer = await clients.dial()
    await round_trip(reader, writer, b"before")
    port = proxy.port

    await proxy.refuse()

    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    assert await round_trip(reader, writer, b"still open") == b"still open"

    await proxy.restore()

    assert proxy.port == port
    assert await round_trip(*await clients.dial(), b"back") == b"back"
    assert proxy.connections == 2


async def test_stall_delivers_nothing_and_restore_cuts_what_was_stalled(
    proxy: FaultProxy, echo: EchoServer, clients: Clients
) -> None:
    reader, writer = await clients.dial()
    await round_trip(reader, writer, b"before")

    await proxy.stall()
    writer.write(b"held back")
    late_reader, late_writer = await clients.dial()
    late_writer.write(b"never sent")

    assert all(await asyncio.gather(nothing_arrives(reader), nothing_arrives(late_reader)))
    assert proxy.connections == 2  # the late one was let in, just never forwarded
    assert echo.received == b"before"

    await proxy.restore()

    for stalled in (reader, late_reader):
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(stalled.read(1), GUARD)
    assert await round_trip(*await clients.dial(), b"after") == b"after"
    assert echo.received == b"beforeafter"  # what was held back was dropped, not delivered late
    assert echo.accepted == 2  # the connection made while stalled never reached the server


async def test_stop_closes_every_connection_and_leaves_no_task_behind(echo: EchoServer) -> None:
    proxy = FaultProxy("127.0.0.1", echo.port)
    await proxy.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    await round_trip(reader, writer, b"before")
    await proxy.stall()
    writer.write(b"held back")

    await proxy.stop()

    assert await hung_up(reader)
    assert proxy.connections == 0
    assert [task for task in asyncio.all_tasks() if task.get_name().startswith("fault-proxy")] == []
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.close()


async def test_an_upstream_that_refuses_closes_the_client() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = int(unused.getsockname()[1])
    proxy = FaultProxy("127.0.0.1", closed_port)
    await proxy.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)

    assert await asyncio.wait_for(reader.read(1), GUARD) == b""
    assert (proxy.connections, proxy.accepted) == (0, 1)
    writer.close()
    await proxy.stop()


def test_url_for_points_the_url_at_the_proxy_and_keeps_the_rest() -> None:
    proxy = FaultProxy("db.internal", 5432, port=6543)
    url = "postgresql+asyncpg://app:s3cret@db.internal:5432/students?ssl=require"

    assert proxy.url_for(url) == "postgresql+asyncpg://app:s3cret@127.0.0.1:6543/students?ssl=require"


class _BlockingEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(CHUNK):
                self.request.sendall(data)
        except ConnectionError:
            pass


@pytest.fixture
def blocking_echo_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _BlockingEcho)
    server.daemon_threads = True
    # A short poll so shutdown() returns at once rather than after the default half second.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()
    thread.join()


def echoes(port: int, message: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=GUARD) as client:
        client.sendall(message)
        return client.recv(len(message), socket.MSG_WAITALL)


def test_threaded_proxy_passes_bytes_and_cuts_from_sync_code(blocking_echo_port: int) -> None:
    with ThreadedFaultProxy("127.0.0.1", blocking_echo_port) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=GUARD) as client:
            client.sendall(b"ping")
            assert client.recv(4, socket.MSG_WAITALL) == b"ping"
            assert proxy.connections == 1

            proxy.cut()

            assert proxy.connections == 0
            with pytest.raises(ConnectionResetError):
                client.recv(1)
        assert echoes(proxy.port, b"after") == b"after"
        assert proxy.accepted == 2


def test_threaded_proxy_refuses_stalls_and_restores_from_sync_code(blocking_echo_port: int) -> None:
    with ThreadedFaultProxy("127.0.0.1", blocking_echo_port) as proxy:
        port = proxy.port
        proxy.refuse()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=GUARD)
        proxy.restore()
        assert echoes(port, b"back") == b"back"

        proxy.stall()
        with socket.create_connection(("127.0.0.1", port), timeout=NOTHING_ARRIVES) as client:
            client.sendall(b"held back")
            with pytest.raises(TimeoutError):
                client.recv(1)
        proxy.restore()
        assert echoes(port, b"after") == b"after"
        assert proxy.port == port
