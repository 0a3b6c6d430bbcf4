"""Authentication and access: signing keys, tokens, principals."""

from sales_graph.auth.keys import SigningKeys
from sales_graph.auth.principal import Principal
from sales_graph.auth.tokens import TokenIssuer

__all__ = ["Principal", "SigningKeys", "TokenIssuer"]
