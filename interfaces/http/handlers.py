"""How a route is handled: FastAPI's own handler, or a direct path that does its work without
FastAPI's per-request set-up, with FastAPI's own validation functions and the same answers.

Every route of the API is an Operation (operations.py), whose handler comes from here:

- dependencies that take only the request are *folded*: called by the handler itself, not solved
  by FastAPI (each solve costs some 70 k instructions a request);
- where all a route takes is its path, a query model of plain fields, or one JSON body (beside
  the request and those dependencies), it gets a direct path: ``_direct``, ``_direct_with_query``
  or ``_direct_with_body``; anything else keeps FastAPI's handler (``_exact``);
- every JSON body is read by ``_ExactJsonRequest``: UTF-8 only, numbers with a fraction as
  Decimal, bounded.

tests/e2e/test_direct_handlers.py holds every direct path to FastAPI's own answers.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import json
import types
import typing
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_body_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, Json
from pydantic_core import PydanticUndefined as Undefined
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.responses import Response

from interfaces.strict_json import NotAJsonNumber, refuse_constant

F = TypeVar("F", bound=Callable[..., Any])

# Bodies that are members of a JSON object at most this many times: no body of this API has more.
MAX_MEMBERS = 100


class _TooManyMembers(ValueError):
    pass


def _bounded_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len(pairs) > MAX_MEMBERS:
        raise _TooManyMembers(f"an object has more than {MAX_MEMBERS} members")
    return dict(pairs)


def _unreadable(text: str, reason: str) -> json.JSONDecodeError:
    return json.JSONDecodeError(f"cannot be read: {reason}", text, 0)


class _ExactJsonRequest(Request):
    """A request whose JSON body is read exactly: UTF-8 only, numbers with a fraction as Decimal.

    FastAPI reads a body with ``json.loads``, which would round 8.749999999999999999 to the float
    8.75 before a validator sees it, and takes UTF-16 and UTF-32 too (RFC 8259 allows only UTF-8).
    A body that cannot be read so (not UTF-8, a number of thousands of digits or with an exponent
    no Decimal holds, nesting thousands deep, an object of more than MAX_MEMBERS members) is
    malformed JSON, 422, rather than FastAPI's undocumented 400 or a second spent describing it.
    """

    _json_error: json.JSONDecodeError

    async def json(self) -> Any:
        if hasattr(self, "_json_error"):
            raise self._json_error  # read once: a malformed body is not decoded again
        if not hasattr(self, "_json"):
            try:
                self._json = await self._decoded()
            except json.JSONDecodeError as exc:
                self._json_error = exc
                raise
        return self._json

    async def _decoded(self) -> Any:
        body = await self.body()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _unreadable(body.decode("utf-8", errors="replace"), "not UTF-8") from None
        try:
            return json.loads(
                text, parse_float=Decimal, parse_constant=refuse_constant, object_pairs_hook=_bounded_object
            )
        except json.JSONDecodeError:
            raise
        except NotAJsonNumber as exc:
            raise _unreadable(text, str(exc)) from None
        except _TooManyMembers as exc:
            raise json.JSONDecodeError(str(exc), text, 0) from None
        except RecursionError:
            raise _unreadable(text, "nested too deep") from None
        except ArithmeticError:  # decimal's InvalidOperation: an exponent no Decimal holds
            raise _unreadable(text, "a number is out of range") from None
        except ValueError as exc:  # an integer of thousands of digits
            raise _unreadable(text, type(exc).__name__) from None


# Where the values of the folded dependencies wait for the endpoint, in the request's scope.
_FOLDED = "students.folded"
_FOLDED_REQUEST = "_students_request"


def cannot_refuse(call: F) -> F:
    """Mark a request-only dependency that never raises for a client's mistake (a provider, the
    caller the middleware verified): it may be folded even where a body is read (see below)."""
    call.__dict__["cannot_refuse"] = True
    return call


def _is_coroutine(call: Any) -> bool:
    """A coroutine function, or an object whose ``__call__`` is one (a generator or a plain
    function would need FastAPI's handling: an exit stack, a thread)."""
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__)


