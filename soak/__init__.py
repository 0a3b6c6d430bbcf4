"""The soak: the production footprint under load while its parts fail (docs/reliability.md)."""
