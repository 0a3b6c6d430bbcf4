"""The audit at the end of a run: the driver's record against PostgreSQL, the Kafka topics (read
back through a consumer), the Billing simulator's contracts and the dead-letter topics.

Each check gives a count of what went wrong (0 is the promise) and a few examples; figures that are
not promises (duplicates on the wire, dead-lettered valid messages) are reported beside them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

from soak.stack import DSN, KAFKA
from soak.workload import Record, Write

OUR_TOPICS = (
    "sales.leads", "sales.opportunities", "sales.territories", "sales.quotas", "sales.billing",
    "sales.operations", "sales.forecasts", "sales.webhooks",
)  # fmt: skip
MARKETING_DLQ = "marketing.leads.dlq"
# No answer may take longer: a new database connection gives up after 5 s, a wait for a pooled
# one after 10 s, an upstream call at its deadline (8 s, retries included).
LONGEST_ANSWER_S = 16.0


@dataclass
class Check:
    name: str
    failures: int = 0
    examples: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def fail(self, example: str) -> None:
        self.failures += 1
        if len(self.examples) < 5:
            self.examples.append(example)


@dataclass(frozen=True)
class KafkaMessage:
    topic: str
    partition: int
    offset: int
    key: str
    headers: dict[str, str]
    value: bytes
    timestamp_s: float


async def read_topics(topics: tuple[str, ...]) -> list[KafkaMessage]:
    """Every message of the topics, from the beginning to their end offsets now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    partitions = [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        if topic["error_code"] == 0
        for partition in topic["partitions"]
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    try:
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[KafkaMessage] = []
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=2000)
            for tp, records in batches.items():
                for r in records:
                    headers = {k: v.decode() for k, v in (r.headers or ())}
                    key = r.key.decode() if r.key else ""
                    found.append(
                        KafkaMessage(
                            tp.topic, tp.partition, r.offset, key, headers, r.value,
                            r.timestamp / 1000,
                        )
                    )  # fmt: skip
                    if r.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
            if not batches:
                remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        return found
    finally:
        await consumer.stop()


async def audit(
    record: Record,
    billing_url: str,
    redelivery_windows: list[tuple[float, float]],
    gateway_kills: list[float],
) -> list[Check]:
    """``redelivery_windows``: when (Unix times, from and to) the relay could lose track of
    what Kafka had: the worker process killed, Kafka stopped. ``gateway_kills``: when (seconds
    into the run) a gateway worker was killed."""
    connection = await asyncpg.connect(DSN)
    try:
        checks = [
            await _lead_creates(connection, [w for w in record.writes if w.kind == "lead.create"]),
            await _converts(connection, [w for w in record.writes if w.kind == "lead.convert"]),
            await _stages(connection, [w for w in record.writes if w.kind == "opportunity.stage"]),
            await _contracts(
                connection,
                {w.target for w in record.writes if w.kind == "opportunity.stage"},
                billing_url,
            ),
            await _events(connection, redelivery_windows),
            await _marketing(connection, record),
            await _webhooks(connection, record),
            _answers(record, gateway_kills),
            await _dead_letters(),
            _rate_limits(record),
        ]
    finally:
        await connection.close()
    return checks


def _answers(record: Record, gateway_kills: list[float]) -> Check:
    """Every answer is one a client can act on; no answer only for a request that was in
    flight when a gateway worker was killed (``gateway_kills``: seconds into the run)."""
    check = Check("answers")
    for call in record.calls:
        in_flight = any(call.at - 0.5 <= kill <= call.at + call.latency_s for kill in gateway_kills)
        if call.problem:
            check.fail(f"{call.kind} in {call.phase}: {call.problem} ({call.code})")
        elif call.status == 0 and not in_flight:
            check.fail(f"{call.kind} in {call.phase}: no answer ({call.code})")
        elif call.latency_s > LONGEST_ANSWER_S:
            check.fail(f"{call.kind} in {call.phase}: answered after {call.latency_s:.1f}s")
    statuses = Counter(c.status for c in record.calls)
    check.figures = {"requests": len(record.calls), "statuses": dict(sorted(statuses.items()))}
    return check


