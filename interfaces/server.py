"""Serving the app with uvicorn: one process, or a supervisor and N workers, stopping gracefully.

On SIGTERM, what an orchestrator sends, each server process

1. drains: ``/readyz`` answers 503 at once and every answer carries ``Connection: close``,
   while requests are still served for SHUTDOWN_DRAIN seconds, so that a balancer polling
   ``/readyz`` stops sending before anything is refused;
2. stops accepting connections: the listener refuses new ones, takes in those the kernel had
   queued (each of which may have sent a request already) and then closes, with the idle ones
   (interfaces/listener.py);
3. finishes every request it has received, for up to SHUTDOWN_TIMEOUT seconds, after which any
   still running is answered 503 (interfaces/http/draining.py);
4. runs the app's shutdown, which disposes the database engine, and exits with status 0.

SIGINT (Ctrl+C) skips the drain: nobody balances a terminal. A signal during the drain ends it;
one during step 3 stops waiting. With ``--workers N`` a supervisor holds the listening socket,
starts N worker processes, replaces any that dies, passes each signal on, and exits 0 once
every worker has stopped cleanly. A worker whose supervisor disappears stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

import uvicorn
from dependency_injector import providers
from uvicorn.config import STARTUP_FAILURE

from infrastructure.settings import Settings
from interfaces.lifecycle import Lifecycle
from interfaces.listener import queued_connections, refuse_new_connections

logger = logging.getLogger("students.server")

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# What a supervisor tells its workers: SIGUSR1 is "stop as SIGTERM would" (drain first), SIGUSR2
# "stop as SIGINT would" (no drain, or: end the drain, stop waiting). Workers ignore SIGTERM and
# SIGINT themselves, since systemd and a terminal send those to every process of the group too,
# and a worker that got its supervisor's copy as well would take it for a second signal.
_DRAIN_THEN_STOP, _STOP_NOW = signal.SIGUSR1, signal.SIGUSR2
_AS_WORKER: dict[int, int] = {signal.SIGTERM: _DRAIN_THEN_STOP, signal.SIGINT: _STOP_NOW}
# Time a supervisor gives its workers beyond their own drain and timeout before it kills them.
_GRACE = 5.0
# A worker that dies is replaced, but not more often than this, so a crash loop cannot spin.
_RESTART_INTERVAL = 1.0
# At the stop, how long the listener's queue is given to be accepted, and a connection accepted
# at the end to send its request (its bytes may be on the way, or read on the loop's next turn).
_QUEUE_WITHIN = 1.0
_FIRST_REQUEST_WITHIN = 0.25


@dataclass(frozen=True)
class ServeOptions:
    """Everything a worker process needs; sent to it whole (it must pickle)."""

    settings: Settings
    host: str
    port: int
    workers: int
    log_config: dict[str, Any]

    @property
    def stop_within(self) -> float:
        return self.settings.shutdown_drain + self.settings.shutdown_timeout + _GRACE


class GracefulServer(uvicorn.Server):
    """uvicorn's server, with the drain before the stop, and exit status 0 after a clean stop."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, drain: float) -> None:
        super().__init__(config)
        self._lifecycle = lifecycle
        self._drain = drain
        self._drain_ends: float | None = None
        self._announced = False
        self._parent = os.getppid()
        self._supervised = False

    def supervised(self, serving: Any) -> GracefulServer:
        """Run under a supervisor, and set ``serving`` (a multiprocessing Event) once started."""
        self._supervised = True
        self._serving = serving
        return self

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self._supervised and self.started:
            self._serving.set()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler: it only sets flags; on_tick acts on them.
        if self.should_exit:
            self.force_exit = True
        elif self._drain_ends is None and sig in (signal.SIGTERM, _DRAIN_THEN_STOP) and self._drain > 0:
            self._lifecycle.begin_draining()
            self._drain_ends = time.monotonic() + self._drain
        else:
            self._lifecycle.begin_draining()
            self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if not self.force_exit:
            await self._take_in_the_queue()
        await super().shutdown(sockets)

    async def _take_in_the_queue(self) -> None:
        """Before the listeners close: refuse new connections, accept the queued ones, and give
        those their first request's time, so that closing resets no client that sent a request
        (interfaces/listener.py). uvicorn's shutdown then closes only connections with none."""
        listeners = [sock for server in self.servers for sock in server.sockets]
        if not all([refuse_new_connections(sock) for sock in listeners]):
            return
        # The event loop accepts them meanwhile, each with its first bytes read on a later turn.
        await _poll(lambda: not any(queued_connections(sock) for sock in listeners), _QUEUE_WITHIN, 0.001)
        connections = self.server_state.connections
        await _poll(
            lambda: all(getattr(connection, "cycle", None) is not None for connection in connections),
            _FIRST_REQUEST_WITHIN,
            0.005,
        )

    async def on_tick(self, counter: int) -> bool:
        if self._drain_ends is not None and not self.should_exit:
            if not self._announced:
                self._announced = True
                logger.info("draining for %g s: /readyz answers 503, requests are still served", self._drain)
            if time.monotonic() >= self._drain_ends:
                self.should_exit = True
        if self._supervised and counter % 10 == 0 and os.getppid() != self._parent:
            logger.warning("the supervisor has gone; stopping")
            self._lifecycle.begin_draining()
            self.should_exit = True
        return await super().on_tick(counter)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn's own version raises the signal again once it has stopped, so that the process
        # ends "killed by SIGTERM" (status 143). A graceful stop is a success here: status 0.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        if self._supervised:
            handled = (_DRAIN_THEN_STOP, _STOP_NOW)
            previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _STOP_SIGNALS}
        else:
            handled = _STOP_SIGNALS
            previous = {}
        previous |= {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


async def _poll(done: Callable[[], bool], within: float, every: float) -> None:
    """Until ``done()``, for at most ``within`` seconds: for what no event tells (the kernel's state)."""
    for _ in range(round(within / every)):
        if done():
            return
        await asyncio.sleep(every)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a port in use is one clear error (OSError)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if host not in ("", "0.0.0.0", "::"):
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def run_worker(
    options: ServeOptions,
    sockets: list[socket.socket],
    serving: Any = None,
    *,
    supervised: bool = False,
) -> None:
    """One server process: the app, built here, served on ``sockets`` until a signal stops it.

    ``supervised``: started by a supervisor, which holds the listening socket and passes an Event
    (``serving``) to set once this process serves.
    """
    from interfaces.container import Container
    from interfaces.http.app import create_app

    logging.captureWarnings(True)  # a library's warning is a log line like any other
    if supervised:
        # Its own process group: a Ctrl+C in the terminal reaches the supervisor alone, which
        # passes it on once, instead of every worker getting it twice.
        os.setpgrp()
    settings = options.settings
    container = Container()
    container.settings.override(providers.Object(settings))
    app = create_app(container, served_host=options.host)
    forwarded = list(settings.forwarded_allow_ips)
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        # Applied by uvicorn in every worker process, so all of them log the same way.
        log_config=options.log_config,
        # The access log comes from our own middleware; uvicorn's would be a second copy.
        access_log=False,
        proxy_headers=bool(forwarded),
        forwarded_allow_ips=forwarded or None,
        server_header=False,
        # uvicorn declares an int, and waits with asyncio.wait_for, which takes any number.
        timeout_graceful_shutdown=settings.shutdown_timeout,  # type: ignore[arg-type]
    )
    server = GracefulServer(config, container.lifecycle(), settings.shutdown_drain)
    if supervised:
        server.supervised(serving)
    server.run(sockets=sockets)
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def serve(options: ServeOptions, listener: socket.socket) -> int:
    """Serve on ``listener`` until stopped; the exit status: 0 after a clean stop."""
    shown = f"[{options.host}]" if ":" in options.host else options.host
    logger.info("listening on http://%s:%d", shown, listener.getsockname()[1])
    if options.workers == 1:
        run_worker(options, [listener])
        return 0
    return Supervisor(options, listener).run()


