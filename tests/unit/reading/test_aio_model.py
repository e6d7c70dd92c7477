"""msgbus.aio's reads against the reference model of ``aio_model`` (Hypothesis, stateful), and the
model catching each planted bug."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import pytest
from aio_model import AioModel
from hypothesis import HealthCheck, settings
from hypothesis.errors import Flaky

from msgbus._reading.inbox import Inbox
from msgbus.aio import AsyncMsgBus

T = TypeVar("T")

AioModel.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestAioModel = AioModel.TestCase


def _plant(monkeypatch: pytest.MonkeyPatch, bug: str) -> None:
    from msgbus import aio as aio_module
    from msgbus._reading import aio_loops

    if bug == "aio_loops: a woken wait returns what its next attempt found, even nothing":
        original = aio_loops.wait_for

        async def once(inbox: Inbox, attempt: Callable[[], T | None], timeout: float | None) -> T | None:
            loop = asyncio.get_running_loop()
            woken: asyncio.Future[None] = loop.create_future()

            def wake() -> None:
                if not woken.done():
                    woken.set_result(None)

            def waiter() -> None:
                loop.call_soon_threadsafe(wake)

            inbox.add_waiter(waiter)
            try:
                got = attempt()
                if got is not None:
                    return got
                await asyncio.wait_for(woken, timeout)
            except asyncio.TimeoutError:
                pass
            finally:
                inbox.remove_waiter(waiter)
            return attempt()  # another task may have taken what woke us

        assert original is not once
        monkeypatch.setattr(aio_loops, "wait_for", once)
    elif bug == "aio: a read gives up the loop between its take and its return":
        read = aio_module.AsyncMsgBus.message_read

        async def yielding(self: AsyncMsgBus, timeout: float | None = None) -> str | None:
            msg = await read(self, timeout)
            await asyncio.sleep(0)  # a cancel here loses the message
            return msg

        monkeypatch.setattr(aio_module.AsyncMsgBus, "message_read", yielding)
    else:
        raise AssertionError(bug)


@pytest.mark.parametrize(
    "bug",
    [
        "aio_loops: a woken wait returns what its next attempt found, even nothing",
        "aio: a read gives up the loop between its take and its return",
    ],
)
def test_planted_bugs(monkeypatch: pytest.MonkeyPatch, bug: str) -> None:
    from hypothesis.stateful import run_state_machine_as_test

    _plant(monkeypatch, bug)
    # Generation only: a bug found is enough (no shrinking, whose replays the threads make flaky).
    with pytest.raises((AssertionError, Flaky)):
        run_state_machine_as_test(
            AioModel,
            settings=settings(
                AioModel.TestCase.settings,
                max_examples=1000,
                database=None,
                print_blob=False,
                report_multiple_bugs=False,
            ),
        )
