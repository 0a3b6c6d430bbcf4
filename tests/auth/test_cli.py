"""``sales-graph client|apikey|keys``: the operator's commands, on the embedded SQLite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sales_graph.cli import app


def test_client_apikey_and_keys_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALES_GRAPH_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    assert runner.invoke(app, ["migrate"]).exit_code == 0

    client = runner.invoke(app, ["client", "create", "--name", "crm", "--scopes", "leads:read"])
    assert client.exit_code == 0, client.output
    assert re.search(r"client_id:\s+sgc_[0-9a-f]{16}", client.output)
    assert re.search(r"client_secret:\s+\S{43}", client.output)

    bad = runner.invoke(app, ["client", "create", "--name", "x", "--scopes", "root"])
    assert bad.exit_code == 1
    assert "unknown scope: root" in bad.output

    key = runner.invoke(
        app,
        [
            "apikey",
            "create",
            "--name",
            "lead source",
            "--scopes",
            "leads:write leads:read",
            "--expires-in-days",
            "30",
        ],
    )
    assert key.exit_code == 0, key.output
    match = re.search(r"api_key:\s+(sgk_[0-9a-f]{12})_\S{43}", key.output)
    assert match
    revoked = runner.invoke(app, ["apikey", "revoke", match.group(1)])
    assert revoked.exit_code == 0, revoked.output
    again = runner.invoke(app, ["apikey", "revoke", match.group(1)])
    assert again.exit_code == 1

    listed = runner.invoke(app, ["apikey", "list"])
    assert listed.exit_code == 0, listed.output
    [line] = listed.output.splitlines()
    assert line.startswith(f"{match.group(1)}  revoked ")
    assert "lead source" in line
    assert "leads:read leads:write" in line or "leads:write leads:read" in line
    assert "last used never" in line
    assert match.group(0) not in listed.output  # never the secret

    client_id = re.search(r"client_id:\s+(sgc_[0-9a-f]{16})", client.output)
    assert client_id
    clients = runner.invoke(app, ["client", "list"])
    assert clients.exit_code == 0, clients.output
    assert f"{client_id.group(1)}  active" in clients.output
    assert "crm  [leads:read]" in clients.output
    assert "client_secret" not in clients.output
    revoked_client = runner.invoke(app, ["client", "revoke", client_id.group(1)])
    assert revoked_client.exit_code == 0, revoked_client.output
    assert f"{client_id.group(1)}  revoked " in runner.invoke(app, ["client", "list"]).output
    assert runner.invoke(app, ["client", "revoke", client_id.group(1)]).exit_code == 1
    assert runner.invoke(app, ["client", "revoke", "sgc_unknown"]).exit_code == 1

    rotated = runner.invoke(app, ["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    assert re.search(r"signing with \w+; verifying \w+, \w+", rotated.output)
