"""Access by construction, checked on the code itself (docs/security.md).

* Every repository function that hands out sales records takes an ``AccessScope``: there is
  no unscoped read of a lead, account, opportunity, quota, forecast, user or territory.
* Unrestricted reads are asked for by name, ``AccessScope.as_system(reason)``, and only where
  this list says: a new one is a decision a reviewer sees here, never an accident.
"""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import pytest

from sales_graph.db import models
from sales_graph.db.repositories import (
    accounts,
    forecasts,
    leads,
    opportunities,
    territories,
    users,
)
from sales_graph.db.repositories.scoped import ScopedReads

SRC = Path(__file__).resolve().parents[2] / "src" / "sales_graph"
RECORDS = (
    models.Lead,
    models.LeadAssignment,
    models.Account,
    models.Contact,
    models.Opportunity,
    models.OpportunityProduct,
    models.OpportunityHistory,
    models.Quota,
    models.Forecast,
    models.User,
    models.Territory,
    models.TerritoryRule,
)
# Writes return the row they were given; they run after the caller was checked.
WRITES = {"add", "add_forecast", "add_quota", "record_assignment"}

# (module, reason): each place that acts as the system, and why.
SYSTEM_ACCESS = {
    ("auth/admin.py", "command line"),
    ("auth/authenticator.py", "authentication"),
    ("auth/clients.py", "token issuance"),
    ("ops.py", "command line"),
    ("services/account_signals.py", "customer experience signals"),
    ("services/assignment.py", "territory rules"),
    ("services/closing.py", "close-won events"),
    ("services/commissions.py", "commissions"),
    ("services/contracts.py", "billing contracts"),
    ("services/deal_models.py", "deal model training"),
    ("services/forecast_generation.py", "forecast generation"),
    ("services/finance_reports.py", "finance reports"),
    ("services/finance_sync.py", "finance reconciliation"),
    ("services/forecasting.py", "forecast territories"),
    ("services/lead_intake.py", "marketing lead intake"),
    ("services/leads.py", "unique lead email"),
    ("services/opportunities.py", "deal score signals"),
    ("services/quotas.py", "one quota per target"),
    ("services/quotas.py", "quota attainment"),
    ("services/territories.py", "territory events"),
    ("services/users.py", "the caller's own user"),
}
# HTTP surfaces act for their caller, never as the system.
SURFACES = ("schema/", "resolvers/", "rest/", "web/")


def _returns_records(function: typing.Callable[..., object]) -> bool:
    hint = typing.get_type_hints(function).get("return")
    seen = {hint}
    stack = [hint]
    while stack:
        for arg in typing.get_args(stack.pop()):
            if arg not in seen:
                seen.add(arg)
                stack.append(arg)
    return any(record in seen for record in RECORDS)


@pytest.mark.parametrize(
    "module", [accounts, forecasts, leads, opportunities, territories, users], ids=str
)
def test_every_read_of_records_takes_a_scope(module: object) -> None:
    unscoped = [
        name
        for name, function in inspect.getmembers(module, inspect.iscoroutinefunction)
        if function.__module__ == getattr(module, "__name__", None)
        and not name.startswith("_")
        and name not in WRITES
        and _returns_records(function)
        and "scope" not in inspect.signature(function).parameters
    ]
    assert unscoped == []


def test_the_shared_scoped_reads_take_a_scope() -> None:
    # Repositories bind get/by_ids/page/count/... to a ScopedReads; its reads take the scope.
    methods = inspect.getmembers(ScopedReads, inspect.iscoroutinefunction)
    assert {name for name, _ in methods} >= {"get", "by_ids", "page", "count"}
    assert [n for n, f in methods if "scope" not in inspect.signature(f).parameters] == []
    bound = [
        (module.__name__, name)
        for module in (accounts, leads, opportunities)
        for name, value in vars(module).items()
        if inspect.ismethod(value) and isinstance(value.__self__, ScopedReads)
    ]
    assert len(bound) >= 12


def _system_calls() -> set[tuple[str, str]]:
    found = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "as_system"
            ):
                assert node.args, f"{path}: as_system needs its reason"
                reason = node.args[0]
                assert isinstance(reason, ast.Constant), f"{path}: a literal reason"
                found.add((path.relative_to(SRC).as_posix(), str(reason.value)))
    return found


def test_system_access_happens_only_where_listed() -> None:
    calls = _system_calls()
    assert calls == SYSTEM_ACCESS
    assert not [module for module, _ in calls if module.startswith(SURFACES)]
