"""The worker: relays, consumers and the scheduler (``sales-graph worker``; in process in the
embedded footprint)."""
