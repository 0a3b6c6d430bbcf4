"""Commission-eligible deals sent to Finance, and Finance's lines kept (docs/finance.md).

A month's calculation is planned, then sent:

1. **Plan** (one transaction): the deals closed-won in the month are compared with the month's
   current lines. A deal never calculated, or whose owner, amount or eligibility changed since,
   goes into a new *version*; a deal calculated before that is no longer closed-won in the month
   goes in with ``eligible: false`` and amount 0. The version is cut into batches, each stored
   ``pending`` with the deals it carries and a stable id, which is its Idempotency-Key.
2. **Send** each pending batch in order; Finance's answer is stored with the batch marked sent,
   in one transaction, and each new line supersedes the deal's earlier line. A batch Finance
   refuses (a 4xx) is marked ``rejected`` with the rest of its version; their deals are
   planned again by the next run.

A run that stops anywhere resumes with the pending batches, sent with the same keys: Finance
answers a repeat with its first calculation, so no batch has a second effect.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.connectors.errors import UpstreamRejected
from sales_graph.connectors.finance import CommissionCalculation, CommissionDeal, CommissionProduct
from sales_graph.db.models import CommissionBatch, CommissionLine, Opportunity
from sales_graph.db.paging import PageRequest
from sales_graph.db.repositories import finance as finance_repo
from sales_graph.db.repositories import opportunities as opportunity_repo
from sales_graph.domain.periods import Period, months_in
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import UpstreamError

SYSTEM_SCOPE = AccessScope.as_system("commissions")
# The namespace of batch ids (uuid5), so that a plan made again gives the same ids.
_BATCHES = uuid.UUID("6f1c2d0e-5b7a-4f3e-9c1d-2a8b7e6f5d40")
_ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Planned:
    """A version planned now (or None: nothing changed), and the batches left to send."""

    version: int | None
    batches: list[CommissionBatch]
    new_deals: int = 0
    corrected_deals: int = 0
    withdrawn_deals: int = 0


@dataclass
class Sent:
    period: str
    version: int | None = None
    planned_batches: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    new_deals: int = 0
    corrected_deals: int = 0
    withdrawn_deals: int = 0
    superseded_lines: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "version": self.version,
            "planned_batches": self.planned_batches,
            "batches_sent": len(self.sent),
            "batches": self.sent,
            "new_deals": self.new_deals,
            "corrected_deals": self.corrected_deals,
            "withdrawn_deals": self.withdrawn_deals,
            "superseded_lines": self.superseded_lines,
        }


def deal_hash(deal: CommissionDeal) -> str:
    """What a correction is measured against: who, how much, whether it counts."""
    key = f"{deal.owner_id}|{Decimal(str(deal.amount)).quantize(_ZERO)}|{deal.eligible}"
    return hashlib.sha256(key.encode()).hexdigest()


def _deal(opportunity: Opportunity, products: Sequence[Any]) -> CommissionDeal:
    return CommissionDeal(
        opportunity_id=str(opportunity.id),
        owner_id=str(opportunity.owner_id),
        amount=float(opportunity.amount or 0),
        closed_at=opportunity.closed_at.date() if opportunity.closed_at else None,
        territory_id=str(opportunity.territory_id) if opportunity.territory_id else None,
        contract_id=opportunity.contract_id,
        products=[
            CommissionProduct(
                product_id=p.product_id,
                quantity=p.quantity,
                unit_price=float(p.unit_price),
                discount=float(p.discount),
            )
            for p in products
        ],
    )


def _withdrawn(line: CommissionLine, opportunity: Opportunity | None) -> CommissionDeal:
    return CommissionDeal(
        opportunity_id=str(line.opportunity_id),
        owner_id=str(line.owner_id),
        amount=0.0,
        closed_at=opportunity.closed_at.date() if opportunity and opportunity.closed_at else None,
        territory_id=str(line.territory_id) if line.territory_id else None,
        contract_id=opportunity.contract_id if opportunity else None,
        eligible=False,
    )


def _batch_id(period: str, version: int, position: int, deals: list[dict[str, Any]]) -> uuid.UUID:
    content = orjson.dumps(deals, option=orjson.OPT_SORT_KEYS).decode()
    return uuid.uuid5(_BATCHES, f"{period}:{version}:{position}:{content}")


async def plan(
    session: AsyncSession, period: Period, *, batch_size: int, plan_id: str | None
) -> Planned:
    """The batches to send for the month: those left pending, else a new version's."""
    pending = await finance_repo.pending_batches(session, period.name)
    if pending:
        return Planned(None, pending)
    won = await finance_repo.won_in(session, SYSTEM_SCOPE, start=period.start, end=period.end)
    products = await opportunity_repo.products_of(session, SYSTEM_SCOPE, [o.id for o in won])
    by_deal: dict[uuid.UUID, list[Any]] = {}
    for product in products:
        by_deal.setdefault(product.opportunity_id, []).append(product)
    current = {
        line.opportunity_id: line for line in await finance_repo.current_lines(session, period.name)
    }
    changed: list[CommissionDeal] = []
    new = corrected = 0
    for opportunity in won:
        deal = _deal(opportunity, by_deal.get(opportunity.id, []))
        line = current.get(opportunity.id)
        if line is None:
            new += 1
        elif line.deal_hash == deal_hash(deal):
            continue
        else:
            corrected += 1
        changed.append(deal)
    won_ids = {o.id for o in won}
    gone = [line for deal_id, line in current.items() if deal_id not in won_ids and line.eligible]
    others = {
        o.id: o
        for o in await finance_repo.opportunities_by_ids(
            session, SYSTEM_SCOPE, [line.opportunity_id for line in gone]
        )
    }
    changed += [_withdrawn(line, others.get(line.opportunity_id)) for line in gone]
    if not changed:
        return Planned(None, [])
    version = await finance_repo.latest_version(session, period.name) + 1
    batches = []
    for position, start in enumerate(range(0, len(changed), batch_size)):
        deals = [d.model_dump(mode="json") for d in changed[start : start + batch_size]]
        batches.append(
            CommissionBatch(
                id=_batch_id(period.name, version, position, deals),
                period=period.name,
                version=version,
                position=position,
                status="pending",
                deals=deals,
                plan_id=plan_id,
            )
        )
    await finance_repo.add_batches(session, batches)
    return Planned(version, batches, new, corrected, len(gone))


