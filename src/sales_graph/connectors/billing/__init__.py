"""The Billing connector: the only code that talks to the Billing system."""

from __future__ import annotations

from sales_graph.connectors.billing.client import BillingClient
from sales_graph.connectors.billing.models import (
    Contract,
    ContractLine,
    ContractOwner,
    ContractOwnerRef,
    ContractProduct,
    ContractTerms,
    Instalment,
    NewContract,
)

__all__ = [
    "BillingClient",
    "Contract",
    "ContractLine",
    "ContractOwner",
    "ContractOwnerRef",
    "ContractProduct",
    "ContractTerms",
    "Instalment",
    "NewContract",
]