async def _dead_letters() -> Check:
    """Our own consumers dead-letter nothing: every event we publish is valid, and every
    outage of the run is shorter than their wait for our database or Redis."""
    check = Check("dead letters: none from our own consumers")
    messages = await read_topics(tuple(f"{topic}.dlq" for topic in OUR_TOPICS))
    for m in messages[:5]:
        check.fail(f"{m.topic}: {m.headers.get('dlq_consumer')}: {m.headers.get('dlq_error')}")
    check.failures += max(0, len(messages) - 5)
    check.figures = {"dead_letters": len(messages)}
    return check


def _rate_limits(record: Record) -> Check:
    """The client over its limit is refused (429 with Retry-After); no other caller is."""
    check = Check("rate limits: the burst client refused, nobody else")
    burst = [c for c in record.calls if c.kind == "burst.read"]
    refused = [c for c in burst if c.status == 429]
    others = [c for c in record.calls if c.kind != "burst.read" and c.status == 429]
    if not refused:
        check.fail(f"none of the burst's {len(burst)} requests was refused")
    for call in others[:5]:
        check.fail(f"{call.kind} in {call.phase} refused with 429")
    check.failures += max(0, len(others) - 5)
    check.figures = {"burst_requests": len(burst), "burst_refused": len(refused),
                     "others_refused": len(others)}  # fmt: skip
    return check


def _retry_disagrees(write: Write, stored: list[str]) -> str | None:
    """A write of unknown outcome, sent again with its key by the same caller: a 2xx must
    name what is stored (the first call's, replayed, or this one's); a refusal on the
    request's merits (a 4xx other than the key's own 409 and 422) must leave nothing stored.
    None when the retry agrees with the database."""
    status = write.retried_status
    if status in (200, 201):
        return None if stored == [write.retried_id] else f"retry gave {write.retried_id}, {stored}"
    if status is not None and 400 <= status < 500 and status not in (409, 422):
        return None if not stored else f"retry refused with {status}, yet {stored} stored"
    return f"the retry with its key answered {status}"


def _unknown(write: Write) -> bool:
    """The driver cannot tell whether the write happened: no answer, or a 5xx."""
    return write.status == 0 or write.status >= 500


async def _lead_creates(connection: asyncpg.Connection, writes: list[Write]) -> Check:
    check = Check("lead creates: a 2xx is never lost, an unknown one happened at most once")
    rows = await connection.fetch(
        "SELECT email_normalized, id::text AS id FROM leads WHERE email_normalized = ANY($1)",
        [w.target.lower() for w in writes],
    )
    by_email: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_email[row["email_normalized"]].append(row["id"])
    unknown = happened = 0
    for write in writes:
        ids = by_email.get(write.target.lower(), [])
        if len(ids) > 1:
            check.fail(f"{write.target}: {len(ids)} leads")
        if write.ok and ids != [write.result_id]:
            check.fail(f"{write.target}: acknowledged as {write.result_id}, stored {ids}")
        elif not write.ok and not _unknown(write) and ids:
            check.fail(f"{write.target}: refused with {write.status} but stored")
        elif _unknown(write):
            unknown += 1
            happened += bool(ids)
            if write.key and (problem := _retry_disagrees(write, ids)):
                check.fail(f"{write.target}: {problem}")
    check.figures = {
        "writes": len(writes), "acknowledged": sum(w.ok for w in writes),
        "unknown_outcome": unknown, "unknown_that_happened": happened,
    }  # fmt: skip
    return check


