"""Traces in tests: tracing installed with an in-memory exporter (every span, synchronously, as
it ends), and ways to read the spans. ``telemetry/tracing.py`` is off unless OTEL_* asks for an
exporter, so a test that wants spans installs them with :func:`in_memory_tracing` (or the
``spans`` fixture) before it builds the app."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sales_graph.telemetry import tracing


@contextmanager
def in_memory_tracing(service_name: str = "sales-graph") -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.configure(service_name, processors=[SimpleSpanProcessor(exporter)]), (
        "tracing was already on"
    )
    try:
        yield exporter
    finally:
        tracing.shutdown()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with in_memory_tracing() as exporter:
        yield exporter


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def one(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = named(exporter, name)
    names = sorted({s.name for s in exporter.get_finished_spans()})
    assert len(found) == 1, f"{len(found)} spans named {name!r} among {names}"
    return found[0]


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def ancestors(span: ReadableSpan, among: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    """The span's parent, its parent's parent ... as far as ``among`` has them."""
    by_id = {span_id(s): s for s in among}
    found: list[ReadableSpan] = []
    current = by_id.get(parent_id(span) or 0)
    while current is not None:
        found.append(current)
        current = by_id.get(parent_id(current) or 0)
    return found


def traceparent_of(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"00-{trace_id(span):032x}-{span_id(span):016x}-{span.context.trace_flags:02x}"
