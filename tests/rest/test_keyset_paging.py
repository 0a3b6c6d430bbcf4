"""REST keyset paging: a list page's ``Link: rel="next"`` reads on with ``after``, the same rows
in the same order as offset paging, filters kept, and bad cursors refused."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson

from sales_graph.rest.schemas import TEXT_PATTERN
from tests.rest.conftest import Rest
from tests.rest.test_contract import new_lead

NEXT = re.compile(r'^<(/api/v1/[^>]+)>; rel="next"$')


def next_of(response: httpx.Response) -> str | None:
    link = response.headers.get("Link")
    if link is None:
        return None
    found = NEXT.match(link)
    assert found, link
    return found.group(1)


async def walk(rest: Rest, path: str) -> list[list[str]]:
    """The ids of every page, following the Link headers from ``path``."""
    pages: list[list[str]] = []
    next_path: str | None = path
    while next_path is not None:
        response = await rest.call(rest.gateway.org.admin, "GET", next_path)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["data"]])
        # The Link is there exactly when the page says more follow.
        next_path = next_of(response)
        assert (next_path is not None) == body["pagination"]["has_more"]
        assert len(pages) <= 50, "the links never end"
    return pages


async def test_links_read_the_same_rows_as_offsets(rest: Rest) -> None:
    for n in range(7):
        await new_lead(rest, f"keyset{n}@example.com")
    admin = rest.gateway.org.admin
    by_cursor = await walk(rest, "/api/v1/leads?limit=3")
    by_offset = []
    offset = 0
    while True:
        body = await rest.ok(admin, "GET", f"/api/v1/leads?limit=3&offset={offset}")
        by_offset.append([item["id"] for item in body["data"]])
        if not body["pagination"]["has_more"]:
            break
        offset += 3
    assert by_cursor == by_offset
    assert sum(map(len, by_cursor)) >= 7


async def test_the_link_keeps_filters_and_drops_the_offset(rest: Rest) -> None:
    for n in range(5):
        await new_lead(rest, f"filtered{n}@example.com")
    response = await rest.call(
        rest.gateway.org.admin, "GET", "/api/v1/leads?status=new&limit=2&offset=1"
    )
    assert response.status_code == 200, response.text
    link = next_of(response)
    assert link is not None
    query = parse_qs(urlsplit(link).query)
    assert urlsplit(link).path == "/api/v1/leads"
    assert query["status"] == ["new"]
    assert query["limit"] == ["2"]
    assert "offset" not in query
    assert len(query["after"]) == 1
    following = await rest.ok(rest.gateway.org.admin, "GET", link)
    assert {item["status"] for item in following["data"]} == {"new"}
    assert following["pagination"]["offset"] == 0


async def test_opportunity_pages_link_too(rest: Rest) -> None:
    pages = await walk(rest, "/api/v1/opportunities?limit=1")
    ids = [i for page in pages for i in page]
    assert len(ids) == len(set(ids))
    everything = await rest.ok(rest.gateway.org.admin, "GET", "/api/v1/opportunities?limit=200")
    assert ids == [item["id"] for item in everything["data"]]


async def test_bad_cursors_are_validation_errors(rest: Rest) -> None:
    admin = rest.gateway.org.admin
    error = await rest.error(admin, "GET", "/api/v1/leads?after=not-a-cursor", status=400)
    assert error["code"] == "VALIDATION_ERROR"
    await new_lead(rest, "one@example.com")
    await new_lead(rest, "two@example.com")
    response = await rest.call(admin, "GET", "/api/v1/leads?limit=1")
    link = next_of(response)
    assert link is not None
    cursor = parse_qs(urlsplit(link).query)["after"][0]
    error = await rest.error(
        admin, "GET", f"/api/v1/leads?limit=1&offset=1&after={cursor}", status=400
    )
    assert error["code"] == "VALIDATION_ERROR"
    assert "after" in str(error["details"])


async def test_a_nul_in_a_cursor_is_refused_as_the_document_says(rest: Rest) -> None:
    """``after`` is text without NUL characters in /openapi.json, as every text is: a cursor
    holding one is a schema-invalid request, refused with the envelope naming ``after`` (and
    never a schema-valid one refused, which schemathesis' stateful phase once found)."""
    document = (await rest.gateway.client.get("/openapi.json")).json()
    (after,) = {
        orjson.dumps(p["schema"])
        for operation in document["paths"].values()
        for p in operation.get("get", {}).get("parameters", [])
        if p["name"] == "after"
    }
    assert orjson.loads(after)["pattern"] == TEXT_PATTERN
    admin = rest.gateway.org.admin
    for query in ("after=%00", "after=a%00b", "limit=199&offset=5&after=%C3%92%00"):
        for path in ("/api/v1/leads", "/api/v1/opportunities"):
            error = await rest.error(admin, "GET", f"{path}?{query}", status=400)
            assert error["code"] == "VALIDATION_ERROR"
            assert error["details"]["fields"] == {"after": "must not contain NUL characters"}


async def test_a_query_parameter_sent_twice_is_refused(rest: Rest) -> None:
    admin = rest.gateway.org.admin
    for query in ("limit=2&limit=3", "offset=3&offset=0", "status=new&status=working"):
        error = await rest.error(admin, "GET", f"/api/v1/leads?{query}", status=400)
        name = query.split("=")[0]
        assert error["details"]["fields"] == {name: "sent more than once"}
