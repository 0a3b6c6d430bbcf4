"""RecordAccountSignals: the last known upstream signals of an account (health, NPS, critical
tickets, escalations), kept on the account so deal scoring never waits on an upstream."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Account
from sales_graph.db.repositories import accounts as account_repo
from sales_graph.db.repositories.rows import save
from sales_graph.domain.scope import AccessScope

SIGNALS = ("health_score", "nps", "open_critical_tickets", "escalations")


class AccountSignals(BaseModel):
    """What Customer Experience reports about an account; a signal left out is unchanged."""

    model_config = ConfigDict(extra="ignore")

    account_id: uuid.UUID
    health_score: int | None = Field(default=None, ge=0, le=100)
    nps: int | None = Field(default=None, ge=-100, le=100)
    open_critical_tickets: int | None = Field(default=None, ge=0, le=1_000_000)
    escalations: int | None = Field(default=None, ge=0, le=1_000_000)


async def record_account_signals(
    session: AsyncSession, signals: AccountSignals, observed_at: datetime
) -> Account | None:
    """Stores the signals given; None when the account is not ours. A report older than the
    stored signals is ignored (deliveries can arrive out of order)."""
    # Customer Experience reports on the organisation's accounts: the system records them.
    # Locked: two deliveries for one account at once are applied one after the other, so the
    # later report is the one kept (not whichever transaction committed last).
    account = await account_repo.get(
        session,
        AccessScope.as_system("customer experience signals"),
        signals.account_id,
        for_update=True,
    )
    if account is None:
        return None
    if account.signals_updated_at is not None and account.signals_updated_at > observed_at:
        return account
    for name in SIGNALS:
        if name in signals.model_fields_set:
            setattr(account, name, getattr(signals, name))
    account.signals_updated_at = observed_at
    await save(session, account)
    return account
