"""The shape of the benchmark organisation at a scale, and its deterministic identifiers.

Every id is ``md5('<kind>:<n>')`` as a UUID, computed the same way in SQL (``bench.seed``) and
here, so tokens and expected answers survive a reseed at another scale.

The organisation grows with the data, as a real one does: one rep per 1,000 opportunities (and
1,000 leads), ten reps per territory, each territory owned by its manager, every manager
reporting to one head of sales (``vp``, a ``sales_manager``). A rep's book therefore stays about
1,000 opportunities from 10k to 1M rows, and a territory about 10,000.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

OPPORTUNITIES_PER_REP = 1000
REPS_PER_TERRITORY = 10
ACCOUNTS_PER_REP = 100


def ident(kind: str, n: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"{kind}:{n}".encode()).hexdigest())  # noqa: S324 - ids, not security


def email(kind: str, n: int) -> str:
    return f"{kind}{n}@bench.example"


@dataclass(frozen=True, slots=True)
class Org:
    """The organisation holding ``rows`` leads and ``rows`` opportunities."""

    rows: int

    @property
    def reps(self) -> int:
        return max(REPS_PER_TERRITORY, self.rows // OPPORTUNITIES_PER_REP)

    @property
    def territories(self) -> int:
        return max(1, self.reps // REPS_PER_TERRITORY)

    @property
    def accounts(self) -> int:
        return self.reps * ACCOUNTS_PER_REP

    @property
    def users(self) -> int:
        return 2 + self.territories + self.reps  # admin, vp, managers, reps

    def account_of_opportunity(self, n: int) -> uuid.UUID:
        """The account of opportunity ``n`` (``bench.seed``): one of its owner's accounts."""
        return ident("account", ((n // self.reps) % ACCOUNTS_PER_REP) * self.reps + n % self.reps)


ADMIN = ident("admin", 0)
VP = ident("vp", 0)
REP = ident("rep", 0)
ADMIN_EMAIL = email("admin", 0)
VP_EMAIL = email("vp", 0)
REP_EMAIL = email("rep", 0)
