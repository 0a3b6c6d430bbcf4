"""The mixed workload and what it records.

Virtual users pick their next step by weight, in roughly the proportions of a sales organisation:
reps and managers reading lists, records and pipelines; federated account pages; forecasts; leads
created (by partners over REST with an ``Idempotency-Key``, by people over GraphQL) and converted;
opportunities moved stage by stage up to a close; Marketing's ``lead.qualified`` on Kafka; Customer
Experience's signed webhooks. Every request becomes a :class:`Call` (when, in which phase, what,
how it ended); every write also a :class:`Write`, which the audit checks against the final state.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import random
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

from soak.stack import ADMIN, KAFKA, MANAGERS, WEBHOOK_SECRET

REQUEST_TIMEOUT_S = 30.0
MARKETING_TOPIC = "marketing.leads"
# The stage path a driver opportunity takes; one in five is lost at negotiation.
NEXT_STAGE = {"discovery": "qualification", "qualification": "negotiation"}


@dataclass(slots=True)
class Call:
    at: float  # seconds since the run began
    phase: str
    kind: str
    status: int  # HTTP status; 0 when no answer came
    latency_s: float
    code: str | None = None  # the envelope's or the GraphQL error's code
    retry_after: bool = False
    problem: str | None = None  # an answer a client cannot act on (the audit fails on any)


@dataclass
class Write:
    kind: str  # lead.create | lead.convert | opportunity.stage
    via: str  # rest | graphql
    target: str  # the lead's email (create), the lead id (convert), the opportunity id (stage)
    request: dict[str, Any]
    key: str | None = None  # Idempotency-Key (REST creates and converts)
    api_key: str | None = None  # the partner's key that sent it (a retry must be the same caller)
    status: int = 0
    ok: bool = False
    result_id: str | None = None
    stage: str | None = None
    version: int | None = None
    retried_status: int | None = None  # the answer to the retry with the same key (audit)
    retried_id: str | None = None


@dataclass
class Message:
    """A Marketing ``lead.qualified`` the driver produced (``acked``: Kafka took it)."""

    event_id: str
    lead_id: str
    email: str
    valid: bool
    acked: bool = False


@dataclass
class Delivery:
    """A Customer Experience webhook the driver sent."""

    webhook_id: str
    account_id: str
    health_score: int
    timestamp: int
    status: int = 0


@dataclass
class Record:
    calls: list[Call] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": [asdict(c) for c in self.calls],
            "writes": [asdict(w) for w in self.writes],
            "messages": [asdict(m) for m in self.messages],
            "deliveries": [asdict(d) for d in self.deliveries],
        }


class Clock:
    """Seconds since the run began, and the phase the fault schedule is in."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.phase = "steady"

    def now(self) -> float:
        return time.monotonic() - self.began


# Codes a read of the driver's never deserves: it asks valid questions about records its caller
# may see, so these would mean the driver measures nothing (or the gateway refuses wrongly).
_READ_REFUSALS = {"VALIDATION_ERROR", "NOT_FOUND", "FORBIDDEN", "UNAUTHORIZED", "CONFLICT"}


def _problem(kind: str, response: httpx.Response, body: Any) -> str | None:
    """Why an answer is not one a client can act on, or a read failed that should not; None
    when it is fine."""
    status = response.status_code
    if kind.startswith("read.") and (
        (400 <= status < 500 and status != 429) or _code(body) in _READ_REFUSALS
    ):
        return f"a read refused: {status} {_code(body)}"
    if status == 500 or (status >= 500 and status not in (502, 503, 504)):
        return f"status {status}"
    if status in (429, 503) and "retry-after" not in response.headers:
        return f"{status} without Retry-After"
    enveloped = isinstance(body, dict) and (
        isinstance(body.get("error"), dict) or "errors" in body  # REST, or GraphQL over HTTP
    )
    if status >= 400 and not enveloped:
        return f"{status} without the error envelope"
    if isinstance(body, dict):
        for error in body.get("errors") or []:
            code = (error.get("extensions") or {}).get("code")
            if code in (None, "INTERNAL_ERROR"):
                return f"GraphQL error code {code}: {str(error.get('message'))[:300]}"
    return None


