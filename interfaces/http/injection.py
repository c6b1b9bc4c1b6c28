"""The container's providers as route parameters, resolved by the container of the app serving.

A route names the provider: ``Annotated[GetStudent, uses(Container.get_student)]`` (see
requests.py). :func:`bind_providers` looks every such name up in the app's own container when
the app is built, and refuses to build it if one is missing, so a route that depends on something
the container cannot provide fails at start-up, and in ``make test``, never at request time. Each
app holds its own providers, so two apps in one process (tests, say) never serve each other's:
there is no module-level wiring.
"""

from __future__ import annotations

from typing import Any

from dependency_injector import providers
from fastapi import FastAPI, Request

from interfaces.container import Container
from interfaces.http.operations import operations

_PROVIDERS = "providers"


class StartupError(Exception):
    """The app cannot be built as declared; the message names what is missing."""


def _name_of(provider: providers.Provider[Any]) -> str:
    for name, candidate in Container.cls_providers.items():
        if candidate is provider:
            return name
    raise StartupError(f"{provider!r} is not a provider of {Container.__name__}")


class Provided:
    """A route dependency: what the named provider gives (a new use-case per request, say)."""

    # Never a client's mistake: may be called by the route directly (handlers.py folds it).
    cannot_refuse = True

    def __init__(self, provider: providers.Provider[Any]) -> None:
        self.provider_name = _name_of(provider)
        # What a use-case says it can end with: the route's documented refusals come from it. None
        # for anything else the container provides (a probe, the process's lifecycle).
        provided = getattr(provider, "provides", None)
        raises = getattr(provided, "raises", None)
        if raises is None and getattr(provided, "__module__", "").startswith("application.use_cases."):
            raise StartupError(
                f"{getattr(provided, '__qualname__', provided)} declares no `raises`: say what it "
                "can end with, () for nothing but an outage, so that its operation documents it"
            )
        self.raises: tuple[type[Exception], ...] | None = tuple(raises) if raises is not None else None

    async def __call__(self, request: Request) -> Any:
        return request.app.state.providers[self.provider_name]()

    def __repr__(self) -> str:
        return f"Container.{self.provider_name}"


def bind_providers(app: FastAPI, container: Container) -> None:
    """Give the app the container's provider of everything its routes name, or refuse to start."""
    bound: dict[str, Any] = {}
    for operation in operations(app.routes):
        for provided in operation.provided():
            provider = container.providers.get(provided.provider_name)
            if provider is None:
                methods = ",".join(sorted(operation.methods or ()))
                raise StartupError(
                    f"{methods} {operation.path_format} needs {provided!r}, "
                    "which the container does not provide"
                )
            bound[provided.provider_name] = provider
    setattr(app.state, _PROVIDERS, bound)
