"""Each GraphQL sort-order enum names exactly the orders its repository can sort by: an enum
value without an order would be a server error on the list that takes it."""

from __future__ import annotations

from enum import Enum

import pytest

from sales_graph.db.paging import Order
from sales_graph.db.repositories import accounts, leads, opportunities
from sales_graph.schema.accounts import AccountOrder
from sales_graph.schema.leads import LeadOrder
from sales_graph.schema.opportunities import OpportunityOrder


@pytest.mark.parametrize(
    ("enum", "orders"),
    [
        (LeadOrder, leads.ORDERS),
        (AccountOrder, accounts.ORDERS),
        (OpportunityOrder, opportunities.ORDERS),
    ],
)
def test_the_enum_values_are_the_repository_orders(
    enum: type[Enum], orders: dict[str, Order]
) -> None:
    assert [member.value for member in enum] == list(orders)
    assert all(order.name == name for name, order in orders.items())
