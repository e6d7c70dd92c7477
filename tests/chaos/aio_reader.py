"""Readers through ``msgbus.aio``: one task, several tasks on one reader, or reads under ``wait_for``."""

from __future__ import annotations

import asyncio
import time

import msgbus
from msgbus import aio

from .actors import ReaderActor
from .record import CONSUMER_TASKS

# Tasks reading one bus, per kind.


class AioReader(ReaderActor):
    """The lifecycle thread runs an event loop; the tasks deliver what they read."""

    def run(self) -> None:
        asyncio.run(self._main())

    def _wait_for_timeout(self) -> float:
        # Small enough that many reads are cancelled while messages flow; fixed by the plan's reader id.
        return 0.01 + 0.02 * (self.plan.rid % 5)

    async def _main(self) -> None:
        bus = await self._aconnect()
        if bus is None:
            return
        tasks = [asyncio.create_task(self._consume(bus)) for _ in range(CONSUMER_TASKS[self.plan.kind])]
        while not self.should_leave():
            await asyncio.sleep(0.05)
        self.done.set()
        # Every read is bounded (0.3 s, or the wait_for timeout): the tasks end soon.
        _, pending = await asyncio.wait(tasks, timeout=10)
        if pending:
            self.ctx.rec.hung.append(f"r{self.plan.rid} ({self.plan.kind}): {len(pending)} read task(s) still running")
        self.rec.disc_start = time.monotonic()
        with self.ctx.call(f"r{self.plan.rid} disconnect"):
            await bus.disconnect()
        self.rec.disc_end = time.monotonic()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _aconnect(self) -> aio.AsyncMsgBus | None:
        while not self.should_leave():
            index = self.attempt_started()
            try:
                with self.ctx.call(f"r{self.plan.rid} connect"):
                    bus = await aio.connect(self.config())
            except msgbus.MsgBusError as exc:
                self.attempt_ended(index, False, f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(1)
                continue
            self.attempt_ended(index, True)
            return bus
        return None

    async def _consume(self, bus: aio.AsyncMsgBus) -> None:
        waitfor = self.plan.kind == "aio-waitfor"
        while not self.done.is_set():
            try:
                if waitfor:
                    msg = await asyncio.wait_for(bus.message_read(), self._wait_for_timeout())
                else:
                    msg = await bus.message_read(timeout=0.3)
            except asyncio.TimeoutError:
                continue
            except msgbus.BusClosedError:
                return
            except msgbus.MsgBusError as exc:
                self.ctx.rec.note(f"r{self.plan.rid} aio message_read raised {type(exc).__name__}: {exc}")
                return
            if msg is None:
                continue
            self.ctx.rec.deliver(self.plan.rid, msg)
            if self.plan.slow and not self.ctx.draining.is_set():
                await asyncio.sleep(self.plan.slow)
