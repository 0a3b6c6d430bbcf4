"""Structured logs (structlog): JSON lines with the request context bound once per request."""

from __future__ import annotations

import logging
import math
import re
import sys
import time
from collections.abc import Callable

import structlog
from opentelemetry import trace


class _Stderr:
    """Whatever ``sys.stderr`` is at the moment of writing (tests swap it)."""

    def write(self, message: str) -> int:
        return sys.stderr.write(message)

    def flush(self) -> None:
        sys.stderr.flush()


def add_trace_ids(
    _logger: object, _method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """``trace_id`` and ``span_id`` (hex) of the span the line is written in, when there is one
    (tracing on: ``telemetry/tracing.py``); a log line leads to its trace and back."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_trace_ids,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(_Stderr()),  # type: ignore[arg-type]
        # Not cached: structlog.testing.capture_logs must see every logger, whenever it was made.
        cache_logger_on_first_use=False,
    )
    _adopt_library_loggers()


REPEAT_WINDOW_S = 30.0
_NUMBERS = re.compile(r"\d+")


class _Structured(logging.Handler):
    """Lines libraries write through the standard ``logging`` module (OpenTelemetry's exporter
    when a collector does not answer, aiokafka while the broker is away), as structured lines
    like ours instead of plain text in the middle of the JSON stream.

    A line that repeats (the same text, numbers aside) is written once per ``REPEAT_WINDOW_S``;
    the next one written says how many were left out (``repeated``). aiokafka's clients retry a
    broker that is away thousands of times a second, each retry a line."""

    def __init__(self, level: int, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(level)
        self._clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            key = (record.name, _NUMBERS.sub("N", message))
            now = self._clock()
            written_at, left_out = self._seen.get(key, (-math.inf, 0))
            if now - written_at < REPEAT_WINDOW_S:
                self._seen[key] = (written_at, left_out + 1)
                return
            if len(self._seen) > 1000:
                self._seen.clear()  # bounded, whatever a library writes
            self._seen[key] = (now, 0)
            fields: dict[str, object] = {"message": message}
            if left_out:
                fields["repeated"] = left_out
            get_logger(record.name).log(record.levelno, "library.log", **fields)
        except Exception:  # a log line must never break the caller
            self.handleError(record)


# The libraries whose standard-library log lines are passed on (at WARNING and above).
_LIBRARY_LOGGERS = ("opentelemetry", "aiokafka")


def _adopt_library_loggers() -> None:
    for name in _LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        if not any(isinstance(handler, _Structured) for handler in library.handlers):
            library.addHandler(_Structured(logging.WARNING))
            library.propagate = False


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
