"""A query reads one snapshot (schema/snapshot.py): a lead committed by someone else between a
page's statement and its total's is in neither, where each statement alone would see it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, insert

from sales_graph.db.models import Lead
from tests.graphql.conftest import Gateway

PAGE = "{ leads(limit: 200) { totalCount items { id } } }"
CREATE = "mutation($e: String!) { createLead(input: {email: $e}) { id } }"


@contextmanager
def lead_committed_before_the_total(gateway: Gateway) -> Iterator[list[str]]:
    """Once, right before the statement of a lead total runs, another connection commits a
    lead. Yields the e-mail addresses of the leads it committed."""
    engine = gateway.runtime.db.engine.sync_engine
    sneaked: list[str] = []

    def sneak(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = statement.lower()
        is_total = "from lead_counts" in text or ("count(*)" in text and "from leads" in text)
        if sneaked or not is_total:
            return
        email = f"sneaked.{uuid.uuid4().hex[:8]}@example.com"
        sneaked.append(email)
        with engine.connect() as other:
            other.execute(insert(Lead).values(email=email, email_normalized=email, status="new"))
            other.commit()

    event.listen(engine, "before_cursor_execute", sneak)
    try:
        yield sneaked
    finally:
        event.remove(engine, "before_cursor_execute", sneak)


@pytest.mark.parametrize("fresh_database", ["postgresql"], indirect=True)
async def test_a_page_and_its_total_agree_while_others_commit(gateway: Gateway) -> None:
    admin = gateway.org.admin
    for n in range(3):
        await gateway.data(admin, CREATE, e=f"s{n}@example.com")
    with lead_committed_before_the_total(gateway) as sneaked:
        page = (await gateway.data(admin, PAGE))["leads"]
    assert sneaked, "the total's statement never ran"
    assert page["totalCount"] == len(page["items"])
    # The next query sees the lead committed meanwhile.
    after = (await gateway.data(admin, PAGE))["leads"]
    assert after["totalCount"] == len(after["items"]) == len(page["items"]) + 1
