"""Authentication and access: signing keys, tokens, principals."""

from sales_graph.auth.keys import SigningKeys
from sales_graph.auth.tokens import TokenIssuer
from sales_graph.domain.principal import Principal

__all__ = ["Principal", "SigningKeys", "TokenIssuer"]
