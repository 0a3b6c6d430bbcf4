"""``schema/`` is the committed contract; it must be what the code builds."""

from __future__ import annotations

from pathlib import Path

from sales_graph.ops import export_contract

ROOT = Path(__file__).resolve().parents[2]


def test_committed_contract_is_current(tmp_path: Path) -> None:
    written = export_contract(tmp_path)
    assert written, "export wrote nothing"
    for path in written:
        relative = path.relative_to(tmp_path)
        committed = ROOT / "schema" / relative
        assert committed.exists(), f"schema/{relative} is missing: run `sales-graph export-schema`"
        assert committed.read_text() == path.read_text(), (
            f"schema/{relative} is stale: run `sales-graph export-schema` and commit"
        )
