from __future__ import annotations

from tests.federation.conftest import sims

__all__ = ["sims"]
