"""Forecasts: submit, list a period's."""

from __future__ import annotations

from sales_graph.rest.table import Body, Link, QueryParam, RestRoute, Shape
from sales_graph.services.forecasting import SubmitForecast

FORECAST = Shape("Forecast", related="territoryId: territory { id } submittedBy { id }")

ROUTES = (
    RestRoute(
        method="POST",
        path="/api/v1/forecasts",
        operation_id="createForecast",
        summary="Create Forecast",
        document="""mutation($input: CreateForecastInput!) {
            createForecast(input: $input) {
                id period forecastType amount currentPipeline pipelineCoverage createdAt
            }
        }""",
        status=201,
        filled=("id",),
        body=Body(SubmitForecast),
        example={
            "period": "Q1_2026",
            "territory_id": "3c9a1e2b-7d4f-4b6a-8e5c-9f0a1b2c3d4e",
            "forecast_type": "commit",
            "amount": 5000000.00,
            "notes": "Conservative estimate based on pipeline coverage",
        },
        links=(Link("GetForecasts", "getForecasts", {"path.period": "$response.body#/period"}),),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/forecasts/{period}",
        operation_id="getForecasts",
        summary="Get Forecasts of a Period",
        document="""query($period: String!, $territoryId: ID, $forecastType: ForecastType) {
            forecasts(period: $period, territoryId: $territoryId, forecastType: $forecastType) {
                ...Forecast
            }
        }""",
        shapes=(FORECAST,),
        query=(
            QueryParam("territory_id", "Only forecasts of this territory"),
            QueryParam("forecast_type", "Only forecasts of this type", example="commit"),
        ),
    ),
)
