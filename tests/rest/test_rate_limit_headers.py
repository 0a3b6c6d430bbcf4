"""REST answers carry the spec's X-RateLimit-* headers, errors included (rate limits on)."""

from __future__ import annotations

from tests.limits.conftest import Api, api, org_database  # noqa: F401

HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


async def test_rest_responses_carry_rate_limit_headers(api: Api) -> None:  # noqa: F811
    ok = await api.client.get("/api/v1/territories", headers=api.admin())
    assert ok.status_code == 200
    refused = await api.client.get("/api/v1/leads?colour=red", headers=api.admin())
    assert refused.status_code == 400
    for response in (ok, refused):
        assert all(response.headers[name].isdigit() for name in HEADERS)
    assert int(refused.headers["X-RateLimit-Remaining"]) < int(ok.headers["X-RateLimit-Remaining"])
