"""GraphiQL over plain HTTP: the page names only files the gateway serves, under a CSP without
'unsafe-inline'; the files are the manifest's; only a browser asking for HTML gets the page,
and production has none."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from graphql import parse
from sales_graph.app import create_app
from sales_graph.web.graphiql import STATIC
from tests.factories import Org
from tests.gateways import app_client, gateway_settings, seeded_org

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HEALTH = "{ health { status } }"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclass
class Site:
    client: httpx.AsyncClient
    org: Org
    token: str


async def _site(tmp_path: Path, name: str, **fields: object) -> AsyncIterator[Site]:
    url = f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}"
    org = await seeded_org(url)
    app = create_app(gateway_settings(tmp_path, url, **fields))
    async with app_client(app) as client:
        token = app.state.runtime.tokens.issue(str(org.r1.id), roles=[org.r1.role])
        yield Site(client, org, token)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async for made in _site(tmp_path, "development"):
        yield made


@pytest.fixture
async def production(tmp_path: Path) -> AsyncIterator[Site]:
    async for made in _site(tmp_path, "production", env="production"):
        yield made


class Page(HTMLParser):
    """What an HTML page loads and runs: its tags with their attributes, and inline code."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.inline: dict[str, str] = {}
        self._open: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))
        self._open = tag

    def handle_data(self, data: str) -> None:
        if self._open in ("script", "style") and data.strip():
            attrs = self.tags[-1][1]
            self.inline[attrs.get("id", self._open)] = data

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def urls(self) -> list[str]:
        return [attrs[key] for _, attrs in self.tags for key in ("src", "href") if key in attrs]


async def ide_page(client: httpx.AsyncClient) -> httpx.Response:
    response = await client.get("/graphql", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for directive in filter(None, (part.strip() for part in policy.split(";"))):
        name, *sources = directive.split()
        parsed[name] = sources
    return parsed


async def test_the_page_loads_only_files_the_gateway_serves(site: Site) -> None:
    response = await ide_page(site.client)
    page = Page(response.text)
    assert "://" not in response.text
    urls = page.urls()
    local = [url for url in urls if url != "data:,"]  # the empty icon: no /favicon.ico request
    assert len(local) == 6, urls
    assert all(re.fullmatch(r"/graphql/ide/[0-9a-f]{16}/[\w.-]+", url) for url in local), urls
    integrity = {
        attrs.get("src") or attrs["href"]: attrs["integrity"]
        for _, attrs in page.tags
        if "integrity" in attrs
    }
    for url in local:
        asset = await site.client.get(url)
        assert asset.status_code == 200, (url, asset.text)
        assert asset.headers["content-type"] == MEDIA_TYPES[Path(url).suffix]
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["x-content-type-options"] == "nosniff"
        sha256 = hashlib.sha256(asset.content).hexdigest()
        assert url.split("/")[3] == sha256[:16]
        assert asset.content == (STATIC / Path(url).name).read_bytes()
        sha384 = hashlib.sha384(asset.content).digest()
        assert integrity[url] == "sha384-" + base64.b64encode(sha384).decode()
        head = await site.client.head(url)
        assert (head.status_code, head.content) == (200, b"")
        assert int(head.headers["content-length"]) == len(asset.content)


async def test_the_vendored_files_are_the_manifests(site: Site) -> None:
    manifest = json.loads((STATIC / "manifest.json").read_text())
    versions = {package["name"]: package["version"] for package in manifest["packages"]}
    assert versions == {"react": "18.2.0", "react-dom": "18.2.0", "graphiql": "3.8.3"}
    page = (await ide_page(site.client)).text
    for package in manifest["packages"]:
        for name, digest in package["files"].items():
            assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name
            assert f"/{digest[:16]}/{name}" in page
        assert (STATIC / f"LICENSE.{package['name']}").is_file()


async def test_the_page_runs_no_inline_code_under_its_csp(site: Site) -> None:
    response = await ide_page(site.client)
    policy = directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    for directive in ("script-src", "style-src", "connect-src"):
        assert policy[directive] == ["'self'"], directive
    assert policy["frame-ancestors"] == ["'none'"]
    assert not any("unsafe" in source for sources in policy.values() for source in sources)
    page = Page(response.text)
    # The only inline block is the settings, JSON that no browser runs.
    assert set(page.inline) == {"graphiql-settings"}
    settings_tag = next(attrs for tag, attrs in page.tags if attrs.get("id") == "graphiql-settings")
    assert settings_tag["type"] == "application/json"
    assert not any("style" in attrs or tag == "style" for tag, attrs in page.tags)
    assert response.headers["x-frame-options"] == "DENY"
    assert "Accept" in response.headers["vary"].split(", ")
    # Other routes carry no page policy: theirs stays as it was.
    assert "content-security-policy" not in (await site.client.get("/healthz")).headers


async def test_the_first_query_works_once_the_hinted_header_is_filled(site: Site) -> None:
    page = Page((await ide_page(site.client)).text)
    settings = json.loads(page.inline["graphiql-settings"])
    headers = json.loads(settings["headers"])  # GraphiQL takes only a JSON object
    assert list(headers) == ["Authorization"]
    assert headers["Authorization"].startswith("Bearer <paste a token")
    assert "sales-graph token --role sales_rep" in headers["Authorization"]
    parse(settings["query"])
    unfilled = await site.client.post(
        "/graphql", json={"query": settings["query"]}, headers=headers
    )
    assert unfilled.status_code == 401, unfilled.text
    filled = await site.client.post(
        "/graphql",
        json={"query": settings["query"]},
        headers={"Authorization": f"Bearer {site.token}"},
    )
    assert filled.status_code == 200, filled.text
    assert filled.json() == {
        "data": {"me": {"name": site.org.r1.name, "email": site.org.r1.email, "role": "SALES_REP"}}
    }


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("application/json", "application/json"),
        ("application/graphql-response+json", "application/graphql-response+json"),
        ("*/*", "application/json"),
        (BROWSER_ACCEPT, "application/json"),
    ],
)
async def test_a_get_with_a_query_runs_it_whatever_it_accepts(
    site: Site, accept: str, media_type: str
) -> None:
    response = await site.client.get(
        "/graphql", params={"query": HEALTH}, headers={"Accept": accept}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media_type)
    assert response.json() == {"data": {"health": {"status": "ok"}}}


