"""Billing: a contract created for every closed-won opportunity (docs/events.md, "Billing
contracts").

The consumer of ``opportunity.closed_won`` asks Billing for the contract (Idempotency-Key = the
opportunity id) outside any transaction, then stores the contract id with its inbox row in one.
A transient Billing failure is raised for the consumer to retry, briefly; a deal whose contract
is still missing after that (Billing was down for longer, the message went to the dead letters)
is picked up by :class:`ContractSweep`, which keeps trying until Billing takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import KW_ONLY, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pydantic

from sales_graph.connectors.errors import UpstreamRejected
from sales_graph.db.repositories import outbox as outbox_repo
from sales_graph.errors import NotFound, UpstreamError, ValidationError
from sales_graph.events.subscriptions import BILLING_CONTRACTS
from sales_graph.logs import get_logger
from sales_graph.services import contracts
from sales_graph.services.validation import field_errors
from sales_graph.timeutil import utcnow
from sales_graph.worker.consumer import MessageHandler, Rejected
from sales_graph.worker.handling import event_id_of, handling

if TYPE_CHECKING:
    from sales_graph.runtime import Runtime
    from sales_graph.worker.service import Service

# The inbox's consumer name: the subscription's.
CONSUMER = BILLING_CONTRACTS.name
EVENT_TYPE = "opportunity.closed_won"

# The sweep: how often it looks, how long after the close it leaves a deal to the consumer,
# and how many deals it takes per look.
SWEEP_INTERVAL_S = 60.0
SWEEP_GRACE_S = 300.0
SWEEP_BATCH = 50

_log = get_logger("sales_graph.worker.billing")


def parse_closed_won(message: dict[str, Any]) -> contracts.ClosedWon:
    try:
        return contracts.ClosedWon.model_validate(message.get("payload"))
    except pydantic.ValidationError as exc:
        raise Rejected(f"not a valid {EVENT_TYPE} event: {field_errors(exc)}") from exc


def closed_won_handler(runtime: Runtime) -> MessageHandler:
    async def handle(message: dict[str, Any]) -> None:
        if message.get("event_type") != EVENT_TYPE:
            return  # the topic is Billing's; other types are not this consumer's business
        deal = parse_closed_won(message)
        event_id = event_id_of(message)
        with handling(message, event_id):
            try:
                await _create_contract(runtime, deal, event_id)
            except (NotFound, ValidationError, UpstreamRejected) as exc:
                # An unknown or open opportunity, or a request Billing refuses: never better.
                raise Rejected(f"{type(exc).__name__}: {exc.message}") from exc

    return handle


async def _create_contract(runtime: Runtime, deal: contracts.ClosedWon, event_id: str) -> None:
    async with runtime.db.session() as session:
        if not await contracts.contract_needed(session, deal):
            return  # a redelivery: Billing is not asked again
    billing = runtime.connectors.billing if runtime.connectors else None
    contract = await contracts.request_contract(billing, deal)
    async with runtime.db.session() as session:
        if await outbox_repo.remember_processed(session, CONSUMER, event_id):
            await contracts.store_contract(session, deal, contract)
    _log.info(
        "billing.contract_created",
        opportunity_id=str(deal.opportunity_id),
        contract_id=contract.contract_id,
    )


@dataclass(eq=False)
class ContractSweep:
    """Requests the contracts of won deals that still have none some time after their close,
    every ``interval_s``, for as long as it takes (Billing dedupes by the opportunity id)."""

    runtime: Runtime
    _: KW_ONLY
    interval_s: float = SWEEP_INTERVAL_S
    grace_s: float = SWEEP_GRACE_S
    batch: int = SWEEP_BATCH

    async def run_once(self) -> int:
        """Requests the missing contracts once; the number stored."""
        async with self.runtime.db.session() as session:
            deals = await contracts.deals_without_contract(
                session, closed_before=utcnow() - timedelta(seconds=self.grace_s), limit=self.batch
            )
        billing = self.runtime.connectors.billing if self.runtime.connectors else None
        stored = 0
        for deal in deals:
            try:
                contract = await contracts.request_contract(billing, deal)
            except UpstreamError as exc:
                _log.warning(
                    "billing.contract_missing",
                    opportunity_id=str(deal.opportunity_id),
                    error=exc.code,
                    reason=exc.message,
                )
                if not isinstance(exc, UpstreamRejected):
                    break  # Billing is away: the next round tries again
                continue
            async with self.runtime.db.session() as session:
                stored += await contracts.store_contract(session, deal, contract)
        return stored

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                _log.exception("billing.sweep_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)


def services(runtime: Runtime) -> list[Service]:
    """The sweep, when Billing is configured (else there is nothing it could do)."""
    connectors = runtime.connectors
    if connectors is None or not connectors.billing.upstream.configured:
        return []
    return [ContractSweep(runtime)]
