"""The composition root: every long-lived client, built once from the settings and closed once.

``app.py``'s lifespan and the CLI build a :class:`Runtime`; everything else receives what it
needs from it as arguments and never reads settings or globals itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from redis.asyncio import Redis

from sales_graph.auth.authenticator import Authenticator, build_authenticator
from sales_graph.auth.keys import SigningKeys
from sales_graph.auth.tokens import TokenIssuer
from sales_graph.cache.forecasts import ForecastCache, InProcessForecastCache, build_forecast_cache
from sales_graph.connectors import Connectors, build_connectors
from sales_graph.db.engine import Database
from sales_graph.events.fanout import Fanout
from sales_graph.limiter import RateLimiter, build_rate_limiter
from sales_graph.services.scoring import PRIOR, Model
from sales_graph.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    db: Database
    tokens: TokenIssuer
    # Bearer tokens (ours, the external IdP's JWKS client) and the API key verifier.
    authenticator: Authenticator
    redis: Redis | None = None
    checks: dict[str, float] = field(default_factory=dict)
    # In Redis when there is one, else in process; None: requests are not rate limited.
    rate_limiter: RateLimiter | None = None
    # The deal-score model in use: the newest trained version, else the documented prior.
    deal_model: Model = PRIOR
    # The external systems' clients (docs/upstreams.md); None: every upstream field is null.
    connectors: Connectors | None = None
    # Generated forecasts and the pairs waiting for a refresh (docs/events.md); the default
    # keeps no values, only the queue.
    forecast_cache: ForecastCache = field(
        default_factory=lambda: InProcessForecastCache(3600, keep_values=False)
    )
    # Committed events for this process's GraphQL subscriptions (docs/real-time.md).
    fanout: Fanout = field(default_factory=Fanout)

    async def close(self) -> None:
        await self.fanout.close()
        await self.authenticator.aclose()
        if self.connectors is not None:
            await self.connectors.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()


def build_runtime(settings: Settings) -> Runtime:
    db = Database(settings.effective_database_url, echo=settings.database_echo)
    keys = SigningKeys.load_or_create(settings.effective_signing_keys_file)
    tokens = TokenIssuer(
        keys,
        issuer=settings.auth.issuer,
        audience=settings.auth.audience,
        ttl_s=settings.auth.access_token_ttl_s,
    )
    redis = (
        Redis.from_url(
            settings.redis_url, socket_connect_timeout=2, socket_timeout=2, health_check_interval=30
        )
        if settings.redis_url
        else None
    )
    authenticator = build_authenticator(settings.auth, db, tokens)
    return Runtime(
        settings=settings,
        db=db,
        tokens=tokens,
        authenticator=authenticator,
        redis=redis,
        rate_limiter=build_rate_limiter(settings.rate_limit, redis),
        # Upstream reads are cached in Redis in production (shared by the workers), else in
        # process, so that development and test runs never see each other's cached answers.
        connectors=build_connectors(settings, redis if settings.is_production else None),
        forecast_cache=build_forecast_cache(settings, redis),
    )


async def kafka_reachable(bootstrap_servers: str, timeout_s: float = 3.0) -> None:
    """Raises unless the Kafka cluster answers a metadata request in time."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=2000)
    try:
        async with asyncio.timeout(timeout_s):
            await admin.start()
            await admin.describe_cluster()
    finally:
        await admin.close()


async def load_deal_model(runtime: Runtime) -> None:
    """The newest trained deal-score model, or the prior when none was trained (or no table)."""
    from sqlalchemy.exc import DBAPIError

    from sales_graph.services.deal_models import current_model

    try:
        async with runtime.db.session() as session:
            runtime.deal_model = await current_model(session)
    except DBAPIError:
        runtime.deal_model = PRIOR
