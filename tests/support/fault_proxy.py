"""A TCP proxy between a test and a real database server that breaks the network on demand.

Tests dial the proxy instead of the database, then `cut()`, `refuse()` or `stall()` it to see how
the code under test behaves when the network fails, without touching the shared database servers.
`FaultProxy` runs in the test's own event loop; `ThreadedFaultProxy` runs one in a daemon thread
for synchronous tests whose client lives in another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

CHUNK = 64 * 1024
# Linger on, zero seconds: close() then sends RST instead of FIN, as a failover or idle reaper does.
RESET_ON_CLOSE = struct.pack("ii", 1, 0)

T = TypeVar("T")


@dataclass(eq=False)
class _Link:
    """One client connection and, once dialled, its connection to the upstream server."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    reset: bool = False
    relay: asyncio.Task[None] = field(init=False)


class FaultProxy:
    """Forwards TCP connections to ``upstream_host:upstream_port`` until told to misbehave.

    While stalled, bytes read from either side are held back, never forwarded, and connections
    accepted meanwhile never dial the upstream at all. `restore()` cuts every stalled connection
    rather than deliver what was held back, so a client never sees half of a protocol exchange.
    """

    def __init__(
        self, upstream_host: str, upstream_port: int, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._accepted = 0
        self._flowing = asyncio.Event()
        self._flowing.set()

    @property
    def port(self) -> int:
        """The port clients dial: the bound one once started, the same one across `refuse()`."""
        return self._port

    @property
    def connections(self) -> int:
        """Client connections open through the proxy now, stalled ones included."""
        return len(self._links)

    @property
    def accepted(self) -> int:
        """Client connections accepted since the proxy was made."""
        return self._accepted

    async def start(self) -> None:
        """Listen; with ``port=0`` the system picks the port, which `port` then tells."""
        # reuse_address lets restore() bind the port again while old connections sit in TIME_WAIT.
        self._server = await asyncio.start_server(self._accept, self.host, self._port, reuse_address=True)
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Close the listener and every connection, and wait until all of them are gone."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        await self._close_links(reset=False)
        self._flowing.set()
        if server is not None:
            await server.wait_closed()

    async def cut(self) -> None:
        """Drop every open connection: the client gets a reset, the upstream an ordinary close."""
        await self._close_links(reset=True)

    async def refuse(self) -> None:
        """Close the listening socket so new connects are refused; open connections keep working."""
        server, self._server = self._server, None
        if server is not None:
            # Not wait_closed(): from Python 3.12 it also waits for every open connection to end.
            server.close()

    async def stall(self) -> None:
        """Black-hole the network: connections stay open but no byte goes through either way."""
        self._flowing.clear()

    async def restore(self) -> None:
        """Listen again on the same port and forward again; connections that were stalled are cut."""
        if not self._flowing.is_set():
            # Cut before letting bytes flow, or a held-back chunk would slip out on its way to the reset.
            await self._close_links(reset=True)
            self._flowing.set()
        if self._server is None:
            await self.start()

    def url_for(self, database_url: str) -> str:
        """``database_url`` pointed at the proxy instead of the database server."""
        url = make_url(database_url).set(host=self.host, port=self.port)
        return url.render_as_string(hide_password=False)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._accepted += 1
        link = _Link(writer)
        link.relay = asyncio.create_task(
            self._relay(link, reader), name=f"fault-proxy relay {self._accepted}"
        )
        self._links.add(link)

    async def _relay(self, link: _Link, client_reader: asyncio.StreamReader) -> None:
        pumps: list[asyncio.Task[None]] = []
        try:
            await self._flowing.wait()
            upstream_reader, link.upstream = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
            pumps = [
                asyncio.create_task(self._pump(client_reader, link.upstream), name="fault-proxy pump up"),
                asyncio.create_task(self._pump(upstream_reader, link.client), name="fault-proxy pump down"),
            ]
            # Whichever side closes first ends the pair.
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        except OSError:
            pass  # The upstream refused us: the client sees its connection closed.
        finally:
            # Everything that closes happens before the first await, so a second cancel cannot skip it.
            for pump in pumps:
                pump.cancel()
            writers = [_close(link.client, reset=link.reset)]
            if link.upstream is not None:
                writers.append(_close(link.upstream, reset=False))
            self._links.discard(link)
            await asyncio.gather(
                *pumps, *(_wait_closed(writer) for writer in writers), return_exceptions=True
            )

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(CHUNK)
            # Held here while stalled, end of stream included: a black hole does not pass on a close.
            await self._flowing.wait()
            if not data:
                return
            writer.write(data)
            await writer.drain()

    async def _close_links(self, *, reset: bool) -> None:
        links = list(self._links)
        for link in links:
            link.reset = reset
            link.relay.cancel()
        await asyncio.gather(*(link.relay for link in links), return_exceptions=True)


def _close(writer: asyncio.StreamWriter, *, reset: bool) -> asyncio.StreamWriter:
    if reset:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
        writer.transport.abort()
    elif writer.transport.get_write_buffer_size():
        # A peer that stopped reading would keep a graceful close waiting forever.
        writer.transport.abort()
    else:
        writer.close()
    return writer


async def _wait_closed(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):  # the peer reset first; the socket is closed all the same
        await writer.wait_closed()


class ThreadedFaultProxy:
    """A `FaultProxy` on its own event loop in a daemon thread, driven from synchronous code.

    Each operation waits at most ten seconds for the proxy's loop to carry it out.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._proxy = FaultProxy(upstream_host, upstream_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)

    def __enter__(self) -> ThreadedFaultProxy:
        self._thread.start()
        try:
            self._call(self._proxy.start())
        except BaseException:
            self._shut_down()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._call(self._proxy.stop())
        finally:
            self._shut_down()

    # The counters are plain ints and a set's length, safe to read from another thread.
    @property
    def port(self) -> int:
        """The port clients dial."""
        return self._proxy.port

    @property
    def connections(self) -> int:
        """Client connections open through the proxy now."""
        return self._proxy.connections

    @property
    def accepted(self) -> int:
        """Client connections accepted in total."""
        return self._proxy.accepted

    def cut(self) -> None:
        """See `FaultProxy.cut`."""
        self._call(self._proxy.cut())

    def refuse(self) -> None:
        """See `FaultProxy.refuse`."""
        self._call(self._proxy.refuse())

    def stall(self) -> None:
        """See `FaultProxy.stall`."""
        self._call(self._proxy.stall())

    def restore(self) -> None:
        """See `FaultProxy.restore`."""
        self._call(self._proxy.restore())

    def url_for(self, database_url: str) -> str:
        """See `FaultProxy.url_for`."""
        return self._proxy.url_for(database_url)

    def _call(self, operation: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(operation, self._loop).result(timeout=10)

    def _shut_down(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()
