"""Forecasts: submit, list a period's."""

from __future__ import annotations

from sales_graph.rest.schemas import (
    FORECAST_TYPE,
    NUM,
    PERIOD,
    STR,
    TIME,
    UUID,
    body,
    checked,
    nullable,
    obj,
    ref,
)
from sales_graph.rest.shapes import JSONObject, camel_keys, enum_arg, ident, lower
from sales_graph.rest.table import Link, QueryParam, RestRoute
from sales_graph.services.forecasting import SubmitForecast


def forecast(f: JSONObject) -> JSONObject:
    return {
        "id": f["id"],
        "kind": lower(f["kind"]),
        "period": f["period"],
        "forecast_type": lower(f["forecastType"]),
        "amount": f["amount"],
        "probability_weighted_amount": f["probabilityWeightedAmount"],
        "ai_predicted_amount": f["aiPredictedAmount"],
        "current_pipeline": f["currentPipeline"],
        "pipeline_coverage": f["pipelineCoverage"],
        "notes": f["notes"],
        "territory_id": ident(f["territory"]),
        "submitted_by": ident(f["submittedBy"]),
        "created_at": f["createdAt"],
    }


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
        variables=lambda r: {"input": camel_keys(r.body, enums=("forecast_type",))},
        shape=lambda d: {
            "id": d["createForecast"]["id"],
            "period": d["createForecast"]["period"],
            "forecast_type": lower(d["createForecast"]["forecastType"]),
            "amount": d["createForecast"]["amount"],
            "current_pipeline": d["createForecast"]["currentPipeline"],
            "pipeline_coverage": d["createForecast"]["pipelineCoverage"],
            "created_at": d["createForecast"]["createdAt"],
        },
        status=201,
        body=checked(
            body(
                ("period", "territory_id", "forecast_type", "amount"),
                period=PERIOD,
                territory_id=STR,
                forecast_type=FORECAST_TYPE,
                amount=NUM,
                notes=STR,
            ),
            SubmitForecast,
        ),
        example={
            "period": "Q1_2026",
            "territory_id": "3c9a1e2b-7d4f-4b6a-8e5c-9f0a1b2c3d4e",
            "forecast_type": "commit",
            "amount": 5000000.00,
            "notes": "Conservative estimate based on pipeline coverage",
        },
        response=obj(
            id=STR,
            period=STR,
            forecast_type=FORECAST_TYPE,
            amount=NUM,
            current_pipeline=nullable(NUM),
            pipeline_coverage=nullable(NUM),
            created_at=TIME,
        ),
        links=(Link("GetForecasts", "getForecasts", {"path.period": "$response.body#/period"}),),
        tags=("Forecasts",),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/forecasts/{period}",
        operation_id="getForecasts",
        summary="Get Forecasts of a Period",
        document="""query($period: String!, $territoryId: ID, $forecastType: ForecastType) {
            forecasts(period: $period, territoryId: $territoryId, forecastType: $forecastType) {
                id kind period forecastType amount probabilityWeightedAmount aiPredictedAmount
                currentPipeline pipelineCoverage notes createdAt territory { id }
                submittedBy { id }
            }
        }""",
        variables=lambda r: {
            "period": r.path["period"],
            "territoryId": r.query.get("territory_id"),
            "forecastType": enum_arg(r.query, "forecast_type"),
        },
        shape=lambda d: {"data": [forecast(f) for f in d["forecasts"]]},
        query=(
            QueryParam("territory_id", UUID, "Only forecasts of this territory"),
            QueryParam(
                "forecast_type", FORECAST_TYPE, "Only forecasts of this type", example="commit"
            ),
        ),
        response=obj(data={"type": "array", "items": ref("Forecast")}),
        tags=("Forecasts",),
    ),
)
