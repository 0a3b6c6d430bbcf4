from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from sales_graph.db.models import Lead, TerritoryRule
from sales_graph.db.repositories.territories import Candidate
from sales_graph.services.assignment import choose_rep, rule_matches

T = uuid.uuid4()


def _lead(**values: object) -> Lead:
    return Lead(email="a@b.c", email_normalized="a@b.c", **values)


@pytest.mark.parametrize(
    ("rule", "lead", "matches"),
    [
        (TerritoryRule(territory_id=T), _lead(), True),
        (TerritoryRule(territory_id=T, country="US"), _lead(country="us"), True),
        (TerritoryRule(territory_id=T, country="US"), _lead(country="CA"), False),
        (TerritoryRule(territory_id=T, country="US"), _lead(), False),
        (TerritoryRule(territory_id=T, region="EMEA"), _lead(region="emea"), True),
        (TerritoryRule(territory_id=T, industry="Retail"), _lead(industry="Tech"), False),
        (TerritoryRule(territory_id=T, employee_count_min=1000), _lead(employee_count=1000), True),
        (TerritoryRule(territory_id=T, employee_count_min=1000), _lead(employee_count=999), False),
        (TerritoryRule(territory_id=T, employee_count_max=10), _lead(), False),
        (
            TerritoryRule(
                territory_id=T, annual_revenue_min=Decimal(1), annual_revenue_max=Decimal(5)
            ),
            _lead(annual_revenue=Decimal(5)),
            True,
        ),
        (
            TerritoryRule(territory_id=T, country="US", employee_count_min=1000),
            _lead(country="US", employee_count=50),
            False,
        ),
    ],
)
def test_rule_conditions_all_hold(rule: TerritoryRule, lead: Lead, matches: bool) -> None:
    assert rule_matches(rule, lead) is matches


def _candidate(n: int, turns: int, open_leads: int = 0, capacity: int | None = None) -> Candidate:
    return Candidate(uuid.UUID(int=n), n, turns, open_leads, capacity)


def test_round_robin_takes_fewest_turns_then_fewest_open_then_order() -> None:
    assert choose_rep([_candidate(0, 2), _candidate(1, 1), _candidate(2, 1)]) == _candidate(1, 1)
    assert choose_rep([_candidate(0, 1, 5), _candidate(1, 1, 2)]) == _candidate(1, 1, 2)


def test_members_at_capacity_are_skipped() -> None:
    full = _candidate(0, 0, open_leads=3, capacity=3)
    room = _candidate(1, 9, open_leads=0, capacity=3)
    assert choose_rep([full, room]) == room
    assert choose_rep([full]) is None
    assert choose_rep([]) is None
