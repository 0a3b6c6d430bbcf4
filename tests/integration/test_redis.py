from __future__ import annotations

import uuid

from redis.asyncio import Redis


async def test_value_round_trips_through_the_real_redis(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    key = f"test:{uuid.uuid4()}"
    try:
        assert await client.set(key, "pipeline", ex=30)
        assert await client.get(key) == b"pipeline"
        assert 0 < await client.ttl(key) <= 30
        assert await client.incr(f"{key}:n") == 1
        assert await client.incr(f"{key}:n") == 2
    finally:
        await client.delete(key, f"{key}:n")
        await client.aclose()
    info = await Redis.from_url(redis_url).info("server")
    assert "redis_version" in info
