"""What a newcomer has: a fresh clone, a shell without SALES_GRAPH_* settings, the command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# The interpreter running the suite, and the sales-graph command next to it: the virtualenv a
# fresh clone would get from `make demo`, reused because installing one takes minutes.
VENV = Path(sys.prefix)
COMMAND = Path(sys.executable).parent / "sales-graph"


def shell_env(src: Path) -> dict[str, str]:
    """A shell's environment without any SALES_GRAPH_* setting (conftest.py sets some), with
    ``src`` first on the import path: the shared virtualenv's sales-graph is installed from
    another checkout, and the code under test is the one in ``src``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("SALES_GRAPH_")}
    env["PYTHONPATH"] = str(src)
    return env


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of this checkout's committed HEAD (what is not committed is not in it),
    with ``.venv`` a link to the running virtualenv."""
    target = tmp_path_factory.mktemp("newcomer") / "sales-graph"
    head = _git("rev-parse", "HEAD", cwd=REPO)
    _git("clone", "-q", "--no-checkout", str(REPO), str(target), cwd=REPO)
    _git("checkout", "-q", head, cwd=target)
    (target / ".venv").symlink_to(VENV, target_is_directory=True)
    return target


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(  # noqa: S603 (our own arguments)
        ["git", *args],  # noqa: S607 (git from PATH, as a newcomer runs it)
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()
