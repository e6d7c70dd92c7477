"""Fixtures for the integration tests (the broker itself is ``kafka`` in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from msgbus.testing import LocalKafka

from .helpers import BusFactory


@pytest.fixture
def buses(kafka: LocalKafka) -> Iterator[BusFactory]:
    """Opens buses on the session broker; every one is disconnected at teardown."""
    factory = BusFactory(kafka)
    try:
        yield factory
    finally:
        factory.close_all()
