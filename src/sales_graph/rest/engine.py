"""One generic endpoint: a REST request runs the GraphQL operation of its route-table entry."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sales_graph import errors
from sales_graph.auth.challenge import ANONYMOUS
from sales_graph.rest.idempotency import IdempotencyKeys, claim_of
from sales_graph.rest.operation import Operation
from sales_graph.rest.request_validation import RequestValidation
from sales_graph.rest.shapes import JSONObject, snake_details
from sales_graph.rest.table import RestRoute
from sales_graph.runtime import Runtime
from sales_graph.schema.context import Context
from sales_graph.web.envelope import JSONResponse


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


def _unreadable(graphql_error: Mapping[str, Any]) -> bool:
    details = (graphql_error.get("extensions") or {}).get("details") or {}
    return details.get("unreadable") is True


def _out_of_scope(graphql_error: Mapping[str, Any]) -> bool:
    """FORBIDDEN below the root field: a nested record of a kind the caller's scopes exclude."""
    extensions = graphql_error.get("extensions") or {}
    return extensions.get("code") == "FORBIDDEN" and len(graphql_error.get("path") or ()) > 1


_VERSION = re.compile(r'"([0-9]+)"$')


def _if_match(route: RestRoute, request: Request) -> JSONObject:
    """The ``If-Match`` version (its spelling is checked with the request), or nothing."""
    header = request.headers.get("if-match")
    if route.if_match and header and header.startswith("W/"):
        # RFC 9110 section 13.1.1: If-Match compares strongly, so a weak tag never matches.
        raise errors.PreconditionFailed(
            "If-Match needs a strong entity tag", details={"if_match": "weak entity tag"}
        )
    match = _VERSION.search(header) if route.if_match and header else None
    return {route.if_match: int(match.group(1))} if route.if_match and match else {}


def _precondition(error: errors.SalesGraphError) -> errors.SalesGraphError:
    """A stale ``If-Match`` version is the service's version conflict, said the HTTP way."""
    if isinstance(error, errors.Conflict) and "current_version" in error.details:
        return errors.PreconditionFailed(error.message, details=error.details)
    return error


async def _run(
    schema: strawberry.Schema, document: str, variables: JSONObject, context: Context
) -> JSONObject:
    result = await schema.execute(document, variable_values=variables, context_value=context)
    # A stored value that cannot be read, and a related record of a kind the caller's scopes
    # do not cover, are null in the data, as in GraphQL; not a failure of the request.
    failed = [
        e.formatted
        for e in result.errors or []
        if not (_unreadable(e.formatted) or _out_of_scope(e.formatted))
    ]
    if failed:
        raise _error_of(failed[0])
    assert result.data is not None
    return dict(result.data)


Endpoint = Callable[[Request], Awaitable[Response]]


def rest_endpoint(
    schema: strawberry.Schema, operation: Operation, keys: IdempotencyKeys
) -> Endpoint:
    """The handler of one entry: check the request, run the operation, shape the answer."""
    route = operation.route
    validation = RequestValidation(operation)

    async def endpoint(request: Request) -> Response:
        # Every REST operation needs a caller: who it is comes before what was sent.
        if getattr(request.state, "principal", None) is None:
            raise errors.Unauthorized(headers={"WWW-Authenticate": ANONYMOUS})
        inputs = await validation.read(request)
        preconditions = _if_match(route, request)
        variables = operation.variables.of(inputs) | preconditions
        claim = claim_of(request, inputs) if route.method == "POST" else None
        runtime: Runtime = request.app.state.runtime
        async with runtime.db.session() as session:
            if claim is not None:
                stored = await keys.replay_or_reserve(session, claim, request)
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
                data = await _run(schema, operation.document, variables, context)
            except errors.SalesGraphError as exc:
                raise (_precondition(exc) if preconditions else exc) from None
            if route.follow_up is not None and operation.follow_up is not None:
                more = operation.follow_up.of(inputs)
                data |= await _run(schema, route.follow_up, more, context)
            response = _response(operation, data, request)
            if claim is not None:
                await keys.store(session, claim, response)
        return response

    return endpoint


def _response(operation: Operation, data: dict[str, Any], request: Request) -> Response:
    """The answer: the operation's data in the route's shape, or nothing for a 204."""
    route = operation.route
    headers = _headers(operation, data, request)
    if route.status == 204:
        return Response(status_code=204, headers=headers)
    return JSONResponse(operation.answer.shape(data), route.status, headers=headers)


def _headers(operation: Operation, data: dict[str, Any], request: Request) -> dict[str, str]:
    """The answer's ``ETag`` (its version), and a page's ``Link`` to the next by keyset."""
    route, answer = operation.route, operation.answer
    headers: dict[str, str] = {}
    if route.etag:
        headers["ETag"] = f'"{answer.version(data, route.etag)}"'
    if route.next_page and (cursor := answer.next_cursor(data, route.next_page)):
        headers["Link"] = next_link(request, cursor)
    return headers


def next_link(request: Request, cursor: str) -> str:
    """``Link: <path?...&after=cursor>; rel="next"``: the request's own path and query but its
    offset and cursor, as a reference relative to the request (no host is echoed)."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in {"offset", "after"}]
    return f'<{request.url.path}?{urlencode([*query, ("after", cursor)])}>; rel="next"'


def path_route(path: str, endpoints: Mapping[str, Endpoint]) -> Route:
    """One route per path, so a 405 lists every method of the path in ``Allow``."""

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await endpoints[method](request)

    route = Route(path, dispatch, methods=list(endpoints))
    route.methods = _Methods(route.methods or ())
    return route


class _Methods(set[str]):
    """A route's methods, listed in ``Allow`` in one order (a set's order moves with the hash
    seed, so two workers would answer the same 405 differently)."""

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(set.__iter__(self)))