def _takes_only_the_request(sub: Dependant) -> bool:
    return (
        sub.request_param_name is not None
        and sub.name is not None
        and _is_coroutine(sub.call)
        and not (sub.dependencies or sub.path_params or sub.query_params or sub.header_params)
        and not (sub.cookie_params or sub.body_params or sub.security_scopes_param_name)
        and not (sub.response_param_name or sub.background_tasks_param_name)
        and not (sub.websocket_param_name or sub.http_connection_param_name)
    )


def _foldable(dependant: Dependant, *, has_body: bool) -> list[Dependant]:
    """The endpoint's dependencies that take only the request and can be called directly.

    Each costs FastAPI a solve of its own on every request (some 70 k instructions). FastAPI
    runs sub-dependencies before it validates parameters, and reads a body before both: without
    a body, calling them all first keeps that order, so what a client is refused with does not
    change; with a body, only those that cannot refuse are folded. ``app.dependency_overrides``
    does not reach a folded dependency, nor one a direct path calls (the container is where
    tests replace things).
    """
    subs = [sub for sub in dependant.dependencies if _takes_only_the_request(sub)]
    if has_body:
        return [sub for sub in subs if getattr(sub.call, "cannot_refuse", False)]
    return subs if len(subs) == len(dependant.dependencies) else []


def _nothing_a_direct_path_lacks(dependant: Dependant) -> bool:
    """Whether the endpoint takes none of what only FastAPI's handler gives: headers, cookies,
    the response, background tasks, security scopes, the connection or a websocket."""
    return not (
        dependant.header_params
        or dependant.cookie_params
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or dependant.http_connection_param_name
        or dependant.websocket_param_name
    )


def _only_path_parameters(dependant: Dependant, folded: list[Dependant]) -> bool:
    """Whether, its folded dependencies aside, the endpoint takes only path parameters."""
    return (
        len(folded) == len(dependant.dependencies)
        and dependant.request_param_name is None
        and not (dependant.query_params or dependant.body_params)
        and _nothing_a_direct_path_lacks(dependant)
    )