async def _converts(connection: asyncpg.Connection, writes: list[Write]) -> Check:
    check = Check("conversions: a 2xx is never lost, an unknown one happened at most once")
    rows = await connection.fetch(
        "SELECT l.id::text AS lead, l.status, o.id::text AS opportunity FROM leads l "
        "LEFT JOIN opportunities o ON o.lead_id = l.id WHERE l.id = ANY($1::uuid[])",
        [w.target for w in writes],
    )
    found: dict[str, list[str]] = defaultdict(list)
    status: dict[str, str] = {}
    for row in rows:
        status[row["lead"]] = row["status"]
        if row["opportunity"]:
            found[row["lead"]].append(row["opportunity"])
    for write in writes:
        opportunities = found.get(write.target, [])
        if len(opportunities) > 1:
            check.fail(f"lead {write.target}: {len(opportunities)} opportunities")
        if write.ok:
            if opportunities != [write.result_id] or status.get(write.target) != "converted":
                check.fail(
                    f"lead {write.target}: acknowledged {write.result_id}, stored {opportunities}"
                )
        elif _unknown(write) and write.key:
            if problem := _retry_disagrees(write, opportunities):
                check.fail(f"lead {write.target}: {problem}")
        elif not _unknown(write) and opportunities and write.status not in (409,):
            check.fail(f"lead {write.target}: refused with {write.status} but converted")
    check.figures = {
        "writes": len(writes), "acknowledged": sum(w.ok for w in writes),
        "unknown_outcome": sum(_unknown(w) for w in writes),
    }  # fmt: skip
    return check


async def _stages(connection: asyncpg.Connection, writes: list[Write]) -> Check:
    """Per opportunity, the stored stage is the last acknowledged one, or a later attempt whose
    outcome the driver could not know; each stage change is in the history once."""
    check = Check("stage changes: stored as acknowledged, each once in the history")
    by_opportunity: dict[str, list[Write]] = defaultdict(list)
    for write in writes:
        by_opportunity[write.target].append(write)
    rows = await connection.fetch(
        "SELECT id::text AS id, stage FROM opportunities WHERE id = ANY($1::uuid[])",
        list(by_opportunity),
    )
    stored = {row["id"]: row["stage"] for row in rows}
    history = await connection.fetch(
        "SELECT opportunity_id::text AS id, new_value FROM opportunity_history "
        "WHERE field = 'stage' AND opportunity_id = ANY($1::uuid[])",
        list(by_opportunity),
    )
    changes: Counter[tuple[str, str]] = Counter((r["id"], r["new_value"]) for r in history)
    for opportunity, attempts in by_opportunity.items():
        acknowledged = [w for w in attempts if w.ok]
        last = acknowledged[-1] if acknowledged else None
        after = attempts[attempts.index(last) + 1 :] if last else attempts
        allowed = {w.stage for w in after if _unknown(w)} | (
            {last.stage} if last else {"discovery"}
        )
        if stored.get(opportunity) not in allowed:
            check.fail(
                f"{opportunity}: stored {stored.get(opportunity)}, allowed {sorted(allowed)}"
            )
        for stage in {w.stage for w in attempts}:
            if changes[(opportunity, stage)] > 1:
                check.fail(f"{opportunity}: {changes[(opportunity, stage)]} changes to {stage}")
        for write in acknowledged:
            if changes[(opportunity, str(write.stage))] != 1:
                check.fail(f"{opportunity}: acknowledged {write.stage} not in the history")
    check.figures = {
        "writes": len(writes), "acknowledged": sum(w.ok for w in writes),
        "unknown_outcome": sum(_unknown(w) for w in writes),
        "won": sum(1 for s in stored.values() if s == "closed_won"),
    }  # fmt: skip
    return check


async def _contracts(
    connection: asyncpg.Connection, opportunities: set[str], billing_url: str
) -> Check:
    check = Check("contracts: every closed-won deal has exactly one Billing contract")
    rows = await connection.fetch(
        "SELECT id::text AS id, contract_id FROM opportunities WHERE stage = 'closed_won' "
        "AND id = ANY($1::uuid[])",
        list(opportunities),
    )
    async with httpx.AsyncClient(timeout=30) as http:
        state = (await http.get(f"{billing_url.rstrip('/')}/_sim/state")).json()
    contracts = state.get("contracts", [])
    per_deal = Counter(str(c.get("opportunity_id")) for c in contracts)
    by_id = {c["contract_id"]: c for c in contracts}
    for row in rows:
        if not row["contract_id"]:
            check.fail(f"{row['id']}: won without a contract")
        elif per_deal[row["id"]] != 1:
            check.fail(f"{row['id']}: {per_deal[row['id']]} contracts in Billing")
        elif str((by_id.get(row["contract_id"]) or {}).get("opportunity_id")) != row["id"]:
            check.fail(f"{row['id']}: contract {row['contract_id']} is not Billing's for it")
    # Billing also has the contracts of the demo seed's won deals (the sweep asks for those):
    # every contract, the driver's or not, is for a deal won in the database.
    won = {
        str(r["id"])
        for r in await connection.fetch("SELECT id FROM opportunities WHERE stage = 'closed_won'")
    }
    not_won = [c for c in contracts if str(c.get("opportunity_id")) not in won]
    for c in not_won[:5]:
        check.fail(f"contract {c.get('contract_id')} for {c.get('opportunity_id')}, not won")
    check.failures += max(0, len(not_won) - 5)
    check.figures = {
        "won_deals": len(rows), "their_contracts": sum(per_deal[r["id"]] for r in rows),
        "won_in_database": len(won), "contracts_in_billing": len(contracts),
    }  # fmt: skip
    return check


