"""sales-graph: a GraphQL-first API gateway for a sales organisation."""

__version__ = "0.1.0"