_UPSTREAM_FIELDS = ("health", "tickets", "nps")


def _partial(body: Any) -> str | None:
    """An account page while an upstream fails: our own fields are answered, and an upstream
    field is either there or null with an UPSTREAM_* error at its path."""
    account = ((body or {}).get("data") or {}).get("account")
    if not account or not account.get("name"):
        return "the account's own fields were not answered"
    failed = {
        tuple(error.get("path") or ()): (error.get("extensions") or {}).get("code", "")
        for error in (body or {}).get("errors") or []
    }
    for name in _UPSTREAM_FIELDS:
        if account.get(name) is None:
            code = failed.get(("account", name), "")
            if not code.startswith("UPSTREAM_"):
                return f"account.{name} null without an UPSTREAM_* error ({code or 'none'})"
    return None


def _code(body: Any) -> str | None:
    if isinstance(body, dict):
        if isinstance(body.get("error"), dict):
            return str(body["error"].get("code"))
        errors = body.get("errors") or []
        if errors:
            return str((errors[0].get("extensions") or {}).get("code"))
    return None


class Driver:
    def __init__(
        self,
        url: str,
        tokens: dict[str, str],
        partner_keys: list[str],
        burst_key: str,
        accounts: list[str],
        clock: Clock,
        *,
        seed: int = 0,
    ) -> None:
        self.url = url
        self.tokens = tokens
        self.reps = [e for e in tokens if e not in (ADMIN, *MANAGERS)]
        self.partner_keys = partner_keys
        self.burst_key = burst_key
        self.accounts = accounts
        self.clock = clock
        self.random = random.Random(seed)  # noqa: S311 - a workload, not a secret
        self.record = Record()
        self.leads: list[tuple[str, str]] = []  # (lead id, via) created, not yet converted
        self.opportunities: list[dict[str, Any]] = []  # open driver opportunities
        self.busy: set[str] = set()
        self.http = httpx.AsyncClient(
            base_url=url,
            timeout=REQUEST_TIMEOUT_S,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        self.stopping = asyncio.Event()
        self.period = f"Q{(date.today().month - 1) // 3 + 1}_{date.today().year}"

    # -- one request ------------------------------------------------------------------------

    async def send(
        self, kind: str, method: str, path: str, *, headers: dict[str, str], json: Any = None,
        content: bytes | None = None,
    ) -> tuple[int, Any, httpx.Headers | None]:  # fmt: skip
        began = time.monotonic()
        phase, at = self.clock.phase, self.clock.now()
        try:
            response = await self.http.request(
                method, path, headers=headers, json=json, content=content
            )
        except httpx.HTTPError as exc:
            problem = (
                "no answer within the deadline" if isinstance(exc, httpx.TimeoutException) else None
            )
            self.record.calls.append(
                Call(
                    at,
                    phase,
                    kind,
                    0,
                    time.monotonic() - began,
                    type(exc).__name__,
                    problem=problem,
                )
            )
            return 0, None, None
        latency = time.monotonic() - began
        try:
            body = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            body = None
        self.record.calls.append(
            Call(
                at, phase, kind, response.status_code, latency, _code(body),
                "retry-after" in response.headers, _problem(kind, response, body),
            )
        )  # fmt: skip
        return response.status_code, body, response.headers

    async def gql(self, kind: str, who: str, query: str, **variables: Any) -> tuple[int, Any]:
        status, body, _ = await self.send(
            kind, "POST", "/graphql",
            headers={"authorization": f"Bearer {self.tokens[who]}"},
            json={"query": query, "variables": variables},
        )  # fmt: skip
        return status, body

    def _partner(self, key: str | None = None) -> dict[str, str]:
        return {"x-api-key": key or self.random.choice(self.partner_keys)}

    # -- the steps ------------------------------------------------------------------------

    async def read_list(self) -> None:
        who = self.random.choice(self.reps + list(MANAGERS))
        if self.random.random() < 0.5:
            await self.gql(
                "read.opportunities", who,
                "{ opportunities(first: 20) { items { id name stage amount "
                "owner { name } account { name } } pageInfo { hasNextPage endCursor } } }",
            )  # fmt: skip
        else:
            await self.gql(
                "read.leads", who,
                "{ leads(first: 20) { items { id email status score "
                "territory { name } } totalCount } }",
            )  # fmt: skip

    async def read_detail(self) -> None:
        if not self.opportunities:
            return await self.read_list()
        opportunity = self.random.choice(self.opportunities)
        if self.random.random() < 0.5:
            await self.send(
                "read.opportunity.rest", "GET", f"/api/v1/opportunities/{opportunity['id']}",
                headers=self._partner(),
            )  # fmt: skip
        else:
            await self.gql(
                "read.opportunity", ADMIN,
                "query($id: ID!) { opportunity(id: $id) { id stage probability amount "
                "dealScore history { field newValue } } }",
                id=opportunity["id"],
            )  # fmt: skip

    async def account_page(self) -> None:
        account = self.random.choice(self.accounts)
        # The head of sales sees every account (a manager only their territories').
        who = ADMIN
        status, body = await self.gql(
            "read.account_page", who,
            "query($id: ID!) { account(id: $id) { name owner { name } "
            "opportunities { name stage } health { score stale } "
            "tickets { stale items { ticketId status } } nps { score } } }",
            id=account,
        )  # fmt: skip
        if status == 200:
            self.record.calls[-1].problem = self.record.calls[-1].problem or _partial(body)

    async def pipeline_and_forecast(self) -> None:
        who = self.random.choice(list(MANAGERS))
        if self.random.random() < 0.5:
            await self.send(
                "read.forecast.rest", "GET", f"/api/v1/forecasts/{self.period}",
                headers={"authorization": f"Bearer {self.tokens[who]}"},
            )  # fmt: skip
        else:
            await self.gql(
                "read.forecasts", who,
                "query($p: String!) { forecasts(period: $p) { period forecastType amount } }",
                p=self.period,
            )  # fmt: skip

    async def create_lead(self) -> None:
        email = f"soak.{uuid.uuid4().hex[:12]}@soak-{self.random.randrange(50)}.example"
        fields = {
            "first_name": "Soak",
            "last_name": f"Lead {len(self.record.writes)}",
            "email": email,
            "company": f"Soak Co {self.random.randrange(400)}",
            # Countries the demo's territory rules assign (a partner converts assigned leads).
            "country": self.random.choice(["US", "CA"]),
            "employee_count": self.random.choice([50, 500, 5000]),
            "source": "web",
        }
        if self.random.random() < 0.5:
            key, api_key = str(uuid.uuid4()), self.random.choice(self.partner_keys)
            write = Write("lead.create", "rest", email, fields, key=key, api_key=api_key)
            self.record.writes.append(write)
            status, body, _ = await self.send(
                "write.lead.rest", "POST", "/api/v1/leads",
                headers={**self._partner(api_key), "idempotency-key": key}, json=fields,
            )  # fmt: skip
            write.status = status
            if status == 201 and isinstance(body, dict):
                write.ok, write.result_id = True, str(body["id"])
        else:
            write = Write("lead.create", "graphql", email, fields)
            self.record.writes.append(write)
            status, body = await self.gql(
                "write.lead.graphql", ADMIN,
                "mutation($input: CreateLeadInput!) { createLead(input: $input) { id } }",
                input={
                    "firstName": fields["first_name"], "lastName": fields["last_name"],
                    "email": email, "company": fields["company"], "country": fields["country"],
                    "employeeCount": fields["employee_count"], "source": "web",
                },
            )  # fmt: skip
            write.status = status
            created = ((body or {}).get("data") or {}).get("createLead")
            if status == 200 and created and not (body or {}).get("errors"):
                write.ok, write.result_id = True, str(created["id"])
        if write.ok and write.result_id:
            self.leads.append((write.result_id, write.via))

    async def convert_lead(self) -> None:
        if not self.leads:
            return await self.create_lead()
        lead_id, _ = self.leads.pop(self.random.randrange(len(self.leads)))
        close = (date.today() + timedelta(days=self.random.randrange(10, 80))).isoformat()
        amount = float(self.random.randrange(5, 200) * 1000)
        if self.random.random() < 0.5:
            key, api_key = str(uuid.uuid4()), self.random.choice(self.partner_keys)
            request = {"opportunity_name": f"Soak deal {lead_id[:8]}", "amount": amount,
                       "expected_close_date": close}  # fmt: skip
            write = Write("lead.convert", "rest", lead_id, request, key=key, api_key=api_key)
            self.record.writes.append(write)
            status, body, _ = await self.send(
                "write.convert.rest", "POST", f"/api/v1/leads/{lead_id}/convert",
                headers={**self._partner(api_key), "idempotency-key": key}, json=request,
            )  # fmt: skip
            write.status = status
            if status in (200, 201) and isinstance(body, dict):
                write.ok, write.result_id = True, str(body["opportunity_id"])
        else:
            request = {"opportunityName": f"Soak deal {lead_id[:8]}", "amount": amount,
                       "expectedCloseDate": close}  # fmt: skip
            write = Write("lead.convert", "graphql", lead_id, request)
            self.record.writes.append(write)
            status, body = await self.gql(
                "write.convert.graphql", ADMIN,
                "mutation($id: ID!, $input: ConvertLeadInput!) "
                "{ convertLead(leadId: $id, input: $input) { id version stage } }",
                id=lead_id, input=request,
            )  # fmt: skip
            write.status = status
            converted = ((body or {}).get("data") or {}).get("convertLead")
            if status == 200 and converted and not (body or {}).get("errors"):
                write.ok, write.result_id = True, str(converted["id"])
        if write.ok and write.result_id:
            self.opportunities.append(
                {"id": write.result_id, "stage": "discovery", "version": None}
            )

    async def advance_stage(self) -> None:
        free = [o for o in self.opportunities if o["id"] not in self.busy]
        if not free:
            return await self.convert_lead()
        opportunity = self.random.choice(free)
        self.busy.add(opportunity["id"])
        try:
            await self._advance(opportunity)
        finally:
            self.busy.discard(opportunity["id"])

    async def _advance(self, opportunity: dict[str, Any]) -> None:
        current = opportunity["stage"]
        if current == "negotiation":
            target = "closed_lost" if self.random.random() < 0.2 else "closed_won"
        else:
            target = NEXT_STAGE[current]
        if target == "closed_won" and not opportunity.get("products"):
            # A win needs product lines: the rep adds them first (a step of its own).
            status, body = await self.gql(
                "write.products", ADMIN,
                "mutation($id: ID!, $input: UpdateOpportunityInput!) "
                "{ updateOpportunity(id: $id, input: $input) { id } }",
                id=opportunity["id"],
                input={"products": [{"productId": "prod_001", "quantity": 10, "unitPrice": 100.0}]},
            )  # fmt: skip
            opportunity["products"] = status == 200 and not (body or {}).get("errors")
            return
        extra = {"loss_reason": "price"} if target == "closed_lost" else {}
        if self.random.random() < 0.5:
            write = Write(
                "opportunity.stage", "rest", opportunity["id"], {"stage": target, **extra}
            )
            self.record.writes.append(write)
            status, body, _headers = await self.send(
                "write.stage.rest", "PUT", f"/api/v1/opportunities/{opportunity['id']}/stage",
                headers=self._partner(), json={"stage": target, **extra},
            )  # fmt: skip
            ok = status == 200
        else:
            write = Write("opportunity.stage", "graphql", opportunity["id"], {"stage": target})
            self.record.writes.append(write)
            variables: dict[str, Any] = {"id": opportunity["id"], "stage": target.upper()}
            status, body = await self.gql(
                "write.stage.graphql", ADMIN,
                "mutation($id: ID!, $stage: OpportunityStage!, $reason: String) "
                "{ updateOpportunityStage(opportunityId: $id, stage: $stage, lossReason: $reason) "
                "{ id stage version } }",
                **variables, reason=extra.get("loss_reason"),
            )  # fmt: skip
            ok = status == 200 and not (body or {}).get("errors")
        write.status, write.stage = status, target
        if ok:
            write.ok = True
            opportunity["stage"] = target
            if target.startswith("closed"):
                self.opportunities.remove(opportunity)
        elif status == 0 or status >= 500:
            # Unknown whether it happened: the driver reads it back before going on.
            await self._reread(opportunity)

    async def _reread(self, opportunity: dict[str, Any]) -> None:
        for _ in range(20):
            status, body = await self.gql(
                "read.opportunity", ADMIN,
                "query($id: ID!) { opportunity(id: $id) { stage } }", id=opportunity["id"],
            )  # fmt: skip
            found = ((body or {}).get("data") or {}).get("opportunity")
            if status == 200 and found:
                opportunity["stage"] = found["stage"].lower()
                if opportunity["stage"].startswith("closed"):
                    self.opportunities.remove(opportunity)
                return
            await asyncio.sleep(0.5)

    # -- inbound systems ------------------------------------------------------------------

    async def webhook(self) -> None:
        account = self.random.choice(self.accounts)
        delivery = Delivery(
            f"msg_{uuid.uuid4().hex}", account, self.random.randrange(0, 101), int(time.time())
        )
        self.record.deliveries.append(delivery)
        body = orjson.dumps(
            {"type": "account.health_updated",
             "data": {"account_id": account, "health_score": delivery.health_score}}
        )  # fmt: skip
        key = base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_"))
        signed = f"{delivery.webhook_id}.{delivery.timestamp}.".encode() + body
        signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        headers = {
            "content-type": "application/json", "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(delivery.timestamp),
            "webhook-signature": f"v1,{signature}",
        }  # fmt: skip
        status, _, _ = await self.send(
            "webhook.customer_experience", "POST", "/webhooks/customer-experience",
            headers=headers, content=body,
        )  # fmt: skip
        delivery.status = status
        if status == 204 and self.random.random() < 0.1:
            # Customer Experience's retry of a delivery it did not see acknowledged: it must
            # be acknowledged as a replay (204), or refused while still being applied (409).
            again, _, _ = await self.send(
                "webhook.customer_experience.again", "POST", "/webhooks/customer-experience",
                headers=headers, content=body,
            )  # fmt: skip
            if again not in (204, 409):
                self.record.calls[-1].problem = f"a repeated delivery answered {again}"

    def marketing_message(self) -> tuple[Message, bytes]:
        lead_id = str(uuid.uuid4())
        email = f"mkt.{lead_id[:12]}@marketing-{self.random.randrange(50)}.example"
        valid = self.random.random() >= 0.05  # one in twenty has no email: a dead letter
        profile: dict[str, Any] = {"first_name": "Mark", "last_name": "Eting", "company": "Mkt Co"}
        if valid:
            profile["email"] = email
        message = Message(f"mkt-{uuid.uuid4().hex}", lead_id, email, valid)
        value = orjson.dumps(
            {
                "event_id": message.event_id, "event_type": "lead.qualified",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "payload": {
                    "lead_id": lead_id, "source": "webinar",
                    "score": self.random.randrange(40, 100),
                    "profile": profile,
                    "firmographic": {"country": self.random.choice(["US", "CA"]),
                                     "employee_count": 300},
                },
            }
        )  # fmt: skip
        return message, value

    async def marketing(self, rate_per_s: float) -> None:
        """Marketing's producer: a message every 1/rate seconds. A message Kafka did not take
        (it is away) is kept and sent again by a new producer, as Marketing's own outbox
        would: such a resend may reach Kafka twice, which the consumer's inbox absorbs."""
        unsent: list[tuple[Message, bytes]] = []
        producer: AIOKafkaProducer | None = None
        while not self.stopping.is_set() or unsent:
            if not self.stopping.is_set():
                unsent.append(self.marketing_message())
                self.record.messages.append(unsent[-1][0])
            try:
                if producer is None:
                    producer = AIOKafkaProducer(
                        bootstrap_servers=KAFKA, acks="all", request_timeout_ms=5_000
                    )
                    async with asyncio.timeout(10):
                        await producer.start()
                while unsent:
                    message, value = unsent[0]
                    async with asyncio.timeout(10):
                        await producer.send_and_wait(
                            MARKETING_TOPIC, value, key=message.lead_id.encode(),
                            headers=[("event_id", message.event_id.encode())],
                        )  # fmt: skip
                    message.acked = True
                    unsent.pop(0)
            except Exception:
                if producer is not None:
                    await _stop_quietly(producer)
                producer = None
            await asyncio.sleep(1 / rate_per_s)
        if producer is not None:
            await producer.stop()

    # -- the users ------------------------------------------------------------------------

    STEPS: tuple[tuple[str, float], ...] = (
        ("read_list", 30),
        ("read_detail", 15),
        ("account_page", 12),
        ("pipeline_and_forecast", 6),
        ("create_lead", 14),
        ("convert_lead", 9),
        ("advance_stage", 11),
        ("webhook", 3),
    )

    async def user(self, pause_s: float) -> None:
        names, weights = zip(*self.STEPS, strict=True)
        while not self.stopping.is_set():
            step = self.random.choices(names, weights)[0]
            await getattr(self, step)()
            await asyncio.sleep(self.random.uniform(0, 2 * pause_s))

    async def burst(self, seconds: float, per_s: float) -> Counter[int]:
        """One partner far over its rate limit: ``per_s`` reads a second for ``seconds``."""
        statuses: Counter[int] = Counter()

        async def one() -> None:
            status, _, _ = await self.send(
                "burst.read", "GET", "/api/v1/leads?limit=5", headers={"x-api-key": self.burst_key}
            )
            statuses[status] += 1

        tasks = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            tasks.append(asyncio.create_task(one()))
            await asyncio.sleep(1 / per_s)
        await asyncio.gather(*tasks)
        return statuses

    async def retry_unknown(self) -> int:
        """Every keyed write whose outcome the driver could not know, sent again with its key
        and by the same caller, as a client would: the answer is recorded for the audit."""
        retried = 0
        for write in self.record.writes:
            if not write.key or not (write.status == 0 or write.status >= 500):
                continue
            path = (
                "/api/v1/leads"
                if write.kind == "lead.create"
                else f"/api/v1/leads/{write.target}/convert"
            )
            for _ in range(10):
                status, body, _ = await self.send(
                    f"retry.{write.kind}", "POST", path,
                    headers={**self._partner(write.api_key), "idempotency-key": write.key},
                    json=write.request,
                )  # fmt: skip
                if status and status < 500:
                    break
                await asyncio.sleep(1)
            write.retried_status = status
            if status in (200, 201) and isinstance(body, dict):
                write.retried_id = str(body.get("opportunity_id") or body.get("id"))
            retried += 1
        return retried

    async def close(self) -> None:
        await self.http.aclose()


async def _stop_quietly(producer: AIOKafkaProducer) -> None:
    try:
        async with asyncio.timeout(5):
            await producer.stop()
    except Exception:  # noqa: S110 - a producer that lost its broker
        pass
