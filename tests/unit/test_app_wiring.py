"""How the HTTP app is put together: things that cost every request if they go wrong."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
from dependency_injector import providers
from fastapi import APIRouter
from fastapi.routing import APIRoute

import interfaces.http
from interfaces.container import Container
from interfaces.http.app import RESOURCES, create_app
from interfaces.http.injection import StartupError
from interfaces.http.operations import Operation
from interfaces.http.problems import UnmappedError, statuses_of
from interfaces.http.requests import uses
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
            f"{route.path} {sorted(route.methods or ())}: {call!r}"
            for route in _api_routes(app.router.routes)
            for call in _calls(route.dependant)
            if not (inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__))
        }
    finally:
        container.unwire()
    assert sync == set()


def _router_modules() -> Iterator[tuple[str, Any]]:
    for module in pkgutil.iter_modules(interfaces.http.__path__):
        imported = importlib.import_module(f"interfaces.http.{module.name}")
        if isinstance(getattr(imported, "router", None), APIRouter):
            yield module.name, imported


def test_every_router_module_is_a_resource_of_the_app() -> None:
    # A router left out of RESOURCES is a resource nobody can reach.
    missing = [f"interfaces/http/{name}.py" for name, module in _router_modules() if module not in RESOURCES]
    assert missing == [], f"{missing} define a router that RESOURCES in interfaces/http/app.py does not list"


def test_every_route_is_an_operation_whose_refusals_are_derived() -> None:
    plain = [
        f"{sorted(route.methods or ())} {route.path}"
        for resource in RESOURCES
        for route in resource.router.routes
        if isinstance(route, APIRoute) and not isinstance(route, Operation)
    ]
    assert plain == [], "give these routers route_class=Operation (interfaces/http/operations.py)"


def test_the_app_refuses_to_start_when_the_container_lacks_what_a_route_uses() -> None:
    container = Container()
    container.settings.override(providers.Object(settings_for_tests()))
    delattr(container, "update_student")
    with pytest.raises(StartupError, match=r"PATCH /students/\{student_id\} needs Container.update_student"):
        create_app(container)


def test_a_route_cannot_name_something_that_is_not_a_provider_of_the_container() -> None:
    with pytest.raises(StartupError, match="is not a provider of Container"):
        uses(providers.Factory(object))


def test_a_use_case_error_without_a_problem_row_stops_the_route_from_being_built() -> None:
    # Found by attack: a new error in a use-case's raises was documented and answered as 500.
    class AlreadyThere(Exception):
        pass

    class Moving:
        raises = (AlreadyThere,)

        async def execute(self) -> None: ...

    with pytest.raises(UnmappedError, match=r"AlreadyThere has no row in _DOMAIN_STATUS"):
        statuses_of(Moving.raises)


def test_a_use_case_that_declares_no_raises_cannot_be_used_by_a_route() -> None:
    # Found by attack: without `raises`, the operation's 503 went undocumented and nothing said so.
    from application.use_cases import get_student

    class Silent:
        async def execute(self) -> None: ...

    Silent.__module__ = get_student.__name__
    Container.silent = providers.Factory(Silent)  # type: ignore[attr-defined]  # as if declared
    try:
        with pytest.raises(StartupError, match="Silent declares no `raises`"):
            uses(Container.cls_providers["silent"])
    finally:
        delattr(Container, "silent")
