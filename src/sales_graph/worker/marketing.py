"""Marketing's ``lead.qualified`` events: validated, then the lead created or updated once.

Each message is handled in one transaction with its inbox row (the event id, or a hash of the
message when Marketing sent none), so a redelivery changes nothing. An invalid message is
rejected (dead-lettered at once); anything else that fails is retried by the consumer.
"""

from __future__ import annotations

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
from sales_graph.worker.consumer import MessageHandler, Rejected
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
            _log.info(
                "marketing.lead_qualified",
                event_id=event_id,
                lead_id=str(intake.lead.id),
                created=intake.created,
            )

    return handle
