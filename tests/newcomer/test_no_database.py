"""A command that needs a database and finds none: one line on stderr naming what it looked for
and what to run, exit 1, no traceback, and nothing created (no file, directory or key)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sales_graph.cli import app
from tests.newcomer.conftest import COMMAND, REPO, shell_env

NEEDS_A_DATABASE = [
    ["token", "--role", "sales_rep"],
    ["token", "--email", "jane.smith@ionoi-inc.com"],
    ["client", "create", "--name", "crm", "--scopes", "leads:read"],
    ["client", "list"],
    ["client", "revoke", "sgc_0123456789abcdef"],
    ["apikey", "create", "--name", "partner", "--scopes", "leads:read"],
    ["apikey", "list"],
    ["apikey", "revoke", "sgk_0123456789ab"],
    ["keys", "rotate"],
    ["model", "train"],
    ["forecast", "generate"],
    ["worker"],
    ["serve"],
]


def files_under(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*"))


def test_token_in_an_empty_directory_says_so_in_one_line(tmp_path: Path) -> None:
    """The README's old first step, run where there is no database: the command itself."""
    done = subprocess.run(  # noqa: S603 (the venv's own command)
        [str(COMMAND), "token", "--role", "sales_rep"],
        cwd=tmp_path,
        env=shell_env(REPO / "src"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line == (
        f"error: no sales-graph database at {tmp_path.resolve() / 'sales_graph.db'}: "
        "run `make demo` or `sales-graph migrate` "
        "(set SALES_GRAPH_DATA_DIR to the directory that holds sales_graph.db)"
    )
    assert files_under(tmp_path) == []


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory is empty and SALES_GRAPH_DATA_DIR names one that does not exist."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SALES_GRAPH_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.mark.parametrize("command", NEEDS_A_DATABASE, ids=" ".join)
def test_every_command_that_needs_a_database_creates_none(
    nowhere: Path, command: list[str]
) -> None:
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: no sales-graph database at {nowhere / 'data'}/sales_graph.db: ")
    assert "`sales-graph migrate`" in line
    assert files_under(nowhere) == []


def test_the_hint_names_the_demos_directory_when_it_is_there(nowhere: Path) -> None:
    runner = CliRunner()
    demo = {"SALES_GRAPH_DATA_DIR": ".demo"}
    assert runner.invoke(app, ["migrate"], env=demo).exit_code == 0
    result = runner.invoke(app, ["client", "list"], env={"SALES_GRAPH_DATA_DIR": "."})
    assert result.exit_code == 1
    assert result.stderr.rstrip("\n").endswith("e.g. SALES_GRAPH_DATA_DIR=.demo)")
    assert runner.invoke(app, ["client", "list"], env=demo).exit_code == 0


def test_an_empty_sqlite_file_is_not_a_database(nowhere: Path) -> None:
    (nowhere / "data").mkdir()
    empty = nowhere / "data" / "sales_graph.db"
    empty.touch()
    result = CliRunner().invoke(app, ["token", "--role", "admin"])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: no sales-graph tables in the database at {empty}: run ")
    assert files_under(nowhere) == [nowhere / "data", empty]
    assert empty.stat().st_size == 0


@pytest.mark.postgres
def test_postgres_missing_or_unreachable_in_one_line(
    nowhere: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + f"/absent_{uuid.uuid4().hex[:12]}"
    unreachable = "postgresql+asyncpg://sales_graph:secret@127.0.0.1:1/sales_graph"
    for url, reason in [(missing, "does not exist"), (unreachable, "127.0.0.1")]:
        monkeypatch.setenv("SALES_GRAPH_DATABASE_URL", url)
        result = CliRunner().invoke(app, ["apikey", "list"])
        assert result.exit_code == 1, result.output
        [line] = result.stderr.splitlines()
        assert line.startswith(
            "error: cannot open the sales-graph database at postgresql+asyncpg://"
        )
        assert reason in line
        assert "secret" not in line
        assert "`sales-graph migrate`" in line
    assert files_under(nowhere) == []


@pytest.mark.postgres
def test_postgres_without_tables_in_one_line(
    nowhere: Path, monkeypatch: pytest.MonkeyPatch, fresh_postgres: str
) -> None:
    monkeypatch.setenv("SALES_GRAPH_DATABASE_URL", fresh_postgres)
    result = CliRunner().invoke(app, ["client", "list"])
    assert result.exit_code == 1, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("error: no sales-graph tables in the database at postgresql+asyncpg://")


def _run(arguments: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (the venv's own command)
        [str(COMMAND), *arguments],
        cwd=cwd,
        env=shell_env(REPO / "src") | extra,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_refused_setting_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    done = _run(["token", "--role", "sales_rep"], tmp_path, SALES_GRAPH_METRICS__PORT="abc")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("error: invalid setting: SALES_GRAPH_METRICS__PORT: "), line
    assert files_under(tmp_path) == []


def test_a_command_that_serves_nothing_leaves_no_metrics_files(tmp_path: Path) -> None:
    """PROMETHEUS_MULTIPROC_DIR is for the processes that serve: a missing one does not stop
    `token`, and a shared one gets no files from it."""
    missing = tmp_path / "metrics" / "not-yet"
    done = _run(["token", "--role", "sales_rep"], tmp_path, PROMETHEUS_MULTIPROC_DIR=str(missing))
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("error: no sales-graph database at "), line
    assert files_under(tmp_path) == []


def test_a_multiprocess_path_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("")
    done = _run(["serve", "--port", "1"], tmp_path, PROMETHEUS_MULTIPROC_DIR=str(taken))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: PROMETHEUS_MULTIPROC_DIR={taken} is not a directory"
    ]
