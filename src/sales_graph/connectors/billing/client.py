"""The Billing system: contracts created from won opportunities, read and updated."""

from __future__ import annotations

from sales_graph.connectors.billing.models import Contract, ContractTerms, NewContract
from sales_graph.connectors.system_client import SystemClient
from sales_graph.connectors.wire import segment


class BillingClient(SystemClient):
    SYSTEM = "billing"
    DEFAULT_TTLS = {"contract": 60.0}

    async def create_contract(self, contract: NewContract, idempotency_key: str) -> Contract:
        """Create the contract, or get the one already created with this key.

        The key is required: it is what makes the POST safe to retry, here and by the caller
        (DESIGN.md uses the opportunity id). Billing answers 422 (``UpstreamRejected``) when the
        key was used with a different body.
        """
        created = await self.upstream.request(
            "POST", "/api/v1/contracts", Contract, json=contract, idempotency_key=idempotency_key
        )
        await self.upstream.remember("contract", _path(created.contract_id), created)
        return created

    async def get_contract(self, contract_id: str) -> Contract:
        return await self.upstream.read("contract", _path(contract_id), Contract)

    async def update_contract(self, contract_id: str, terms: ContractTerms) -> Contract:
        """Replace the contract's terms (a PUT, hence retried like a read)."""
        path = _path(contract_id)
        updated = await self.upstream.request("PUT", path, Contract, json=terms)
        await self.upstream.remember("contract", path, updated)
        return updated


def _path(contract_id: str) -> str:
    return f"/api/v1/contracts/{segment(contract_id)}"