async def _events(connection: asyncpg.Connection, windows: list[tuple[float, float]]) -> Check:
    """Every committed event on Kafka, its aggregate's events in order. Once per event id,
    except where the relay could not learn that Kafka had them: killed between Kafka's ack and
    its commit, or Kafka stopped with a batch in flight (written, its ack lost). The relay sends
    those again (at least once; consumers deduplicate by event id), so a second copy must be
    sent during such a fault or within a minute of its end."""
    check = Check("events: every outbox row on Kafka once, in per-aggregate order")
    pending = await connection.fetchval(
        "SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL"
    )
    parked = await connection.fetchval("SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL")
    rows = await connection.fetch("SELECT id, event_id::text AS event_id, topic, key FROM outbox")
    if pending:
        check.fail(f"{pending} outbox rows still pending")
    if parked:
        check.fail(f"{parked} outbox rows parked")
    order = {row["event_id"]: row["id"] for row in rows}
    messages = await read_topics(OUR_TOPICS)
    seen: Counter[str] = Counter(m.headers.get("event_id", "") for m in messages)
    lost = [e for e in order if seen[e] == 0]
    for event_id in lost[:5]:
        check.fail(f"event {event_id} committed but not on Kafka")
    check.failures += max(0, len(lost) - 5)
    # Per aggregate: the first delivery of each event in offset order follows the outbox order.
    firsts: dict[tuple[str, str], list[int]] = defaultdict(list)
    delivered: set[str] = set()
    for m in sorted(messages, key=lambda m: (m.topic, m.partition, m.offset)):
        event_id = m.headers.get("event_id", "")
        if event_id in delivered or event_id not in order:
            continue
        delivered.add(event_id)
        firsts[(m.topic, m.key)].append(order[event_id])
    copies: dict[str, list[KafkaMessage]] = defaultdict(list)
    for m in messages:
        copies[m.headers.get("event_id", "")].append(m)
    unexplained = 0
    for event_id, sent in copies.items():
        for again in sorted(sent, key=lambda m: m.timestamp_s)[1:]:
            if not any(start <= again.timestamp_s <= end + 60 for start, end in windows):
                unexplained += 1
                check.fail(f"event {event_id} on Kafka twice, outside a relay kill or Kafka stop")
    # An event on Kafka without an outbox row was sent from a transaction that did not commit.
    # The outbox is read again after the topics: a row committed meanwhile (a job of the worker
    # after the drain) is known, not a phantom.
    known = {r["event_id"] for r in await connection.fetch("SELECT event_id::text FROM outbox")}
    unknown = [m for m in messages if m.headers.get("event_id", "") not in known]
    # Committed after the first read (a job of the worker after the drain) and already on Kafka.
    late = {e for e in seen if e in known and e not in order}
    for m in unknown[:5]:
        check.fail(
            f"event {m.headers.get('event_id')} ({m.topic}, {m.headers.get('event_type')}, "
            f"at {m.timestamp_s:.0f}) on Kafka without an outbox row"
        )
    check.failures += max(0, len(unknown) - 5)
    out_of_order = sum(1 for ids in firsts.values() if ids != sorted(ids))
    if out_of_order:
        check.fail(f"{out_of_order} aggregates with events out of order")
    check.figures = {
        "committed_events": len(order), "messages_on_kafka": len(messages),
        "distinct_event_ids": len(seen), "lost": len(lost),
        "duplicates_on_the_wire": len(messages) - len(seen),
        "duplicates_unexplained": unexplained,
        "unknown_on_kafka": len(unknown), "late_events_on_kafka": len(late),
        "aggregates": len(firsts),
    }  # fmt: skip
    return check


