"""Shared caches of sales-graph's own results (the connectors keep their own upstream cache)."""

from sales_graph.cache.forecasts import (
    ForecastCache,
    InProcessForecastCache,
    Pair,
    RedisForecastCache,
    build_forecast_cache,
)

__all__ = [
    "ForecastCache",
    "InProcessForecastCache",
    "Pair",
    "RedisForecastCache",
    "build_forecast_cache",
]
