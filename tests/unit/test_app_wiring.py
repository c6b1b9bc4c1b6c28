"""How the HTTP app is put together: things that cost every request if they go wrong."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from dependency_injector import providers
from fastapi.routing import APIRoute

from interfaces.container import Container
from interfaces.http.app import create_app
from tests.support.auth import settings_for_tests


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)
        elif isinstance(route, APIRoute):
            yield route


def _calls(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def test_no_dependency_runs_in_a_worker_thread() -> None:
    # FastAPI runs a synchronous dependency in a thread pool: a thread hop on every request.
    container = Container()
    container.settings.override(providers.Object(settings_for_tests()))
    try:
        app = create_app(container)
        sync = {
            f"{route.path} {sorted(route.methods)}: {call!r}"
            for route in _api_routes(app.router.routes)
            for call in _calls(route.dependant)
            if not (inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__))
        }
    finally:
        container.unwire()
    assert sync == set()
