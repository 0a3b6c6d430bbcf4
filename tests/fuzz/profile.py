"""How much the fuzz suite generates: SHORT inside ``make test``, LONG with ``make fuzz``.

The profile is read from ``FUZZ_PROFILE`` (``short``, the default, or ``long``); ``FUZZ_SEED``
replaces the fixed seed (a long run with a new seed looks somewhere new); ``FUZZ_REPORT``
names a file each target's full report is appended to as soon as it finishes. The name is not
``SALES_GRAPH_...``: ``tests/services.py`` removes every such variable before the tests run,
so that ``Settings()`` sees a clean environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

SEED = 20260211
REPORT_FILE = os.environ.get("FUZZ_REPORT") or None


@dataclass(frozen=True)
class Profile:
    name: str
    seed: int
    # The databases the gateway runs on, one session each.
    databases: tuple[str, ...]
    # Examples per operation in the fuzzing phase (REST and GraphQL).
    rest_max_examples: int
    graphql_max_examples: int
    # Scenarios of the stateful phase, and steps in each.
    stateful_max_examples: int
    stateful_max_steps: int
    # The coverage phase of the secondary REST callers (manager, rep, partners, generated
    # credentials, a token of nobody) runs positive cases only in the short profile: its
    # negative cases (about 850 of its 1,100) are the same for every caller (a request refused
    # by its shape before any rule of the caller applies, or by the missing caller), and the
    # admin's and the anonymous runs keep all of them.
    full_coverage_for_all: bool


def _profile() -> Profile:
    name = os.environ.get("FUZZ_PROFILE", "short").strip().lower() or "short"
    seed = int(os.environ.get("FUZZ_SEED") or SEED)
    if name == "short":
        return Profile(
            name="short",
            seed=seed,
            databases=("postgresql",),
            rest_max_examples=6,
            graphql_max_examples=20,
            stateful_max_examples=6,
            stateful_max_steps=5,
            full_coverage_for_all=False,
        )
    if name == "long":
        return Profile(
            name="long",
            seed=seed,
            databases=("postgresql", "sqlite"),
            rest_max_examples=300,
            graphql_max_examples=200,
            stateful_max_examples=150,
            stateful_max_steps=20,
            full_coverage_for_all=True,
        )
    raise ValueError(f"FUZZ_PROFILE must be short or long, not {name!r}")


PROFILE = _profile()
