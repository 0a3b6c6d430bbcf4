"""A client generated from ``/openapi.json`` by openapi-python-client runs the spec's flow.

The generator must take every operation without a warning (no recursive schema, no union-typed
header); the generated package is imported and drives the gateway over real HTTP (uvicorn):
create a lead, convert it, change the opportunity's stage with its ETag, read the owner's
pipeline, submit a forecast and read the period's forecasts.
"""

from __future__ import annotations

import datetime
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import orjson
import pytest

from sales_graph.app import create_app
from sales_graph.db.engine import Database
from sales_graph.db.migrate import upgrade
from sales_graph.rest import ROUTES
from sales_graph.rest.openapi import openapi_json
from sales_graph.settings import RateLimitSettings, Settings
from tests.factories import Org, make_org
from tests.gateways import live_server

PACKAGE = "sales_system_rest_api_client"
OPERATIONS = len(ROUTES)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client package generated from the exported document (the served one: see below)."""
    where = tmp_path_factory.mktemp("client")
    document = where / "openapi.json"
    document.write_bytes(openapi_json())
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [str(bin_dir / "openapi-python-client"), "generate", "--path", str(document)]
    run = subprocess.run(  # noqa: S603 (our own document, the venv's generator)
        [*command, "--output-path", str(where / "out"), "--meta", "none"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    said = run.stdout + run.stderr
    assert run.returncode == 0, said
    # The generator reports what it skips or cannot read as warnings; it must say none.
    for warning in ("Warning", "Unable to", "Skipping"):
        assert warning not in said, said
    operations = sorted((where / "out" / "api").rglob("*.py"))
    assert len([p for p in operations if p.name != "__init__.py"]) == OPERATIONS
    sys.path.insert(0, str(where))
    try:
        (where / "out").rename(where / PACKAGE)
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def _load(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


async def _seeded(url: str) -> Org:
    db = Database(url)
    await upgrade(db.engine)
    async with db.session() as session:
        org = await make_org(session)
    await db.dispose()
    return org


async def test_generated_client_runs_the_spec_flow(
    generated: ModuleType, fresh_database: str, tmp_path: Path
) -> None:
    org = await _seeded(fresh_database)
    app = create_app(
        Settings(  # type: ignore[call-arg]
            data_dir=tmp_path,
            database_url=fresh_database,
            log_level="WARNING",
            rate_limit=RateLimitSettings(enabled=False),
            _env_file=None,
        )
    )
    async with live_server(app) as http:
        served = await http.get("/openapi.json")
        assert served.json() == orjson.loads(openapi_json()), "the client is of another document"
        token = app.state.runtime.tokens.issue(str(org.admin.id), roles=["admin"])
        client = generated.AuthenticatedClient(base_url=str(http.base_url), token=token)
        async with client:
            await _flow(client, org)


async def _flow(client: Any, org: Org) -> None:
    models = _load("models")
    create_lead, convert_lead, get_lead = (
        _load(f"api.leads.{name}") for name in ("create_lead", "convert_lead", "get_lead")
    )
    get_opportunity, update_stage, pipeline = (
        _load(f"api.opportunities.{name}")
        for name in ("get_opportunity", "update_opportunity_stage", "get_opportunity_pipeline")
    )
    create_forecast, get_forecasts = (
        _load(f"api.forecasts.{name}") for name in ("create_forecast", "get_forecasts")
    )

    body = models.CreateLeadBody(
        email="jane.roe@acme-widgets.com",
        first_name="Jane",
        company="Acme Widgets",
        country="US",
        employee_count=500,
        metadata=models.CreateLeadBodyMetadata.from_dict({"utm_source": "linkedin"}),
    )
    created = await create_lead.asyncio_detailed(client=client, body=body)
    assert created.status_code == 201, created.content
    lead = created.parsed
    assert isinstance(lead, models.CreateLeadResponse)
    assert lead.status == models.CreateLeadResponseStatus.NEW
    assert lead.territory_id == str(org.t1.id)

    read = await get_lead.asyncio(UUID(lead.id), client=client)
    assert isinstance(read, models.Lead)
    assert (read.id, read.email, read.first_name) == (lead.id, "jane.roe@acme-widgets.com", "Jane")
    assert read.metadata is not None
    assert read.metadata.to_dict() == {"utm_source": "linkedin"}

    conversion = models.ConvertLeadBody(
        opportunity_name="Acme Widgets - Enterprise",
        amount=120000.0,
        expected_close_date=datetime.date(2026, 4, 30),
        stage=models.ConvertLeadBodyStage.DISCOVERY,
    )
    converted = await convert_lead.asyncio_detailed(UUID(lead.id), client=client, body=conversion)
    assert converted.status_code == 201, converted.content
    assert converted.parsed.lead_id == lead.id
    assert converted.parsed.status == models.ConvertLeadResponseStatus.CONVERTED
    opportunity_id = UUID(converted.parsed.opportunity_id)

    found = await get_opportunity.asyncio_detailed(opportunity_id, client=client)
    assert found.status_code == 200, found.content
    opportunity = found.parsed
    assert opportunity.stage == models.OpportunityStage.DISCOVERY
    assert opportunity.forecast_category == models.OpportunityForecastCategory.PIPELINE
    assert opportunity.expected_close_date == datetime.date(2026, 4, 30)
    etag = found.headers["ETag"]
    assert etag == f'"{opportunity.version}"'

    change = models.UpdateOpportunityStageBody(
        stage=models.UpdateOpportunityStageBodyStage.PROPOSAL, next_step="Send the proposal"
    )
    changed = await update_stage.asyncio_detailed(
        opportunity_id, client=client, body=change, if_match=etag
    )
    assert changed.status_code == 200, changed.content
    assert changed.parsed.stage == models.UpdateOpportunityStageResponseStage.PROPOSAL
    assert changed.parsed.probability == 60
    stale = await update_stage.asyncio_detailed(
        opportunity_id, client=client, body=change, if_match=etag
    )
    assert stale.status_code == 412
    assert isinstance(stale.parsed, models.Error)
    assert stale.parsed.error.code == "PRECONDITION_FAILED"

    owner = UUID(opportunity.owner_id)
    pipe = await pipeline.asyncio(client=client, owner_id=owner, period="Q2_2026")
    assert isinstance(pipe, models.GetOpportunityPipelineResponse)
    assert (pipe.summary.total_count, pipe.summary.total_amount) == (1, 120000.0)
    assert pipe.summary.weighted_amount == 72000.0
    by_stage = {line.stage.value: line.count for line in pipe.by_stage}
    assert by_stage["proposal"] == 1

    territory = UUID(opportunity.territory_id)
    forecast = models.CreateForecastBody(
        period="Q2_2026",
        territory_id=territory,
        forecast_type=models.CreateForecastBodyForecastType.COMMIT,
        amount=100000.0,
        notes="From the generated client",
    )
    submitted = await create_forecast.asyncio_detailed(client=client, body=forecast)
    assert submitted.status_code == 201, submitted.content
    assert submitted.parsed.current_pipeline == 120000.0
    period = await get_forecasts.asyncio("Q2_2026", client=client, territory_id=territory)
    assert isinstance(period, models.GetForecastsResponse)
    mine = [f for f in period.data if f.id == submitted.parsed.id]
    assert [(f.kind.value, f.amount, f.notes) for f in mine] == [
        ("submitted", 100000.0, "From the generated client")
    ]
