"""GraphQL types about the gateway itself."""

from __future__ import annotations

import strawberry


@strawberry.type(description="The gateway answers; see /readyz for its dependencies.")
class Health:
    status: str
    version: str
