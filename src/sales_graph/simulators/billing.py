"""The Billing system: contracts created from won opportunities, read and updated.

``POST /api/v1/contracts`` honours ``Idempotency-Key`` as payment APIs do: the first request with
a key creates the contract (201); a repeat with the same key and body returns that contract (200,
``Idempotent-Replayed: true``) and creates nothing; the same key with a different body is a 422.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sales_graph.simulators.core import SeededApi, error_response, not_found, read_body
from sales_graph.simulators.seeded import add_months, iso

SYSTEM = "billing"
_MONTHS_PER_INVOICE = {"monthly": 1, "quarterly": 3, "annually": 12}
_CENT = Decimal("0.01")


class ContractProduct(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    unit_price: Decimal = Field(ge=0)
    discount: Decimal = Field(default=Decimal(0), ge=0, le=1)


class ContractTerms(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(gt=0)
    currency: str = Field(default="USD", min_length=3, max_length=3)
    contract_term: int = Field(gt=0, le=120, description="months")
    start_date: date
    payment_terms: str = "net_30"
    billing_frequency: Literal["monthly", "quarterly", "annually"] = "monthly"
    products: list[ContractProduct] = Field(default_factory=list)


class ContractOwner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str
    name: str
    email: str


class ContractCreate(ContractTerms):
    opportunity_id: str = Field(min_length=1)
    account_id: str = Field(min_length=1)
    owner: ContractOwner | None = None


def payment_schedule(terms: ContractTerms) -> list[dict[str, Any]]:
    step = _MONTHS_PER_INVOICE[terms.billing_frequency]
    count = max(1, -(-terms.contract_term // step))
    instalment = (terms.amount / count).quantize(_CENT, ROUND_HALF_UP)
    amounts = [instalment] * (count - 1) + [terms.amount - instalment * (count - 1)]
    return [
        {"due_date": add_months(terms.start_date, i * step).isoformat(), "amount": float(a)}
        for i, a in enumerate(amounts)
    ]


@dataclass(eq=False)
class BillingApi(SeededApi):
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    idempotency: dict[str, tuple[str, str]] = field(default_factory=dict, init=False)

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/api/v1/contracts", self.create, methods=["POST"]),
            Route("/api/v1/contracts/{contract_id}", self.get, methods=["GET"]),
            Route("/api/v1/contracts/{contract_id}", self.update, methods=["PUT"]),
        ]

    def state(self) -> dict[str, Any]:
        return {
            "contracts": list(self.contracts.values()),
            "idempotency_keys": sorted(self.idempotency),
        }

    def _new_contract_id(self) -> str:
        text = f"{self.seed}:{SYSTEM}:contract:{len(self.contracts)}"
        return "ctr_" + hashlib.sha256(text.encode()).hexdigest()[:16]

    async def create(self, request: Request) -> Response:
        key = request.headers.get("idempotency-key")
        raw = await request.body()
        fingerprint = _fingerprint(raw)
        if key is not None and key in self.idempotency:
            seen_fingerprint, contract_id = self.idempotency[key]
            if seen_fingerprint != fingerprint:
                return error_response(
                    422,
                    "IDEMPOTENCY_KEY_REUSED",
                    "Idempotency-Key was used with a different request body",
                )
            return JSONResponse(
                self.contracts[contract_id], 200, headers={"Idempotent-Replayed": "true"}
            )
        body = await read_body(request, ContractCreate)
        if isinstance(body, Response):
            return body
        now = iso(datetime.now(UTC))
        contract_id = self._new_contract_id()
        self.contracts[contract_id] = {
            "contract_id": contract_id,
            "opportunity_id": body.opportunity_id,
            "account_id": body.account_id,
            "status": "pending_signature",
            "owner": body.owner.model_dump() if body.owner else None,
            **_terms_payload(body),
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        if key is not None:
            self.idempotency[key] = (fingerprint, contract_id)
        return JSONResponse(
            self.contracts[contract_id],
            201,
            headers={"Location": f"/api/v1/contracts/{contract_id}"},
        )

    async def get(self, request: Request) -> Response:
        contract_id = request.path_params["contract_id"]
        if contract_id not in self.contracts:
            return not_found("contract", contract_id)
        return JSONResponse(self.contracts[contract_id])

    async def update(self, request: Request) -> Response:
        contract_id = request.path_params["contract_id"]
        if contract_id not in self.contracts:
            return not_found("contract", contract_id)
        terms = await read_body(request, ContractTerms)
        if isinstance(terms, Response):
            return terms
        current = self.contracts[contract_id]
        self.contracts[contract_id] = {
            **current,
            **_terms_payload(terms),
            "version": current["version"] + 1,
            "updated_at": iso(datetime.now(UTC)),
        }
        return JSONResponse(self.contracts[contract_id])


def _fingerprint(raw: bytes) -> str:
    """The body's identity regardless of key order or whitespace."""
    try:
        canonical = orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        canonical = raw
    return hashlib.sha256(canonical).hexdigest()


def _terms_payload(terms: ContractTerms) -> dict[str, Any]:
    return {
        "amount": float(terms.amount),
        "currency": terms.currency,
        "contract_term": terms.contract_term,
        "start_date": terms.start_date.isoformat(),
        "end_date": (
            add_months(terms.start_date, terms.contract_term) - timedelta(days=1)
        ).isoformat(),
        "payment_terms": terms.payment_terms,
        "billing_frequency": terms.billing_frequency,
        "products": [
            {**p.model_dump(), "unit_price": float(p.unit_price), "discount": float(p.discount)}
            for p in terms.products
        ],
        "payment_schedule": payment_schedule(terms),
    }