class Supervisor:
    """Starts the workers, keeps their number up, and stops them all when told to."""

    def __init__(self, options: ServeOptions, listener: socket.socket) -> None:
        self._options = options
        self._listener = listener
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[Any] = []
        # Set by each worker once it serves. One stopped before that dropped nothing, whatever
        # its exit status (a signal that came while it was still importing ends it at once).
        self._serving: dict[Any, Any] = {}
        self._signals: list[int] = []

    def _start(self) -> Any:
        serving = self._context.Event()
        worker = self._context.Process(
            target=run_worker,
            args=(self._options, [self._listener], serving),
            kwargs={"supervised": True},
            name="students-worker",
        )
        worker.start()
        self._serving[worker] = serving
        logger.info("started worker process [%d]", worker.pid)
        return worker

    def _stopped_cleanly(self, worker: Any) -> bool:
        return bool(worker.exitcode == 0 or not self._serving[worker].is_set())

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in _STOP_SIGNALS}
        try:
            logger.info("supervisor process [%d] starting %d workers", os.getpid(), self._options.workers)
            self._workers = [self._start() for _ in range(self._options.workers)]
            if not self._keep_up():
                return 1
            return self._stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        # Passed on at once, from the handler: /readyz should turn 503 without waiting for a poll.
        first = not self._signals
        self._signals.append(sig)
        self._signal_all(_AS_WORKER[sig] if first else _STOP_NOW)

    def _keep_up(self) -> bool:
        """Replace workers that die until a signal comes; False if one could not even start."""
        last_restart = 0.0
        while not self._signals:
            time.sleep(0.2)
            for index, worker in enumerate(self._workers):
                if worker.exitcode is None or self._signals:
                    continue
                if worker.exitcode == STARTUP_FAILURE:
                    logger.error("worker process [%d] failed to start; stopping", worker.pid)
                    self._signal_all(_STOP_NOW)
                    self._wait(self._options.stop_within)
                    return False
                wait = last_restart + _RESTART_INTERVAL - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                logger.warning(
                    "worker process [%d] died (exit status %s); starting another", worker.pid, worker.exitcode
                )
                last_restart = time.monotonic()
                self._workers[index] = self._start()
        return True

    def _stop(self) -> int:
        first = self._signals[0]
        logger.info("received %s: stopping %d workers", signal.Signals(first).name, len(self._workers))
        # The workers hold copies of the listening socket; once they have closed theirs, this one
        # must not keep the port open, or new connections would wait in its queue and be reset.
        self._listener.close()
        deadline = time.monotonic() + self._options.stop_within
        while not self._wait(min(0.2, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                for worker in self._workers:
                    if worker.exitcode is None:
                        logger.error("worker process [%d] did not stop in time; killing it", worker.pid)
                        worker.kill()
                self._wait(5)
                break
        statuses = [worker.exitcode for worker in self._workers]
        logger.info("workers stopped (exit statuses %s)", statuses)
        return 0 if all(self._stopped_cleanly(worker) for worker in self._workers) else 1

    def _signal_all(self, sig: int) -> None:
        for worker in self._workers:
            if worker.exitcode is None and worker.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, sig)

    def _wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for every worker to exit; whether they all have."""
        deadline = time.monotonic() + seconds
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        return all(worker.exitcode is not None for worker in self._workers)