def _one_value(annotation: Any) -> bool:
    """Whether a query field of this type takes one value, never a list: no type in it is a
    collection, a string aside (FastAPI reads a field of a sequence type from every repeat)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _one_value(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return all(_one_value(arg) for arg in typing.get_args(annotation))
    if origin is not None or not isinstance(annotation, type):
        return False  # list[str], Literal[...], a forward reference: left to FastAPI
    return issubclass(annotation, (str, bytes)) or not issubclass(annotation, collections.abc.Collection)


def _path_reader(fields: list[Any]) -> Callable[[dict[str, Any]], tuple[dict[str, Any], list[Any]]]:
    """What ``request_params_to_args`` does with path parameters, its per-request look-ups done
    once: each is there (the route matched), one value (FastAPI allows no other), validated by
    its field at ("path", its name); the values, and the errors of all of them."""
    plan = [(field.name, field.alias, field, ("path", field.alias)) for field in fields]

    def read(received: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        values: dict[str, Any] = {}
        errors: list[Any] = []
        for name, alias, field, loc in plan:
            value, problems = field.validate(received[alias], values, loc=loc)
            if problems:
                errors.extend(problems)
            else:
                values[name] = value
        return values, errors

    return read


def _answers_a_response(dependant: Dependant) -> bool:
    endpoint = dependant.call
    assert endpoint is not None
    answer = typing.get_type_hints(endpoint).get("return")
    return isinstance(answer, type) and issubclass(answer, Response)


def _without(dependant: Dependant, folded: list[Dependant]) -> Dependant:
    """``dependant`` without ``folded``, whose endpoint gets their values from the request."""
    endpoint = dependant.call
    assert endpoint is not None
    request_name = dependant.request_param_name or _FOLDED_REQUEST
    keeps_request = dependant.request_param_name is not None

    async def call(**values: Any) -> Any:
        request = values[request_name] if keeps_request else values.pop(request_name)
        return await endpoint(**values, **request.scope[_FOLDED])

    return dataclasses.replace(
        dependant,
        dependencies=[sub for sub in dependant.dependencies if sub not in folded],
        call=call,
        request_param_name=request_name,
    )


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def route_handler(route: APIRoute, fastapi_handler: Callable[[], Handler]) -> Handler:
    """The handler of ``route``: FastAPI's own (``fastapi_handler`` builds it from
    ``route.dependant``) for what is left once the request-only dependencies are folded, or,
    where the route takes only what a direct path reads, that path."""
    full = route.dependant
    folded = _foldable(full, has_body=route.body_field is not None)
    if folded:
        # FastAPI solves only what is left; the folded ones are called directly (below).
        route.dependant = _without(full, folded)
    try:
        handler = fastapi_handler()
    finally:
        route.dependant = full
    calls = [(str(sub.name), sub.call) for sub in folded]  # named: _takes_only_the_request
    return _direct_handler(route, full, folded, calls, handler) or _exact(handler, calls)


def _direct_handler(
    route: APIRoute,
    full: Dependant,
    folded: list[Dependant],
    calls: list[tuple[str, Any]],
    handler: Handler,
) -> Handler | None:
    """The direct path for what the route takes, if there is one."""
    if (
        folded
        and _only_path_parameters(full, folded)
        and route.body_field is None
        and _answers_a_response(full)
    ):
        return _direct(full, calls)
    query = _query_model(route, full, folded)
    if query is not None:
        return _direct_with_query(full, calls, query)
    if _takes_one_json_body(route, full):
        later = [(str(sub.name), sub.call) for sub in full.dependencies if sub not in folded]
        return _direct_with_body(full, calls, later, handler)
    return None


def _exact(handler: Handler, calls: list[tuple[str, Any]]) -> Handler:
    """FastAPI's handler, given the folded dependencies' values and the exact JSON reading."""

    async def exact(request: Request) -> Response:
        request = _ExactJsonRequest(request.scope, request.receive)
        if calls:
            request.scope[_FOLDED] = {name: await call(request) for name, call in calls}
        return await handler(request)

    return exact


def _direct(dependant: Dependant, calls: list[tuple[str, Any]]) -> Handler:
    """The whole handler, where all a route takes is its path and folded dependencies: what
    FastAPI's handler would do for it (the dependencies, then the path parameters, refused
    together as its RequestValidationError), without its per-request set-up around them."""
    endpoint = dependant.call
    assert endpoint is not None
    read_path = _path_reader(dependant.path_params)

    async def direct(request: Request) -> Response:
        values = {name: await call(request) for name, call in calls}
        path_values, errors = read_path(request.path_params)
        if errors:
            raise RequestValidationError(errors)
        response: Response = await endpoint(**path_values, **values)
        return response

    return direct


def _query_model(route: APIRoute, dependant: Dependant, folded: list[Dependant]) -> tuple[str, ...] | None:
    """The field names of the query model the endpoint takes, where all it takes is that
    model, the request and folded dependencies, and the model's fields are plain (no alias,
    no list, no JSON): what ``_direct_with_query`` can read as FastAPI would. Else None."""
    if not (
        route.body_field is None
        and len(dependant.query_params) == 1
        and len(folded) == len(dependant.dependencies)
        and not (dependant.path_params or dependant.body_params)
        and _nothing_a_direct_path_lacks(dependant)
        and _answers_a_response(dependant)
    ):
        return None
    model = dependant.query_params[0].field_info.annotation
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    config = model.model_config
    if any(config.get(name) for name in ("validate_by_name", "populate_by_name")):
        return None
    if config.get("validate_by_alias") is False:
        return None
    for info in model.model_fields.values():
        if info.alias is not None or info.validation_alias is not None:
            return None
        if not _one_value(info.annotation) or any(type(m) is Json for m in info.metadata):
            return None
    return tuple(model.model_fields)


def _direct_with_query(dependant: Dependant, calls: list[tuple[str, Any]], names: tuple[str, ...]) -> Handler:
    """The whole handler of an endpoint that takes a query model of plain fields (see
    ``_query_model``), the request and folded dependencies: the model's fields, then every
    other parameter given (one value, or the list of them) for the model to refuse, validated
    by FastAPI's own field of the model, as FastAPI reads a query model; without the work
    FastAPI does again on every request (which of the fields are lists, their aliases: some
    500 k instructions of a page of 50). tests/e2e/test_direct_handlers.py holds the two to
    the same answers."""
    endpoint = dependant.call
    assert endpoint is not None
    field = dependant.query_params[0]
    request_name = dependant.request_param_name
    known = frozenset(names)
    loc = ("query",)

    async def direct(request: Request) -> Response:
        values = {name: await call(request) for name, call in calls}
        received = request.query_params
        given: dict[str, str | list[str]] = {name: received[name] for name in names if name in received}
        others: dict[str, list[str]] = {}
        for name, value in received.multi_items():
            if name not in known:
                others.setdefault(name, []).append(value)
        for name, found in others.items():
            given[name] = found[0] if len(found) == 1 else found
        query, errors = field.validate(given, {}, loc=loc)
        if errors:
            raise RequestValidationError(errors)
        values[field.name] = query
        if request_name is not None:
            values[request_name] = request
        response: Response = await endpoint(**values)
        return response

    return direct


def _takes_one_json_body(route: APIRoute, dependant: Dependant) -> bool:
    """Whether the endpoint takes path parameters, dependencies that take only the request
    (and the request itself) and one JSON body, not embedded, and answers a Response of its
    own (FastAPI would not render it)."""
    return (
        route.body_field is not None
        and not route._embed_body_fields
        and "media_types" not in route.endpoint.__dict__  # JSON, as by default (operations.py)
        and all(_takes_only_the_request(sub) for sub in dependant.dependencies)
        and not dependant.query_params
        and len(dependant.body_params) == 1
        and _nothing_a_direct_path_lacks(dependant)
        and _answers_a_response(dependant)
    )


def _direct_with_body(
    dependant: Dependant,
    calls: list[tuple[str, Any]],
    later: list[tuple[str, Any]],
    handler: Handler,
) -> Handler:
    """The whole handler of an endpoint that takes its path, one JSON body and dependencies
    that take only the request: what FastAPI's would do, without its per-request set-up (some
    200 k instructions of a PATCH). The folded dependencies (``calls``) come first, as they
    cannot refuse; FastAPI reads the body, then calls the others (``later``) in their order,
    then refuses the path parameters and the body together, and so does this. A body read
    whole that it has more to say of (none, or malformed) goes to FastAPI's own handler,
    which says it; tests/e2e/test_direct_handlers.py holds the two to the same answers."""
    endpoint = dependant.call
    assert endpoint is not None
    read_path, body_params = _path_reader(dependant.path_params), dependant.body_params
    request_name = dependant.request_param_name

    async def direct(request: Request) -> Response:
        request = _ExactJsonRequest(request.scope, request.receive)
        values = {name: await call(request) for name, call in calls}
        if MAX_BODY_SIZE_SCOPE_KEY in request.scope:
            # FastAPI's own body limit (max_body_size, unused here) is its handler's to judge.
            request.scope[_FOLDED] = values
            return await handler(request)
        try:
            received = await request.body()
        except HTTPException:
            raise
        except Exception as exc:
            # The client went away, or the size limit cut it off (limits.py, which answers
            # 413 instead): FastAPI's answer. Its handler cannot read a broken stream again.
            raise HTTPException(400, "There was an error parsing the body") from exc
        # JSON whatever the Content-Type names: _refusal has answered 415 to any other type.
        try:
            body = await request.json() if received else Undefined
        except json.JSONDecodeError:
            body = Undefined  # malformed (kept, with the body): FastAPI's handler refuses it
        if body is Undefined:
            request.scope[_FOLDED] = values
            return await handler(request)
        for name, call in later:
            values[name] = await call(request)
        if request_name is not None:
            values[request_name] = request
        path_values, errors = read_path(request.path_params)
        body_values, body_errors = await request_body_to_args(body_params, body, False)
        if errors or body_errors:
            raise RequestValidationError([*errors, *body_errors], body=body)
        response: Response = await endpoint(**path_values, **body_values, **values)
        return response

    return direct
