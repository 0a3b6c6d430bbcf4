"""GraphiQL outside production, served by the gateway alone: no CDN, works offline.

The page (``GET /graphql`` from a browser, see ``GraphQLApp``) loads GraphiQL and React from
``static/graphiql/`` (put there by ``scripts/graphiql-assets``, versions in its
``manifest.json``) at ``/graphql/ide/<sha256 prefix>/<file>``, so a file can be cached for a
year and a new version is a new URL. The page's Content-Security-Policy allows scripts, styles
and connections from 'self' only: the page has no inline script or style (its settings are a
JSON data block, which is never run), and fonts and icons GraphiQL inlines are ``data:`` URLs.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from sales_graph.errors import NotFound

STATIC = Path(__file__).parent / "static" / "graphiql"
ASSET_PATH = "/graphql/ide"
# Ours, next to the vendored files of the manifest: GraphiQL's start and the page's layout.
_OWN = ("ide.css", "ide.js")
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_STYLES = ("graphiql.min.css", "ide.css")
_SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "ide.js")

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

DEFAULT_QUERY = """\
# sales-graph's GraphiQL: all from the gateway, no CDN.
# Put a token in Headers (below), then run: Ctrl-Enter.
# Then re-fetch the schema (the circle arrow, left) for
# the docs and completion.
{
  me {
    name
    email
    role
  }
}
"""
# Valid JSON as it stands: run unchanged, it is a 401 that says the token is not one.
HEADERS_HINT = json.dumps(
    {
        "Authorization": "Bearer <paste a token from the demo banner "
        "or `sales-graph token --role sales_rep`>"
    },
    indent=2,
)


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes

    @property
    def url(self) -> str:
        return f"{ASSET_PATH}/{hashlib.sha256(self.body).hexdigest()[:16]}/{self.name}"

    @property
    def integrity(self) -> str:
        digest = base64.b64encode(hashlib.sha384(self.body).digest()).decode()
        return f"sha384-{digest}"

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[Path(self.name).suffix]


@cache
def assets() -> dict[str, Asset]:
    """Every file the page loads, by URL path: those of the manifest and ours. Read once per
    process (4 MB), only where the IDE is on."""
    manifest = json.loads((STATIC / "manifest.json").read_text())
    names = [name for package in manifest["packages"] for name in package["files"]]
    found = (Asset(name, (STATIC / name).read_bytes()) for name in (*names, *_OWN))
    return {asset.url: asset for asset in found}


@cache
def page_html() -> str:
    by_name = {asset.name: asset for asset in assets().values()}
    styles = "".join(
        f'<link rel="stylesheet" href="{by_name[name].url}" integrity="{by_name[name].integrity}">'
        for name in _STYLES
    )
    scripts = "".join(
        f'<script src="{by_name[name].url}" integrity="{by_name[name].integrity}"></script>'
        for name in _SCRIPTS
    )
    # A data block: never run, so the CSP needs no 'unsafe-inline'. "<" escaped: no "</script>".
    settings = json.dumps({"query": DEFAULT_QUERY, "headers": HEADERS_HINT}).replace("<", "\\u003c")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>sales-graph GraphiQL</title>"
        '<link rel="icon" href="data:,">'
        f"{styles}"
        f'<script type="application/json" id="graphiql-settings">{settings}</script>'
        '</head><body><div id="graphiql">Loading GraphiQL...</div>'
        f"{scripts}</body></html>"
    )


def page() -> Response:
    """The IDE page. Revalidated on each load (the asset URLs in it change with the files);
    ``GET /graphql`` answers by ``Accept``, which a cache must key on."""
    return HTMLResponse(
        page_html(),
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Cache-Control": "no-cache",
            "Vary": "Accept",
        },
    )


async def asset(request: Request) -> Response:
    found = assets().get(request.url.path)
    if found is None:
        raise NotFound("No such GraphiQL file")
    return Response(
        found.body,
        media_type=found.media_type,
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


def graphiql_routes() -> list[Route]:
    """The files of the IDE page; only where the IDE is on (not in production)."""
    return [Route(f"{ASSET_PATH}/{{digest}}/{{name}}", asset, methods=["GET"])]
