"""bench/ copies the librdkafka settings of msgbus's clients (it uses no private module); the copy must match."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import msgbus
from msgbus._kafka._settings import consumer_settings, producer_settings

REPO = Path(__file__).resolve().parents[3]
ARGS = {"bootstrap": "127.0.0.1:9092", "topic": "bench"}


@pytest.fixture(scope="module")
def workers() -> Any:
    # bench is a top-level package of the checkout, not of the installed distribution.
    sys.path.insert(0, str(REPO))
    try:
        import bench.workers

        return bench.workers
    finally:
        sys.path.remove(str(REPO))


def without_callbacks(settings: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in settings.items() if key not in ("logger", "error_cb")}


@pytest.mark.parametrize("blocking", [msgbus.Blocking, msgbus.NonBlocking])
def test_the_benchmarks_producer_settings_are_msgbuss(workers: Any, blocking: msgbus.BlockingMode) -> None:
    cfg = workers._msgbus_config(ARGS, msgbus.BusWriter, blocking)._normalized()
    assert workers._msgbus_settings(ARGS, blocking) == without_callbacks(producer_settings(cfg, print))


def test_the_benchmarks_consumer_settings_are_msgbuss(workers: Any) -> None:
    cfg = workers._msgbus_config(ARGS, msgbus.BusReader, msgbus.Blocking, offset_reset="earliest")._normalized()
    expected = without_callbacks(consumer_settings(cfg, "bench-g", False, print))
    assert workers._msgbus_consumer_settings(ARGS, "bench-g", "earliest") == expected