@pytest.mark.parametrize(
    "accept", [None, "*/*", "application/json", "text/html;q=0, */*", "application/xhtml+xml"]
)
async def test_only_a_browser_asking_for_html_gets_the_page(site: Site, accept: str | None) -> None:
    headers = {"Accept": accept} if accept else {}
    response = await site.client.get("/graphql", headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "content-security-policy" not in response.headers


@pytest.mark.parametrize(
    "path",
    [
        "/graphql/ide/0000000000000000/graphiql.min.js",  # a digest of no version we have
        "/graphql/ide/{digest}/manifest.json",
        "/graphql/ide/{digest}/LICENSE.react",
        "/graphql/ide/{digest}/..%2Fgraphiql.py",
        "/graphql/ide/graphiql.min.js",
    ],
)
async def test_nothing_else_is_served_from_the_ide_path(site: Site, path: str) -> None:
    page = (await ide_page(site.client)).text
    digest = re.search(r"/graphql/ide/([0-9a-f]{16})/graphiql.min.js", page)
    assert digest is not None
    response = await site.client.get(path.format(digest=digest.group(1)))
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_production_has_no_ide(production: Site, site: Site) -> None:
    page = (await ide_page(site.client)).text
    assets = re.findall(r'(?:src|href)="(/graphql/ide/[^"]+)"', page)
    # No page: a GET without a query, as from any other client (GraphQL over HTTP: a 400).
    response = await production.client.get("/graphql", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    for url in assets:
        assert (await production.client.get(url)).status_code == 404, url
    ran = await production.client.get(
        "/graphql", params={"query": HEALTH}, headers={"Accept": BROWSER_ACCEPT}
    )
    assert ran.json() == {"data": {"health": {"status": "ok"}}}
