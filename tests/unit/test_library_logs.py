"""Library lines through the standard logging module come out as our structured lines."""

from __future__ import annotations

import json
import logging

import pytest

from sales_graph.logs import configure_logging


def test_an_opentelemetry_warning_is_a_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    logging.getLogger("opentelemetry.exporter.otlp").warning("Transient error %s", "refused")
    logging.getLogger("opentelemetry.sdk").info("not shown below WARNING")
    [line] = capsys.readouterr().err.splitlines()
    found = json.loads(line)
    assert found["event"] == "library.log"
    assert found["message"] == "Transient error refused"
    assert found["level"] == "warning"
