"""GraphiQL in a real browser: Debian's chromium (scripts/browser installs it) driven by
Playwright, against a real gateway on 127.0.0.1. The page must work with no network beyond the
gateway (any other request is aborted and fails the test) and under its CSP, and a query run
with a pasted token must show the caller in the result pane."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import BrowserContext, Page, Request, Route, async_playwright

from sales_graph.app import create_app
from sales_graph.web.graphiql import HEADERS_HINT
from tests.gateways import gateway_settings, live_server, seeded_org

BROWSER_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "browser"
# Without these, chromium reaches out to Google's services (refused here, and not ours to test).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000
# Every CSP violation of the page, from the start (the event fires before a console message).
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""
HEADERS_EDITOR = 'section[aria-label="Headers"] .graphiql-editor:not(.hidden) .CodeMirror'
QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
RESULT = "section.result-window .CodeMirror"


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Debian's chromium, installed with apt-get when missing."""
    done = subprocess.run(  # noqa: S603 (our own script)
        [str(BROWSER_SCRIPT)], capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, f"scripts/browser failed:\n{done.stderr}"
    return done.stdout.strip()


@pytest.fixture
async def browser(chromium: str, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """Headless chromium with a new, empty profile."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            tmp_path / "profile",
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            await context.close()


async def editor_text(page: Page, selector: str) -> str:
    """The text of a CodeMirror 5 editor (its element holds the instance)."""
    text: str = await page.locator(selector).evaluate("(element) => element.CodeMirror.getValue()")
    return text


async def test_graphiql_runs_a_query_with_a_pasted_token_and_only_the_gateway(
    browser: BrowserContext, fresh_postgres: str, tmp_path: Path
) -> None:
    org = await seeded_org(fresh_postgres)
    app = create_app(gateway_settings(tmp_path, fresh_postgres))
    async with live_server(app) as http:
        origin = str(http.base_url).rstrip("/")
        assert urlsplit(origin).hostname == "127.0.0.1"
        token = app.state.runtime.tokens.issue(str(org.r2.id), roles=[org.r2.role])

        requests: list[Request] = []
        refused: list[str] = []

        async def only_the_gateway(route: Route) -> None:
            url = route.request.url
            if url == origin or url.startswith(f"{origin}/"):
                await route.continue_()
            else:
                refused.append(url)
                await route.abort("blockedbyclient")

        await browser.route("**/*", only_the_gateway)
        await browser.add_init_script(RECORD_CSP_VIOLATIONS)
        page = browser.pages[0] if browser.pages else await browser.new_page()
        page.on("request", lambda request: requests.append(request))
        page_errors: list[Any] = []
        page.on("pageerror", lambda error: page_errors.append(error))

        await page.goto(f"{origin}/graphql")
        await page.locator(QUERY_EDITOR).wait_for()
        await page.locator(HEADERS_EDITOR).wait_for()
        assert "me {" in await editor_text(page, QUERY_EDITOR)
        assert await editor_text(page, HEADERS_EDITOR) == HEADERS_HINT

        # Paste the token as a person would: select the hint, put the text in its place.
        filled = json.dumps({"Authorization": f"Bearer {token}"})
        await page.locator(HEADERS_EDITOR).click()
        await page.keyboard.press("Control+A")
        await page.keyboard.insert_text(filled)
        assert await editor_text(page, HEADERS_EDITOR) == filled

        await page.locator(".graphiql-execute-button").click()
        await page.wait_for_function(
            """([selector, email]) => {
                const editor = document.querySelector(selector);
                return editor !== null && editor.CodeMirror.getValue().includes(email);
            }""",
            arg=[RESULT, org.r2.email],
        )
        result = json.loads(await editor_text(page, RESULT))
        assert result == {
            "data": {"me": {"name": org.r2.name, "email": org.r2.email, "role": "SALES_REP"}}
        }

        # The schema GraphiQL read at load was refused (no token yet); with the token it loads.
        await page.get_by_role("button", name="Re-fetch GraphQL schema").click()
        await page.get_by_role("button", name="Show Documentation Explorer").click()
        docs = page.locator(".graphiql-doc-explorer")
        await docs.get_by_role("link", name="Mutation", exact=True).wait_for()
        await page.screenshot(path=tmp_path / "graphiql.png")

        violations = await page.evaluate("window.__cspViolations")
        sent = [
            request
            for request in requests
            if request.method == "POST"
            and request.headers.get("authorization") == f"Bearer {token}"
        ]

    assert refused == [], f"requests beyond the gateway: {refused}"
    urls = [request.url for request in requests]
    assert all(url.startswith(f"{origin}/") for url in urls), urls
    loaded = {urlsplit(url).path.rsplit("/", 1)[-1] for url in urls}
    assert {"graphiql.min.js", "graphiql.min.css", "react.production.min.js", "ide.js"} <= loaded
    assert sent, "the query did not carry the pasted token"
    assert violations == []
    assert page_errors == []
    assert (tmp_path / "graphiql.png").stat().st_size > 10_000
