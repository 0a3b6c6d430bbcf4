"""Deterministic data: every value is drawn from a generator seeded by (seed, system, kind, id).

The same id therefore gives the same answer across requests, processes and machines, which is
what lets tests and the demo assert on upstream data without fixtures.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

# The simulated "now" of all generated history: fixed so that payloads do not drift with the clock.
EPOCH = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)

FIRST_NAMES = ("Ada", "Grace", "Alan", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Torvalds", "Liskov", "Thompson", "Hamilton")
COMPANIES = ("Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Co")
INDUSTRIES = ("Technology", "Healthcare", "Finance", "Retail", "Manufacturing", "Education")
TITLES = ("VP Engineering", "CTO", "Head of Sales Ops", "IT Director", "CFO", "Product Manager")
PRODUCT_AREAS = ("api", "billing", "reporting", "integrations", "sso", "mobile")


def rng_for(seed: int, system: str, *parts: str) -> random.Random:
    """A generator that depends only on its arguments (``hash()`` is salted per process)."""
    text = ":".join((str(seed), system, *parts))
    digest = hashlib.sha256(text.encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - data, not secrets


def short_id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}_{rng.getrandbits(48):012x}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def days_ago(rng: random.Random, low: float, high: float) -> datetime:
    return (EPOCH - timedelta(days=rng.uniform(low, high))).replace(microsecond=0)


def money(rng: random.Random, low: float, high: float) -> float:
    return round(rng.uniform(low, high), 2)


def add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    # Clamp the day so that 31 January + 1 month is 28/29 February, as billing systems do.
    for day in range(start.day, 27, -1):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return date(year, month, min(start.day, 28))


def newest_first(account_id: str, items: list[dict[str, Any]], at: str) -> dict[str, Any]:
    """An account's list payload, its items newest first by their time ``at``."""
    items.sort(key=lambda item: str(item[at]), reverse=True)
    return {"account_id": account_id, "items": items}


def is_unknown(resource_id: str) -> bool:
    """Ids starting with ``missing`` do not exist upstream: the simulator answers 404 for them."""
    return resource_id.startswith("missing")
