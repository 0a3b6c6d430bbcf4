"""Who is calling: a user with a role, or a partner client with scopes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sales_graph.domain import Role

PARTNER_SUBJECT_PREFIX = "client:"


@dataclass(frozen=True, slots=True)
class Principal:
    """A user (``user_id`` and ``role`` set) or a partner client (``user_id`` is None).

    ``client_id`` names the OAuth client that obtained the token, or the client of the API key
    sent along; ``api_key_prefix`` names that key. ``scoped`` says whether ``scopes`` limit the
    caller: always for a partner, for a user when a client or an API key stands in between
    (then the user's role and the scopes both apply); a user's own token is not scoped.
    """

    subject: str
    user_id: uuid.UUID | None = None
    role: Role | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    client_id: str | None = None
    api_key_prefix: str | None = None
    scoped: bool = False

    @property
    def is_user(self) -> bool:
        return self.user_id is not None

    @property
    def is_partner(self) -> bool:
        return self.user_id is None

    @classmethod
    def partner(
        cls, client_id: str, scopes: frozenset[str], *, api_key_prefix: str | None = None
    ) -> Principal:
        return cls(
            subject=PARTNER_SUBJECT_PREFIX + client_id,
            scopes=scopes,
            client_id=client_id,
            api_key_prefix=api_key_prefix,
            scoped=True,
        )
