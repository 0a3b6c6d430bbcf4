"""Events: the catalog, the envelope, the outbox, the relay and the consumers (docs/events.md)."""
