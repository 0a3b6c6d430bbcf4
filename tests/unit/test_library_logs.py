"""Library lines through the standard logging module come out as our structured lines."""

from __future__ import annotations

import json
import logging

import pytest

from sales_graph.logs import REPEAT_WINDOW_S, _Structured, configure_logging


def test_an_opentelemetry_warning_is_a_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    logging.getLogger("opentelemetry.exporter.otlp").warning("Transient error %s", "refused")
    logging.getLogger("opentelemetry.sdk").info("not shown below WARNING")
    [line] = capsys.readouterr().err.splitlines()
    found = json.loads(line)
    assert found["event"] == "library.log"
    assert found["message"] == "Transient error refused"
    assert found["level"] == "warning"


def test_a_line_that_repeats_is_written_once_per_window_with_the_count_left_out(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiokafka while the broker is away: thousands of the same line a second, 1 written."""
    configure_logging("INFO", json=True)
    [handler] = [h for h in logging.getLogger("aiokafka").handlers if isinstance(h, _Structured)]
    now = [1000.0]
    monkeypatch.setattr(handler, "_clock", lambda: now[0])
    monkeypatch.setattr(handler, "_seen", {})
    client = logging.getLogger("aiokafka.client")
    for port in range(5000):
        client.error(
            "Unable connect to node with id 1: [Errno 111] refused ('127.0.0.1', %d)", port
        )
    client.error("Unable to update metadata from [1]")
    now[0] += REPEAT_WINDOW_S
    client.error("Unable connect to node with id 1: [Errno 111] refused ('127.0.0.1', 1)")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(x["message"][:20], x.get("repeated")) for x in lines] == [
        ("Unable connect to no", None),
        ("Unable to update met", None),
        ("Unable connect to no", 4999),
    ]
    assert all(x["event"] == "library.log" and x["level"] == "error" for x in lines)
