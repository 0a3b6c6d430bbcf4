"""The README's quickstart, as a newcomer runs it: ``make demo`` in a fresh clone, then every
command block of the README in another shell, pasted as it is.

The demo runs as ``make demo`` runs it (the Makefile's recipe and environment, checked below)
but with the running virtualenv instead of a new one, and on a free port instead of 8000 when the
README's commands are run (they are rewritten to it). A block preceded by
``<!-- tests/newcomer: skip ... -->`` is not run (``make demo`` and ``make test`` themselves).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.newcomer.conftest import shell_env

SKIP_MARK = "<!-- tests/newcomer: skip"
START_TIMEOUT_S = 120.0
COMMAND_TIMEOUT_S = 60.0
ROLES = ("sales_rep", "sales_manager", "admin")


@dataclass(frozen=True)
class Demo:
    clone: Path
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def token(self, role: str) -> str:
        """The bearer token the banner printed for ``role``."""
        found = re.search(rf"^  {role} +(\S+)$", self.output, re.M)
        assert found, self.output
        return found.group(1)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def make_demo_recipe(makefile: str) -> tuple[str, str]:
    """The data directory ``make demo`` exports, and the command its recipe runs."""
    data_dir = re.search(r"^export SALES_GRAPH_DATA_DIR \?= (\S+)$", makefile, re.M)
    recipe = re.search(r"^demo: .*\n\t(.+)$", makefile, re.M)
    assert data_dir, "the Makefile no longer exports SALES_GRAPH_DATA_DIR: update tests/newcomer"
    assert recipe, "the Makefile has no demo recipe: update tests/newcomer"
    return data_dir.group(1), recipe.group(1)


def command_blocks(readme: str) -> Iterator[str]:
    """The ```sh blocks of the README that are not marked to be skipped."""
    previous = ""
    lines = iter(readme.splitlines())
    for line in lines:
        if line.strip() in ("```sh", "```bash", "```shell"):
            block = []
            for inner in lines:
                if inner.strip() == "```":
                    break
                block.append(inner)
            if not previous.startswith(SKIP_MARK):
                yield "\n".join(block)
        if line.strip():
            previous = line.strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def demo(clone: Path) -> Iterator[Demo]:
    data_dir, recipe = make_demo_recipe((clone / "Makefile").read_text())
    assert recipe == "$(VENV)/bin/sales-graph serve --demo"
    port = free_port()
    log = clone.parent / "demo.log"
    env = {**shell_env(clone / "src"), "SALES_GRAPH_DATA_DIR": data_dir}
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 (the clone's command)
            [".venv/bin/sales-graph", "serve", "--demo", "--port", str(port)],
            cwd=clone,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    started = Demo(clone, port, process, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not re.search(r"^  admin +\S+$", started.output, re.M):
            assert process.poll() is None, f"the demo exited:\n{started.output}"
            assert time.monotonic() < deadline, (
                f"no banner in {START_TIMEOUT_S} s:\n{started.output}"
            )
            time.sleep(0.1)
        yield started
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_demo_runs_the_clones_code(demo: Demo) -> None:
    done = subprocess.run(
        [".venv/bin/python", "-c", "import sales_graph; print(sales_graph.__file__)"],
        cwd=demo.clone,
        env=shell_env(demo.clone / "src"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(done.stdout.strip()).is_relative_to(demo.clone)
    assert (demo.clone / ".demo" / "sales_graph.db").is_file()


def test_the_banner_comes_last_with_every_url_and_the_tokens_at_its_end(demo: Demo) -> None:
    lines = demo.output.rstrip("\n").splitlines()
    start = lines.index("sales-graph demo")
    before, banner = lines[:start], lines[start:]
    # The startup lines come first: nothing the gateway logs while starting scrolls the
    # tokens away (seeding asks the simulated Billing for ~200 contracts: debug only).
    assert any('"app.started"' in line for line in before), demo.output
    assert not any("connector." in line for line in lines), demo.output
    assert [line.split()[0] for line in banner[-3:]] == list(ROLES), demo.output
    urls = set(re.findall(rf"{re.escape(demo.base_url)}(/[\w./-]*)", "\n".join(banner)))
    assert {"/graphql", "/docs", "/openapi.json", "/api/v1/", "/metrics", "/readyz"} <= urls
    token = demo.token("admin")
    with httpx.Client(base_url=demo.base_url, timeout=10) as client:
        # /api/v1/ itself is no route: its example (/api/v1/leads) is fetched.
        for path in sorted(urls - {"/api/v1/"} | {"/api/v1/leads"}):
            accept = "text/html" if path == "/graphql" else "*/*"  # GraphiQL, as a browser
            response = client.get(
                path, headers={"Authorization": f"Bearer {token}", "Accept": accept}
            )
            assert response.status_code == 200, (path, response.text[:500])


def test_every_seeded_won_deal_has_its_contract_before_the_banner(demo: Demo) -> None:
    """Seeding asked the simulated Billing for them (quietly), even for deals won "now"."""
    admin = demo.token("admin")
    query = "query($o: Int) { opportunities(stage: CLOSED_WON, limit: 200, offset: $o) {"
    query += " totalCount hasMore items { contractId } } }"
    missing, seen, offset = 0, 0, 0
    with httpx.Client(base_url=demo.base_url, timeout=30) as client:
        while True:
            response = client.post(
                "/graphql",
                json={"query": query, "variables": {"o": offset}},
                headers={"Authorization": f"Bearer {admin}"},
            )
            assert "errors" not in response.json(), response.text
            page = response.json()["data"]["opportunities"]
            seen += len(page["items"])
            missing += sum(item["contractId"] is None for item in page["items"])
            if not page["hasMore"]:
                break
            offset += len(page["items"])
    assert seen == page["totalCount"] > 100
    assert missing == 0


def test_every_readme_command_block_works_as_pasted(demo: Demo) -> None:
    readme = (demo.clone / "README.md").read_text()
    blocks = list(command_blocks(readme))
    assert len(blocks) >= 3, "the README's examples were not found"
    for block in blocks:
        pasted = block.replace("127.0.0.1:8000", f"127.0.0.1:{demo.port}")
        done = subprocess.run(  # noqa: S603 (the README's own commands)
            ["bash", "-e", "-o", "pipefail", "-c", pasted],  # noqa: S607 (the user's bash)
            cwd=demo.clone,
            # Another terminal: no SALES_GRAPH_DATA_DIR, whatever make exported.
            env=shell_env(demo.clone / "src"),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        assert done.returncode == 0, f"{block}\nexit {done.returncode}: {done.stderr}"
        if block.lstrip().startswith("curl"):
            answer = json.loads(done.stdout)
            assert isinstance(answer, dict), f"{block}\n{done.stdout}"
            assert "errors" not in answer, f"{block}\n{done.stdout}"
            assert "error" not in answer, f"{block}\n{done.stdout}"
            if "graphql" in block:
                assert answer["data"], f"{block}\n{done.stdout}"
    # The demo stayed quiet while the commands ran: the tokens are still in sight.
    tokens_at = demo.output.rindex("  admin ")
    assert "connector." not in demo.output[tokens_at:], demo.output[tokens_at:]
