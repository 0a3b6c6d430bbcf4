"""Marketing's ``lead.qualified`` events: validated, then the lead created or updated once.

The consumer hands over a partition's messages of one poll: they are handled in one
transaction with their inbox rows (the event id, or a hash of the message when Marketing sent
none), so a redelivery changes nothing. An invalid message is left out of the batch and
rejected (dead-lettered after the commit). When the batch fails, the consumer handles its
messages one by one (:func:`lead_qualified_handler`: a transaction each, retried).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pydantic

from sales_graph import jsonlimits
from sales_graph.db.repositories import outbox as outbox_repo
from sales_graph.errors import ValidationError
from sales_graph.events.schemas import InvalidEvent, validate_inbound_lead_qualified
from sales_graph.events.subscriptions import MARKETING_LEADS
from sales_graph.logs import get_logger
from sales_graph.services import lead_intake
from sales_graph.services.validation import field_errors
from sales_graph.worker.consumer import BatchHandler, MessageHandler, Rejected
from sales_graph.worker.handling import event_id_of, handling

if TYPE_CHECKING:
    from sales_graph.runtime import Runtime

# The envelope, its payload, a section of it, and free-form JSON within its limits there.
MESSAGE_DEPTH = jsonlimits.MAX_DEPTH + 3

# The inbox's consumer name: the subscription's.
CONSUMER = MARKETING_LEADS.name

_log = get_logger("sales_graph.worker.marketing")


def parse_lead_qualified(message: dict[str, Any]) -> lead_intake.QualifiedLead:
    """The payload, once the message is valid against Marketing's JSON Schema
    (``schema/events/marketing.lead.qualified.schema.json``); else :class:`Rejected`."""
    # Before the schema's validator, which recurses and prints values in its messages.
    if jsonlimits.nested_deeper_than(message, MESSAGE_DEPTH):
        raise Rejected(f"not a valid lead.qualified event: nested more than {MESSAGE_DEPTH} levels")
    try:
        validate_inbound_lead_qualified(message)
    except InvalidEvent as exc:
        raise Rejected(str(exc)) from exc
    payload = dict(message["payload"])
    if payload.get("firmographic") is None:
        payload.pop("firmographic", None)
    try:
        return lead_intake.QualifiedLead.model_validate(payload)
    except pydantic.ValidationError as exc:
        raise Rejected(f"not a valid lead.qualified event: {field_errors(exc)}") from exc


def lead_qualified_handler(runtime: Runtime) -> MessageHandler:
    async def handle(message: dict[str, Any]) -> None:
        data = parse_lead_qualified(message)
        event_id = event_id_of(message)
        with handling(message, event_id):
            try:
                async with runtime.db.session() as session:
                    if not await outbox_repo.remember_processed(session, CONSUMER, event_id):
                        return
                    intake = await lead_intake.ingest_qualified_lead(session, data)
            except ValidationError as exc:
                # A rule of ours refuses the data: it would refuse it every time.
                raise Rejected(f"{exc.message}: {exc.details}") from exc
            _log.debug(
                "marketing.lead_qualified",
                event_id=event_id,
                lead_id=str(intake.lead.id),
                created=intake.created,
            )

    return handle


def lead_qualified_batch_handler(runtime: Runtime) -> BatchHandler:
    async def handle(messages: Sequence[dict[str, Any]]) -> dict[int, str]:
        began = time.perf_counter()
        rejected: dict[int, str] = {}
        parsed: list[tuple[int, str, lead_intake.QualifiedLead]] = []
        for index, message in enumerate(messages):
            try:
                parsed.append((index, event_id_of(message), parse_lead_qualified(message)))
            except Rejected as exc:
                rejected[index] = str(exc)
        created = duplicates = 0
        async with runtime.db.session() as session:
            event_ids = list(dict.fromkeys(event_id for _, event_id, _ in parsed))
            fresh = await outbox_repo.remember_processed_all(session, CONSUMER, event_ids)
            batch = await lead_intake.IntakeBatch.read(
                session, [data for _, event_id, data in parsed if event_id in fresh]
            )
            done: set[str] = set()
            for index, event_id, data in parsed:
                if event_id not in fresh or event_id in done:
                    duplicates += 1  # processed before, or earlier in this batch
                    continue
                with handling(messages[index], event_id):
                    try:
                        intake = await batch.ingest(data)
                    except ValidationError as exc:
                        rejected[index] = f"{exc.message}: {exc.details}"
                        continue
                    _log.debug(
                        "marketing.lead_qualified",
                        event_id=event_id,
                        lead_id=str(intake.lead.id),
                        created=intake.created,
                    )
                done.add(event_id)
                created += intake.created
            # The inbox rows of events left out: a later delivery is handled again.
            await outbox_repo.forget_processed(session, CONSUMER, sorted(fresh - done))
            await batch.write()
        _log.info(
            "marketing.lead_qualified_batch",
            messages=len(messages),
            ingested=len(done),
            created=created,
            duplicates=duplicates,
            rejected=len(rejected),
            ms=round((time.perf_counter() - began) * 1000, 1),
        )
        return rejected

    return handle