def idempotency_key(batch: CommissionBatch) -> str:
    return f"sales-graph-commissions-{batch.id}"


def _lines(batch: CommissionBatch, answer: CommissionCalculation) -> list[CommissionLine]:
    deals = {d["opportunity_id"]: CommissionDeal.model_validate(d) for d in batch.deals}
    lines = []
    for line in answer.lines:
        deal = deals.get(line.opportunity_id)
        if deal is None:
            raise UpstreamError(
                "Finance answered a deal that was not sent",
                details={"system": "finance", "opportunity_id": line.opportunity_id},
            )
        lines.append(
            CommissionLine(
                batch_id=batch.id,
                period=batch.period,
                version=batch.version,
                opportunity_id=uuid.UUID(deal.opportunity_id),
                owner_id=uuid.UUID(deal.owner_id),
                territory_id=uuid.UUID(deal.territory_id) if deal.territory_id else None,
                eligible=deal.eligible,
                amount=Decimal(str(deal.amount)),
                rate=Decimal(str(line.rate)),
                commission=Decimal(str(line.commission)),
                currency=answer.currency,
                deal_hash=deal_hash(deal),
            )
        )
    missing = deals.keys() - {line.opportunity_id for line in answer.lines}
    if missing:
        raise UpstreamError(
            "Finance answered no line for some deals",
            details={"system": "finance", "opportunity_ids": sorted(missing)[:10]},
        )
    return lines


async def store(
    session: AsyncSession, batch: CommissionBatch, answer: CommissionCalculation
) -> int | None:
    """Finance's answer to a batch, kept; None when another run stored it first. How many
    earlier lines the new ones superseded."""
    lines = _lines(batch, answer)
    total = Decimal(str(answer.total_commission))
    if not await finance_repo.mark_sent(
        session, batch.id, calculation_id=answer.calculation_id, total_commission=total
    ):
        return None
    return await finance_repo.add_lines(session, lines, version=batch.version) if lines else 0


Send = Callable[[CommissionBatch], Awaitable[CommissionCalculation]]
Session = Callable[[], Any]


async def sync_period(
    session: Session, period: Period, send: Send, *, batch_size: int, plan_id: str | None
) -> Sent:
    """Plans the month (or resumes it) and sends every pending batch, each stored in a
    transaction of its own. ``session`` opens a unit of work (``Database.session``); ``send``
    posts a batch (with its Idempotency-Key) and raises when Finance cannot answer."""
    async with session() as s:
        planned = await plan(s, period, batch_size=batch_size, plan_id=plan_id)
    result = Sent(
        period.name,
        planned.version
        if planned.version is not None
        else (planned.batches[0].version if planned.batches else None),
        len(planned.batches),
        new_deals=planned.new_deals,
        corrected_deals=planned.corrected_deals,
        withdrawn_deals=planned.withdrawn_deals,
    )
    for batch in planned.batches:
        try:
            answer = await send(batch)
        except UpstreamRejected:
            # Finance refused the request itself (a 4xx): sending it again cannot help. It and
            # the rest of its version are dropped; their deals have no line, so the next run
            # plans them afresh (with the settings then).
            async with session() as s:
                await finance_repo.mark_rejected(s, batch)
            raise
        async with session() as s:
            superseded = await store(s, batch, answer)
        result.sent.append(
            {
                "batch_id": str(batch.id),
                "version": batch.version,
                "position": batch.position,
                "deals": len(batch.deals),
                "calculation_id": answer.calculation_id,
                "total_commission": float(answer.total_commission),
                "stored": superseded is not None,
            }
        )
        result.superseded_lines += superseded or 0
    return result


async def lines(
    session: AsyncSession,
    scope: AccessScope,
    period: Period,
    *,
    owner_id: uuid.UUID | None,
    include_superseded: bool,
    page: PageRequest,
) -> list[CommissionLine]:
    """The ``commissions`` read: the lines the caller sees of the months in the period."""
    return await finance_repo.commission_lines(
        session,
        scope,
        [month.name for month in months_in(period)],
        owner_id=owner_id,
        include_superseded=include_superseded,
        page=page,
    )
