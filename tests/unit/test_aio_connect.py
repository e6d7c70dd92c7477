"""A cancelled ``msgbus.aio.connect()`` stops its attempts: ``asyncio.run()`` returns, no thread lingers."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

import msgbus
from msgbus import aio

# Bound on the whole run; reached only when the cancelled connect keeps going (the defect).
HANG = 30.0


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("direction", [msgbus.BusReader, msgbus.BusWriter])
def test_a_cancelled_connect_to_a_dead_broker_ends_and_asyncio_run_returns(direction: msgbus.BusDir) -> None:
    cfg = msgbus.MsgBusConfig(
        host="127.0.0.1",
        port=closed_port(),
        topic="t",
        direction=direction,
        connect_retries=0,  # retry for ever: only the cancel can end it
        connect_timeout=1.0,
    )
    outcome: list[BaseException] = []

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(aio.connect(cfg), 0.3)

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported below
            outcome.append(exc)

    runner = threading.Thread(target=run, name="test-asyncio-run")
    runner.start()
    runner.join(HANG)
    assert not runner.is_alive(), "asyncio.run() did not return after the connect was cancelled"
    assert not outcome, outcome
    for thread in threading.enumerate():
        if thread.name.startswith("msgbus-aio-connect"):
            thread.join(HANG)
            assert not thread.is_alive(), "the cancelled connect is still trying"
