"""Business rules, one module per domain. No HTTP, no GraphQL types; never commits."""