async def _marketing(connection: asyncpg.Connection, record: Record) -> Check:
    check = Check("lead.qualified: applied once or dead-lettered with a reason")
    acked = [m for m in record.messages if m.acked]
    inbox = await connection.fetch(
        "SELECT event_id, count(*) AS n FROM inbox WHERE event_id = ANY($1) GROUP BY event_id",
        [m.event_id for m in acked],
    )
    applied = {row["event_id"]: row["n"] for row in inbox}
    leads = await connection.fetch(
        "SELECT id::text AS id, status FROM leads WHERE id = ANY($1::uuid[])",
        [m.lead_id for m in acked],
    )
    status = {row["id"]: row["status"] for row in leads}
    dead: dict[str, str] = {}
    for m in await read_topics((MARKETING_DLQ,)):
        try:
            event_id = str(orjson.loads(m.value).get("event_id"))
        except (orjson.JSONDecodeError, AttributeError):
            event_id = m.headers.get("event_id", "")
        dead[event_id] = m.headers.get("dlq_error", "")
    for message in record.messages:
        if not message.acked:
            check.fail(f"{message.event_id}: Kafka never took it (Marketing could not send)")
    for message in acked:
        if message.event_id in dead:
            if not dead[message.event_id]:
                check.fail(f"{message.event_id}: dead-lettered without a reason")
            elif message.valid:
                # Every outage of the run is shorter than the consumer's wait for our own
                # database or Redis (CONSUMER_UNAVAILABLE_DEADLINE_S): nothing valid may go.
                check.fail(f"{message.event_id}: valid, dead-lettered: {dead[message.event_id]}")
            continue
        if not message.valid:
            check.fail(f"{message.event_id}: invalid but not dead-lettered")
        elif applied.get(message.event_id, 0) != 1 or status.get(message.lead_id) not in (
            "qualified", "converted",
        ):  # fmt: skip
            check.fail(f"{message.event_id}: neither applied nor dead-lettered")
    check.figures = {
        "produced": len(record.messages), "acked_by_kafka": len(acked),
        "applied": sum(1 for m in acked if applied.get(m.event_id) == 1),
        "dead_lettered": sum(1 for m in acked if m.event_id in dead),
        "valid_dead_lettered": sum(1 for m in acked if m.valid and m.event_id in dead),
    }  # fmt: skip
    return check


async def _webhooks(connection: asyncpg.Connection, record: Record) -> Check:
    """An account's stored health is that of its latest acknowledged delivery (or of one whose
    outcome is unknown and that is as recent)."""
    check = Check("webhooks: the latest acknowledged signal is stored")
    per_account: dict[str, list[Any]] = defaultdict(list)
    for delivery in record.deliveries:
        per_account[delivery.account_id].append(delivery)
    rows = await connection.fetch(
        "SELECT id::text AS id, health_score FROM accounts WHERE id = ANY($1::uuid[])",
        list(per_account),
    )
    stored = {row["id"]: row["health_score"] for row in rows}
    for account, deliveries in per_account.items():
        acknowledged = [d for d in deliveries if 200 <= d.status < 300]
        if not acknowledged:
            continue
        latest = max(d.timestamp for d in acknowledged)
        allowed = {d.health_score for d in deliveries if d.timestamp >= latest and (
            200 <= d.status < 300 or d.status == 0 or d.status >= 500)}  # fmt: skip
        if stored.get(account) not in allowed:
            check.fail(
                f"account {account}: stored {stored.get(account)}, allowed {sorted(allowed)}"
            )
    check.figures = {
        "deliveries": len(record.deliveries),
        "acknowledged": sum(1 for d in record.deliveries if 200 <= d.status < 300),
    }
    return check
