from tests.observability.tracing_fixtures import spans

__all__ = ["spans"]
