"""Records the fuzzers can aim at, and GraphQL scalar strategies that aim at them.

Left to itself, schemathesis' GraphQL mode draws every ``ID`` and ``String`` from arbitrary
text: almost every document is then refused by the input checks (an id that is not a UUID, a
period that is not ``Q1_2026``, an e-mail without ``@``) and never reaches a resolver. The
strategies below mix the ids of real records (seeded here through the API, plus the
organisation of ``tests.factories``), random UUIDs, valid periods and e-mail addresses, and
still arbitrary text (NUL characters included), so that resolvers, services and the database
all get their share.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import strategies as st
from schemathesis.graphql import nodes
from schemathesis.specs.graphql.scalars import CUSTOM_SCALARS

from tests.factories import Org


@dataclass
class Seeded:
    """Ids of the records the session starts with, by kind."""

    ids: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, value: Any) -> None:
        if isinstance(value, str):
            self.ids.setdefault(kind, []).append(value)

    @property
    def all_ids(self) -> list[str]:
        return [value for values in self.ids.values() for value in values]


def periods(today: dt.date | None = None) -> list[str]:
    """This year's and next year's quarters, a few months, and the fiscal years."""
    today = today or dt.date.today()
    found = []
    for year in (today.year, today.year + 1):
        found += [f"Q{q}_{year}" for q in range(1, 5)]
        found += [f"M{m:02d}_{year}" for m in (1, 6, today.month)]
        found.append(f"FY{year}")
    return found


def _gql(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


CREATE_LEAD = """mutation ($input: CreateLeadInput!) { createLead(input: $input) { id } }"""
CONVERT = """mutation ($id: ID!, $input: ConvertLeadInput!) {
  convertLead(leadId: $id, input: $input) { id account { id contacts { id } } }
}"""
CREATE_OPPORTUNITY = """mutation ($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { id }
}"""
SET_QUOTA = """mutation ($input: SetQuotaInput!) { setQuota(input: $input) { id } }"""
CREATE_FORECAST = (
    """mutation ($input: CreateForecastInput!) { createForecast(input: $input) { id } }"""
)


def seed_records(base_url: str, admin_authorization: str, org: Org) -> Seeded:
    """A few leads (in T1 and T2), a converted one with its account, an opportunity with a
    product line, quotas and a submitted forecast, created by the admin through /graphql."""
    seeded = Seeded()
    for user in (org.admin, org.m1, org.m2, org.r1, org.r2, org.r3, org.r4):
        seeded.add("user", str(user.id))
    for territory in (org.t1, org.t2):
        seeded.add("territory", str(territory.id))
    quarter = f"Q{(dt.date.today().month - 1) // 3 + 1}_{dt.date.today().year}"
    close = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    with httpx.Client(
        base_url=base_url, headers={"Authorization": admin_authorization}, timeout=30
    ) as client:
        for i, country in enumerate(["US", "DE", "US", None]):
            lead = {
                "email": f"seed{i}@fuzz-example.com",
                "company": f"Seed {i}",
                "country": country,
            }
            data = _gql(client, CREATE_LEAD, input=lead)
            seeded.add("lead", data["createLead"]["id"])
        converted = _gql(
            client,
            CONVERT,
            id=seeded.ids["lead"][0],
            input={"opportunityName": "Seed deal", "amount": 5000.0, "expectedCloseDate": close},
        )["convertLead"]
        seeded.add("opportunity", converted["id"])
        account = converted["account"]
        seeded.add("account", account["id"])
        for contact in account["contacts"]:
            seeded.add("contact", contact["id"])
        created = _gql(
            client,
            CREATE_OPPORTUNITY,
            input={
                "name": "Seed expansion",
                "accountId": account["id"],
                "amount": 12000.0,
                "expectedCloseDate": close,
                "ownerId": str(org.r1.id),
                "products": [{"productId": "prod_1", "quantity": 2, "unitPrice": 6000.0}],
            },
        )["createOpportunity"]
        seeded.add("opportunity", created["id"])
        for quota in (
            {"period": quarter, "amount": 100000.0, "userId": str(org.r1.id)},
            {"period": quarter, "amount": 400000.0, "territoryId": str(org.t1.id)},
        ):
            seeded.add("quota", _gql(client, SET_QUOTA, input=quota)["setQuota"]["id"])
        forecast = {
            "period": quarter,
            "territoryId": str(org.t1.id),
            "forecastType": "COMMIT",
            "amount": 50000.0,
        }
        seeded.add(
            "forecast", _gql(client, CREATE_FORECAST, input=forecast)["createForecast"]["id"]
        )
    return seeded


def scalar_strategies(seeded: Seeded) -> dict[str, st.SearchStrategy[Any]]:
    """``ID`` and ``String`` value nodes: mostly values the services accept, some not."""
    known = st.sampled_from(seeded.all_ids)
    ids = st.one_of(
        known,
        known,
        known,
        st.uuids().map(str),
        st.text(max_size=40),
        st.sampled_from(["", "0", "-1", "00000000-0000-0000-0000-000000000000"]),
    )
    words = st.text(
        alphabet=st.characters(codec="utf-8", categories=["L", "N", "Zs", "P"]),
        min_size=1,
        max_size=30,
    )
    emails = st.builds(
        "{}@{}.{}".format,
        st.from_regex(r"[a-z][a-z0-9._]{0,15}", fullmatch=True),
        st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True),
        st.sampled_from(["com", "io", "de", "test", "invalid"]),
    )
    strings = st.one_of(
        st.sampled_from(periods()),
        words,
        emails,
        st.sampled_from(["low", "medium", "high", "net_30", "monthly", "US", "DE", "web"]),
        st.text(max_size=60),
    )
    # Page sizes and counts the services accept (1 to 200), and any 32-bit Int.
    ints = st.one_of(st.integers(1, 200), st.integers(0, 120), st.integers(-(2**31), 2**31 - 1))
    # Money with two places, and any float (huge, tiny, negative).
    floats = st.one_of(
        st.decimals(min_value=0, max_value=10**7, places=2).map(float),
        st.floats(allow_nan=False, allow_infinity=False),
    )
    dates = st.one_of(
        st.dates(
            dt.date.today() - dt.timedelta(days=400), dt.date.today() + dt.timedelta(days=400)
        ),
        st.dates(),
    ).map(dt.date.isoformat)
    return {
        "ID": ids.map(nodes.String),
        "String": strings.map(nodes.String),
        "Int": ints.map(nodes.Int),
        "Float": floats.map(nodes.Float),
        "Date": dates.map(nodes.String),
    }


@contextmanager
def graphql_scalars(strategies: dict[str, st.SearchStrategy[Any]]) -> Iterator[None]:
    """Registers the strategies for one run only (schemathesis keeps them in a global)."""
    saved = {name: CUSTOM_SCALARS[name] for name in strategies if name in CUSTOM_SCALARS}
    CUSTOM_SCALARS.update(strategies)
    try:
        yield
    finally:
        for name in strategies:
            CUSTOM_SCALARS.pop(name, None)
        CUSTOM_SCALARS.update(saved)
