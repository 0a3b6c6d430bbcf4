"""What the fuzz tests get from ``tests/fuzz/conftest.py``'s session gateway."""

from __future__ import annotations

from dataclasses import dataclass

from tests.factories import Org
from tests.fuzz.data import Seeded


@dataclass(frozen=True)
class Credentials:
    """Headers of each caller the suite fuzzes as."""

    admin: str
    manager: str
    rep: str
    # A validly signed token of a user that does not exist: refused after the signature.
    unknown_user: str
    partner_all_scopes: str
    partner_one_scope: str


@dataclass(frozen=True)
class LiveGateway:
    base_url: str
    database: str
    org: Org
    credentials: Credentials
    # Records created through the API before any fuzzing, for the GraphQL scalar strategies.
    seeded: Seeded
