"""One generic endpoint: a REST request runs the GraphQL operation of its route-table entry."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sales_graph import errors
from sales_graph.rest import idempotency
from sales_graph.rest.shapes import JSONObject, RestInput, snake_details
from sales_graph.runtime import Runtime
from sales_graph.schema.context import Context
from sales_graph.web.envelope import JSONResponse


@dataclass(frozen=True)
class QueryParam:
    name: str
    schema: JSONObject
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class FollowUp:
    """A query run after the operation, in the same unit of work (e.g. the converted lead)."""

    document: str
    variables: Callable[[JSONObject], JSONObject]


@dataclass(frozen=True)
class RestRoute:
    method: str
    path: str
    operation_id: str
    summary: str
    document: str
    variables: Callable[[RestInput], JSONObject]
    shape: Callable[[JSONObject], Any]
    response: JSONObject
    status: int = 200
    body: JSONObject | None = None
    query: tuple[QueryParam, ...] = ()
    follow_up: FollowUp | None = None
    tags: tuple[str, ...] = field(default=())
    # The version of the answered object, sent as ``ETag``.
    etag: Callable[[JSONObject], int] | None = None
    # The variable an ``If-Match`` version goes to; a stale one is 412 PRECONDITION_FAILED.
    if_match: str | None = None


def _all_errors(cls: type[errors.SalesGraphError]) -> list[type[errors.SalesGraphError]]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in _all_errors(child))]


# The first class of a code wins, so UPSTREAM_UNAVAILABLE is the general upstream error.
_BY_CODE: dict[str, type[errors.SalesGraphError]] = {}
for _cls in _all_errors(errors.SalesGraphError):
    _BY_CODE.setdefault(_cls.code, _cls)


def _error_of(graphql_error: Mapping[str, Any]) -> errors.SalesGraphError:
    extensions = graphql_error.get("extensions") or {}
    cls = _BY_CODE.get(str(extensions.get("code")), errors.SalesGraphError)
    if cls is errors.SalesGraphError:
        return cls()
    message = str(graphql_error.get("message", ""))
    details = snake_details(extensions.get("details"), message)
    if message.startswith("Variable '$"):
        # GraphQL's spelling of the failure means nothing to a REST caller; details name the field.
        message = "Invalid request data"
    return cls(message, details=details)


def _unknown(names: Iterable[str], allowed: set[str], where: str) -> None:
    unknown = sorted(n for n in names if n not in allowed)
    if unknown:
        raise errors.ValidationError(
            f"Unknown {where}: {', '.join(unknown)}",
            details={"fields": dict.fromkeys(unknown, f"unknown {where}")},
        )


async def _rest_input(route: RestRoute, request: Request) -> RestInput:
    _unknown(request.query_params.keys(), {p.name for p in route.query}, "query parameter")
    body: JSONObject = {}
    if route.body is not None:
        raw = await request.body()
        try:
            parsed = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError:
            raise errors.ValidationError("Malformed JSON body") from None
        if not isinstance(parsed, dict):
            raise errors.ValidationError("The request body must be a JSON object")
        _unknown(parsed.keys(), set(route.body.get("properties", {})), "body field")
        body = parsed
    return RestInput(path=dict(request.path_params), query=dict(request.query_params), body=body)


_ETAG = re.compile(r'^(?:W/)?"(\d{1,18})"$')


def _if_match(route: RestRoute, request: Request) -> JSONObject:
    header = request.headers.get("if-match")
    if route.if_match is None or header is None or header.strip() == "*":
        return {}
    match = _ETAG.match(header.strip())
    if match is None:
        raise errors.ValidationError(
            "Invalid request data", details={"fields": {"If-Match": 'an ETag such as "3"'}}
        )
    return {route.if_match: int(match.group(1))}


def _precondition(error: errors.SalesGraphError) -> errors.SalesGraphError:
    """A stale ``If-Match`` version is the service's version conflict, said the HTTP way."""
    if isinstance(error, errors.Conflict) and "current_version" in error.details:
        return errors.PreconditionFailed(error.message, details=error.details)
    return error


async def _run(
    schema: strawberry.Schema, document: str, variables: JSONObject, context: Context
) -> JSONObject:
    result = await schema.execute(document, variable_values=variables, context_value=context)
    if result.errors:
        raise _error_of(result.errors[0].formatted)
    assert result.data is not None
    return dict(result.data)


def rest_endpoint(schema: strawberry.Schema, route: RestRoute) -> Route:
    async def endpoint(request: Request) -> Response:
        inputs = await _rest_input(route, request)
        preconditions = _if_match(route, request)
        variables = route.variables(inputs) | preconditions
        claim = idempotency.claim_of(request, inputs) if route.method == "POST" else None
        runtime: Runtime = request.app.state.runtime
        async with runtime.db.session() as session:
            if claim is not None:
                stored = await idempotency.replay_or_reserve(session, claim, request)
                if stored is not None:
                    return stored
            context = Context(
                request=request,
                response=Response(),
                runtime=runtime,
                session=session,
                principal=request.state.principal,
            )
            try:
                data = await _run(schema, route.document, variables, context)
            except errors.SalesGraphError as exc:
                raise (_precondition(exc) if preconditions else exc) from None
            if route.follow_up is not None:
                more = route.follow_up.variables(data)
                data |= await _run(schema, route.follow_up.document, more, context)
            headers = {"ETag": f'"{route.etag(data)}"'} if route.etag else None
            response = JSONResponse(route.shape(data), route.status, headers=headers)
            if claim is not None:
                await idempotency.store(session, claim, response)
        return response

    return Route(route.path, endpoint, methods=[route.method], name=route.operation_id)
